//! The schema of an agent file, as serde structs decoded from the HCL1 (or JSON) value.
//!
//! Every key is an `Option` (lists start empty), so "not set" survives until files and flags
//! are merged ([`Merge`]): a later layer wins key by key and lists append, as Nomad merges its
//! config files. Leaf values are checked by the `de` helpers below, which word their errors the
//! way this agent always has (`expected a non-negative integer, got string "three"`); the key
//! path in front of each error comes from `serde_path_to_error`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;
use std::path::PathBuf;

use raftwarden_actors::state::PreemptionConfig;
use raftwarden_actors::state::SchedulerAlgorithm;
use raftwarden_actors::state::SchedulerConfig;
use serde::de::Error as _;
use serde::Deserialize;
use serde::Deserializer;
use serde_json::Value;

use super::AutopilotOverrides;
use super::ConfigError;

/// One agent file (or the flags, as a layer of the same shape).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    #[serde(default, deserialize_with = "de::string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub region: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub datacenter: Option<String>,
    #[serde(default, deserialize_with = "de::path")]
    pub data_dir: Option<PathBuf>,
    #[serde(default, deserialize_with = "de::string")]
    pub bind_addr: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub log_level: Option<String>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub log_json: Option<bool>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub ports: Option<PortsBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub server: Option<ServerBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub autopilot: Option<AutopilotOverrides>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub acl: Option<AclBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub advertise: Option<AdvertiseBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub http_api_response_headers: Option<Headers>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub client: Option<ClientBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub snapshot: Option<SnapshotBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub tls: Option<TlsBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub limits: Option<LimitsBlock>,
    /// Leave the gossip pool gracefully on SIGINT / SIGTERM (Nomad's defaults: false).
    #[serde(default, deserialize_with = "de::boolean")]
    pub leave_on_interrupt: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub leave_on_terminate: Option<bool>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub telemetry: Option<TelemetryBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub ui: Option<UiBlock>,
    /// Nomad keys and blocks that mean nothing to a raftwarden server, by dotted path: taken
    /// out of the file by [`super::schema::check`], named in one warning at start.
    #[serde(skip)]
    pub ignored: Vec<String>,
}

/// `telemetry { }`: the keys of Nomad's `Telemetry` that apply to a server's own metrics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub prometheus_metrics: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub disable_hostname: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub use_node_name: Option<bool>,
    #[serde(default, deserialize_with = "de::duration")]
    pub collection_interval: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub in_memory_collection_interval: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub in_memory_retention_period: Option<i64>,
}

impl Merge for TelemetryBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            prometheus_metrics: later.prometheus_metrics.or(self.prometheus_metrics),
            disable_hostname: later.disable_hostname.or(self.disable_hostname),
            use_node_name: later.use_node_name.or(self.use_node_name),
            collection_interval: later.collection_interval.or(self.collection_interval),
            in_memory_collection_interval: later.in_memory_collection_interval.or(self.in_memory_collection_interval),
            in_memory_retention_period: later.in_memory_retention_period.or(self.in_memory_retention_period),
        }
    }
}

/// `ui { }` (Nomad's `UIConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub show_cli_hints: Option<bool>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub content_security_policy: Option<CspBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub consul: Option<UiLinkBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub vault: Option<UiLinkBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub label: Option<UiLabelBlock>,
}

impl Merge for UiBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            enabled: later.enabled.or(self.enabled),
            show_cli_hints: later.show_cli_hints.or(self.show_cli_hints),
            content_security_policy: block(self.content_security_policy, later.content_security_policy),
            consul: block(self.consul, later.consul),
            vault: block(self.vault, later.vault),
            label: block(self.label, later.label),
        }
    }
}

/// `ui { content_security_policy { } }`: each directive's sources.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CspBlock {
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub connect_src: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub default_src: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub form_action: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub frame_ancestors: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub img_src: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub script_src: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::opt_strings")]
    pub style_src: Option<Vec<String>>,
}

impl Merge for CspBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            connect_src: later.connect_src.or(self.connect_src),
            default_src: later.default_src.or(self.default_src),
            form_action: later.form_action.or(self.form_action),
            frame_ancestors: later.frame_ancestors.or(self.frame_ancestors),
            img_src: later.img_src.or(self.img_src),
            script_src: later.script_src.or(self.script_src),
            style_src: later.style_src.or(self.style_src),
        }
    }
}

