//! raftwarden-actors: the embeddable actor system of a raftwarden server, without HTTP.
//!
//! ```text
//! caller (HTTP handler, host app)
//!   └─> ConfigStore / Variables / Membership / Autopilot   (actix Addr, one typed message per operation)
//!         └─> forward::on_leader: this server leads? run here : send the operation itself to
//!             the leader over internal RPC (forward::paths), which runs it and answers
//!               └─> openraft: append (group commit), replicate, commit, apply everywhere
//!                     └─> state::apply(cmd, index) over the rows it touches (CAS decided here)
//!                           └─> redb: one table per replicated table, written in the apply txn
//! ```
//!
//! Layout: [`node`](crate) holds the server context the actors share (raft handle, reader,
//! contact clocks, identity); [`forward`] both halves of server-to-server calls; [`membership`]
//! the membership actor with [`membership::formation`] (a pure bootstrap decision) and
//! [`membership::transfer`]; [`config_store`] the config tables; [`variables`] Nomad's variables; [`autopilot`] health;
//! [`license`] the signed license document and its actor;
//! [`error`] what can go wrong (no HTTP status numbers: the HTTP layer maps them).
//!
//! [`start`] opens the durable store under the data dir, starts openraft and the actors on the
//! caller's actix `System`, and returns a [`Server`]; [`Server::shutdown`] stops all of it.
//! Nothing is global, so one process can run several servers (tests do).

pub mod autopilot;
pub mod config_store;
pub mod error;
pub mod forward;
pub mod license;
pub mod liveness;
pub mod membership;
mod node;
mod propose;
pub mod raft;
pub mod snapshot;
pub mod state;
pub mod variables;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix::Addr;

use crate::autopilot::Autopilot;
use crate::config_store::ConfigStore;
pub use crate::error::OpError;
pub use crate::error::PeerRef;
pub use crate::forward::RpcError;
use crate::license::LicenseActor;
pub use crate::license::LicenseSettings;
use crate::membership::Membership;
use crate::node::LeaderContact;
pub use crate::node::RaftConfiguration;
pub use crate::node::RaftServer;
use crate::node::ServerContext;
use crate::raft::network::Contacts;
use crate::raft::network::Network;
use crate::raft::ServerNode;
use crate::snapshot::Snapshots;
use crate::state::AutopilotConfig;
use crate::state::SchedulerConfig;
use crate::variables::Variables;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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
    /// RPC addresses of other servers to join through.
    pub retry_join: Vec<String>,
    pub autopilot_defaults: AutopilotConfig,
    pub scheduler_defaults: SchedulerConfig,
    pub timing: RaftTiming,
    /// Take a raft snapshot after this many new log entries (Nomad's `raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Log entries kept behind a snapshot for slow followers (Nomad's `raft_trailing_logs`).
    pub raft_trailing_logs: u64,
    /// The product this server licenses, the keys it trusts and the configured license.
    pub license: LicenseSettings,
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
            license: LicenseSettings::default(),
        }
    }
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
}

/// One running server: its actors and what it is. Cheap to clone; every clone is the same
/// server.
#[derive(Clone)]
pub struct Server {
    ctx: Arc<ServerContext>,
    membership: Addr<Membership>,
    config_store: Addr<ConfigStore>,
    autopilot: Addr<Autopilot>,
    variables: Addr<Variables>,
    snapshots: Addr<Snapshots>,
    license: Addr<LicenseActor>,
}

/// Starts one server's actors on the current actix `System`.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let server_dir = settings.data_dir.join("server");
    let id = node::load_identity(&server_dir)?;
    let (log_store, sm_store) = raft::store::open(&server_dir.join("raft.redb"))?;
    let reader = sm_store.reader();
    let contacts = Contacts::default();
    let network = Network::new(contacts.clone());
    let http = network.client().clone();

    let ms = |d: Duration| d.as_millis() as u64;
    let config = openraft::Config {
        cluster_name: format!("raftwarden-{}", settings.region),
        heartbeat_interval: ms(settings.timing.heartbeat),
        election_timeout_min: ms(settings.timing.election_min),
        election_timeout_max: ms(settings.timing.election_max),
        install_snapshot_timeout: ms(settings.timing.install_snapshot_timeout),
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
    let proposer = propose::Proposer::start(raft.clone());
    let tmp_dir = server_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| StartError::DataDir { path: tmp_dir.clone(), source: e })?;
    let ctx = Arc::new(ServerContext {
        proposer,
        tmp_dir,
        me,
        node_id,
        settings,
        raft,
        reader,
        contacts,
        leader_contact: LeaderContact::default(),
        liveness: crate::liveness::Liveness::default(),
        http,
    });
    let membership = Membership::new(ctx.clone()).start();
    let config_store = ConfigStore::new(ctx.clone()).start();
    let autopilot = Autopilot::new(ctx.clone()).start();
    let variables = Variables::new(ctx.clone()).start();
    let snapshots = Snapshots::new(ctx.clone()).start();
    let license = LicenseActor::new(ctx.clone()).start();
    Ok(Server { ctx, membership, config_store, autopilot, variables, snapshots, license })
}

