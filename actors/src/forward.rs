//! The calling half of server-to-server calls: the one path by which an operation reaches the
//! leader (a follower forwards the operation itself with its caller's token, as Nomad's
//! `rpc.go` forwards a request with its `AuthToken`, never a copy of the state), direct calls
//! to a named peer, and the shapes every actor shares: the one check of a client's operation
//! on the server that runs it ([`admit`]), a read on the leader ([`leader_read`]), the handler
//! of operations a peer forwarded ([`leader_actor!`]), and the one-line handlers that run a
//! client's operation ([`client_ops!`]).
//!
//! ```text
//! Call { caller, op } ─> here a stale read, or this server leads? admit(caller, op) here, run
//!                        else: POST op to the leader, caller in wire::CALLER_HEADER
//!                              ─> leader: Forwarded { caller, op } ─> admit there, run
//! ```
//!
//! What answers a call on the other server is [`crate::rpc_server`]'s business; this module
//! knows only the wire contract ([`crate::wire`]).

use openraft::async_runtime::watch::WatchReceiver;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix::Message;

use crate::authz::Authority;
use crate::authz::Caller;
use crate::authz::Guarded;
use crate::batch::Failure;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::raft::network::Peers;
use crate::raft::ServerNode;
use crate::wire::Attempt;
use crate::wire::BatchOp;
use crate::wire::Codec;
use crate::wire::Forwardable;
use crate::wire::CALLER_HEADER;

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

/// Sends one internal RPC body, with the caller's secret when there is one, and reads the raw
/// answer.
async fn post(
    http: &reqwest::Client,
    url: &str,
    codec: Codec,
    caller_token: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut request = http.post(url).header(reqwest::header::CONTENT_TYPE, codec.content_type());
    if !caller_token.is_empty() {
        request = request.header(CALLER_HEADER, caller_token);
    }
    request.body(body).timeout(timeout).send().await
}

/// The secret that travels with a forwarded operation for its caller (empty: anonymous). The
/// server's own authority never travels: such an operation is not forwarded.
pub(crate) fn wire_token(caller: &Caller) -> Result<&str, OpError> {
    match caller {
        Caller::Token(secret) => Ok(secret),
        Caller::Trusted => Err(OpError::TrustedNotForwarded),
    }
}

/// A local run of an operation on the server that believes it leads.
pub(crate) type LocalRun<T> = Pin<Box<dyn Future<Output = Attempt<T>>>>;

/// A [`Forwardable`] operation that the leader runs from the server context alone, once its
/// caller has been admitted.
pub(crate) trait LeaderOp: Forwardable + Guarded {
    /// Runs the operation here for a caller admitted as `who`: most operations ignore who,
    /// some answer by it (a listing shows what the caller may see, token self is the caller).
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<Self::Output>;
}

/// A read a client may ask to be answered `stale`: from this server's own state, without the
/// leader. Its [`LeaderOp::run`] is [`read_on_leader`].
pub(crate) trait StaleRead: LeaderOp {
    fn is_stale(&self) -> bool;
    /// The read from this server's state, as `who` may see it.
    fn read_here(&self, ctx: &ServerContext, who: &Authority) -> Result<Self::Output, OpError>;
}

/// Where an operation came from. One that came from a peer is never forwarded again: if this
/// server does not lead, the peer hears [`OpError::NotLeader`] and routes it anew.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Client,
    Peer,
}

/// A client's operation with its caller, as an actor takes it from code in this process (the
/// HTTP layer, an embedding application). An operation sent to an actor bare runs as the
/// anonymous caller: send `Call::new(Caller::token(secret), op)` for a client, or
/// `Call::new(Caller::Trusted, op)` to act on the server's own authority.
#[derive(Clone, Debug)]
pub struct Call<M> {
    pub caller: Caller,
    pub op: M,
}

impl<M> Call<M> {
    pub fn new(caller: Caller, op: M) -> Self {
        Self { caller, op }
    }

    /// The operation as the anonymous caller's: what a bare operation is.
    pub fn anonymous(op: M) -> Self {
        Self { caller: Caller::anonymous(), op }
    }
}

impl<M: Message> Message for Call<M>
where
    M::Result: 'static,
{
    type Result = M::Result;
}

/// An operation forwarded by a peer with its caller, as the receiving actor gets it.
pub(crate) struct Forwarded<R> {
    pub caller: Caller,
    pub op: R,
}

impl<R: Forwardable> Message for Forwarded<R> {
    type Result = Result<R::Output, OpError>;
}