/// `ui { consul { ui_url } }` and `ui { vault { ui_url } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiLinkBlock {
    #[serde(default, deserialize_with = "de::string")]
    pub ui_url: Option<String>,
}

impl Merge for UiLinkBlock {
    fn merge(self, later: Self) -> Self {
        Self { ui_url: later.ui_url.or(self.ui_url) }
    }
}

/// `ui { label { text background_color text_color } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiLabelBlock {
    #[serde(default, deserialize_with = "de::string")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub background_color: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub text_color: Option<String>,
}

impl Merge for UiLabelBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            text: later.text.or(self.text),
            background_color: later.background_color.or(self.background_color),
            text_color: later.text_color.or(self.text_color),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortsBlock {
    #[serde(default, deserialize_with = "de::uint")]
    pub http: Option<u16>,
    #[serde(default, deserialize_with = "de::uint")]
    pub rpc: Option<u16>,
    #[serde(default, deserialize_with = "de::uint")]
    pub serf: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::uint")]
    pub bootstrap_expect: Option<u32>,
    #[serde(default, deserialize_with = "de::strings")]
    pub retry_join: Vec<String>,
    #[serde(default, deserialize_with = "de::uint")]
    pub raft_snapshot_threshold: Option<u64>,
    #[serde(default, deserialize_with = "de::uint")]
    pub raft_trailing_logs: Option<u64>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub server_join: Option<ServerJoinBlock>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub default_scheduler_config: Option<SchedulerBlock>,
    /// Nomad's `license_path`: the license file a new cluster's first leader installs.
    #[serde(default, deserialize_with = "de::path")]
    pub license_path: Option<PathBuf>,
    /// Base64 ed25519 public keys whose license signatures this server trusts.
    #[serde(default, deserialize_with = "de::strings")]
    pub license_public_keys: Vec<String>,
    /// `encrypt`: the base64 gossip key (16, 24 or 32 bytes, AES-GCM as serf uses).
    #[serde(default, deserialize_with = "de::string")]
    pub encrypt: Option<String>,
    /// Nomad's older spellings of `server_join { }`'s keys, directly in `server { }`.
    #[serde(default, deserialize_with = "de::strings")]
    pub start_join: Vec<String>,
    #[serde(default, deserialize_with = "de::uint")]
    pub retry_max: Option<u32>,
    #[serde(default, deserialize_with = "de::duration")]
    pub retry_interval: Option<i64>,
    /// `raft_protocol`: only 3, as Nomad 1.4 and later.
    #[serde(default, deserialize_with = "de::int")]
    pub raft_protocol: Option<i64>,
    /// `raft_multiplier`: 1-10, scales the raft timeouts.
    #[serde(default, deserialize_with = "de::int")]
    pub raft_multiplier: Option<i64>,
}

impl ServerBlock {
    /// `retry_join` given directly and inside `server_join`, in that order.
    pub fn all_retry_join(&self) -> impl Iterator<Item = &String> {
        let join = self.server_join.iter();
        self.start_join
            .iter()
            .chain(&self.retry_join)
            .chain(join.clone().flat_map(|j| j.start_join.iter()))
            .chain(join.flat_map(|j| j.retry_join.iter()))
    }
}

/// `server_join { }`: the addresses to join and the retry policy.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerJoinBlock {
    /// Joined once at start in Nomad; here joined like `retry_join` (the same first round).
    #[serde(default, deserialize_with = "de::strings")]
    pub start_join: Vec<String>,
    #[serde(default, deserialize_with = "de::strings")]
    pub retry_join: Vec<String>,
    #[serde(default, deserialize_with = "de::uint")]
    pub retry_max: Option<u32>,
    #[serde(default, deserialize_with = "de::duration")]
    pub retry_interval: Option<i64>,
}

/// `default_scheduler_config { }`: the scheduler configuration a new cluster starts with.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerBlock {
    #[serde(default, deserialize_with = "de::scheduler_algorithm")]
    pub scheduler_algorithm: Option<SchedulerAlgorithm>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub memory_oversubscription_enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub reject_job_registration: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub pause_eval_broker: Option<bool>,
    #[serde(default, deserialize_with = "de::uint")]
    pub node_limit_for_feasibility_checks: Option<u32>,
    #[serde(default, deserialize_with = "de::blocks")]
    pub preemption_config: Option<PreemptionBlock>,
}

