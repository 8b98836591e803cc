//! raftwarden-actors: the embeddable actor system of a raftwarden server, without HTTP.
//!
//! ```text
//! caller (HTTP handler, host app)
//!   └─> Membership / ConfigStore / Variables / Acl / LicenseActor / Autopilot / Snapshots
//!       (actix Addr, one typed message per operation, as Call { caller, op })
//!         └─> forward::on_leader: this server leads? admit the caller here, run : send the
//!             operation itself with its caller's token to the leader over internal RPC
//!             (wire::paths); the leader's rpc_server::serve hands it to the same actor,
//!             which admits the caller against its own tables, runs it and answers
//!               └─> propose (group commit) ─> openraft: append, replicate, commit, apply
//!                     └─> state::apply(cmd, index) over the rows it touches (CAS decided here)
//!                           └─> redb: one table per replicated table, written in the apply txn
//! ```
//!
//! The modules form layers that only point down (`docs/architecture.md` walks them):
//!
//! ```text
//! top       lib (start, Server), rpc_server (internal path -> actor), leader_duties,
//!           metrics::sample
//! actors    membership, config_store, variables, acl, license, autopilot, snapshot, keyring
//!           (no actor imports another)
//! forward   forward (Call, admit, route, on_leader, call_peer, leader_read), defaults
//! context   context (ServerContext: authority, Stop, remove_server), propose, settings,
//!           identity
//! io        raft::{network, store}, metrics (the sinks), gossip
//! shared    wire (paths and who may call them, Peer, Codec, Forwardable), error, crypto (the
//!           one TLS provider, ring)
//! pure      state, authz (Caller, Authority, Guarded, the ACL policy language), hcl1,
//!           license::document, autopilot::{health, reconcile}, go, rfc3339, clock, liveness
//! ```
//!
//! [`start`] opens the durable store under the data dir, starts openraft and the actors on the
//! caller's actix `System`, and returns a [`Server`]; [`Server::shutdown`] stops all of it.
//! Nothing is global, so one process can run several servers (tests do); the one process-wide
//! value is a pool of spare buffers the snapshot restore reuses (`state::restore`),
//! which holds no state.

pub mod acl;
pub mod authz;
pub mod autopilot;
mod batch;
pub mod bexpr;
mod clock;
pub mod config_store;
mod context;
pub mod crypto;
mod defaults;
pub mod error;
pub mod fault;
pub mod forward;
#[doc(hidden)]
pub mod fuzzing;
pub mod go;
pub mod gossip;
pub mod hcl1;
mod identity;
pub mod keyring;
mod leader_duties;
pub mod license;
pub mod liveness;
pub mod membership;
pub mod metrics;
mod propose;
pub mod raft;
pub mod rfc3339;
mod rpc_server;
pub mod settings;
pub mod snapshot;
pub mod state;
pub mod variables;
pub mod wire;

use openraft::async_runtime::watch::WatchReceiver;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix::Addr;

use crate::acl::Acl;
pub use crate::authz::Authority;
pub use crate::authz::Caller;
use crate::autopilot::Autopilot;
use crate::config_store::ConfigStore;
use crate::context::LeaderContact;
pub use crate::context::RaftConfiguration;
pub use crate::context::RaftServer;
use crate::context::ServerContext;
use crate::context::Stop;
pub use crate::error::OpError;
pub use crate::error::PeerRef;
pub use crate::forward::Call;
use crate::keyring::KeyringActor;
use crate::license::LicenseActor;
use crate::membership::Membership;
use crate::raft::network::Contacts;
use crate::raft::network::Network;
use crate::raft::network::Peers;
use crate::raft::ServerNode;
pub use crate::settings::AclSettings;
pub use crate::settings::HostLabel;
pub use crate::settings::LicenseSettings;
pub use crate::settings::RaftTiming;
pub use crate::settings::Settings;
pub use crate::settings::StartError;
pub use crate::settings::TelemetrySettings;
pub use crate::settings::DEFAULT_SNAPSHOT_THRESHOLD;
pub use crate::settings::DEFAULT_TRAILING_LOGS;
use crate::snapshot::Snapshots;
use crate::variables::Variables;
pub use crate::wire::Peer;
pub use crate::wire::RpcError;
pub use crate::wire::RpcReply;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The source revision this binary was built from: `RAFTWARDEN_REVISION` at build time
/// (`RAFTWARDEN_REVISION=$(git rev-parse HEAD) cargo build --release`), as Nomad's release
/// builds set `GitCommit` with `-ldflags`; empty otherwise. Shown as the gossip `revision` tag
/// and `Version.Revision` in `/v1/agent/self`.
pub const REVISION: &str = match option_env!("RAFTWARDEN_REVISION") {
    Some(r) => r,
    None => "",
};

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
    keyring: Addr<KeyringActor>,
    /// Becomes true when `retry_join` gave up after `retry_max` rounds.
    join_exhausted: tokio::sync::watch::Receiver<bool>,
}

