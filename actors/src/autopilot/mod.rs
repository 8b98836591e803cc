//! The autopilot actor: server health and the server lifecycle on the leader (spec §2.6, §4).
//!
//! About every [`PASS_INTERVAL`] (and at once on gaining leadership) the leader samples every
//! server of the raft configuration (last contact, last log term and index, gossip status),
//! computes the health state ([`health::compute`]), and applies what [`reconcile::plan`]
//! decides from that state and the replicated autopilot configuration, read afresh each pass:
//! promote stable non-voters, remove dead servers. The decisions are pure functions; this actor
//! holds what they remember between passes (when each server's health last flipped) and runs
//! the raft changes. A follower forwards a health request to the leader's autopilot, which
//! answers a caller with `operator` read.

pub mod health;
pub mod reconcile;

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use actix::prelude::*;
use openraft::ChangeMembers;
use openraft::ServerState as RaftRole;
use serde::Deserialize;
use serde::Serialize;

pub use self::health::compute;
pub use self::health::failure_tolerance;
pub use self::health::is_healthy;
pub use self::health::serf_status;
pub use self::health::HealthReply;
pub use self::health::SerfStatus;
pub use self::health::ServerHealth;
pub use self::health::ServerStats;
pub use self::health::State;
pub use self::health::Tracker;
pub use self::health::FAILED_AFTER;
pub use self::reconcile::plan;
pub use self::reconcile::Action;
use crate::authz::Authority;
use crate::authz::Caller;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::context::remove_server;
use crate::context::stops_on_request;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::error::PeerRef;
use crate::forward::admit;
use crate::forward::anonymous_calls;
use crate::forward::route;
use crate::forward::Call;
use crate::forward::Forwarded;
use crate::forward::Origin;
use crate::forward::Routed;
use crate::forward::HOLD_TIMEOUT;
use crate::raft::NodeId;
use crate::raft::RaftMetrics;
use crate::state::AutopilotConfig;
use crate::wire::paths;
use crate::wire::Forwardable;

/// How often the leader samples health and reconciles the configuration. raft-autopilot (in
/// Nomad) updates health every 2 s and reconciles every 10 s; one finer pass for both keeps
/// `StableSince` and promotion close to the configured times.
pub const PASS_INTERVAL: Duration = Duration::from_secs(1);

/// A membership change that has not committed within this is given up for this pass (it
/// cannot commit without a quorum); the next pass decides again.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET /v1/operator/autopilot/health`: the cluster's health as the leader sees it.
#[derive(Message, Clone, Debug, Default, Serialize, Deserialize)]
#[rtype(result = "Result<HealthReply, OpError>")]
pub struct GetHealth;

impl Forwardable for GetHealth {
    const PATH: &'static str = paths::HEALTH;
    type Output = HealthReply;
}

impl Guarded for GetHealth {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::OperatorRead)
    }
}

/// One autopilot pass (the interval and leadership gains send it).
#[derive(Message)]
#[rtype(result = "()")]
struct Pass;

/// The autopilot actor.
pub struct Autopilot {
    ctx: Arc<ServerContext>,
    /// The leadership term the fields below belong to; all reset when it changes.
    term: Option<u64>,
    tracker: Tracker,
    /// When this leadership first saw each server: a server that never answered counts as
    /// silent since then, not since the epoch.
    first_seen: HashMap<NodeId, Instant>,
    /// The last computed state of this leadership; `None` before its first pass.
    state: Option<State>,
    /// Raft changes of an earlier pass are still running.
    reconciling: bool,
}

impl Autopilot {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self {
            ctx,
            term: None,
            tracker: Tracker::default(),
            first_seen: HashMap::new(),
            state: None,
            reconciling: false,
        }
    }

    /// Samples and computes the state, if this server leads; forgets everything otherwise.
    fn update(&mut self) -> Option<(State, AutopilotConfig)> {
        let m = self.ctx.metrics();
        let leading = m.state == RaftRole::Leader && m.current_leader == Some(self.ctx.node_id);
        let term = leading.then_some(m.current_term);
        if term != self.term || !leading {
            self.term = term;
            self.tracker = Tracker::default();
            self.first_seen.clear();
            self.state = None;
        }
        if !leading {
            return None;
        }
        // Read each pass, so that a PUT takes effect at once. Until the first leader has
        // written the row, the defaults it is about to write apply.
        let cfg = match self.ctx.reader.autopilot() {
            Ok(row) => row.map(|r| r.value).unwrap_or_else(|| self.ctx.settings.autopilot_defaults.clone()),
            Err(e) => {
                tracing::warn!(error = %e, "autopilot: reading the configuration failed");
                return None;
            }
        };
        let stats = sample(&self.ctx, &m, &mut self.first_seen);
        let state = compute(&stats, &cfg, &mut self.tracker, SystemTime::now());
        self.state = Some(state.clone());
        Some((state, cfg))
    }

    /// Health now, on the leader; an error before this leadership's first pass.
    fn health_now(&mut self) -> Result<HealthReply, OpError> {
        if !self.ctx.is_leader() {
            return Err(OpError::NotLeader);
        }
        if self.state.is_none() || self.term != Some(self.ctx.metrics().current_term) {
            return Err(OpError::HealthNotReady);
        }
        match self.update() {
            Some((state, _)) => Ok(state.reply()),
            None => Err(OpError::HealthNotReady),
        }
    }

    fn pass(&mut self, ctx: &mut Context<Self>) {
        let Some((state, cfg)) = self.update() else { return };
        if self.reconciling {
            return;
        }
        let actions = plan(&state, &cfg, SystemTime::now());
        if actions.is_empty() {
            return;
        }
        self.reconciling = true;
        let fut = apply(self.ctx.clone(), actions);
        ctx.spawn(fut.into_actor(self).map(|_, act, _| act.reconciling = false));
    }
}

