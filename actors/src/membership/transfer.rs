//! Leadership transfer (`PUT /v1/operator/raft/transfer-leadership`).
//!
//! The leader does it by hand rather than with openraft 0.10's `trigger().transfer_leader`:
//! that call sends its request once, with the leader's last log id, and a target that has not
//! flushed that far yet (under write load it usually has not) ignores it, leaving the leader
//! refusing writes and nobody campaigning. Here the other followers hold their elections,
//! the target first catches up, the leader stops
//! heartbeats and holds new writes and reads' leadership confirmations (queued, not refused)
//! so that the followers' leader leases expire, and the target is asked to campaign until it
//! wins or the deadline passes. Every hold is released at the end, win or lose; the held
//! writes and reads then find leadership moved and are routed to the new leader.

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix::Message;
use serde::Deserialize;
use serde::Serialize;

use super::Elect;
use super::HoldElections;
use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::error::PeerRef;
use crate::forward::call_peer;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::wire::paths;
use crate::wire::Attempt;
use crate::wire::Forwardable;

/// How long the other followers hold their elections: longer than [`TRANSFER_DEADLINE`] so
/// none of them campaigns while the target does, and short enough that a leader dying
/// half-way leaves the cluster without elections only briefly.
const HOLD_DURING_TRANSFER: Duration = Duration::from_secs(10);

/// How long the target gets to win. An election takes one election timeout (0.5-1 s); this
/// leaves room for several split votes.
const TRANSFER_DEADLINE: Duration = Duration::from_secs(8);

/// How long the target gets to receive the entries it lacks before the campaign starts (it
/// campaigns anyway after this; a vote it cannot win then times the transfer out).
const CATCH_UP: Duration = Duration::from_secs(2);

/// Past the followers' leader lease before the target campaigns: timers and the last
/// append-entries' arrival are not exact.
const LEASE_MARGIN: Duration = Duration::from_millis(50);

/// How long to watch for the target's win before asking it to campaign again.
const ELECTION_WATCH: Duration = Duration::from_millis(300);

/// Each control call to a peer (hold, elect, release); a peer that does not answer in time
/// is skipped, the transfer goes on.
const PEER_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Moves leadership to another voter.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Transfer, OpError>")]
pub struct TransferLeadership {
    pub target: PeerRef,
}

/// A server's RPC address and ID, as the transfer reply names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddr {
    pub address: String,
    pub id: String,
}

/// What a transfer did: from whom, to whom, and whether there was nothing to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: PeerAddr,
    pub to: PeerAddr,
    pub noop: bool,
}

impl Forwardable for TransferLeadership {
    const PATH: &'static str = paths::TRANSFER;
    type Output = Transfer;
}

impl Guarded for TransferLeadership {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::Management)
    }
}

impl LeaderOp for TransferLeadership {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<Transfer> {
        Box::pin(transfer(ctx, self.target))
    }
}

/// Whether the leader knows `target` to hold its whole log (the replication progress it keeps).
fn target_has_every_entry(m: &crate::raft::RaftMetrics, target: crate::raft::NodeId) -> bool {
    let matched = m.replication.as_ref().and_then(|r| r.get(&target)).and_then(|l| l.as_ref()).map(|l| l.index);
    matched.is_some() && matched >= m.last_log_index
}

async fn transfer(ctx: Arc<ServerContext>, target: PeerRef) -> Attempt<Transfer> {
    if !ctx.is_leader() {
        return Attempt::NotLeader;
    }
    let Some((target_id, target_node)) = ctx.find_peer(&target) else {
        return Attempt::Done(Err(OpError::TransferTargetNotFound(target)));
    };
    let from = PeerAddr { address: ctx.me.rpc_addr.clone(), id: ctx.me.id.clone() };
    let to = PeerAddr { address: target_node.rpc_addr.clone(), id: target_node.id.clone() };
    if target_id == ctx.node_id {
        return Attempt::Done(Ok(Transfer { from, to, noop: true }));
    }
    let m = ctx.metrics();
    let membership = m.membership_config.membership();
    if !membership.voter_ids().any(|v| v == target_id) {
        return Attempt::Done(Err(OpError::TransferToNonVoter));
    }
    let others: Vec<_> =
        membership.nodes().filter(|(id, _)| **id != ctx.node_id).map(|(id, n)| (*id, n.rpc_addr.clone())).collect();

    let hold = HoldElections { millis: HOLD_DURING_TRANSFER.as_millis() as u64 };
    for (id, addr) in &others {
        if *id != target_id {
            let _ = call_peer(&ctx.http, addr, &hold, PEER_CALL_TIMEOUT).await;
        }
    }
    // No new entries or leadership confirmations from here, and no heartbeats once the target
    // has every entry: each would renew the followers' leader lease, and a follower whose
    // lease holds refuses the target's vote; one whose log is longer than the target's refuses
    // it too (as hashicorp/raft's transfer, the target first catches up).
    let held = ctx.proposer.hold();
    let mut metrics = ctx.raft.metrics();
    if tokio::time::timeout(CATCH_UP, crate::raft::wait_metrics(&mut metrics, |m| target_has_every_entry(m, target_id)))
        .await
        .is_err()
    {
        let m = ctx.metrics();
        let matched = m.replication.as_ref().and_then(|r| r.get(&target_id).copied()).flatten().map(|l| l.index);
        tracing::warn!(target = %to.address, ?matched, last = ?m.last_log_index, "leadership transfer: the target has not caught up; campaigning anyway");
    }
    ctx.raft.runtime_config().elect(false);
    ctx.raft.runtime_config().heartbeat(false);
    // A campaign before the followers' leases (openraft's: the longest election timeout) have
    // run out is refused, and only raises the target's term; start once they have.
    tokio::time::sleep(ctx.settings.timing.election_max + LEASE_MARGIN).await;

    let deadline = Instant::now() + TRANSFER_DEADLINE;
    let mut outcome = Err(OpError::TransferTimedOut);
    while Instant::now() < deadline {
        let _ = call_peer(&ctx.http, &target_node.rpc_addr, &Elect, PEER_CALL_TIMEOUT).await;
        let _ = tokio::time::timeout(
            ELECTION_WATCH,
            crate::raft::wait_metrics(&mut metrics, |m| m.current_leader == Some(target_id)),
        )
        .await;
        if ctx.metrics().current_leader == Some(target_id) {
            outcome = Ok(Transfer { from: from.clone(), to: to.clone(), noop: false });
            break;
        }
    }

    ctx.raft.runtime_config().heartbeat(true);
    ctx.raft.runtime_config().elect(true);
    drop(held);
    let release = HoldElections { millis: 0 };
    for (_, addr) in &others {
        let _ = call_peer(&ctx.http, addr, &release, PEER_CALL_TIMEOUT).await;
    }
    Attempt::Done(outcome)
}