/// Starts one server's actors on the current actix `System`.
pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let server_dir = settings.data_dir.join("server");
    let id = identity::load_identity(&server_dir)?;
    let (log_store, sm_store) = raft::store::open(&server_dir.join("raft.redb"))?;
    let store_counters = log_store.counters();
    let reader = sm_store.reader();
    let contacts = Contacts::default();
    let http = Peers::with_source(
        settings.rpc_tls.as_ref(),
        raft::network::source_ip(&settings.rpc_addr, &settings.serf_bind),
    );
    let network = Network::new(contacts.clone(), http.clone());

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
    let raft = raft::Raft::new(node_id, Arc::new(config), network, log_store.clone(), sm_store)
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
    let keyring =
        gossip::keyring::setup(&server_dir, settings.encrypt.as_deref()).map_err(gossip::GossipError::from)?;
    let keyring = (keyring, gossip::keyring::file_path(&server_dir));
    let gossip = start_gossip(&settings, &me, liveness.clone(), keyring).await?;
    let me_name = settings.name.clone();
    let proposer = propose::Proposer::start(raft.clone());
    let tmp_dir = server_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| StartError::DataDir { path: tmp_dir.clone(), source: e })?;
    let host = metrics_host(&settings.telemetry.host_label, &settings.name, &me_name);
    let metrics = metrics::Metrics::with_telemetry(&host, &settings.telemetry);
    let ctx = Arc::new(ServerContext {
        proposer,
        tmp_dir,
        snapshot_inbox: Default::default(),
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
        metrics,
        store_counters,
    });
    let membership = Membership::new(ctx.clone()).start();
    let config_store = ConfigStore::new(ctx.clone()).start();
    let autopilot = Autopilot::new(ctx.clone()).start();
    let variables = Variables::new(ctx.clone()).start();
    let snapshots = Snapshots::new(ctx.clone()).start();
    let acl = Acl::new(ctx.clone()).start();
    let license = LicenseActor::new(ctx.clone()).start();
    let keyring = KeyringActor::new(ctx.clone()).start();
    let join_exhausted =
        gossip.retry_join(ctx.settings.retry_join.clone(), ctx.settings.retry_interval, ctx.settings.retry_max);
    // The loops end when raft stops (Server::shutdown).
    actix::spawn(log_store.sync_in_place_unless_leading(ctx.raft.clone()));
    actix::spawn(leader_duties::run(ctx.clone()));
    actix::spawn(metrics::sample::sample(ctx.clone(), autopilot.clone()));
    Ok(Server { ctx, membership, config_store, autopilot, variables, snapshots, acl, license, keyring, join_exhausted })
}

async fn start_gossip(
    settings: &Settings,
    me: &ServerNode,
    liveness: crate::liveness::Liveness,
    keyring: (gossip::Keyring, std::path::PathBuf),
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
        revision: REVISION.into(),
        id: me.id.clone(),
        expect: settings.bootstrap_expect,
        // Grows with every start, so a restarted server replaces its old self at once.
        incarnation: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    };
    Ok(gossip::Gossip::start(bind, identity, liveness, keyring).await?)
}

