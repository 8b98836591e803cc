//! The agent configuration: Nomad-style HCL/JSON files merged in order, then flags.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::SchedulerAlgorithm;
use raftwarden_actors::state::SchedulerConfig;
use serde_json::Map;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ports {
    pub http: u16,
    pub rpc: u16,
    pub serf: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self { http: 4646, rpc: 4647, serf: 4648 }
    }
}

/// `autopilot { ... }`: every key optional; a set key overrides the server default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutopilotOverrides {
    pub cleanup_dead_servers: Option<bool>,
    /// Go duration, nanoseconds.
    pub last_contact_threshold: Option<i64>,
    pub max_trailing_logs: Option<u64>,
    pub min_quorum: Option<u64>,
    /// Go duration, nanoseconds.
    pub server_stabilization_time: Option<i64>,
    pub enable_redundancy_zones: Option<bool>,
    pub disable_upgrade_migration: Option<bool>,
    pub enable_custom_upgrades: Option<bool>,
}

impl AutopilotOverrides {
    /// Nomad's defaults with every set key applied.
    pub fn resolve(&self) -> AutopilotConfig {
        let mut c = AutopilotConfig::default();
        if let Some(v) = self.cleanup_dead_servers {
            c.cleanup_dead_servers = v;
        }
        if let Some(v) = self.last_contact_threshold {
            c.last_contact_threshold = v;
        }
        if let Some(v) = self.max_trailing_logs {
            c.max_trailing_logs = v;
        }
        if let Some(v) = self.min_quorum {
            c.min_quorum = v;
        }
        if let Some(v) = self.server_stabilization_time {
            c.server_stabilization_time = v;
        }
        if let Some(v) = self.enable_redundancy_zones {
            c.enable_redundancy_zones = v;
        }
        if let Some(v) = self.disable_upgrade_migration {
            c.disable_upgrade_migration = v;
        }
        if let Some(v) = self.enable_custom_upgrades {
            c.enable_custom_upgrades = v;
        }
        c
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub enabled: bool,
    pub bootstrap_expect: u32,
    /// `server_join { retry_join = [...] }` and `-retry-join`: `host:port` of other servers' RPC.
    pub retry_join: Vec<String>,
    /// `default_scheduler_config { ... }`; `None` means Nomad's defaults.
    pub default_scheduler_config: Option<SchedulerConfig>,
    /// `raft_snapshot_threshold`: new log entries between raft snapshots.
    pub raft_snapshot_threshold: u64,
    /// `raft_trailing_logs`: entries kept behind a snapshot for followers that lag.
    pub raft_trailing_logs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            bootstrap_expect: 0,
            retry_join: Vec::new(),
            default_scheduler_config: None,
            raft_snapshot_threshold: raftwarden_actors::DEFAULT_SNAPSHOT_THRESHOLD,
            raft_trailing_logs: raftwarden_actors::DEFAULT_TRAILING_LOGS,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// `name`; default the host name.
    pub name: String,
    /// `region`; default `global`.
    pub region: String,
    /// `datacenter`; default `dc1`.
    pub datacenter: String,
    /// `data_dir`; required unless `dev`.
    pub data_dir: Option<PathBuf>,
    /// `bind_addr`; default `0.0.0.0` (`127.0.0.1` in dev mode).
    pub bind_addr: String,
    pub ports: Ports,
    /// `log_level`; default `INFO`.
    pub log_level: String,
    pub log_json: bool,
    /// `-dev`: one in-memory-style server on 127.0.0.1 with a throw-away data dir.
    pub dev: bool,
    pub server: ServerConfig,
    pub autopilot: AutopilotOverrides,
    /// `acl { enabled }`.
    pub acl_enabled: bool,
    /// `http_api_response_headers { Name = "value" }`.
    pub http_api_response_headers: BTreeMap<String, String>,
    /// `advertise { http rpc }`: addresses other servers and clients should use (`ip` or
    /// `ip:port`; without a port the listener's port is used).
    pub advertise_http: Option<String>,
    pub advertise_rpc: Option<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            region: "global".into(),
            datacenter: "dc1".into(),
            data_dir: None,
            bind_addr: "0.0.0.0".into(),
            ports: Ports::default(),
            log_level: "INFO".into(),
            log_json: false,
            dev: false,
            server: ServerConfig::default(),
            autopilot: AutopilotOverrides::default(),
            acl_enabled: false,
            http_api_response_headers: BTreeMap::new(),
            advertise_http: None,
            advertise_rpc: None,
        }
    }
}