impl Server {
    /// The snapshot actor: save and restore of Nomad's snapshot archive.
    pub fn snapshots(&self) -> &Addr<Snapshots> {
        &self.snapshots
    }

    /// Saves this server's own state as an archive: the leader's side of a save that a
    /// follower forwarded (internal path `forward::paths::SNAPSHOT_SAVE`).
    pub async fn save_snapshot_here(&self) -> Result<snapshot::SavedArchive, OpError> {
        self.snapshots.send(snapshot::SaveHere).await?
    }

    /// Restores an archive on this server, which must lead: the leader's side of a restore
    /// that a follower forwarded (internal path `forward::paths::SNAPSHOT_RESTORE`).
    pub async fn restore_snapshot_here(&self, archive: std::fs::File) -> Result<(), OpError> {
        self.snapshots.send(snapshot::RestoreHere(archive)).await?
    }

    /// An anonymous temporary file on the data disk, for spooling an upload (an archive to
    /// restore); gone once closed.
    pub fn temp_file(&self) -> std::io::Result<std::fs::File> {
        self.ctx.temp_file()
    }

    /// The membership actor: raft configuration, peer removal, leadership transfer.
    pub fn membership(&self) -> &Addr<Membership> {
        &self.membership
    }

    /// The config store actor: autopilot and scheduler configuration reads and writes.
    pub fn config_store(&self) -> &Addr<ConfigStore> {
        &self.config_store
    }

    /// The autopilot actor: server health and failure tolerance.
    pub fn autopilot(&self) -> &Addr<Autopilot> {
        &self.autopilot
    }

    /// The variables actor: Nomad variables (read, set, delete, list; check-and-set).
    pub fn variables(&self) -> &Addr<Variables> {
        &self.variables
    }

    /// The license actor: the installed license, installs, expiry warnings.
    pub fn license(&self) -> &Addr<LicenseActor> {
        &self.license
    }

    /// This server as the cluster knows it: raft ID, `<name>.<region>`, addresses, version.
    pub fn identity(&self) -> &ServerNode {
        &self.ctx.me
    }

    /// The settings it was started with.
    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// Answers one internal server-to-server RPC (raft traffic and forwarded operations):
    /// mount it on the RPC port under the paths of [`forward::paths`] (the root package's
    /// `http::rpc::configure` does).
    pub async fn handle_rpc(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, RpcError> {
        forward::serve(self, path, body).await
    }

    /// Resolves when raft has stopped on its own: a fatal error such as a failed write to the
    /// store (a full or failing disk). Returns the reason. The server cannot serve writes after
    /// that; the agent exits so that it restarts from what its data dir holds.
    pub async fn raft_stopped(&self) -> String {
        let mut metrics = self.ctx.raft.metrics();
        loop {
            if let Err(fatal) = &metrics.borrow().running_state {
                return fatal.to_string();
            }
            if metrics.changed().await.is_err() {
                return "raft stopped".into();
            }
        }
    }

    /// Stops everything this server started: its actors with their loops (formation, leader
    /// duties, health sampling), then raft (flushed, tasks ended). Other servers in the same
    /// process are untouched.
    pub async fn shutdown(&self) {
        let _ = self.membership.send(membership::Stop).await;
        let _ = self.autopilot.send(membership::Stop).await;
        let _ = self.config_store.send(membership::Stop).await;
        let _ = self.snapshots.send(membership::Stop).await;
        let _ = self.license.send(membership::Stop).await;
        self.ctx.proposer.stop();
        let _ = self.variables.send(membership::Stop).await;
        if let Err(e) = self.ctx.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
