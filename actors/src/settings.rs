//! What one server is started with ([`Settings`]: Nomad's agent settings as far as a server
//! uses them) and why a start can fail ([`StartError`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::gossip;
use crate::license::document::PublicKey;
use crate::license::document::DEFAULT_PRODUCT;
use crate::raft;
use crate::state::AutopilotConfig;
use crate::state::SchedulerConfig;

/// Nomad's defaults for `raft_snapshot_threshold` and `raft_trailing_logs`.
pub const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 8192;
pub const DEFAULT_TRAILING_LOGS: u64 = 10240;

/// Raft timing.
#[derive(Clone, Debug)]
pub struct RaftTiming {
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// A follower that hears no leader for a random time in `election_min..election_max`
    /// campaigns.
    pub election_min: Duration,
    pub election_max: Duration,
    /// How long a follower waits for one snapshot chunk.
    pub install_snapshot_timeout: Duration,
}

impl Default for RaftTiming {
    /// Heartbeat 100 ms and elections after 500-1000 ms of silence: a new leader within about
    /// two seconds of a crash, and no spurious elections on a loaded 2-core machine (measured:
    /// tighter timeouts elected new leaders under CPU load without any crash).
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_millis(100),
            election_min: Duration::from_millis(500),
            election_max: Duration::from_millis(1000),
            install_snapshot_timeout: Duration::from_secs(10),
        }
    }
}
/// Everything needed to start one server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Node name without the region (`<name>.<region>` is derived).
    pub name: String,
    pub region: String,
    pub datacenter: String,
    /// The server's data directory; raft state lives under `<data_dir>/server/`.
    pub data_dir: PathBuf,
    /// Advertised `ip:port` of this server's RPC listener.
    pub rpc_addr: String,
    /// Advertised `ip:port` of this server's HTTP API.
    pub http_addr: String,
    pub bootstrap_expect: u32,
    /// Gossip (serf) addresses of other servers to join through, `host[:port]` (port 4648 by
    /// default), as Nomad's `retry_join`; retried until one answers.
    pub retry_join: Vec<String>,
    /// Pause between `retry_join` rounds (Nomad's `server_join.retry_interval`).
    pub retry_interval: Duration,
    /// Rounds before giving up, 0 for no limit (Nomad's `server_join.retry_max`); see
    /// [`Server::retry_join_exhausted`].
    pub retry_max: u32,
    /// `ip:port` the gossip UDP socket binds (Nomad's `bind_addr` and `ports.serf`); port 0
    /// takes any free port.
    pub serf_bind: String,
    /// `ip:port` other members reach the gossip socket at (Nomad's `advertise.serf`); `None`:
    /// the bound address (loopback when bound to all interfaces).
    pub serf_advertise: Option<String>,
    /// The gossip encryption key (Nomad's `server { encrypt }`: 16, 24 or 32 bytes). It seeds
    /// `<data_dir>/server/serf.keyring` when there is no such file; once there is, the file
    /// (with the keys installed and put to use since) wins. `None` and no file: gossip in clear.
    pub encrypt: Option<Vec<u8>>,
    pub autopilot_defaults: AutopilotConfig,
    pub scheduler_defaults: SchedulerConfig,
    pub timing: RaftTiming,
    /// Take a raft snapshot after this many new log entries (Nomad's `raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Log entries kept behind a snapshot for slow followers (Nomad's `raft_trailing_logs`).
    pub raft_trailing_logs: u64,
    /// The ACL system (Nomad's `acl { }` block).
    pub acl: AclSettings,
    /// The product this server licenses, the keys it trusts and the configured license.
    pub license: LicenseSettings,
    /// Take raft traffic and server duties (join, status, elections) on the internal RPC port
    /// only from a connection proven to be a server's (`wire::Peer::Server`: mutual TLS with
    /// a server certificate); set when `tls { rpc = true }`. Off, those paths are taken from
    /// anyone who reaches the port, as in Nomad without TLS, since plain TCP cannot tell a
    /// server from anyone else. Client operations are authorised by their caller's token either
    /// way.
    pub rpc_requires_server_cert: bool,
    /// Mutual TLS toward the other servers' RPC ports (`tls { rpc = true }`): every raft
    /// message, forwarded operation, join and snapshot transfer goes over `https` with this
    /// config, which presents our certificate and checks theirs. `None`: plain HTTP.
    pub rpc_tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// How this server's metrics are labelled and sampled (Nomad's `telemetry { }`).
    pub telemetry: TelemetrySettings,
}