/// Why an agent configuration cannot be used. Every message names where the problem is.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error loading {}: {message}", file.display())]
    File { file: PathBuf, message: String },
    #[error("unknown flag {0}")]
    UnknownFlag(String),
    #[error("flag {0} needs a value")]
    MissingValue(String),
    #[error("invalid value {value:?} for flag {flag}: {reason}")]
    BadFlag { flag: String, value: String, reason: String },
    #[error("unexpected argument {0:?} (flags are written -name=value)")]
    Argument(String),
    #[error("{0}")]
    Invalid(String),
}

/// Flags given on the command line; `None` means "not given" so files keep their values.
#[derive(Debug, Default)]
struct Flags {
    configs: Vec<PathBuf>,
    data_dir: Option<PathBuf>,
    bind: Option<String>,
    node: Option<String>,
    region: Option<String>,
    dc: Option<String>,
    server: Option<bool>,
    bootstrap_expect: Option<u32>,
    retry_join: Vec<String>,
    log_level: Option<String>,
    log_json: Option<bool>,
    dev: bool,
    acl_enabled: Option<bool>,
}

fn parse_flag_bool(flag: &str, v: Option<String>) -> Result<bool, ConfigError> {
    match v.as_deref() {
        None => Ok(true),
        Some(s) => crate::http::query::parse_go_bool(s).ok_or_else(|| ConfigError::BadFlag {
            flag: format!("-{flag}"),
            value: s.into(),
            reason: "expected true or false".into(),
        }),
    }
}

fn parse_flags(args: &[String]) -> Result<Flags, ConfigError> {
    let mut f = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(ConfigError::Argument(arg.clone()));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        match name.as_str() {
            "dev" => f.dev = parse_flag_bool(&name, inline)?,
            "server" => f.server = Some(parse_flag_bool(&name, inline)?),
            "log-json" => f.log_json = Some(parse_flag_bool(&name, inline)?),
            "acl-enabled" => f.acl_enabled = Some(parse_flag_bool(&name, inline)?),
            "config" | "data-dir" | "bind" | "node" | "region" | "dc" | "bootstrap-expect" | "retry-join"
            | "log-level" => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        let v = args.get(i).cloned().ok_or_else(|| ConfigError::MissingValue(format!("-{name}")))?;
                        i += 1;
                        v
                    }
                };
                match name.as_str() {
                    "config" => f.configs.push(PathBuf::from(value)),
                    "data-dir" => f.data_dir = Some(PathBuf::from(value)),
                    "bind" => f.bind = Some(value),
                    "node" => f.node = Some(value),
                    "region" => f.region = Some(value),
                    "dc" => f.dc = Some(value),
                    "retry-join" => f.retry_join.push(value),
                    "log-level" => f.log_level = Some(value),
                    _ => {
                        f.bootstrap_expect = Some(value.parse().map_err(|e: std::num::ParseIntError| {
                            ConfigError::BadFlag { flag: "-bootstrap-expect".into(), value, reason: e.to_string() }
                        })?)
                    }
                }
            }
            _ => return Err(ConfigError::UnknownFlag(arg.clone())),
        }
    }
    Ok(f)
}

/// The files a `-config` path names: the file itself, or a directory's `*.hcl` and `*.json`
/// files in lexical order.
fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let io = |e: std::io::Error| ConfigError::File { file: path.to_path_buf(), message: e.to_string() };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "json")) && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads one file into a JSON value (HCL files are HCL1, as Nomad's agent reads them).
fn read_file(path: &Path) -> Result<Value, ConfigError> {
    let err = |message: String| ConfigError::File { file: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text).map_err(|e| err(format!("invalid JSON: {e}")))
    } else {
        super::hcl1::parse(&text).map_err(|e| err(format!("invalid HCL: {e}")))
    }
}

