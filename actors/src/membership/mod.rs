//! The membership actor: the raft membership API of one server. openraft's core owns the log
//! and the configuration; this actor answers configuration reads, removes peers, adds joining
//! servers, moves leadership ([`transfer`]) and forms the cluster ([`formation`]).
//!
//! State it owns: until when a leadership transfer elsewhere holds this server's elections.
//!
//! Reading the configuration, removing a peer and moving leadership need a management token.
//! A join is a server's duty: it comes only over the internal RPC (admitted as a server's
//! call), and the leader adds only a server that gossip shows alive in this region at the
//! address it joins with ([`formation::gossip_knows`]).

pub mod formation;
pub mod transfer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix::prelude::*;
use openraft::ChangeMembers;
use serde::Deserialize;
use serde::Serialize;

pub use self::formation::Status;
pub use self::transfer::PeerAddr;
pub use self::transfer::Transfer;
pub use self::transfer::TransferLeadership;
use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::context::remove_server;
use crate::context::RaftConfiguration;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::error::PeerRef;
use crate::forward::anonymous_calls;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::Call;
use crate::forward::Forwarded;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::StaleRead;
use crate::propose::raft_outcome;
use crate::raft::ServerNode;
use crate::wire::paths;
use crate::wire::Attempt;
use crate::wire::Forwardable;

/// The longest a peer may hold this server's elections; a transfer whose leader dies half-way
/// must not leave this server unable to campaign for long.
const MAX_ELECTION_HOLD: Duration = Duration::from_secs(30);

/// `GET /v1/operator/raft/configuration`: the raft configuration, from the leader unless `stale`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<RaftConfiguration, OpError>")]
pub struct GetRaftConfiguration {
    pub stale: bool,
}

/// `DELETE /v1/operator/raft/peer?id=`: removes a server from the raft configuration.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct RemovePeer {
    pub id: String,
}

/// A server asks the leader to be added, or to have its address updated. A new server joins as
/// a non-voter (an openraft learner); autopilot promotes it once it has been healthy for
/// `ServerStabilizationTime`, as Nomad adds servers with `AddNonvoter`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct Join {
    pub node: ServerNode,
}

/// The leader as this server sees it, if any.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Option<ServerNode>")]
pub struct GetLeader;

/// This server's local status, answered without forwarding; servers exchange it to form the
/// cluster.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Status, OpError>")]
pub struct GetStatus;

/// Asks this server to start an election now (the last step of a leadership transfer).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct Elect;

/// Pauses this server's own election timer while another server takes over leadership;
/// `millis = 0` releases it.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct HoldElections {
    pub millis: u64,
}

impl Forwardable for GetRaftConfiguration {
    const PATH: &'static str = paths::RAFT_CONFIGURATION;
    type Output = RaftConfiguration;
}

impl Guarded for GetRaftConfiguration {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::Management)
    }
}

impl StaleRead for GetRaftConfiguration {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, _: &Authority) -> Result<RaftConfiguration, OpError> {
        Ok(ctx.local_configuration())
    }
}

impl LeaderOp for GetRaftConfiguration {
    /// The leader's own view: it changes only through the leader, so no leadership round trip.
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<RaftConfiguration> {
        Box::pin(async move {
            if ctx.is_leader() {
                Attempt::Done(Ok(ctx.local_configuration()))
            } else {
                Attempt::NotLeader
            }
        })
    }
}

impl Forwardable for RemovePeer {
    const PATH: &'static str = paths::REMOVE_PEER;
    type Output = ();
}

impl Guarded for RemovePeer {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::Management)
    }
}

impl LeaderOp for RemovePeer {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<()> {
        Box::pin(async move {
            if !ctx.is_leader() {
                return Attempt::NotLeader;
            }
            let target = PeerRef::Id(self.id);
            let Some((nid, _)) = ctx.find_peer(&target) else {
                return Attempt::Done(Err(OpError::PeerNotFound(target)));
            };
            raft_outcome(remove_server(&ctx, nid).await)
        })
    }
}

impl Forwardable for Join {
    const PATH: &'static str = paths::JOIN;
    type Output = ();
}

impl Guarded for Join {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.server_only()
    }
}

impl LeaderOp for Join {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<()> {
        Box::pin(local_join(ctx, self.node))
    }
}

impl Forwardable for GetStatus {
    const PATH: &'static str = paths::STATUS;
    type Output = Status;
}

impl Forwardable for Elect {
    const PATH: &'static str = paths::ELECT;
    type Output = ();
}

