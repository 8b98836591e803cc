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

pub mod acl;
pub mod autopilot;
pub mod config_store;
pub mod error;
pub mod forward;
pub mod go;
pub mod gossip;
pub mod license;
pub mod liveness;
pub mod membership;
pub mod metrics;
mod node;
mod propose;
pub mod raft;
pub mod rfc3339;
pub mod snapshot;
pub mod state;
pub mod variables;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix::Addr;

use crate::acl::Acl;
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
            autopilot_defaults: AutopilotConfig::default(),
            scheduler_defaults: SchedulerConfig::default(),
            timing: RaftTiming::default(),
            raft_snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            raft_trailing_logs: DEFAULT_TRAILING_LOGS,
            acl: AclSettings::default(),
            license: LicenseSettings::default(),
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
    acl: Addr<Acl>,
    license: Addr<LicenseActor>,
    /// Becomes true when `retry_join` gave up after `retry_max` rounds.
    join_exhausted: tokio::sync::watch::Receiver<bool>,
}

/// Starts one server's actors on the current actix `System`.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let server_dir = settings.data_dir.join("server");
    let id = node::load_identity(&server_dir)?;
    let (log_store, sm_store) = raft::store::open(&server_dir.join("raft.redb"))?;
    let store_counters = log_store.counters();
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
    let liveness = crate::liveness::Liveness::default();
    let gossip = start_gossip(&settings, &me, liveness.clone()).await?;
    let me_name = settings.name.clone();
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
        liveness,
        gossip: gossip.clone(),
        http,
        metrics: metrics::Metrics::new(&host_name(&me_name)),
        store_counters,
    });
    let membership = Membership::new(ctx.clone()).start();
    let config_store = ConfigStore::new(ctx.clone()).start();
    let autopilot = Autopilot::new(ctx.clone()).start();
    let variables = Variables::new(ctx.clone()).start();
    let snapshots = Snapshots::new(ctx.clone()).start();
    let acl = Acl::new(ctx.clone()).start();
    let license = LicenseActor::new(ctx.clone()).start();
    let join_exhausted =
        gossip.retry_join(ctx.settings.retry_join.clone(), ctx.settings.retry_interval, ctx.settings.retry_max);
    actix::spawn(metrics::sample(ctx.clone(), autopilot.clone()));
    Ok(Server { ctx, membership, config_store, autopilot, variables, snapshots, acl, license, join_exhausted })
}

async fn start_gossip(
    settings: &Settings,
    me: &ServerNode,
    liveness: crate::liveness::Liveness,
) -> Result<gossip::Gossip, StartError> {
    use std::net::SocketAddr;
    let bad = |a: &str| StartError::Gossip(gossip::GossipError::BadAddress(a.to_string()));
    let bind: SocketAddr = settings.serf_bind.parse().map_err(|_| bad(&settings.serf_bind))?;
    let advertise = match &settings.serf_advertise {
        Some(a) => a.parse().map_err(|_| bad(a))?,
        None if bind.ip().is_unspecified() => SocketAddr::new(std::net::IpAddr::from([127, 0, 0, 1]), bind.port()),
        None => bind,
    };
    let identity = gossip::MemberIdentity {
        name: me.name.clone(),
        region: settings.region.clone(),
        datacenter: settings.datacenter.clone(),
        serf_addr: advertise,
        rpc_addr: me.rpc_addr.clone(),
        http_addr: me.http_addr.clone(),
        version: me.version.clone(),
        id: me.id.clone(),
        expect: settings.bootstrap_expect,
        // Grows with every start, so a restarted server replaces its old self at once.
        incarnation: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    Ok(gossip::Gossip::start(bind, identity, liveness).await?)
}

/// The host label of this server's metrics: the machine's host name as Go's `os.Hostname`
/// reads it on Linux, else the node name.
fn host_name(fallback: &str) -> String {
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(h) if !h.trim().is_empty() => h.trim().to_string(),
        _ => fallback.to_string(),
    }
}

impl Server {
    /// The gossip layer: members (alive / failed / left), join, force-leave, graceful leave.
    pub fn gossip(&self) -> &gossip::Gossip {
        &self.ctx.gossip
    }

    /// Gossip's view of each server by raft node ID (`alive`, `failed`, `left`), as autopilot
    /// reads it.
    pub fn liveness(&self) -> &crate::liveness::Liveness {
        &self.ctx.liveness
    }

    /// Leaves the gossip pool gracefully (Nomad's `leave_on_terminate` / `leave_on_interrupt`):
    /// peers list this server `left` instead of `failed`. Call before [`Server::shutdown`].
    pub async fn leave(&self) {
        if let Err(e) = self.ctx.gossip.leave().await {
            tracing::warn!(error = %e, "graceful leave");
        }
    }

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

    /// The ACL actor: tokens, policies, bootstrap and token resolution.
    pub fn acl(&self) -> &Addr<Acl> {
        &self.acl
    }

    /// The license actor: the installed license, installs, expiry warnings.
    pub fn license(&self) -> &Addr<LicenseActor> {
        &self.license
    }

    /// This server as the cluster knows it: raft ID, `<name>.<region>`, addresses, version.
    pub fn identity(&self) -> &ServerNode {
        &self.ctx.me
    }

    /// This server's metrics: what `GET /v1/metrics` shows, in both of its formats.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.ctx.metrics
    }

    /// The settings it was started with.
    pub fn settings(&self) -> &Settings {
        &self.ctx.settings
    }

    /// Answers one internal server-to-server RPC (raft traffic and forwarded operations):
    /// mount it on the RPC port under the paths of [`forward::paths`] (the root package's
    /// `http::rpc::configure` does).
    pub async fn handle_rpc(&self, path: &str, body: &[u8]) -> Result<forward::RpcReply, RpcError> {
        forward::serve(self, path, body).await
    }

    /// Resolves when `retry_join` gave up: `retry_max` rounds passed without reaching any of
    /// its addresses (Nomad's agent then exits with 1). Never resolves without a limit.
    pub async fn retry_join_exhausted(&self) {
        let mut rx = self.join_exhausted.clone();
        if rx.wait_for(|exhausted| *exhausted).await.is_err() {
            std::future::pending::<()>().await;
        }
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
        let _ = self.acl.send(membership::Stop).await;
        self.ctx.gossip.stop();
        if let Err(e) = self.ctx.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
