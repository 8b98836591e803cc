//! The calling half of server-to-server calls: the one path by which an operation reaches the
//! leader (a follower forwards the operation itself, as Nomad's `rpc.go` does, never a copy of
//! the state), direct calls to a named peer, and the shapes every actor shares: a read on the
//! leader ([`leader_read`]), the handler of operations a peer forwarded ([`leader_actor!`]),
//! and the one-line handlers that send a client's operation to the leader
//! ([`client_ops!`]).
//!
//! What answers a call on the other server is [`crate::rpc_server`]'s business; this module
//! knows only the wire contract ([`crate::wire`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix::Message;

use crate::context::ServerContext;
use crate::error::OpError;
use crate::raft::ServerNode;
use crate::wire::Attempt;
use crate::wire::Codec;
use crate::wire::Forwardable;

/// How long an operation waits for a leader before failing with `No cluster leader` (Nomad's
/// `RPCHoldTimeout`): long enough to ride out one election (our election timeout is 0.5-1 s).
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound on one forwarded call. The leader may itself wait up to [`HOLD_TIMEOUT`] and a
/// membership change may wait for a learner to catch up; past this a hung leader is treated
/// as failed so that clients are not held forever.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// While waiting for a leader, re-check at least this often even if raft metrics are quiet
/// (a leader learnt through a peer does not always change local metrics at once).
const LEADER_POLL: Duration = Duration::from_millis(100);

/// Sends one internal RPC body and reads the raw answer.
async fn post(
    http: &reqwest::Client,
    url: &str,
    codec: Codec,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    http.post(url).header(reqwest::header::CONTENT_TYPE, codec.content_type()).body(body).timeout(timeout).send().await
}

/// A local run of an operation on the server that believes it leads.
pub(crate) type LocalRun<T> = Pin<Box<dyn Future<Output = Attempt<T>>>>;

/// A [`Forwardable`] operation that the leader runs from the server context alone.
pub(crate) trait LeaderOp: Forwardable {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Self::Output>;
}

/// Where an operation came from. One that came from a peer is never forwarded again: if this
/// server does not lead, the peer hears [`OpError::NotLeader`] and routes it anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Client,
    Peer,
}

/// An operation forwarded by a peer, as the receiving actor gets it.
pub(crate) struct Forwarded<R>(pub R);

impl<R: Forwardable> Message for Forwarded<R> {
    type Result = Result<R::Output, OpError>;
}

/// Where [`route`] found the leader.
pub(crate) enum Routed<T> {
    /// This server leads: run the operation here.
    Local,
    /// The leader ran it; this is its answer.
    Remote(T),
}

/// Waits (until `deadline`) for a leader; answers [`Routed::Local`] when this server leads,
/// else forwards `op` to the leader and returns its answer.
pub(crate) async fn route<R: Forwardable>(
    ctx: &ServerContext,
    origin: Origin,
    op: &R,
    deadline: Instant,
) -> Result<Routed<R::Output>, OpError> {
    let mut metrics = ctx.raft.metrics();
    loop {
        let leader = metrics.borrow().current_leader;
        match leader {
            Some(id) if id == ctx.node_id => return Ok(Routed::Local),
            _ if origin == Origin::Peer => return Err(OpError::NotLeader),
            Some(_) => {
                if let Some(leader) = ctx.leader() {
                    match hop::<R>(&ctx.http, &leader, op).await {
                        Ok(v) => return Ok(Routed::Remote(v)),
                        Err(Hop::Retry) => {}
                        Err(Hop::Failed(e)) => return Err(e),
                    }
                }
            }
            None => {}
        }
        wait_for_leader_change(&mut metrics, deadline).await?;
    }
}

/// Runs `op` on the leader: here if this server leads, else forwarded; waits up to
/// [`HOLD_TIMEOUT`] for a leader to appear.
pub(crate) async fn on_leader<R: LeaderOp>(
    ctx: Arc<ServerContext>,
    origin: Origin,
    op: R,
) -> Result<R::Output, OpError> {
    let deadline = Instant::now() + HOLD_TIMEOUT;
    let mut metrics = ctx.raft.metrics();
    loop {
        match route(&ctx, origin, &op, deadline).await? {
            Routed::Remote(v) => return Ok(v),
            Routed::Local => match op.clone().run(ctx.clone()).await {
                Attempt::Done(r) => return r,
                Attempt::NotLeader if origin == Origin::Peer => return Err(OpError::NotLeader),
                Attempt::NotLeader => wait_for_leader_change(&mut metrics, deadline).await?,
            },
        }
    }
}