impl SchedulerBlock {
    /// Nomad's defaults with every set key applied.
    pub fn resolve(self) -> SchedulerConfig {
        let d = SchedulerConfig::default();
        let p = self.preemption_config.unwrap_or_default();
        let dp = PreemptionConfig::default();
        SchedulerConfig {
            scheduler_algorithm: self.scheduler_algorithm.unwrap_or(d.scheduler_algorithm),
            preemption_config: PreemptionConfig {
                system_scheduler_enabled: p.system_scheduler_enabled.unwrap_or(dp.system_scheduler_enabled),
                sysbatch_scheduler_enabled: p.sysbatch_scheduler_enabled.unwrap_or(dp.sysbatch_scheduler_enabled),
                batch_scheduler_enabled: p.batch_scheduler_enabled.unwrap_or(dp.batch_scheduler_enabled),
                service_scheduler_enabled: p.service_scheduler_enabled.unwrap_or(dp.service_scheduler_enabled),
            },
            memory_oversubscription_enabled: self
                .memory_oversubscription_enabled
                .unwrap_or(d.memory_oversubscription_enabled),
            reject_job_registration: self.reject_job_registration.unwrap_or(d.reject_job_registration),
            pause_eval_broker: self.pause_eval_broker.unwrap_or(d.pause_eval_broker),
            node_limit_for_feasibility_checks: self
                .node_limit_for_feasibility_checks
                .unwrap_or(d.node_limit_for_feasibility_checks),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreemptionBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub system_scheduler_enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub sysbatch_scheduler_enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub batch_scheduler_enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub service_scheduler_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub enabled: Option<bool>,
    /// Cache lifetimes of resolved tokens, policies and roles: accepted; resolution here
    /// reads the replicated tables directly, so there is nothing to cache.
    #[serde(default, deserialize_with = "de::duration")]
    pub token_ttl: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub policy_ttl: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub role_ttl: Option<i64>,
    /// Bounds of a new token's expiration TTL (Go durations).
    #[serde(default, deserialize_with = "de::duration")]
    pub token_min_expiration_ttl: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub token_max_expiration_ttl: Option<i64>,
}

/// `advertise { }`: the addresses other servers and clients use.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvertiseBlock {
    #[serde(default, deserialize_with = "de::string")]
    pub http: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub rpc: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub serf: Option<String>,
}

/// `client { }`: raftwarden runs servers only; `enabled = true` is named in the warning about
/// what does not apply (a Nomad server+client file still starts the server).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub enabled: Option<bool>,
}

/// `http_api_response_headers { Name = "value" }`: any header name.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, de::Str>);

/// A later layer over an earlier one: keys the later one sets win, lists append.
pub trait Merge {
    fn merge(self, later: Self) -> Self;
}

/// Two optional blocks: merged key by key when both are given.
fn block<T: Merge>(earlier: Option<T>, later: Option<T>) -> Option<T> {
    match (earlier, later) {
        (Some(e), Some(l)) => Some(e.merge(l)),
        (e, l) => l.or(e),
    }
}

fn append<T>(mut earlier: Vec<T>, later: Vec<T>) -> Vec<T> {
    earlier.extend(later);
    earlier
}

impl Merge for AgentFile {
    fn merge(self, later: Self) -> Self {
        Self {
            name: later.name.or(self.name),
            region: later.region.or(self.region),
            datacenter: later.datacenter.or(self.datacenter),
            data_dir: later.data_dir.or(self.data_dir),
            bind_addr: later.bind_addr.or(self.bind_addr),
            log_level: later.log_level.or(self.log_level),
            log_json: later.log_json.or(self.log_json),
            ports: block(self.ports, later.ports),
            server: block(self.server, later.server),
            autopilot: block(self.autopilot, later.autopilot),
            acl: block(self.acl, later.acl),
            advertise: block(self.advertise, later.advertise),
            http_api_response_headers: block(self.http_api_response_headers, later.http_api_response_headers),
            client: block(self.client, later.client),
            snapshot: block(self.snapshot, later.snapshot),
            tls: block(self.tls, later.tls),
            limits: block(self.limits, later.limits),
            leave_on_interrupt: later.leave_on_interrupt.or(self.leave_on_interrupt),
            leave_on_terminate: later.leave_on_terminate.or(self.leave_on_terminate),
            telemetry: block(self.telemetry, later.telemetry),
            ui: block(self.ui, later.ui),
            ignored: append(self.ignored, later.ignored),
        }
    }
}

