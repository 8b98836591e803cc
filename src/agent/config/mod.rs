//! The agent configuration: Nomad-style HCL/JSON files merged in order, then flags.
//!
//! ```text
//! argv ─> flags (clap) ──────────────────────────────────────┐
//! -config paths ─> files ─> hcl1 / JSON value ─> file::AgentFile ─┴─> merge ─> AgentConfig ─> validate
//! ```
//!
//! Files and flags are layers of one shape ([`file::AgentFile`], every key optional); later
//! layers win key by key, then Nomad's defaults fill what no layer set.

mod file;
mod flags;
#[doc(hidden)]
pub mod fuzzing;
mod schema;
mod security;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::SchedulerConfig;
use serde::Deserialize;
use serde_json::Value;

use self::file::AgentFile;
use self::file::Merge;
pub use self::security::gossip_key;
pub use self::security::Limits;
pub use self::security::TlsConfig;
pub use self::security::TlsVersion;

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
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutopilotOverrides {
    #[serde(default, deserialize_with = "file::de::boolean")]
    pub cleanup_dead_servers: Option<bool>,
    /// Go duration, nanoseconds.
    #[serde(default, deserialize_with = "file::de::duration")]
    pub last_contact_threshold: Option<i64>,
    #[serde(default, deserialize_with = "file::de::uint")]
    pub max_trailing_logs: Option<u64>,
    #[serde(default, deserialize_with = "file::de::uint")]
    pub min_quorum: Option<u64>,
    /// Go duration, nanoseconds.
    #[serde(default, deserialize_with = "file::de::duration")]
    pub server_stabilization_time: Option<i64>,
    #[serde(default, deserialize_with = "file::de::boolean")]
    pub enable_redundancy_zones: Option<bool>,
    #[serde(default, deserialize_with = "file::de::boolean")]
    pub disable_upgrade_migration: Option<bool>,
    #[serde(default, deserialize_with = "file::de::boolean")]
    pub enable_custom_upgrades: Option<bool>,
}

