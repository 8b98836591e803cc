//! The agent configuration: Nomad-style HCL/JSON files merged in order, then flags.
//!
//! (Skeleton: the loader is being written; the struct is the contract the rest of the agent uses.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::SchedulerConfig;

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerConfig {
    pub enabled: bool,
    pub bootstrap_expect: u32,
    /// `server_join { retry_join = [...] }` and `-retry-join`: `host:port` of other servers' RPC.
    pub retry_join: Vec<String>,
    /// `default_scheduler_config { ... }`; `None` means Nomad's defaults.
    pub default_scheduler_config: Option<SchedulerConfig>,
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
        }
    }
}