/// The `host` label's value; empty for none.
fn metrics_host(label: &HostLabel, node_name: &str, me_name: &str) -> String {
    match label {
        HostLabel::Machine => host_name(me_name),
        HostLabel::NodeName => node_name.to_string(),
        HostLabel::None => String::new(),
    }
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

    /// Saves this server's own state as an archive for the caller whose secret is
    /// `caller_token` (empty: anonymous), if it may: the leader's side of a save that a
    /// follower forwarded (internal path `wire::paths::SNAPSHOT_SAVE`).
    pub async fn save_snapshot_here(&self, caller_token: &str) -> Result<snapshot::SavedArchive, OpError> {
        self.snapshots.send(snapshot::SaveHere(Caller::token(caller_token))).await?
    }

    /// Restores an archive on this server, which must lead, for the caller whose secret is
    /// `caller_token`, if it may: the leader's side of a restore that a follower forwarded
    /// (internal path `wire::paths::SNAPSHOT_RESTORE`). Check [`Server::authorize`] with
    /// [`snapshot::RESTORE`] before spooling the upload.
    pub async fn restore_snapshot_here(&self, caller_token: &str, archive: std::fs::File) -> Result<(), OpError> {
        self.snapshots.send(snapshot::RestoreHere(Caller::token(caller_token), archive)).await?
    }

    /// Whether `caller` may do `requirement` by this server's own tables: for work that runs on
    /// this server and is no actor's operation (the agent endpoints, an upload not yet
    /// spooled). Every operation sent to an actor is checked where it runs; this is the same
    /// check. Answers who the caller is, or `PermissionDenied` (also for an unknown or expired
    /// token).
    pub fn authorize(&self, caller: &Caller, requirement: &authz::Requirement<'_>) -> Result<Authority, OpError> {
        forward::admit(&self.ctx, caller, requirement)
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

    /// Wakes after every change this server applies to its replicated state (the last applied
    /// log index): what a blocking query waits on between its reads.
    pub fn applied_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ctx.reader.applied_changes()
    }

    /// The ACL actor: tokens, policies, bootstrap and token resolution.
    pub fn acl(&self) -> &Addr<Acl> {
        &self.acl
    }

    /// The license actor: the installed license, installs, expiry warnings.
    pub fn license(&self) -> &Addr<LicenseActor> {
        &self.license
    }

    /// The keyring actor: gossip encryption keys listed, installed, used and removed on every
    /// server.
    pub fn keyring(&self) -> &Addr<KeyringActor> {
        &self.keyring
    }

    /// This server as the cluster knows it: raft ID, `<name>.<region>`, addresses, version.
    pub fn identity(&self) -> &ServerNode {
        &self.ctx.me
    }

    /// What hashicorp/raft's `Stats()` would say of this server now (`/v1/agent/self`).
    pub fn raft_stats(&self) -> raft::stats::RaftStats {
        let ctx = &self.ctx;
        let last_log = ctx.raft.data_metrics().borrow_watched().last_log;
        let committed = ctx.store_counters.committed.load(std::sync::atomic::Ordering::Relaxed);
        let m = ctx.metrics();
        raft::stats::read(&m, last_log, committed, &ctx.me.id, ctx.leader_contact.elapsed())
    }

    /// The raft log's fsyncs since this server started (one covers every append written
    /// while the one before it ran).
    pub fn log_fsyncs(&self) -> u64 {
        self.ctx.store_counters.fsyncs.load(std::sync::atomic::Ordering::Relaxed)
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
    /// mount it on the RPC port under the paths of [`wire::paths`] (the root package's
    /// `http::rpc::configure` does). `peer` is what the listener proved about the connection;
    /// `caller_token` is the [`wire::CALLER_HEADER`] (empty when absent). Only a token comes
    /// off the wire: a remote peer cannot act on this server's own authority.
    pub async fn handle_rpc(
        &self,
        peer: Peer,
        path: &str,
        caller_token: &str,
        body: &[u8],
    ) -> Result<RpcReply, RpcError> {
        rpc_server::serve(self, peer, path, caller_token, body).await
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
            if let Err(fatal) = &metrics.borrow_watched().running_state {
                return fatal.to_string();
            }
            if metrics.changed().await.is_err() {
                return "raft stopped".into();
            }
        }
    }

    /// Stops everything this server started: its actors with their loops (formation, health
    /// passes), then raft (flushed, tasks ended), which ends the leader duties and the metrics
    /// sampler. Other servers in the same
    /// process are untouched.
    pub async fn shutdown(&self) {
        let _ = self.membership.send(Stop).await;
        let _ = self.autopilot.send(Stop).await;
        let _ = self.config_store.send(Stop).await;
        let _ = self.snapshots.send(Stop).await;
        let _ = self.license.send(Stop).await;
        let _ = self.keyring.send(Stop).await;
        self.ctx.proposer.stop();
        let _ = self.variables.send(Stop).await;
        let _ = self.acl.send(Stop).await;
        self.ctx.gossip.stop();
        if let Err(e) = self.ctx.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}