/// `snapshot { interval retain path token }`: snapshots the server saves on a schedule.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotBlock {
    #[serde(default, deserialize_with = "de::duration")]
    pub interval: Option<i64>,
    #[serde(default, deserialize_with = "de::uint")]
    pub retain: Option<u64>,
    #[serde(default, deserialize_with = "de::path")]
    pub path: Option<PathBuf>,
    /// The ACL token the saves are made with (needs `snapshot-save` or management).
    #[serde(default, deserialize_with = "de::string")]
    pub token: Option<String>,
}

/// Never prints the token.
impl fmt::Debug for SnapshotBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotBlock")
            .field("interval", &self.interval)
            .field("retain", &self.retain)
            .field("path", &self.path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Merge for SnapshotBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            interval: later.interval.or(self.interval),
            retain: later.retain.or(self.retain),
            path: later.path.or(self.path),
            token: later.token.or(self.token),
        }
    }
}

impl Merge for PortsBlock {
    fn merge(self, later: Self) -> Self {
        Self { http: later.http.or(self.http), rpc: later.rpc.or(self.rpc), serf: later.serf.or(self.serf) }
    }
}

impl Merge for ServerBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            enabled: later.enabled.or(self.enabled),
            bootstrap_expect: later.bootstrap_expect.or(self.bootstrap_expect),
            retry_join: append(self.retry_join, later.retry_join),
            raft_snapshot_threshold: later.raft_snapshot_threshold.or(self.raft_snapshot_threshold),
            raft_trailing_logs: later.raft_trailing_logs.or(self.raft_trailing_logs),
            server_join: block(self.server_join, later.server_join),
            default_scheduler_config: block(self.default_scheduler_config, later.default_scheduler_config),
            license_path: later.license_path.or(self.license_path),
            license_public_keys: append(self.license_public_keys, later.license_public_keys),
            encrypt: later.encrypt.or(self.encrypt),
            start_join: append(self.start_join, later.start_join),
            retry_max: later.retry_max.or(self.retry_max),
            retry_interval: later.retry_interval.or(self.retry_interval),
            raft_protocol: later.raft_protocol.or(self.raft_protocol),
            raft_multiplier: later.raft_multiplier.or(self.raft_multiplier),
        }
    }
}

impl Merge for ServerJoinBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            start_join: append(self.start_join, later.start_join),
            retry_join: append(self.retry_join, later.retry_join),
            retry_max: later.retry_max.or(self.retry_max),
            retry_interval: later.retry_interval.or(self.retry_interval),
        }
    }
}

impl Merge for SchedulerBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            scheduler_algorithm: later.scheduler_algorithm.or(self.scheduler_algorithm),
            memory_oversubscription_enabled: later
                .memory_oversubscription_enabled
                .or(self.memory_oversubscription_enabled),
            reject_job_registration: later.reject_job_registration.or(self.reject_job_registration),
            pause_eval_broker: later.pause_eval_broker.or(self.pause_eval_broker),
            node_limit_for_feasibility_checks: later
                .node_limit_for_feasibility_checks
                .or(self.node_limit_for_feasibility_checks),
            preemption_config: block(self.preemption_config, later.preemption_config),
        }
    }
}

impl Merge for PreemptionBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            system_scheduler_enabled: later.system_scheduler_enabled.or(self.system_scheduler_enabled),
            sysbatch_scheduler_enabled: later.sysbatch_scheduler_enabled.or(self.sysbatch_scheduler_enabled),
            batch_scheduler_enabled: later.batch_scheduler_enabled.or(self.batch_scheduler_enabled),
            service_scheduler_enabled: later.service_scheduler_enabled.or(self.service_scheduler_enabled),
        }
    }
}

impl Merge for AutopilotOverrides {
    fn merge(self, later: Self) -> Self {
        Self {
            cleanup_dead_servers: later.cleanup_dead_servers.or(self.cleanup_dead_servers),
            last_contact_threshold: later.last_contact_threshold.or(self.last_contact_threshold),
            max_trailing_logs: later.max_trailing_logs.or(self.max_trailing_logs),
            min_quorum: later.min_quorum.or(self.min_quorum),
            server_stabilization_time: later.server_stabilization_time.or(self.server_stabilization_time),
            enable_redundancy_zones: later.enable_redundancy_zones.or(self.enable_redundancy_zones),
            disable_upgrade_migration: later.disable_upgrade_migration.or(self.disable_upgrade_migration),
            enable_custom_upgrades: later.enable_custom_upgrades.or(self.enable_custom_upgrades),
        }
    }
}