impl AutopilotOverrides {
    /// Nomad's defaults with every set key applied.
    pub fn resolve(&self) -> AutopilotConfig {
        let d = AutopilotConfig::default();
        AutopilotConfig {
            cleanup_dead_servers: self.cleanup_dead_servers.unwrap_or(d.cleanup_dead_servers),
            last_contact_threshold: self.last_contact_threshold.unwrap_or(d.last_contact_threshold),
            max_trailing_logs: self.max_trailing_logs.unwrap_or(d.max_trailing_logs),
            min_quorum: self.min_quorum.unwrap_or(d.min_quorum),
            server_stabilization_time: self.server_stabilization_time.unwrap_or(d.server_stabilization_time),
            enable_redundancy_zones: self.enable_redundancy_zones.unwrap_or(d.enable_redundancy_zones),
            disable_upgrade_migration: self.disable_upgrade_migration.unwrap_or(d.disable_upgrade_migration),
            enable_custom_upgrades: self.enable_custom_upgrades.unwrap_or(d.enable_custom_upgrades),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub enabled: bool,
    pub bootstrap_expect: u32,
    /// `server_join { retry_join = [...] }` and `-retry-join`: gossip (serf) addresses of other
    /// servers, `host[:port]` with port 4648 by default, as Nomad.
    pub retry_join: Vec<String>,
    /// `server_join { retry_interval }`: pause between join rounds (1 s when unset; Nomad's
    /// default is 30 s, which only delays servers started together).
    pub retry_interval: std::time::Duration,
    /// `server_join { retry_max }`: rounds before the agent gives up and exits 1; 0 = no limit.
    pub retry_max: u32,
    /// `default_scheduler_config { ... }`; `None` means Nomad's defaults.
    pub default_scheduler_config: Option<SchedulerConfig>,
    /// `raft_snapshot_threshold`: new log entries between raft snapshots.
    pub raft_snapshot_threshold: u64,
    /// `raft_trailing_logs`: entries kept behind a snapshot for followers that lag.
    pub raft_trailing_logs: u64,
    /// `license_path`: the license file to install (Nomad's key).
    pub license_path: Option<PathBuf>,
    /// `license_public_keys`: base64 ed25519 keys whose license signatures are trusted.
    pub license_public_keys: Vec<String>,
    /// `encrypt`: the gossip key (decoded, 16/24/32 bytes); `None` leaves gossip in clear.
    pub encrypt: Option<Vec<u8>>,
    /// `raft_multiplier` (1-10; Nomad's default 1): scales raft's heartbeat and election
    /// timeouts, as Nomad scales hashicorp/raft's.
    pub raft_multiplier: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            bootstrap_expect: 0,
            retry_join: Vec::new(),
            retry_interval: raftwarden_actors::gossip::RETRY_JOIN_INTERVAL,
            retry_max: 0,
            default_scheduler_config: None,
            raft_snapshot_threshold: raftwarden_actors::DEFAULT_SNAPSHOT_THRESHOLD,
            raft_trailing_logs: raftwarden_actors::DEFAULT_TRAILING_LOGS,
            license_path: None,
            license_public_keys: Vec::new(),
            encrypt: None,
            raft_multiplier: 1,
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
    /// `acl { token_min_expiration_ttl token_max_expiration_ttl }`.
    pub acl_token_min_ttl: std::time::Duration,
    pub acl_token_max_ttl: std::time::Duration,
    /// `http_api_response_headers { Name = "value" }`.
    pub http_api_response_headers: BTreeMap<String, String>,
    /// `advertise { http rpc }`: addresses other servers and clients should use (`ip` or
    /// `ip:port`; without a port the listener's port is used).
    pub advertise_http: Option<String>,
    pub advertise_rpc: Option<String>,
    pub advertise_serf: Option<String>,
    /// `leave_on_terminate` / `leave_on_interrupt`: on SIGTERM / SIGINT announce a graceful
    /// leave over gossip before stopping (peers list the server `left`, not `failed`).
    pub leave_on_terminate: bool,
    pub leave_on_interrupt: bool,
    /// `snapshot { interval retain path token }`: scheduled snapshots, when the block is present.
    pub snapshot: Option<SnapshotSchedule>,
    /// `tls { }`.
    pub tls: TlsConfig,
    /// `limits { }`.
    pub limits: Limits,
    /// `telemetry { }`.
    pub telemetry: Telemetry,
    /// `ui { }`.
    pub ui: UiConfig,
    /// Keys and blocks of Nomad's schema set in the files that do not apply to this server
    /// (dotted paths), for the one warning the agent logs at start.
    pub ignored: Vec<String>,
}

/// `telemetry { }`, resolved with Nomad's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Telemetry {
    /// `prometheus_metrics`: `GET /v1/metrics?format=prometheus` answers (Nomad: 415 otherwise).
    pub prometheus_metrics: bool,
    /// `disable_hostname`: metrics carry no `host` label.
    pub disable_hostname: bool,
    /// `use_node_name`: the `host` label is the agent's name, not the machine's.
    pub use_node_name: bool,
    /// `collection_interval` (Nomad's default 1 s): how often the gauges are sampled.
    pub collection_interval: std::time::Duration,
    /// `in_memory_collection_interval` (10 s) and `in_memory_retention_period` (1 m): the
    /// intervals `GET /v1/metrics` reports from.
    pub in_memory_collection_interval: std::time::Duration,
    pub in_memory_retention_period: std::time::Duration,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            prometheus_metrics: false,
            disable_hostname: false,
            use_node_name: false,
            collection_interval: std::time::Duration::from_secs(1),
            in_memory_collection_interval: std::time::Duration::from_secs(10),
            in_memory_retention_period: std::time::Duration::from_secs(60),
        }
    }
}