/// Applies one file's keys onto `cfg`; rejects unknown keys and wrong types.
struct Walker<'a> {
    file: &'a Path,
}

impl Walker<'_> {
    fn err(&self, message: String) -> ConfigError {
        ConfigError::File { file: self.file.to_path_buf(), message }
    }

    fn kind(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("bool {b}"),
            Value::Number(n) => format!("number {n}"),
            Value::String(s) => format!("string {s:?}"),
            Value::Array(_) => "a list".into(),
            Value::Object(_) => "a block".into(),
        }
    }

    fn string(&self, v: &Value, path: &str) -> Result<String, ConfigError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err(format!("{path}: expected a string, got {}", Self::kind(v))))
    }

    fn boolean(&self, v: &Value, path: &str) -> Result<bool, ConfigError> {
        v.as_bool().ok_or_else(|| self.err(format!("{path}: expected true or false, got {}", Self::kind(v))))
    }

    fn uint(&self, v: &Value, path: &str, max: u64) -> Result<u64, ConfigError> {
        match v.as_u64() {
            Some(n) if n <= max => Ok(n),
            Some(n) => Err(self.err(format!("{path}: {n} is out of range (at most {max})"))),
            None => Err(self.err(format!("{path}: expected a non-negative integer, got {}", Self::kind(v)))),
        }
    }

    fn duration(&self, v: &Value, path: &str) -> Result<i64, ConfigError> {
        let s = self.string(v, path)?;
        raftwarden_actors::duration::parse(&s).map_err(|e| self.err(format!("{path}: {e}")))
    }

    fn strings(&self, v: &Value, path: &str) -> Result<Vec<String>, ConfigError> {
        match v {
            Value::Array(items) => items.iter().map(|i| self.string(i, path)).collect(),
            other => Err(self.err(format!("{path}: expected a list of strings, got {}", Self::kind(other)))),
        }
    }

    /// A block given once is an object; given several times, a list of objects.
    fn blocks<'v>(&self, v: &'v Value, path: &str) -> Result<Vec<&'v Map<String, Value>>, ConfigError> {
        match v {
            Value::Object(m) => Ok(vec![m]),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_object().ok_or_else(|| self.err(format!("{path}: expected a block, got {}", Self::kind(i))))
                })
                .collect(),
            other => Err(self.err(format!("{path}: expected a block, got {}", Self::kind(other)))),
        }
    }

    fn unknown(&self, path: &str) -> ConfigError {
        self.err(format!("unknown key {path:?}"))
    }

    fn top(&self, cfg: &mut AgentConfig, v: &Value) -> Result<(), ConfigError> {
        let Some(map) = v.as_object() else {
            return Err(self.err(format!("expected a configuration object, got {}", Self::kind(v))));
        };
        for (k, v) in map {
            match k.as_str() {
                "name" => cfg.name = self.string(v, k)?,
                "region" => cfg.region = self.string(v, k)?,
                "datacenter" => cfg.datacenter = self.string(v, k)?,
                "data_dir" => cfg.data_dir = Some(PathBuf::from(self.string(v, k)?)),
                "bind_addr" => cfg.bind_addr = self.string(v, k)?,
                "log_level" => cfg.log_level = self.string(v, k)?,
                "log_json" => cfg.log_json = self.boolean(v, k)?,
                "ports" => {
                    for b in self.blocks(v, k)? {
                        for (pk, pv) in b {
                            let path = format!("ports.{pk}");
                            let port = self.uint(pv, &path, u16::MAX as u64)? as u16;
                            match pk.as_str() {
                                "http" => cfg.ports.http = port,
                                "rpc" => cfg.ports.rpc = port,
                                "serf" => cfg.ports.serf = port,
                                _ => return Err(self.unknown(&path)),
                            }
                        }
                    }
                }
                "server" => {
                    for b in self.blocks(v, k)? {
                        self.server(cfg, b)?;
                    }
                }
                "autopilot" => {
                    for b in self.blocks(v, k)? {
                        self.autopilot(&mut cfg.autopilot, b)?;
                    }
                }
                "acl" => {
                    for b in self.blocks(v, k)? {
                        for (ak, av) in b {
                            match ak.as_str() {
                                "enabled" => cfg.acl_enabled = self.boolean(av, "acl.enabled")?,
                                _ => return Err(self.unknown(&format!("acl.{ak}"))),
                            }
                        }
                    }
                }
                "advertise" => {
                    for b in self.blocks(v, k)? {
                        for (ak, av) in b {
                            let path = format!("advertise.{ak}");
                            let addr = self.string(av, &path)?;
                            match ak.as_str() {
                                "http" => cfg.advertise_http = Some(addr),
                                "rpc" => cfg.advertise_rpc = Some(addr),
                                "serf" => {}
                                _ => return Err(self.unknown(&path)),
                            }
                        }
                    }
                }
                "http_api_response_headers" => {
                    for b in self.blocks(v, k)? {
                        for (hk, hv) in b {
                            let value = self.string(hv, &format!("http_api_response_headers.{hk}"))?;
                            cfg.http_api_response_headers.insert(hk.clone(), value);
                        }
                    }
                }
                "client" => {
                    for b in self.blocks(v, k)? {
                        for (ck, cv) in b {
                            match ck.as_str() {
                                "enabled" if cv == &Value::Bool(false) => {}
                                "enabled" => {
                                    return Err(self.err("client.enabled: raftwarden runs servers only".into()))
                                }
                                _ => return Err(self.unknown(&format!("client.{ck}"))),
                            }
                        }
                    }
                }
                "leave_on_interrupt" | "leave_on_terminate" | "enable_debug" | "disable_update_check" => {
                    self.boolean(v, k)?;
                }
                "plugin_dir" => {
                    self.string(v, k)?;
                }
                _ => return Err(self.unknown(k)),
            }
        }
        Ok(())
    }

    fn server(&self, cfg: &mut AgentConfig, b: &Map<String, Value>) -> Result<(), ConfigError> {
        for (k, v) in b {
            let path = format!("server.{k}");
            match k.as_str() {
                "enabled" => cfg.server.enabled = self.boolean(v, &path)?,
                "bootstrap_expect" => cfg.server.bootstrap_expect = self.uint(v, &path, 101)? as u32,
                "retry_join" => cfg.server.retry_join.extend(self.strings(v, &path)?),
                "raft_snapshot_threshold" => cfg.server.raft_snapshot_threshold = self.uint(v, &path, u64::MAX)?,
                "raft_trailing_logs" => cfg.server.raft_trailing_logs = self.uint(v, &path, u64::MAX)?,
                "server_join" => {
                    for sj in self.blocks(v, &path)? {
                        for (jk, jv) in sj {
                            let jpath = format!("server.server_join.{jk}");
                            match jk.as_str() {
                                "retry_join" => cfg.server.retry_join.extend(self.strings(jv, &jpath)?),
                                "retry_max" => {
                                    self.uint(jv, &jpath, u32::MAX as u64)?;
                                }
                                "retry_interval" => {
                                    self.duration(jv, &jpath)?;
                                }
                                _ => return Err(self.unknown(&jpath)),
                            }
                        }
                    }
                }
                "default_scheduler_config" => {
                    let mut sc = cfg.server.default_scheduler_config.clone().unwrap_or_default();
                    for blk in self.blocks(v, &path)? {
                        self.scheduler(&mut sc, blk)?;
                    }
                    cfg.server.default_scheduler_config = Some(sc);
                }
                _ => return Err(self.unknown(&path)),
            }
        }
        Ok(())
    }

    fn scheduler(&self, sc: &mut SchedulerConfig, b: &Map<String, Value>) -> Result<(), ConfigError> {
        for (k, v) in b {
            let path = format!("server.default_scheduler_config.{k}");
            match k.as_str() {
                "scheduler_algorithm" => {
                    let s = self.string(v, &path)?;
                    sc.scheduler_algorithm = SchedulerAlgorithm::parse(&s).ok_or_else(|| {
                        self.err(format!("{path}: invalid scheduler algorithm {s:?} (binpack or spread)"))
                    })?;
                }
                "memory_oversubscription_enabled" => sc.memory_oversubscription_enabled = self.boolean(v, &path)?,
                "reject_job_registration" => sc.reject_job_registration = self.boolean(v, &path)?,
                "pause_eval_broker" => sc.pause_eval_broker = self.boolean(v, &path)?,
                "node_limit_for_feasibility_checks" => {
                    sc.node_limit_for_feasibility_checks = self.uint(v, &path, u32::MAX as u64)? as u32
                }
                "preemption_config" => {
                    for p in self.blocks(v, &path)? {
                        for (pk, pv) in p {
                            let ppath = format!("{path}.{pk}");
                            let b = self.boolean(pv, &ppath)?;
                            let pc = &mut sc.preemption_config;
                            match pk.as_str() {
                                "system_scheduler_enabled" => pc.system_scheduler_enabled = b,
                                "sysbatch_scheduler_enabled" => pc.sysbatch_scheduler_enabled = b,
                                "batch_scheduler_enabled" => pc.batch_scheduler_enabled = b,
                                "service_scheduler_enabled" => pc.service_scheduler_enabled = b,
                                _ => return Err(self.unknown(&ppath)),
                            }
                        }
                    }
                }
                _ => return Err(self.unknown(&path)),
            }
        }
        Ok(())
    }

    fn autopilot(&self, a: &mut AutopilotOverrides, b: &Map<String, Value>) -> Result<(), ConfigError> {
        for (k, v) in b {
            let path = format!("autopilot.{k}");
            match k.as_str() {
                "cleanup_dead_servers" => a.cleanup_dead_servers = Some(self.boolean(v, &path)?),
                "last_contact_threshold" => a.last_contact_threshold = Some(self.duration(v, &path)?),
                "max_trailing_logs" => a.max_trailing_logs = Some(self.uint(v, &path, u64::MAX)?),
                "min_quorum" => a.min_quorum = Some(self.uint(v, &path, u64::MAX)?),
                "server_stabilization_time" => a.server_stabilization_time = Some(self.duration(v, &path)?),
                "enable_redundancy_zones" => a.enable_redundancy_zones = Some(self.boolean(v, &path)?),
                "disable_upgrade_migration" => a.disable_upgrade_migration = Some(self.boolean(v, &path)?),
                "enable_custom_upgrades" => a.enable_custom_upgrades = Some(self.boolean(v, &path)?),
                _ => return Err(self.unknown(&path)),
            }
        }
        Ok(())
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

/// Loads the agent configuration from the words after `raftwarden agent`: config files in
/// order, then flags on top, then validation.
pub fn load(args: &[String]) -> Result<AgentConfig, ConfigError> {
    let flags = parse_flags(args)?;
    let mut cfg = AgentConfig::default();
    for path in &flags.configs {
        for file in config_files(path)? {
            let value = read_file(&file)?;
            Walker { file: &file }.top(&mut cfg, &value)?;
        }
    }
    if flags.dev {
        cfg.dev = true;
        cfg.server.enabled = true;
        cfg.server.bootstrap_expect = 1;
        cfg.bind_addr = "127.0.0.1".into();
        if cfg.name.is_empty() {
            cfg.name = "dev".into();
        }
    }
    if let Some(v) = flags.data_dir {
        cfg.data_dir = Some(v);
    }
    if let Some(v) = flags.bind {
        cfg.bind_addr = v;
    }
    if let Some(v) = flags.node {
        cfg.name = v;
    }
    if let Some(v) = flags.region {
        cfg.region = v;
    }
    if let Some(v) = flags.dc {
        cfg.datacenter = v;
    }
    if let Some(v) = flags.server {
        cfg.server.enabled = v;
    }
    if let Some(v) = flags.bootstrap_expect {
        cfg.server.bootstrap_expect = v;
    }
    cfg.server.retry_join.extend(flags.retry_join);
    if let Some(v) = flags.log_level {
        cfg.log_level = v;
    }
    if let Some(v) = flags.log_json {
        cfg.log_json = v;
    }
    if let Some(v) = flags.acl_enabled {
        cfg.acl_enabled = v;
    }
    validate(cfg)
}

fn validate(mut cfg: AgentConfig) -> Result<AgentConfig, ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if !cfg.server.enabled {
        return invalid("raftwarden agent runs servers only: set server { enabled = true } or -server".into());
    }
    if cfg.region.is_empty() {
        return invalid("region must not be empty".into());
    }
    if cfg.bind_addr.parse::<std::net::IpAddr>().is_err() {
        return invalid(format!("bind_addr {:?} is not an IP address", cfg.bind_addr));
    }
    let p = &cfg.ports;
    if p.http != 0 && (p.http == p.rpc || p.http == p.serf) || p.rpc != 0 && p.rpc == p.serf {
        return invalid(format!("ports must be distinct (http {}, rpc {}, serf {})", p.http, p.rpc, p.serf));
    }
    let level = cfg.log_level.to_ascii_uppercase();
    if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level.as_str()) {
        return invalid(format!("log_level {:?} must be one of TRACE, DEBUG, INFO, WARN, ERROR", cfg.log_level));
    }
    cfg.log_level = level;
    if !cfg.dev && cfg.data_dir.is_none() {
        return invalid("data_dir is required for a server (set data_dir or use -dev)".into());
    }
    if cfg.server.bootstrap_expect == 0 {
        cfg.server.bootstrap_expect = 1;
    }
    if cfg.name.is_empty() {
        cfg.name = host_name();
    }
    if cfg.name.contains(char::is_whitespace) {
        return invalid(format!("name {:?} must not contain spaces", cfg.name));
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn dev_defaults() {
        let c = load(&args(&["-dev"])).unwrap();
        assert!(c.dev && c.server.enabled);
        assert_eq!((c.bind_addr.as_str(), c.name.as_str(), c.region.as_str()), ("127.0.0.1", "dev", "global"));
        assert_eq!(c.ports, Ports::default());
        assert_eq!(c.server.bootstrap_expect, 1);
    }

    #[test]
    fn realistic_nomad_server_file() {
        let d = tempfile::tempdir().expect("temp dir");
        let f = write(
            d.path(),
            "server.hcl",
            r#"
name       = "s1"
region     = "east"
datacenter = "dc2"
data_dir   = "/var/lib/raftwarden"
bind_addr  = "10.0.0.5"
log_level  = "debug"
leave_on_terminate = true
ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}
server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join = ["10.0.0.6:4647", "10.0.0.7:4647"]
  }
  default_scheduler_config {
    scheduler_algorithm = "spread"
    preemption_config {
      batch_scheduler_enabled = true
    }
  }
}
client {
  enabled = false
}
advertise {
  http = "192.0.2.10:80"
  rpc  = "192.0.2.10"
}
autopilot {
  last_contact_threshold = "500ms"
  max_trailing_logs      = 10
}
http_api_response_headers {
  "X-Frame-Options" = "DENY"
}
"#,
        );
        let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
        assert_eq!(c.name, "s1");
        assert_eq!(c.region, "east");
        assert_eq!(c.datacenter, "dc2");
        assert_eq!(c.log_level, "DEBUG");
        assert_eq!(c.ports, Ports { http: 5646, rpc: 5647, serf: 5648 });
        assert_eq!(c.server.bootstrap_expect, 3);
        assert_eq!(c.server.retry_join, vec!["10.0.0.6:4647", "10.0.0.7:4647"]);
        let sc = c.server.default_scheduler_config.unwrap();
        assert_eq!(sc.scheduler_algorithm, SchedulerAlgorithm::Spread);
        assert!(sc.preemption_config.batch_scheduler_enabled && sc.preemption_config.system_scheduler_enabled);
        let ap = c.autopilot.resolve();
        assert_eq!((ap.last_contact_threshold, ap.max_trailing_logs), (500_000_000, 10));
        assert!(ap.cleanup_dead_servers);
        assert_eq!(c.http_api_response_headers.get("X-Frame-Options").map(String::as_str), Some("DENY"));
        assert_eq!(c.advertise_rpc.as_deref(), Some("192.0.2.10"));
        assert_eq!(c.advertise_http.as_deref(), Some("192.0.2.10:80"));
    }

    #[test]
    fn files_merge_in_order_and_flags_win() {
        let d = tempfile::tempdir().expect("temp dir");
        write(
            d.path(),
            "a.hcl",
            "name = \"a\"\ndata_dir = \"/a\"\nserver {\n enabled = true\n retry_join = [\"x:1\"]\n}\n",
        );
        write(d.path(), "b.json", r#"{"name": "b", "server": {"retry_join": ["y:2"], "bootstrap_expect": 3}}"#);
        write(d.path(), "ignored.txt", "not = config");
        let c = load(&args(&[&format!("-config={}", d.path().display())])).unwrap();
        assert_eq!(c.name, "b");
        assert_eq!(c.server.retry_join, vec!["x:1", "y:2"]);
        assert_eq!(c.server.bootstrap_expect, 3);
        let c = load(&args(&[
            "-config",
            &d.path().display().to_string(),
            "-node=flagged",
            "-bootstrap-expect",
            "5",
            "-retry-join=z:3",
            "--data-dir=/z",
            "-log-json",
        ]))
        .unwrap();
        assert_eq!((c.name.as_str(), c.server.bootstrap_expect), ("flagged", 5));
        assert_eq!(c.server.retry_join, vec!["x:1", "y:2", "z:3"]);
        assert_eq!(c.data_dir, Some(PathBuf::from("/z")));
        assert!(c.log_json);
    }

    #[test]
    fn repeated_blocks_merge() {
        let d = tempfile::tempdir().expect("temp dir");
        let f = write(
            d.path(),
            "x.hcl",
            "data_dir = \"/x\"\nserver {\n enabled = true\n}\nserver {\n bootstrap_expect = 3\n}\n",
        );
        let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
        assert!(c.server.enabled);
        assert_eq!(c.server.bootstrap_expect, 3);
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let d = tempfile::tempdir().expect("temp dir");
        let cases = [
            ("severr {\n enabled = true\n}\n", "unknown key \"severr\""),
            (
                "server {\n bootstrap_expect = \"three\"\n}\n",
                "server.bootstrap_expect: expected a non-negative integer, got string \"three\"",
            ),
            ("server {\n enabled = true\n foo = 1\n}\n", "unknown key \"server.foo\""),
            (
                "autopilot {\n last_contact_threshold = \"5\"\n}\n",
                "autopilot.last_contact_threshold: time: missing unit in duration \"5\"",
            ),
            ("ports {\n http = 70000\n}\n", "ports.http: 70000 is out of range"),
            ("name = {\n", "invalid HCL"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let f = write(d.path(), &format!("c{i}.hcl"), text);
            let e = load(&args(&[&format!("-config={}", f.display())])).unwrap_err().to_string();
            assert!(e.starts_with(&format!("error loading {}: ", f.display())), "{e}");
            assert!(e.contains(want), "{e} should contain {want}");
        }
        let missing = d.path().join("missing.hcl");
        let e = load(&args(&[&format!("-config={}", missing.display())])).unwrap_err().to_string();
        assert!(e.contains("missing.hcl") && e.contains("No such file"), "{e}");
        let e = load(&args(&["-config=x", "-bogus"])).unwrap_err().to_string();
        assert!(e.contains("No such file") || e == "unknown flag -bogus", "{e}");
        assert_eq!(load(&args(&["-bogus"])).unwrap_err().to_string(), "unknown flag -bogus");
        assert!(load(&args(&["-bootstrap-expect=x"])).unwrap_err().to_string().contains("-bootstrap-expect"));
        assert!(load(&args(&["-server"])).unwrap_err().to_string().contains("data_dir is required"));
        assert!(load(&args(&["-data-dir=/x"])).unwrap_err().to_string().contains("servers only"));
        assert!(load(&args(&["-dev", "-bind=localhost"])).unwrap_err().to_string().contains("not an IP address"));
        assert!(load(&args(&["-dev", "-log-level=loud"])).unwrap_err().to_string().contains("log_level"));
        assert!(load(&args(&["-dev", "stray"])).unwrap_err().to_string().contains("unexpected argument"));
        assert!(load(&args(&["-dev", "-node"])).unwrap_err().to_string().contains("needs a value"));
    }
}
