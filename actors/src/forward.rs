//! Server-to-server calls, both halves: the one path by which an operation reaches the leader
//! (a follower forwards the operation itself, as Nomad's `rpc.go` does, never a copy of the
//! state), direct calls to a named peer, and `serve`, which answers every internal RPC path
//! on the receiving server. Every internal path is listed in [`paths`].
//!
//! The transport is HTTP on the RPC port; bodies are postcard for raft traffic and the
//! operations a busy cluster forwards most (variables, token resolution), JSON for the rest
//! (see [`Codec`]). The HTTP server itself belongs to
//! whoever embeds the server (the root package mounts [`crate::Server::handle_rpc`] under its
//! routes).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use actix::dev::ToEnvelope;
use actix::Actor;
use actix::Addr;
use actix::Handler;
use actix::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::OpError;
use crate::node::ServerContext;
use crate::raft::ServerNode;
use crate::Server;

/// Every internal RPC path, in one list: raft traffic, operations forwarded to the leader, and
/// direct calls between servers.
pub mod paths {
    pub const APPEND: &str = "/v1/internal/raft/append";
    pub const VOTE: &str = "/v1/internal/raft/vote";
    pub const SNAPSHOT: &str = "/v1/internal/raft/snapshot";
    pub const SET_AUTOPILOT: &str = "/v1/internal/autopilot/set";
    pub const GET_AUTOPILOT: &str = "/v1/internal/autopilot/get";
    pub const SET_SCHEDULER: &str = "/v1/internal/scheduler/set";
    pub const GET_SCHEDULER: &str = "/v1/internal/scheduler/get";
    pub const RAFT_CONFIGURATION: &str = "/v1/internal/raft-configuration";
    pub const REMOVE_PEER: &str = "/v1/internal/remove-peer";
    pub const JOIN: &str = "/v1/internal/join";
    pub const TRANSFER: &str = "/v1/internal/transfer-leadership";
    pub const HEALTH: &str = "/v1/internal/health";
    pub const STATUS: &str = "/v1/internal/status";
    pub const ELECT: &str = "/v1/internal/elect";
    pub const HOLD_ELECTIONS: &str = "/v1/internal/hold-elections";
    /// The leader's snapshot archive, streamed raw with a `Digest` header (not JSON; served by
    /// the embedding HTTP layer through `Server::save_snapshot_here`).
    pub const SNAPSHOT_SAVE: &str = "/v1/internal/snapshot/save";
    /// An archive to restore, uploaded raw to the leader (`Server::restore_snapshot_here`); the
    /// answer is JSON like every other call.
    pub const SNAPSHOT_RESTORE: &str = "/v1/internal/snapshot/restore";
    pub const GET_VARIABLE: &str = "/v1/internal/var/get";
    pub const PUT_VARIABLE: &str = "/v1/internal/var/put";
    pub const DELETE_VARIABLE: &str = "/v1/internal/var/delete";
    pub const LIST_VARIABLES: &str = "/v1/internal/var/list";
    pub const ACL_BOOTSTRAP: &str = "/v1/internal/acl/bootstrap";
    pub const ACL_UPSERT_POLICIES: &str = "/v1/internal/acl/policy/upsert";
    pub const ACL_DELETE_POLICIES: &str = "/v1/internal/acl/policy/delete";
    pub const ACL_GET_POLICY: &str = "/v1/internal/acl/policy/get";
    pub const ACL_LIST_POLICIES: &str = "/v1/internal/acl/policy/list";
    pub const ACL_UPSERT_TOKENS: &str = "/v1/internal/acl/token/upsert";
    pub const ACL_DELETE_TOKENS: &str = "/v1/internal/acl/token/delete";
    pub const ACL_GET_TOKEN: &str = "/v1/internal/acl/token/get";
    pub const ACL_LIST_TOKENS: &str = "/v1/internal/acl/token/list";
    /// Resolves the caller's secret on the leader (the secret travels in the body, never in a
    /// log line).
    pub const ACL_RESOLVE: &str = "/v1/internal/acl/resolve";
    pub const PUT_LICENSE: &str = "/v1/internal/license/put";
}

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

/// How an internal RPC body is encoded; both ends pick it from the path (the operation type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Self-describing: for operations whose types postcard cannot carry (a license's free-form
    /// flags) and the rare ones where the cost does not matter.
    Json,
    /// Compact binary (`postcard`): raft traffic and the hot operations. Byte strings stay
    /// bytes (JSON would spell each byte as a number), and both ends skip the text parsing.
    Postcard,
}

impl Codec {
    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Postcard => "application/x-postcard",
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, RpcError> {
        match self {
            Codec::Json => serde_json::from_slice(body).map_err(|e| RpcError::BadBody(e.to_string())),
            Codec::Postcard => postcard::from_bytes(body).map_err(|e| RpcError::BadBody(e.to_string())),
        }
    }