impl Telemetry {
    fn resolve(b: file::TelemetryBlock) -> Result<Self, ConfigError> {
        let d = Self::default();
        let positive = |key: &str, v: Option<i64>, default| match v {
            None => Ok(default),
            Some(n) if n > 0 => Ok(std::time::Duration::from_nanos(n.unsigned_abs())),
            Some(n) => Err(ConfigError::Invalid(format!(
                "telemetry.{key} must be positive, got {}",
                crate::go::duration::format(n)
            ))),
        };
        Ok(Self {
            prometheus_metrics: b.prometheus_metrics.unwrap_or(d.prometheus_metrics),
            disable_hostname: b.disable_hostname.unwrap_or(d.disable_hostname),
            use_node_name: b.use_node_name.unwrap_or(d.use_node_name),
            collection_interval: positive("collection_interval", b.collection_interval, d.collection_interval)?,
            in_memory_collection_interval: positive(
                "in_memory_collection_interval",
                b.in_memory_collection_interval,
                d.in_memory_collection_interval,
            )?,
            in_memory_retention_period: positive(
                "in_memory_retention_period",
                b.in_memory_retention_period,
                d.in_memory_retention_period,
            )?,
        })
    }
}

/// `ui { }` (Nomad's `UIConfig`). Nomad's default: enabled. When disabled, Nomad answers
/// every `/ui/` path 200 with `<html><p>Nomad UI is disabled</p></html>` (its
/// `command/agent/http.go` `stubHTML`, sent as `text/html; charset=utf-8` by Go's sniffing)
/// and logs `UI is disabled` at warn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiConfig {
    pub enabled: bool,
    /// `show_cli_hints` (Nomad's default true).
    pub show_cli_hints: bool,
    /// `content_security_policy { }`: directive (`connect_src`, ...) to its sources, only the
    /// directives the file sets (Nomad fills the rest with its defaults).
    pub content_security_policy: BTreeMap<String, Vec<String>>,
    /// `consul { ui_url }` and `vault { ui_url }`: links the UI may show.
    pub consul_ui_url: Option<String>,
    pub vault_ui_url: Option<String>,
    /// `label { text background_color text_color }`.
    pub label: Option<UiLabel>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UiLabel {
    pub text: String,
    pub background_color: String,
    pub text_color: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            show_cli_hints: true,
            content_security_policy: BTreeMap::new(),
            consul_ui_url: None,
            vault_ui_url: None,
            label: None,
        }
    }
}

impl UiConfig {
    /// Nomad's stub page for `/ui/` when `ui { enabled = false }`.
    pub const DISABLED_HTML: &'static str = "<html><p>Nomad UI is disabled</p></html>";

    fn resolve(b: file::UiBlock) -> Self {
        let d = Self::default();
        let mut csp = BTreeMap::new();
        if let Some(c) = b.content_security_policy {
            for (k, v) in [
                ("connect_src", c.connect_src),
                ("default_src", c.default_src),
                ("form_action", c.form_action),
                ("frame_ancestors", c.frame_ancestors),
                ("img_src", c.img_src),
                ("script_src", c.script_src),
                ("style_src", c.style_src),
            ] {
                if let Some(v) = v {
                    csp.insert(k.to_string(), v);
                }
            }
        }
        Self {
            enabled: b.enabled.unwrap_or(d.enabled),
            show_cli_hints: b.show_cli_hints.unwrap_or(d.show_cli_hints),
            content_security_policy: csp,
            consul_ui_url: b.consul.and_then(|c| c.ui_url),
            vault_ui_url: b.vault.and_then(|v| v.ui_url),
            label: b.label.map(|l| UiLabel {
                text: l.text.unwrap_or_default(),
                background_color: l.background_color.unwrap_or_default(),
                text_color: l.text_color.unwrap_or_default(),
            }),
        }
    }
}

/// Snapshots saved on a schedule: every `interval`, into `path`, keeping the newest `retain`
/// (0 keeps all). Defaults are Nomad Enterprise's: every hour, keep 30.
#[derive(Clone, PartialEq, Eq)]
pub struct SnapshotSchedule {
    pub interval: std::time::Duration,
    pub retain: u64,
    pub path: PathBuf,
    /// The ACL token every request of the schedule carries (`token` in the block), as Nomad's
    /// snapshot agent has one in its `nomad {}` block; `None` falls back to the agent's
    /// `NOMAD_TOKEN` environment variable when the schedule starts.
    pub token: Option<String>,
}