impl Merge for AclBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            enabled: later.enabled.or(self.enabled),
            token_ttl: later.token_ttl.or(self.token_ttl),
            policy_ttl: later.policy_ttl.or(self.policy_ttl),
            role_ttl: later.role_ttl.or(self.role_ttl),
            token_min_expiration_ttl: later.token_min_expiration_ttl.or(self.token_min_expiration_ttl),
            token_max_expiration_ttl: later.token_max_expiration_ttl.or(self.token_max_expiration_ttl),
        }
    }
}

impl Merge for AdvertiseBlock {
    fn merge(self, later: Self) -> Self {
        Self { http: later.http.or(self.http), rpc: later.rpc.or(self.rpc), serf: later.serf.or(self.serf) }
    }
}

impl Merge for ClientBlock {
    fn merge(self, later: Self) -> Self {
        Self { enabled: later.enabled.or(self.enabled) }
    }
}

impl Merge for Headers {
    fn merge(mut self, later: Self) -> Self {
        self.0.extend(later.0);
        self
    }
}

/// Decodes one file's value; errors name the file, the key path and the reason.
/// `tls { }`: Nomad's TLS keys, as its `config.TLSConfig` names them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsBlock {
    #[serde(default, deserialize_with = "de::boolean")]
    pub http: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub rpc: Option<bool>,
    #[serde(default, deserialize_with = "de::path")]
    pub ca_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "de::path")]
    pub cert_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "de::path")]
    pub key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub verify_server_hostname: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub verify_https_client: Option<bool>,
    #[serde(default, deserialize_with = "de::string")]
    pub tls_min_version: Option<String>,
    #[serde(default, deserialize_with = "de::string")]
    pub tls_cipher_suites: Option<String>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub tls_prefer_server_cipher_suites: Option<bool>,
    #[serde(default, deserialize_with = "de::boolean")]
    pub rpc_upgrade_mode: Option<bool>,
}

impl Merge for TlsBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            http: later.http.or(self.http),
            rpc: later.rpc.or(self.rpc),
            ca_file: later.ca_file.or(self.ca_file),
            cert_file: later.cert_file.or(self.cert_file),
            key_file: later.key_file.or(self.key_file),
            verify_server_hostname: later.verify_server_hostname.or(self.verify_server_hostname),
            verify_https_client: later.verify_https_client.or(self.verify_https_client),
            tls_min_version: later.tls_min_version.or(self.tls_min_version),
            tls_cipher_suites: later.tls_cipher_suites.or(self.tls_cipher_suites),
            tls_prefer_server_cipher_suites: later
                .tls_prefer_server_cipher_suites
                .or(self.tls_prefer_server_cipher_suites),
            rpc_upgrade_mode: later.rpc_upgrade_mode.or(self.rpc_upgrade_mode),
        }
    }
}

/// `limits { }`: per-client connection limits and handshake timeouts (Nomad's `config.Limits`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsBlock {
    #[serde(default, deserialize_with = "de::duration")]
    pub https_handshake_timeout: Option<i64>,
    #[serde(default, deserialize_with = "de::int")]
    pub http_max_conns_per_client: Option<i64>,
    #[serde(default, deserialize_with = "de::duration")]
    pub rpc_handshake_timeout: Option<i64>,
    #[serde(default, deserialize_with = "de::int")]
    pub rpc_max_conns_per_client: Option<i64>,
}

impl Merge for LimitsBlock {
    fn merge(self, later: Self) -> Self {
        Self {
            https_handshake_timeout: later.https_handshake_timeout.or(self.https_handshake_timeout),
            http_max_conns_per_client: later.http_max_conns_per_client.or(self.http_max_conns_per_client),
            rpc_handshake_timeout: later.rpc_handshake_timeout.or(self.rpc_handshake_timeout),
            rpc_max_conns_per_client: later.rpc_max_conns_per_client.or(self.rpc_max_conns_per_client),
        }
    }
}

pub fn decode(file: &Path, mut value: Value) -> Result<AgentFile, ConfigError> {
    let err = |message: String| ConfigError::File { file: file.to_path_buf(), message };
    if !value.is_object() {
        return Err(err(format!("expected a configuration object, got {}", de::kind(&value))));
    }
    let ignored = super::schema::check(&mut value).map_err(err)?;
    let decoded: Result<AgentFile, _> = serde_path_to_error::deserialize(value);
    decoded.map(|f| AgentFile { ignored, ..f }).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner().to_string();
        // serde's own text for a key that `deny_unknown_fields` rejects; its path ends with the key.
        if reason.starts_with("unknown field `") {
            err(format!("unknown key {path:?}"))
        } else {
            err(format!("{path}: {reason}"))
        }
    })
}

