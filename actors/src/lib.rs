//! raftwarden-actors: the embeddable actor system of a raftwarden server, without HTTP.
//!
//! ```text
//! caller (HTTP handler, host app)
//!   └─> ConfigStore / Autopilot / Membership  (actix Addr, typed messages)
//!         └─> Membership: not leader? forward over RPC to the leader
//!               └─> openraft: replicate, commit, apply on every server
//!                     └─> state::State::apply(cmd, index)  (CAS decided here)
//! ```
//!
//! [`start`] opens the durable store under the data dir, starts openraft and the actors on the
//! caller's actix `System`, and returns their addresses. Nothing is global, so one process can
//! run several servers (tests do).

pub mod autopilot;
pub mod config_store;
pub mod error;
pub mod gofmt;
pub mod membership;
pub mod raft;
pub mod state;

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

use actix::Actor;
use actix::Addr;

use crate::autopilot::Autopilot;
use crate::config_store::ConfigStore;
use crate::membership::LeaderContact;
use crate::membership::Membership;
use crate::membership::Node;
use crate::raft::network::Contacts;
use crate::raft::network::Network;
use crate::raft::ServerNode;
use crate::state::AutopilotConfig;
use crate::state::SchedulerConfig;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Nomad's defaults for `raft_snapshot_threshold` and `raft_trailing_logs`.
pub const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 8192;
pub const DEFAULT_TRAILING_LOGS: u64 = 10240;

/// Raft timing, in milliseconds.
#[derive(Clone, Debug)]
pub struct RaftTiming {
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
}

impl Default for RaftTiming {
    fn default() -> Self {
        Self { heartbeat_ms: 100, election_min_ms: 500, election_max_ms: 1000 }
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
    /// RPC addresses of other servers to join through.
    pub retry_join: Vec<String>,
    pub autopilot_defaults: AutopilotConfig,
    pub scheduler_defaults: SchedulerConfig,
    pub timing: RaftTiming,
    /// Take a raft snapshot after this many new log entries (Nomad's `raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Log entries kept behind a snapshot for slow followers (Nomad's `raft_trailing_logs`).
    pub raft_trailing_logs: u64,
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
            autopilot_defaults: AutopilotConfig::default(),
            scheduler_defaults: SchedulerConfig::default(),
            timing: RaftTiming::default(),
            raft_snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            raft_trailing_logs: DEFAULT_TRAILING_LOGS,
        }
    }
}

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
}

/// The running actors of one server.
#[derive(Clone)]
pub struct Server {
    pub node: Arc<Node>,
    pub membership: Addr<Membership>,
    pub config_store: Addr<ConfigStore>,
    pub autopilot: Addr<Autopilot>,
}

/// Marker written into `<data_dir>/server/` so that a foreign directory is never adopted.
const FORMAT_FILE: &str = "raftwarden-format";
const FORMAT: &str = "raftwarden-data-v1\n";

/// Loads (or on first start creates) this server's permanent raft ID in `<server_dir>/node-id`.
fn load_identity(server_dir: &Path) -> Result<uuid::Uuid, StartError> {
    let io = |e| StartError::DataDir { path: server_dir.to_path_buf(), source: e };
    std::fs::create_dir_all(server_dir).map_err(io)?;
    let marker = server_dir.join(FORMAT_FILE);
    let id_file = server_dir.join("node-id");
    let has_entries = std::fs::read_dir(server_dir).map_err(io)?.next().is_some();
    match std::fs::read_to_string(&marker) {
        Ok(s) if s == FORMAT => {}
        Ok(s) => {
            return Err(StartError::Foreign {
                path: server_dir.to_path_buf(),
                reason: format!("unknown format marker {:?}", s.trim()),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !has_entries => {
            write_durably(&marker, FORMAT.as_bytes()).map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StartError::Foreign {
                path: server_dir.to_path_buf(),
                reason: format!("it has files but no {FORMAT_FILE} marker"),
            })
        }
        Err(e) => return Err(io(e)),
    }
    match std::fs::read_to_string(&id_file) {
        Ok(s) => uuid::Uuid::parse_str(s.trim())
            .map_err(|e| StartError::Foreign { path: id_file.clone(), reason: format!("node-id is not a UUID: {e}") }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4();
            write_durably(&id_file, id.to_string().as_bytes()).map_err(io)?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

/// Write to a temp file, fsync, rename, fsync the directory: the file is whole or absent.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Starts one server's actors on the current actix `System`.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let server_dir = settings.data_dir.join("server");
    let id = load_identity(&server_dir)?;
    let (log_store, sm_store) = raft::store::open(&server_dir.join("raft.redb"))?;
    let reader = sm_store.reader();
    let contacts = Contacts::default();
    let network = Network::new(contacts.clone());
    let http = network.client().clone();

    let config = openraft::Config {
        cluster_name: format!("raftwarden-{}", settings.region),
        heartbeat_interval: settings.timing.heartbeat_ms,
        election_timeout_min: settings.timing.election_min_ms,
        election_timeout_max: settings.timing.election_max_ms,
        install_snapshot_timeout: 10_000,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(settings.raft_snapshot_threshold.max(1)),
        max_in_snapshot_log_to_keep: settings.raft_trailing_logs,
        ..Default::default()
    }
    .validate()
    .map_err(|e| StartError::Raft(e.to_string()))?;

    let node_id = raft::node_id_of(&id);
    let raft = raft::Raft::new(node_id, Arc::new(config), network, log_store, sm_store)
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;

    let me = ServerNode {
        id: id.to_string(),
        name: format!("{}.{}", settings.name, settings.region),
        rpc_addr: settings.rpc_addr.clone(),
        http_addr: settings.http_addr.clone(),
        datacenter: settings.datacenter.clone(),
        version: VERSION.into(),
    };
    let node = Arc::new(Node {
        me,
        node_id,
        settings,
        raft,
        reader,
        contacts,
        leader_contact: LeaderContact::default(),
        http,
        elections_held_until: Mutex::new(None),
    });
    let membership = Membership::new(node.clone()).start();
    let config_store = ConfigStore::new(membership.clone()).start();
    let autopilot = Autopilot::new(node.clone()).start();
    Ok(Server { node, membership, config_store, autopilot })
}

impl Server {
    /// Resolves when raft has stopped on its own: a fatal error such as a failed write to the
    /// store (a full or failing disk). Returns the reason. The server cannot serve writes after
    /// that; the agent exits so that it restarts from what its data dir holds.
    pub async fn raft_stopped(&self) -> String {
        let mut metrics = self.node.raft.metrics();
        loop {
            if let Err(fatal) = &metrics.borrow().running_state {
                return fatal.to_string();
            }
            if metrics.changed().await.is_err() {
                return "raft stopped".into();
            }
        }
    }

    /// Stops raft cleanly (flushes and ends its tasks).
    pub async fn shutdown(&self) {
        if let Err(e) = self.node.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
