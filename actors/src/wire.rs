//! The wire contract between servers: every internal RPC path ([`paths`]), how a body is
//! encoded ([`Codec`]), what an operation that can travel must say about itself
//! ([`Forwardable`]), and the shapes of an answer. Both halves of server-to-server calls use
//! it: the caller ([`crate::forward`], the raft network) and the answering side
//! ([`crate::rpc_server`]); neither knows the other.
//!
//! The transport is HTTP on the RPC port; bodies are postcard for raft traffic and the
//! operations a busy cluster forwards most (variables, token resolution), JSON for the rest.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::OpError;

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
    pub(crate) fn reply<T: Serialize>(self, v: &T) -> Vec<u8> {
        self.encode(v).unwrap_or_else(|e| {
            let err = Err::<(), _>(OpError::Internal(format!("encoding a reply: {e}")));
            self.encode(&err).unwrap_or_default()
        })
    }
}

/// An operation that can travel to another server as itself: its path and its answer.
pub trait Forwardable: Serialize + DeserializeOwned + Clone + Send + Unpin + 'static {
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
    pub(crate) fn new(codec: Codec, body: Vec<u8>) -> Self {
        Self { content_type: codec.content_type(), body }
    }
}

/// Result of one attempt to run an operation here as leader.
pub(crate) enum Attempt<T> {
    Done(Result<T, OpError>),
    /// Leadership moved away meanwhile; route again.
    NotLeader,
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