/// Never prints the token.
impl std::fmt::Debug for SnapshotSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotSchedule")
            .field("interval", &self.interval)
            .field("retain", &self.retain)
            .field("path", &self.path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl SnapshotSchedule {
    pub const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
    pub const DEFAULT_RETAIN: u64 = 30;

    fn resolve(b: file::SnapshotBlock) -> Result<Self, ConfigError> {
        let interval = match b.interval {
            None => Self::DEFAULT_INTERVAL,
            Some(n) if n > 0 => std::time::Duration::from_nanos(n.unsigned_abs()),
            Some(n) => {
                return Err(ConfigError::Invalid(format!(
                    "snapshot.interval must be positive, got {}",
                    crate::go::duration::format(n)
                )))
            }
        };
        let path = b.path.ok_or_else(|| ConfigError::Invalid("snapshot.path is required".into()))?;
        let token = b.token.filter(|t| !t.trim().is_empty());
        Ok(Self { interval, retain: b.retain.unwrap_or(Self::DEFAULT_RETAIN), path, token })
    }
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
            acl_token_min_ttl: std::time::Duration::from_secs(60),
            acl_token_max_ttl: std::time::Duration::from_secs(24 * 3600),
            http_api_response_headers: BTreeMap::new(),
            advertise_http: None,
            advertise_rpc: None,
            advertise_serf: None,
            leave_on_terminate: false,
            leave_on_interrupt: false,
            snapshot: None,
            tls: TlsConfig::default(),
            limits: Limits::default(),
            telemetry: Telemetry::default(),
            ui: UiConfig::default(),
            ignored: Vec::new(),
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
    /// A setting Nomad refuses while it sets up the server (`limits { rpc_* }`): printed as
    /// `Error starting agent: server config setup failed: ...`.
    #[error("server config setup failed: {0}")]
    ServerSetup(String),
    /// A setting Nomad refuses while it starts the HTTP server (`limits { http* }`): printed
    /// as `Error starting http server: ...`.
    #[error("{0}")]
    HttpSetup(String),
    /// Not a failure: `-help` was asked for. The text is the agent's usage.
    #[error("{0}")]
    Help(String),
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

/// Loads the agent configuration from the words after `raftwarden agent`: config files in
/// order, then flags on top, then validation.
pub fn load(args: &[String]) -> Result<AgentConfig, ConfigError> {
    let flags = flags::parse(args)?;
    // As Nomad's `readConfig`: -dev replaces the defaults, files override it, flags win.
    let mut merged = if flags.dev { flags::dev_layer() } else { AgentFile::default() };
    for path in &flags.configs {
        for file in config_files(path)? {
            merged = merged.merge(file::decode(&file, read_file(&file)?)?);
        }
    }
    let dev = flags.dev;
    let mut cfg = resolve(merged.merge(flags.into_layer()))?;
    cfg.dev = dev;
    if dev && cfg.name.is_empty() {
        cfg.name = "dev".into();
    }
    validate::validate(cfg)
}

/// Nomad's defaults under every key that no layer set.
/// A positive Go duration in nanoseconds as a `Duration` (zero or negative: unset).
fn ttl(nanos: Option<i64>) -> Option<std::time::Duration> {
    nanos.and_then(|n| u64::try_from(n).ok()).filter(|n| *n > 0).map(std::time::Duration::from_nanos)
}

fn resolve(f: AgentFile) -> Result<AgentConfig, ConfigError> {
    let d = AgentConfig::default();
    let server = f.server.unwrap_or_default();
    let ports = f.ports.unwrap_or_default();
    let advertise = f.advertise.unwrap_or_default();
    let snapshot = f.snapshot.map(SnapshotSchedule::resolve).transpose()?;
    let tls = f.tls.map(TlsConfig::resolve).transpose()?.unwrap_or_default();
    let limits = f.limits.map(Limits::resolve).transpose()?.unwrap_or_default();
    let telemetry = f.telemetry.map(Telemetry::resolve).transpose()?.unwrap_or_default();
    let ui = f.ui.map(UiConfig::resolve).unwrap_or_default();
    // Nomad's convertServerConfig: raft_protocol 3 only, raft_multiplier 1-10 (0: the default).
    if let Some(v) = server.raft_protocol.filter(|v| *v != 0 && *v != 3) {
        return Err(ConfigError::ServerSetup(format!("raft_protocol must be 3 in Nomad v1.4 and later, got {v}")));
    }
    let raft_multiplier = match server.raft_multiplier {
        None | Some(0) => d.server.raft_multiplier,
        Some(m @ 1..=10) => m as u32,
        Some(m) => {
            return Err(ConfigError::ServerSetup(format!("raft_multiplier cannot be {m}. Must be between 1 and 10")))
        }
    };
    let encrypt = server
        .encrypt
        .as_deref()
        .map(gossip_key)
        .transpose()
        .map_err(|e| ConfigError::Invalid(format!("server.encrypt: {e}")))?;
    Ok(AgentConfig {
        name: f.name.unwrap_or(d.name),
        region: f.region.unwrap_or(d.region),
        datacenter: f.datacenter.unwrap_or(d.datacenter),
        data_dir: f.data_dir,
        bind_addr: f.bind_addr.unwrap_or(d.bind_addr),
        ports: Ports {
            http: ports.http.unwrap_or(d.ports.http),
            rpc: ports.rpc.unwrap_or(d.ports.rpc),
            serf: ports.serf.unwrap_or(d.ports.serf),
        },
        log_level: f.log_level.unwrap_or(d.log_level),
        log_json: f.log_json.unwrap_or(d.log_json),
        dev: d.dev,
        server: ServerConfig {
            enabled: server.enabled.unwrap_or(d.server.enabled),
            bootstrap_expect: server.bootstrap_expect.unwrap_or(d.server.bootstrap_expect),
            retry_join: server.all_retry_join().cloned().collect(),
            retry_interval: server
                .server_join
                .as_ref()
                .and_then(|j| j.retry_interval)
                .or(server.retry_interval)
                .map_or(d.server.retry_interval, |ns| std::time::Duration::from_nanos(ns.max(0) as u64)),
            retry_max: server
                .server_join
                .as_ref()
                .and_then(|j| j.retry_max)
                .or(server.retry_max)
                .unwrap_or(d.server.retry_max),
            default_scheduler_config: server.default_scheduler_config.map(file::SchedulerBlock::resolve),
            raft_snapshot_threshold: server.raft_snapshot_threshold.unwrap_or(d.server.raft_snapshot_threshold),
            raft_trailing_logs: server.raft_trailing_logs.unwrap_or(d.server.raft_trailing_logs),
            // Nomad's `LicensePath != ""`: an empty path is no license file.
            license_path: server.license_path.filter(|p| !p.as_os_str().is_empty()),
            license_public_keys: server.license_public_keys,
            encrypt,
            raft_multiplier,
        },
        autopilot: f.autopilot.unwrap_or(d.autopilot),
        acl_enabled: f.acl.as_ref().and_then(|a| a.enabled).unwrap_or(d.acl_enabled),
        acl_token_min_ttl: ttl(f.acl.as_ref().and_then(|a| a.token_min_expiration_ttl)).unwrap_or(d.acl_token_min_ttl),
        acl_token_max_ttl: ttl(f.acl.as_ref().and_then(|a| a.token_max_expiration_ttl)).unwrap_or(d.acl_token_max_ttl),
        http_api_response_headers: f
            .http_api_response_headers
            .map(|h| h.0.into_iter().map(|(k, v)| (k, v.0)).collect())
            .unwrap_or(d.http_api_response_headers),
        advertise_http: advertise.http,
        advertise_rpc: advertise.rpc,
        advertise_serf: advertise.serf,
        leave_on_terminate: f.leave_on_terminate.unwrap_or(d.leave_on_terminate),
        leave_on_interrupt: f.leave_on_interrupt.unwrap_or(d.leave_on_interrupt),
        snapshot,
        tls,
        limits,
        telemetry,
        ui,
        ignored: {
            let mut ignored = f.ignored;
            if f.client.and_then(|c| c.enabled) == Some(true) {
                ignored.push("client.enabled".into());
            }
            ignored
        },
    })
}

/// The one warning for what the files set that does not apply here (`None`: nothing).
pub fn ignored_warning(cfg: &AgentConfig) -> Option<String> {
    schema::warning(&cfg.ignored)
}

#[cfg(test)]
mod tests;