async fn wait_for_leader_change(
    metrics: &mut tokio::sync::watch::Receiver<crate::raft::RaftMetrics>,
    deadline: Instant,
) -> Result<(), OpError> {
    let now = Instant::now();
    if now >= deadline {
        return Err(OpError::NoLeader);
    }
    let _ = tokio::time::timeout((deadline - now).min(LEADER_POLL), metrics.changed()).await;
    Ok(())
}

enum Hop {
    Retry,
    Failed(OpError),
}

/// One forwarding hop to the leader. Connection failures and "not the leader" answers are
/// retried by the caller; anything else is final (a write may have been applied, so it is never
/// sent twice).
async fn hop<R: Forwardable>(http: &reqwest::Client, leader: &ServerNode, op: &R) -> Result<R::Output, Hop> {
    let url = format!("http://{}{}", leader.rpc_addr, R::PATH);
    let body = R::CODEC.encode(op).map_err(|e| Hop::Failed(OpError::Internal(e.to_string())))?;
    let resp = match post(http, &url, R::CODEC, body, FORWARD_TIMEOUT).await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Err(Hop::Retry),
        Err(e) => return Err(Hop::Failed(OpError::Rpc(format!("failed to reach leader: {e}")).forwarded())),
    };
    let answer = match resp.bytes().await {
        Ok(b) => R::CODEC.decode::<Result<R::Output, OpError>>(&b).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(OpError::NotLeader)) => Err(Hop::Retry),
        Ok(Err(e)) => Err(Hop::Failed(e.forwarded())),
        Err(e) => Err(Hop::Failed(OpError::Rpc(format!("bad reply from leader: {e}")).forwarded())),
    }
}

/// Calls one named peer directly (no leader logic).
pub(crate) async fn call_peer<R: Forwardable>(
    http: &reqwest::Client,
    rpc_addr: &str,
    req: &R,
    timeout: Duration,
) -> Result<R::Output, OpError> {
    let url = format!("http://{rpc_addr}{}", R::PATH);
    let body = R::CODEC.encode(req).map_err(|e| OpError::Internal(e.to_string()))?;
    let resp = post(http, &url, R::CODEC, body, timeout)
        .await
        .map_err(|e| OpError::Rpc(format!("failed to reach {rpc_addr}: {e}")))?;
    let bytes = resp.bytes().await.map_err(|e| OpError::Rpc(format!("bad reply from {rpc_addr}: {e}")))?;
    R::CODEC
        .decode::<Result<R::Output, OpError>>(&bytes)
        .map_err(|e| OpError::Rpc(format!("bad reply from {rpc_addr}: {e}")))?
}

/// On the leader: confirm leadership (so no newer leader can have committed writes this one has
/// not applied), then read the local state.
pub(crate) fn leader_read<T: 'static>(
    ctx: Arc<ServerContext>,
    read: impl FnOnce(&ServerContext) -> Result<T, OpError> + 'static,
) -> LocalRun<T> {
    Box::pin(async move {
        match ctx.raft.ensure_linearizable().await {
            Ok(_) => Attempt::Done(read(&ctx)),
            Err(openraft::error::RaftError::APIError(_)) => Attempt::NotLeader,
            Err(e) => Attempt::Done(Err(OpError::Raft(e.to_string()))),
        }
    })
}

/// What every actor that runs operations on the leader shares, for an actor with a
/// `ctx: Arc<ServerContext>` field: it stops on [`crate::context::Stop`], and it runs the
/// operations a peer forwarded when this server leads (refusing them otherwise, so that the
/// peer routes them anew).
macro_rules! leader_actor {
    ($actor:ty) => {
        $crate::context::stops_on_request!($actor);

        impl<R: $crate::forward::LeaderOp> ::actix::Handler<$crate::forward::Forwarded<R>> for $actor {
            type Result = ::actix::ResponseFuture<Result<R::Output, $crate::error::OpError>>;

            fn handle(&mut self, msg: $crate::forward::Forwarded<R>, _: &mut Self::Context) -> Self::Result {
                Box::pin($crate::forward::on_leader(self.ctx.clone(), $crate::forward::Origin::Peer, msg.0))
            }
        }
    };
}
pub(crate) use leader_actor;

/// Handlers for operations a client sends that always run on the leader: here if this server
/// leads, else forwarded ([`on_leader`]).
macro_rules! client_ops {
    ($actor:ty => $($op:ty),+ $(,)?) => {$(
        impl ::actix::Handler<$op> for $actor {
            type Result = ::actix::ResponseFuture<
                Result<<$op as $crate::wire::Forwardable>::Output, $crate::error::OpError>,
            >;

            fn handle(&mut self, msg: $op, _: &mut Self::Context) -> Self::Result {
                Box::pin($crate::forward::on_leader(self.ctx.clone(), $crate::forward::Origin::Client, msg))
            }
        }
    )+};
}
pub(crate) use client_ops;