    pub(crate) fn encode<T: Serialize>(self, v: &T) -> Result<Vec<u8>, RpcError> {
        match self {
            Codec::Json => serde_json::to_vec(v).map_err(|e| RpcError::BadBody(e.to_string())),
            Codec::Postcard => postcard::to_stdvec(v).map_err(|e| RpcError::BadBody(e.to_string())),
        }
    }

    /// An answer to send back. Our RPC types are plain serde structs, so a failure here would
    /// be a bug: answer it as an error the caller can read rather than an empty body.
    fn reply<T: Serialize>(self, v: &T) -> Vec<u8> {
        self.encode(v).unwrap_or_else(|e| {
            let err = Err::<(), _>(OpError::Internal(format!("encoding a reply: {e}")));
            self.encode(&err).unwrap_or_default()
        })
    }
}

/// An operation that can travel to another server as itself: its path and its answer.
pub trait Remote: Serialize + DeserializeOwned + Clone + Send + Unpin + 'static {
    /// The internal RPC path it travels on (one of [`paths`]).
    const PATH: &'static str;
    /// How its body and answer are encoded.
    const CODEC: Codec = Codec::Json;
    type Output: Serialize + DeserializeOwned + Send + 'static;
}

/// An answer to an internal RPC: the body and how it is encoded.
#[derive(Debug)]
pub struct RpcReply {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl RpcReply {
    fn new(codec: Codec, body: Vec<u8>) -> Self {
        Self { content_type: codec.content_type(), body }
    }
}

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

/// A [`Remote`] operation that the leader runs from the server context alone.
pub(crate) trait LeaderOp: Remote {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Self::Output>;
}

/// Result of one attempt to run an operation here as leader.
pub(crate) enum Attempt<T> {
    Done(Result<T, OpError>),
    /// Leadership moved away meanwhile; route again.
    NotLeader,
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

impl<R: Remote> Message for Forwarded<R> {
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
pub(crate) async fn route<R: Remote>(
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
async fn hop<R: Remote>(http: &reqwest::Client, leader: &ServerNode, op: &R) -> Result<R::Output, Hop> {
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
pub(crate) async fn call_peer<R: Remote>(
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

/// Why an internal RPC could not be answered at all.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("no internal RPC at {0}")]
    UnknownPath(String),
    #[error("malformed internal RPC body: {0}")]
    BadBody(String),
}

/// Raft traffic (append, vote, snapshot chunks) travels as postcard.
pub const RAFT_CODEC: Codec = Codec::Postcard;

/// Delivers a forwarded operation to the actor that owns it and encodes its answer.
async fn relay<A, R>(addr: &Addr<A>, body: &[u8]) -> Result<RpcReply, RpcError>
where
    R: Remote,
    A: Actor + Handler<Forwarded<R>>,
    A::Context: ToEnvelope<A, Forwarded<R>>,
{
    let op: R = R::CODEC.decode(body)?;
    let r = addr.send(Forwarded(op)).await.unwrap_or_else(|e| Err(e.into()));
    Ok(RpcReply::new(R::CODEC, R::CODEC.reply(&r)))
}

fn raft_reply<T: Serialize>(v: &T) -> Result<RpcReply, RpcError> {
    Ok(RpcReply::new(RAFT_CODEC, RAFT_CODEC.reply(v)))
}

/// Answers one internal RPC on the receiving server: `path` and `body` in (encoded as the
/// path's [`Codec`] says), the answer out in the same encoding.
pub(crate) async fn serve(server: &Server, path: &str, body: &[u8]) -> Result<RpcReply, RpcError> {
    use crate::acl as a;
    use crate::autopilot::GetHealth;
    use crate::config_store as cs;
    use crate::membership as m;
    use crate::variables as v;
    let ctx = &server.ctx;
    let membership = &server.membership;
    match path {
        paths::APPEND => {
            let req: openraft::raft::AppendEntriesRequest<crate::raft::TypeConfig> = RAFT_CODEC.decode(body)?;
            let from_current_leader = req.vote.is_committed();
            let r = ctx.raft.append_entries(req).await;
            if from_current_leader && r.is_ok() {
                ctx.leader_contact.touch();
            }
            raft_reply(&r)
        }
        paths::VOTE => raft_reply(&ctx.raft.vote(RAFT_CODEC.decode(body)?).await),
        paths::SNAPSHOT => {
            let req = RAFT_CODEC.decode(body)?;
            ctx.leader_contact.touch();
            raft_reply(&ctx.raft.install_snapshot(req).await)
        }
        paths::SET_AUTOPILOT => relay::<_, cs::SetAutopilotConfig>(membership, body).await,
        paths::GET_AUTOPILOT => relay::<_, cs::GetAutopilotConfig>(membership, body).await,
        paths::SET_SCHEDULER => relay::<_, cs::SetSchedulerConfig>(membership, body).await,
        paths::GET_SCHEDULER => relay::<_, cs::GetSchedulerConfig>(membership, body).await,
        paths::RAFT_CONFIGURATION => relay::<_, m::GetRaftConfiguration>(membership, body).await,
        paths::REMOVE_PEER => relay::<_, m::RemovePeer>(membership, body).await,
        paths::JOIN => relay::<_, m::Join>(membership, body).await,
        paths::TRANSFER => relay::<_, m::TransferLeadership>(membership, body).await,
        paths::HEALTH => relay::<_, GetHealth>(&server.autopilot, body).await,
        paths::STATUS => relay::<_, m::GetStatus>(membership, body).await,
        paths::ELECT => relay::<_, m::Elect>(membership, body).await,
        paths::HOLD_ELECTIONS => relay::<_, m::HoldElections>(membership, body).await,
        paths::GET_VARIABLE => relay::<_, v::GetVariable>(&server.variables, body).await,
        paths::PUT_VARIABLE => relay::<_, v::PutVariable>(&server.variables, body).await,
        paths::DELETE_VARIABLE => relay::<_, v::DeleteVariable>(&server.variables, body).await,
        paths::LIST_VARIABLES => relay::<_, v::ListVariables>(&server.variables, body).await,
        paths::ACL_BOOTSTRAP => relay::<_, a::Bootstrap>(&server.acl, body).await,
        paths::ACL_UPSERT_POLICIES => relay::<_, a::UpsertPolicies>(&server.acl, body).await,
        paths::ACL_DELETE_POLICIES => relay::<_, a::DeletePolicies>(&server.acl, body).await,
        paths::ACL_GET_POLICY => relay::<_, a::GetPolicy>(&server.acl, body).await,
        paths::ACL_LIST_POLICIES => relay::<_, a::ListPolicies>(&server.acl, body).await,
        paths::ACL_UPSERT_TOKENS => relay::<_, a::UpsertTokens>(&server.acl, body).await,
        paths::ACL_DELETE_TOKENS => relay::<_, a::DeleteTokens>(&server.acl, body).await,
        paths::ACL_GET_TOKEN => relay::<_, a::GetToken>(&server.acl, body).await,
        paths::ACL_LIST_TOKENS => relay::<_, a::ListTokens>(&server.acl, body).await,
        paths::ACL_RESOLVE => relay::<_, a::ResolveToken>(&server.acl, body).await,
        paths::PUT_LICENSE => relay::<_, crate::license::PutLicense>(&server.license, body).await,
        other => Err(RpcError::UnknownPath(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use openraft::error::Fatal;
    use openraft::error::RaftError;
    use openraft::raft::AppendEntriesResponse;
    use openraft::StorageError;

    use super::*;
    use crate::raft::NodeId;
    use crate::state::VarInvalid;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(codec: Codec, v: T) {
        let bytes = codec.encode(&v).expect("encodes");
        assert_eq!(codec.decode::<T>(&bytes).expect("decodes"), v, "{codec:?}");
    }

    /// Every error a forwarded operation can answer survives the binary encoding, nested ones
    /// and those carrying their own error types included.
    #[test]
    fn errors_travel_as_postcard() {
        let errors = [
            OpError::NoLeader,
            OpError::NotLeader,
            OpError::PermissionDenied,
            OpError::AclBootstrapDone(7),
            OpError::InvalidVariable(VarInvalid::InvalidPath("a b".into())),
            OpError::Forwarded(Box::new(OpError::Storage("disk full".into()))),
        ];
        for e in errors {
            round_trip(Codec::Postcard, Err::<u64, _>(e.clone()));
            round_trip(Codec::Json, Err::<u64, _>(e));
        }
    }

    /// A raft answer, fatal storage errors (openraft's `AnyError` inside) included.
    #[test]
    fn raft_answers_travel_as_postcard() {
        type Answer = Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>;
        let io = std::io::Error::other("no space left on device");
        let storage: StorageError<NodeId> = openraft::StorageIOError::write_logs(&io).into();
        let answers: [Answer; 3] = [
            Ok(AppendEntriesResponse::Success),
            Ok(AppendEntriesResponse::Conflict),
            Err(RaftError::Fatal(Fatal::StorageError(storage))),
        ];
        for a in answers {
            let bytes = RAFT_CODEC.encode(&a).expect("encodes");
            let back: Answer = RAFT_CODEC.decode(&bytes).expect("decodes");
            assert_eq!(format!("{back:?}"), format!("{a:?}"));
        }
    }

    #[test]
    fn a_truncated_body_is_a_bad_body() {
        let bytes = Codec::Postcard.encode(&Err::<u64, _>(OpError::Rpc("x".repeat(40)))).expect("encodes");
        let cut = Codec::Postcard.decode::<Result<u64, OpError>>(&bytes[..bytes.len() / 2]);
        assert!(matches!(cut, Err(RpcError::BadBody(_))), "{cut:?}");
    }
}