impl Forwardable for HoldElections {
    const PATH: &'static str = paths::HOLD_ELECTIONS;
    type Output = ();
}

async fn local_join(ctx: Arc<ServerContext>, joiner: ServerNode) -> Attempt<()> {
    if !ctx.is_leader() {
        return Attempt::NotLeader;
    }
    let Ok(uuid) = uuid::Uuid::parse_str(&joiner.id) else {
        return Attempt::Done(Err(OpError::InvalidServerId(joiner.id)));
    };
    // Without TLS anyone who reaches the RPC port can ask to join: only a server that gossip
    // knows is added (formation joins only once gossip found the leader, so gossip knows it).
    let members = ctx.gossip.members().await.unwrap_or_default();
    if !formation::gossip_knows(&members, &ctx.settings.region, &joiner) {
        return Attempt::Done(Err(OpError::JoinerNotInGossip(joiner.to_string())));
    }
    let nid = crate::raft::node_id_of(&uuid);
    let m = ctx.metrics();
    let membership = m.membership_config.membership();
    let known = membership.get_node(&nid).cloned();
    if known.as_ref() == Some(&joiner) {
        // Already in; a non-voter waits for autopilot to promote it.
        return Attempt::Done(Ok(()));
    }
    let result = if known.is_some() {
        // Same server, new address or name: update its node record in place (its vote, if it
        // has one, is kept).
        ctx.raft
            .change_membership(ChangeMembers::SetNodes(BTreeMap::from([(nid, joiner.clone())])), true)
            .await
            .map(|_| ())
    } else {
        ctx.raft.add_learner(nid, joiner.clone(), true).await.map(|_| ())
    };
    if result.is_ok() {
        tracing::info!(server = %joiner, "server joined the raft configuration as a non-voter");
    }
    raft_outcome(result)
}

/// The membership actor.
pub struct Membership {
    ctx: Arc<ServerContext>,
    /// Elections paused by a leadership transfer elsewhere, until this instant.
    elections_held_until: Option<Instant>,
}

impl Membership {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx, elections_held_until: None }
    }

    fn release_elections(&mut self) {
        self.elections_held_until = None;
        self.ctx.raft.runtime_config().elect(true);
    }
}

impl Actor for Membership {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Formation lives as long as the actor: stopping it (Server::shutdown) ends it.
        ctx.spawn(actix::fut::wrap_future(formation::form_cluster(self.ctx.clone())));
    }
}

impl Handler<Call<TransferLeadership>> for Membership {
    type Result = ResponseFuture<Result<Transfer, OpError>>;

    fn handle(&mut self, msg: Call<TransferLeadership>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            match crate::forward::run(ctx, msg.caller, msg.op).await {
                Err(OpError::NoLeader) => Err(OpError::NoLeaderForTransfer),
                other => other,
            }
        })
    }
}

impl Handler<GetLeader> for Membership {
    type Result = MessageResult<GetLeader>;

    fn handle(&mut self, _: GetLeader, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.ctx.leader())
    }
}

impl Handler<GetStatus> for Membership {
    type Result = Result<Status, OpError>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        Ok(formation::status(&self.ctx))
    }
}

impl Handler<Forwarded<GetStatus>> for Membership {
    type Result = Result<Status, OpError>;

    fn handle(&mut self, _: Forwarded<GetStatus>, _: &mut Self::Context) -> Self::Result {
        Ok(formation::status(&self.ctx))
    }
}

impl Handler<Forwarded<Elect>> for Membership {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, _: Forwarded<Elect>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move { ctx.raft.trigger().elect(false).await.map_err(|e| OpError::Raft(e.to_string())) })
    }
}

impl Handler<Forwarded<HoldElections>> for Membership {
    type Result = Result<(), OpError>;

    fn handle(&mut self, msg: Forwarded<HoldElections>, ctx: &mut Self::Context) -> Self::Result {
        if msg.op.millis == 0 {
            self.release_elections();
            return Ok(());
        }
        let hold = Duration::from_millis(msg.op.millis).min(MAX_ELECTION_HOLD);
        self.elections_held_until = Some(Instant::now() + hold);
        self.ctx.raft.runtime_config().elect(false);
        ctx.run_later(hold, |act, _| {
            if act.elections_held_until.is_some_and(|t| t <= Instant::now()) {
                act.release_elections();
            }
        });
        Ok(())
    }
}

leader_actor!(Membership);
client_ops!(read: Membership => GetRaftConfiguration);
client_ops!(run: Membership => RemovePeer);
anonymous_calls!(Membership => TransferLeadership);