/// The one check every client operation passes, on the server that runs it, before it runs:
/// the caller resolved against this server's own tables, then the operation's own rule
/// ([`Guarded::authorize`]). The leader checks what it runs, a server answering a `stale`
/// read checks what it reads; a follower that forwards checks nothing, so the leader's
/// current tables decide (a token deleted a moment ago is refused at once).
pub(crate) fn admit<R: Guarded>(ctx: &ServerContext, caller: &Caller, op: &R) -> Result<Authority, OpError> {
    let who = ctx.authority(caller)?;
    op.authorize(&who)?;
    Ok(who)
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
    caller: &Caller,
    op: &R,
    deadline: Instant,
) -> Result<Routed<R::Output>, OpError> {
    let mut metrics = ctx.raft.metrics();
    loop {
        let leader = metrics.borrow_watched().current_leader;
        match leader {
            Some(id) if id == ctx.node_id => return Ok(Routed::Local),
            _ if origin == Origin::Peer => return Err(OpError::NotLeader),
            Some(_) => {
                if let Some(leader) = ctx.leader() {
                    match hop::<R>(&ctx.http, &leader, wire_token(caller)?, op).await {
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

/// Runs `op` for `caller` on the leader: here if this server leads (admitted here), else
/// forwarded with its caller (admitted there); waits up to [`HOLD_TIMEOUT`] for a leader to
/// appear.
pub(crate) async fn on_leader<R: LeaderOp>(
    ctx: Arc<ServerContext>,
    origin: Origin,
    caller: Caller,
    op: R,
) -> Result<R::Output, OpError> {
    let deadline = Instant::now() + HOLD_TIMEOUT;
    let mut metrics = ctx.raft.metrics();
    loop {
        match route(&ctx, origin, &caller, &op, deadline).await? {
            Routed::Remote(v) => return Ok(v),
            Routed::Local => {
                let who = admit(&ctx, &caller, &op)?;
                match op.clone().run(ctx.clone(), who).await {
                    Attempt::Done(r) => return r,
                    Attempt::NotLeader if origin == Origin::Peer => return Err(OpError::NotLeader),
                    Attempt::NotLeader => wait_for_leader_change(&mut metrics, deadline).await?,
                }
            }
        }
    }
}

/// A client's operation that runs on the leader ([`on_leader`]).
pub(crate) async fn run<R: LeaderOp>(ctx: Arc<ServerContext>, caller: Caller, op: R) -> Result<R::Output, OpError> {
    on_leader(ctx, Origin::Client, caller, op).await
}

/// A client's read: a `stale` one admitted and answered here, any other on the leader.
pub(crate) async fn read<R: StaleRead>(ctx: Arc<ServerContext>, caller: Caller, op: R) -> Result<R::Output, OpError> {
    if op.is_stale() {
        let who = admit(&ctx, &caller, &op)?;
        return op.read_here(&ctx, &who);
    }
    on_leader(ctx, Origin::Client, caller, op).await
}

/// The leader's run of a read: its state, once leadership is confirmed.
pub(crate) fn read_on_leader<R: StaleRead>(ctx: Arc<ServerContext>, op: R, who: Authority) -> LocalRun<R::Output> {
    leader_read(ctx, move |ctx| op.read_here(ctx, &who))
}

async fn wait_for_leader_change(metrics: &mut crate::raft::MetricsWatch, deadline: Instant) -> Result<(), OpError> {
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

/// One forwarding hop to the leader: in a request of its own, or sharing one with the other
/// operations bound there when it is [`Forwardable::BATCHED`]. Connection failures and "not
/// the leader" answers are retried by the caller; anything else is final (a write may have been
/// applied, so it is never sent twice).
async fn hop<R: Forwardable>(peers: &Peers, leader: &ServerNode, caller_token: &str, op: &R) -> Result<R::Output, Hop> {
    let encode = || R::CODEC.encode(op).map_err(|e| Hop::Failed(OpError::Internal(e.to_string())));
    let lost = |e: String| Hop::Failed(OpError::Rpc(e).forwarded());
    let batched = if R::BATCHED {
        let op = BatchOp { path: R::PATH.into(), token: caller_token.into(), body: encode()? };
        match peers.call_batched(&leader.rpc_addr, op, FORWARD_TIMEOUT).await {
            Ok(Ok(bytes)) => Some(bytes),
            Ok(Err(refused)) => return Err(lost(format!("bad reply from leader: {refused}"))),
            Err(Failure::Unreached(_)) => return Err(Hop::Retry),
            Err(Failure::Lost(e)) => return Err(lost(e)),
            // A leader of an earlier version: the operation goes alone, below.
            Err(Failure::Unsupported) => None,
        }
    } else {
        None
    };
    let bytes = match batched {
        Some(bytes) => bytes,
        None => {
            let url = peers.url(&leader.rpc_addr, R::PATH);
            let _slot = peers.slot(&leader.rpc_addr).await;
            let resp = match post(peers.client(), &url, R::CODEC, caller_token, encode()?, FORWARD_TIMEOUT).await {
                Ok(r) => r,
                Err(e) if e.is_connect() => return Err(Hop::Retry),
                Err(e) => return Err(lost(format!("failed to reach leader: {e}"))),
            };
            match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => return Err(lost(format!("bad reply from leader: {e}"))),
            }
        }
    };
    match R::CODEC.decode::<Result<R::Output, OpError>>(&bytes) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(OpError::NotLeader)) => Err(Hop::Retry),
        Ok(Err(e)) => Err(Hop::Failed(e.forwarded())),
        Err(e) => Err(lost(format!("bad reply from leader: {e}"))),
    }
}

/// Calls one named peer directly (no leader logic): a server's duty, with no caller.
pub(crate) async fn call_peer<R: Forwardable>(
    peers: &Peers,
    rpc_addr: &str,
    req: &R,
    timeout: Duration,
) -> Result<R::Output, OpError> {
    call_peer_with(peers, rpc_addr, "", req, timeout).await
}

/// Calls one named peer with a client's operation for its caller (the peer admits the caller
/// by its own tables), as [`call_peer`] calls with none.
pub(crate) async fn call_peer_for<R: Forwardable>(
    peers: &Peers,
    rpc_addr: &str,
    caller: &Caller,
    req: &R,
    timeout: Duration,
) -> Result<R::Output, OpError> {
    call_peer_with(peers, rpc_addr, wire_token(caller)?, req, timeout).await
}

/// One call to a named peer carrying `token` (empty: none), within the peer's slot bound.
async fn call_peer_with<R: Forwardable>(
    peers: &Peers,
    rpc_addr: &str,
    token: &str,
    req: &R,
    timeout: Duration,
) -> Result<R::Output, OpError> {
    let url = peers.url(rpc_addr, R::PATH);
    let body = R::CODEC.encode(req).map_err(|e| OpError::Internal(e.to_string()))?;
    let _slot = peers.slot(rpc_addr).await;
    let resp = post(peers.client(), &url, R::CODEC, token, body, timeout)
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
        // A leadership transfer holds confirmations: each renews the followers' lease.
        ctx.proposer.released().await;
        match ctx.raft.ensure_linearizable(openraft::ReadPolicy::ReadIndex).await {
            Ok(_) => Attempt::Done(read(&ctx)),
            Err(openraft::error::RaftError::APIError(_)) => Attempt::NotLeader,
            Err(e) => Attempt::Done(Err(OpError::Raft(e.to_string()))),
        }
    })
}

/// What every actor that runs operations on the leader shares, for an actor with a
/// `ctx: Arc<ServerContext>` field: it stops on [`crate::context::Stop`], and it runs the
/// operations a peer forwarded, for their caller, when this server leads (refusing them
/// otherwise, so that the peer routes them anew).
macro_rules! leader_actor {
    ($actor:ty) => {
        $crate::context::stops_on_request!($actor);

        impl<R: $crate::forward::LeaderOp> ::actix::Handler<$crate::forward::Forwarded<R>> for $actor {
            type Result = ::actix::ResponseFuture<Result<R::Output, $crate::error::OpError>>;

            fn handle(&mut self, msg: $crate::forward::Forwarded<R>, _: &mut Self::Context) -> Self::Result {
                Box::pin($crate::forward::on_leader(
                    self.ctx.clone(),
                    $crate::forward::Origin::Peer,
                    msg.caller,
                    msg.op,
                ))
            }
        }
    };
}
pub(crate) use leader_actor;

/// Bare operations, for an actor that handles them as [`Call`]s: each runs as the anonymous
/// caller's.
macro_rules! anonymous_calls {
    ($actor:ty => $($op:ty),+ $(,)?) => {$(
        impl ::actix::Handler<$op> for $actor {
            type Result = <Self as ::actix::Handler<$crate::forward::Call<$op>>>::Result;

            fn handle(&mut self, msg: $op, ctx: &mut Self::Context) -> Self::Result {
                <Self as ::actix::Handler<$crate::forward::Call<$op>>>::handle(
                    self,
                    $crate::forward::Call::anonymous(msg),
                    ctx,
                )
            }
        }
    )+};
}
pub(crate) use anonymous_calls;

/// Handlers for a client's operations, as [`Call`]s and bare (anonymous): `run` for those
/// that run on the leader ([`run`]), `read` for reads a client may ask for `stale`
/// ([`read`]).
macro_rules! client_ops {
    ($how:ident: $actor:ty => $($op:ty),+ $(,)?) => {$(
        impl ::actix::Handler<$crate::forward::Call<$op>> for $actor {
            type Result = ::actix::ResponseFuture<
                Result<<$op as $crate::wire::Forwardable>::Output, $crate::error::OpError>,
            >;

            fn handle(&mut self, msg: $crate::forward::Call<$op>, _: &mut Self::Context) -> Self::Result {
                Box::pin($crate::forward::$how(self.ctx.clone(), msg.caller, msg.op))
            }
        }

        $crate::forward::anonymous_calls!($actor => $op);
    )+};
}
pub(crate) use client_ops;