/// Leaf decoders. Each reads the value as JSON first, so the error can say what it got.
pub(super) mod de {
    use super::*;

    /// What a value is, for "expected X, got Y".
    pub fn kind(v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("bool {b}"),
            Value::Number(n) => format!("number {n}"),
            Value::String(s) => format!("string {s:?}"),
            Value::Array(_) => "a list".into(),
            Value::Object(_) => "a block".into(),
        }
    }

    fn leaf<'de, D, T>(d: D, expected: &str, f: impl FnOnce(&Value) -> Option<T>) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
    {
        let v = Value::deserialize(d)?;
        f(&v).map(Some).ok_or_else(|| D::Error::custom(format!("expected {expected}, got {}", kind(&v))))
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        leaf(d, "a string", |v| v.as_str().map(str::to_string))
    }

    pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(string(d)?.map(PathBuf::from))
    }

    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        leaf(d, "true or false", Value::as_bool)
    }

    /// An integer that must fit `T`.
    pub fn uint<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + Bounded,
    {
        let Some(n) = leaf(d, "a non-negative integer", Value::as_u64)? else { return Ok(None) };
        T::try_from(n).map(Some).map_err(|_| D::Error::custom(format!("{n} is out of range (at most {})", T::MAX)))
    }

    /// A signed integer (Nomad's `int` keys, checked for range where they are used).
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        leaf(d, "an integer", Value::as_i64)
    }

    pub trait Bounded {
        const MAX: u64;
    }
    impl Bounded for u16 {
        const MAX: u64 = u16::MAX as u64;
    }
    impl Bounded for u32 {
        const MAX: u64 = u32::MAX as u64;
    }
    impl Bounded for u64 {
        const MAX: u64 = u64::MAX;
    }

    /// A list of strings where "not set" and "empty" differ.
    pub fn opt_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        strings(d).map(Some)
    }

    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let v = Value::deserialize(d)?;
        let Value::Array(items) = v else {
            return Err(D::Error::custom(format!("expected a list of strings, got {}", kind(&v))));
        };
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(D::Error::custom(format!("expected a string, got {}", kind(&other)))),
            })
            .collect()
    }

    /// A Go duration string (`"500ms"`), in nanoseconds.
    pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let Some(s) = string(d)? else { return Ok(None) };
        crate::go::duration::parse(&s).map(Some).map_err(D::Error::custom)
    }

    pub fn scheduler_algorithm<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SchedulerAlgorithm>, D::Error> {
        let Some(s) = string(d)? else { return Ok(None) };
        SchedulerAlgorithm::parse(&s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid scheduler algorithm {s:?} (binpack or spread)")))
    }

    /// A header value: a string.
    #[derive(Debug)]
    pub struct Str(pub String);

    impl<'de> Deserialize<'de> for Str {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let v = Value::deserialize(d)?;
            match v {
                Value::String(s) => Ok(Str(s)),
                other => Err(D::Error::custom(format!("expected a string, got {}", kind(&other)))),
            }
        }
    }

    /// A block: HCL1 gives a block written once as an object and a block written several times
    /// as a list of objects, which merge in order (two `server { }` blocks are one server block).
    pub fn blocks<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Merge,
    {
        struct Blocks<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Merge> serde::de::Visitor<'de> for Blocks<T> {
            type Value = Option<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a block")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut merged: Option<T> = None;
                while let Some(next) = seq.next_element_seed(OneBlock(PhantomData))? {
                    merged = block(merged, Some(next));
                }
                Ok(merged)
            }

            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected a block, got {}", kind(&Value::Bool(v)))))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected a block, got {}", kind(&Value::from(v)))))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected a block, got {}", kind(&Value::from(v)))))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected a block, got {}", kind(&Value::from(v)))))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Err(E::custom(format!("expected a block, got {}", kind(&Value::from(v)))))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Err(E::custom("expected a block, got null"))
            }
        }

        /// One element of a list of blocks, which must itself be a block.
        struct OneBlock<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Merge> serde::de::DeserializeSeed<'de> for OneBlock<T> {
            type Value = T;

            fn deserialize<D2: Deserializer<'de>>(self, d: D2) -> Result<T, D2::Error> {
                match d.deserialize_any(Blocks::<T>(PhantomData))? {
                    Some(t) => Ok(t),
                    None => Err(D2::Error::custom("expected a block, got an empty list")),
                }
            }
        }

        d.deserialize_any(Blocks::<T>(PhantomData))
    }
}