/// The `host` label every metric carries (go-metrics' `EnableHostnameLabel`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostLabel {
    /// The machine's host name (Nomad's default).
    #[default]
    Machine,
    /// The agent's node name (`use_node_name = true`).
    NodeName,
    /// No `host` label (`disable_hostname = true`).
    None,
}

/// Nomad's `telemetry { }` as far as a server's own metrics go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetrySettings {
    pub host_label: HostLabel,
    /// How often the gauges are sampled (`collection_interval`, Nomad's default 1 s).
    pub collection_interval: Duration,
    /// The in-memory sink's interval and how long intervals are kept
    /// (`in_memory_collection_interval` 10 s, `in_memory_retention_period` 1 m).
    pub inmem_interval: Duration,
    pub inmem_retention: Duration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            host_label: HostLabel::Machine,
            collection_interval: Duration::from_secs(1),
            inmem_interval: Duration::from_secs(10),
            inmem_retention: Duration::from_secs(60),
        }
    }
}

/// Nomad's `acl { }` agent block, as far as the server uses it.
#[derive(Clone, Debug)]
pub struct AclSettings {
    /// ACLs enforced; when off every request is allowed and the ACL endpoints answer
    /// `ACL support disabled`.
    pub enabled: bool,
    /// Bounds of a new token's expiration (Nomad's `token_min_expiration_ttl` and
    /// `token_max_expiration_ttl`).
    pub token_min_ttl: Duration,
    pub token_max_ttl: Duration,
}

impl Default for AclSettings {
    /// Off, with Nomad's expiration bounds: one minute to one day.
    fn default() -> Self {
        Self { enabled: false, token_min_ttl: Duration::from_secs(60), token_max_ttl: Duration::from_secs(24 * 3600) }
    }
}

impl Settings {
    /// A single server (`bootstrap_expect = 1`) in region `global` with Nomad's defaults: the
    /// starting point for embedding and for tests; adjust fields as needed.
    pub fn new(name: &str, data_dir: impl Into<PathBuf>, rpc_addr: &str, http_addr: &str) -> Self {
        Self {
            name: name.into(),
            region: "global".into(),
            datacenter: "dc1".into(),
            data_dir: data_dir.into(),
            rpc_addr: rpc_addr.into(),
            http_addr: http_addr.into(),
            bootstrap_expect: 1,
            retry_join: Vec::new(),
            retry_interval: gossip::RETRY_JOIN_INTERVAL,
            retry_max: 0,
            serf_bind: serf_bind_near(rpc_addr),
            serf_advertise: None,
            encrypt: None,
            autopilot_defaults: AutopilotConfig::default(),
            scheduler_defaults: SchedulerConfig::default(),
            timing: RaftTiming::default(),
            raft_snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            raft_trailing_logs: DEFAULT_TRAILING_LOGS,
            acl: AclSettings::default(),
            license: LicenseSettings::default(),
            rpc_requires_server_cert: false,
            rpc_tls: None,
            telemetry: TelemetrySettings::default(),
        }
    }
}

/// Gossip on the RPC listener's IP, on any free port: embedded servers and tests need not pick
/// a serf port.
fn serf_bind_near(rpc_addr: &str) -> String {
    let ip = rpc_addr.parse::<std::net::SocketAddr>().map_or(std::net::IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    std::net::SocketAddr::new(ip, 0).to_string()
}

/// Why a server could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data_dir {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("data_dir {path} is not a raftwarden data directory ({reason}); refusing to use it")]
    Foreign { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] raft::store::OpenError),
    #[error("raft: {0}")]
    Raft(String),
    #[error(transparent)]
    Gossip(#[from] gossip::GossipError),
}

/// What a server licenses and whom it trusts to sign licenses.
#[derive(Clone, Debug)]
pub struct LicenseSettings {
    /// The product a license must name: [`DEFAULT_PRODUCT`] unless an application
    /// embedding the actors licenses its own.
    pub product: String,
    /// Keys whose signatures are trusted. Without any, the cluster runs on its temporary
    /// license and every install is refused.
    pub public_keys: Vec<PublicKey>,
    /// The license file of the agent configuration (`server { license_path }`): installed by a
    /// leader when it verifies and is newer than the installed license.
    pub configured: Option<String>,
}

impl Default for LicenseSettings {
    fn default() -> Self {
        Self { product: DEFAULT_PRODUCT.into(), public_keys: Vec::new(), configured: None }
    }
}