/// Samples raft metrics, contact clocks and gossip status on the leader into [`ServerStats`].
fn sample(ctx: &ServerContext, m: &RaftMetrics, first_seen: &mut HashMap<NodeId, Instant>) -> Vec<ServerStats> {
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let replication = m.replication.clone().unwrap_or_default();
    let now = Instant::now();
    first_seen.retain(|id, _| membership.get_node(id).is_some());
    membership
        .nodes()
        .map(|(id, n)| {
            let is_me = *id == ctx.node_id;
            let seen = *first_seen.entry(*id).or_insert(now);
            let (last_term, last_index, last_contact) = if is_me {
                (m.current_term, m.last_log_index.unwrap_or(0), Some(Duration::ZERO))
            } else {
                let matched = replication.get(id).copied().flatten();
                let contact = ctx.contacts.last(*id);
                (matched.map_or(0, |l| l.leader_id.term), matched.map_or(0, |l| l.index), contact.map(|t| t.elapsed()))
            };
            let silence = match ctx.contacts.last(*id) {
                Some(t) => now.saturating_duration_since(t.max(seen)),
                None => now.saturating_duration_since(seen),
            };
            ServerStats {
                id: n.id.clone(),
                name: n.name.clone(),
                address: n.rpc_addr.clone(),
                version: n.version.clone(),
                leader: is_me,
                voter: voters.contains(id),
                status: serf_status(ctx.liveness.get(*id), silence, is_me),
                last_contact,
                last_term,
                last_index,
            }
        })
        .collect()
}

/// Applies a plan's actions in order; stops at the first failure (the next pass plans anew).
async fn apply(ctx: Arc<ServerContext>, actions: Vec<Action>) {
    for action in actions {
        let id = match &action {
            Action::Promote(id) | Action::Remove { id, .. } => id.clone(),
        };
        let Some((nid, node)) = ctx.find_peer(&PeerRef::Id(id)) else { continue };
        let change = async {
            match &action {
                Action::Promote(_) => {
                    tracing::info!(server = %node, "autopilot: promoting server to voter");
                    ctx.raft
                        .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([nid])), false)
                        .await
                        .map(|_| ())
                }
                Action::Remove { .. } => {
                    tracing::info!(server = %node, "autopilot: removing dead server");
                    remove_server(&ctx, nid).await
                }
            }
        };
        match tokio::time::timeout(CHANGE_TIMEOUT, change).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(server = %node, error = %e, "autopilot: raft change failed");
                return;
            }
            Err(_) => {
                tracing::warn!(server = %node, "autopilot: raft change did not commit in time");
                return;
            }
        }
    }
}

impl Actor for Autopilot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(PASS_INTERVAL, |act, ctx| act.pass(ctx));
        // A pass as soon as this server gains leadership, so that health is there at once.
        let addr = ctx.address();
        let mut metrics = self.ctx.raft.metrics();
        let node_id = self.ctx.node_id;
        ctx.spawn(actix::fut::wrap_future(async move {
            let mut led_term = None;
            loop {
                let term = {
                    let m = metrics.borrow_watched();
                    (m.state == RaftRole::Leader && m.current_leader == Some(node_id)).then_some(m.current_term)
                };
                if term.is_some() && term != led_term {
                    addr.do_send(Pass);
                }
                led_term = term;
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        }));
    }
}

impl Handler<Pass> for Autopilot {
    type Result = ();

    fn handle(&mut self, _: Pass, ctx: &mut Self::Context) {
        self.pass(ctx);
    }
}

impl Handler<Call<GetHealth>> for Autopilot {
    type Result = ResponseActFuture<Self, Result<HealthReply, OpError>>;

    fn handle(&mut self, msg: Call<GetHealth>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        let caller = msg.caller.clone();
        let routed =
            async move { route(&ctx, Origin::Client, &msg.caller, &msg.op, Instant::now() + HOLD_TIMEOUT).await };
        Box::pin(routed.into_actor(self).map(move |routed, act, _| match routed? {
            Routed::Local => act.health_for(&caller),
            Routed::Remote(reply) => Ok(reply),
        }))
    }
}

impl Handler<Forwarded<GetHealth>> for Autopilot {
    type Result = Result<HealthReply, OpError>;

    fn handle(&mut self, msg: Forwarded<GetHealth>, _: &mut Self::Context) -> Self::Result {
        self.health_for(&msg.caller)
    }
}

anonymous_calls!(Autopilot => GetHealth);

impl Autopilot {
    /// The health this leader computed, for a caller admitted here.
    fn health_for(&mut self, caller: &Caller) -> Result<HealthReply, OpError> {
        admit(&self.ctx, caller, &GetHealth)?;
        self.health_now()
    }
}

stops_on_request!(Autopilot);
