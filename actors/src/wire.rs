//! The wire contract between servers: every internal RPC path ([`paths`]), how a body is
//! encoded ([`Codec`]), what an operation that can travel must say about itself
//! ([`Forwardable`]), and the shapes of an answer. Both halves of server-to-server calls use
//! it: the caller ([`crate::forward`], the raft network) and the answering side
//! ([`crate::rpc_server`]); neither knows the other.
//!
//! The transport is HTTP on the RPC port, and [`frames`] for raft's appends and votes; bodies
//! are postcard for raft traffic and the operations a busy cluster forwards most (variables),
//! JSON for the rest. A client's operation
//! carries its caller's token in [`CALLER_HEADER`]; who may call which path is [`paths::ALL`].

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::OpError;

pub mod frames;

/// Every internal RPC path, in one list: raft traffic, operations forwarded to the leader, and
/// direct calls between servers; [`paths::ALL`] says who may call each.
pub mod paths {
    use super::Access;

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
    /// The caller's own token, resolved where the call runs (the secret travels in the caller
    /// header like every client's, never in a body or a log line).
    pub const ACL_TOKEN_SELF: &str = "/v1/internal/acl/token/self";
    pub const PUT_LICENSE: &str = "/v1/internal/license/put";
    /// A gossip key operation (install, use, remove, list) applied to one server's keyring;
    /// the body and the answer are sealed with the gossip keyring (`crate::keyring`).
    pub const GOSSIP_KEYRING: &str = "/v1/internal/gossip/keyring";
    /// Many forwarded client operations in one request (`crate::batch`), each answered as if
    /// it came alone: its own path's access, its own caller.
    pub const BATCH: &str = "/v1/internal/batch";

    /// Every path above with who may call it. The internal RPC server admits each call by this
    /// table, and the tests walk it, so a new path cannot be left out of either (a unit test
    /// counts the constants above against it).
    pub const ALL: [(&str, Access); 34] = [
        // Raft traffic first: the hottest lookups.
        (APPEND, Access::Server),
        (VOTE, Access::Server),
        (SNAPSHOT, Access::Server),
        (JOIN, Access::Server),
        (STATUS, Access::Server),
        (ELECT, Access::Server),
        (HOLD_ELECTIONS, Access::Server),
        (GET_VARIABLE, Access::Client),
        (PUT_VARIABLE, Access::Client),
        (DELETE_VARIABLE, Access::Client),
        (LIST_VARIABLES, Access::Client),
        (SET_AUTOPILOT, Access::Client),
        (GET_AUTOPILOT, Access::Client),
        (SET_SCHEDULER, Access::Client),
        (GET_SCHEDULER, Access::Client),
        (RAFT_CONFIGURATION, Access::Client),
        (REMOVE_PEER, Access::Client),
        (TRANSFER, Access::Client),
        (HEALTH, Access::Client),
        (SNAPSHOT_SAVE, Access::Client),
        (SNAPSHOT_RESTORE, Access::Client),
        (ACL_BOOTSTRAP, Access::Client),
        (ACL_UPSERT_POLICIES, Access::Client),
        (ACL_DELETE_POLICIES, Access::Client),
        (ACL_GET_POLICY, Access::Client),
        (ACL_LIST_POLICIES, Access::Client),
        (ACL_UPSERT_TOKENS, Access::Client),
        (ACL_DELETE_TOKENS, Access::Client),
        (ACL_GET_TOKEN, Access::Client),
        (ACL_LIST_TOKENS, Access::Client),
        (ACL_TOKEN_SELF, Access::Client),
        (PUT_LICENSE, Access::Client),
        (GOSSIP_KEYRING, Access::Client),
        (BATCH, Access::Client),
    ];

    /// Who may call `path`; `None` when it is no internal RPC.
    pub fn access(path: &str) -> Option<Access> {
        ALL.iter().find(|(p, _)| *p == path).map(|(_, a)| *a)
    }
}

/// Who may call an internal path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only another server: raft traffic and a server's duties toward another (join, status,
    /// elections). Taken from a connection proven to be a server's ([`Peer::Server`]), and
    /// from any connection while `Settings::rpc_requires_server_cert` is off: plain TCP cannot
    /// tell a server from anyone else, as in Nomad without TLS.
    Server,
    /// A client's operation, forwarded with its caller ([`CALLER_HEADER`]): it runs only if the
    /// caller's token allows it, checked by the server that runs it, whoever connected.
    Client,
}

impl Access {
    /// Whether a call of this kind is taken from `peer`.
    pub fn admits(self, peer: Peer, requires_server_cert: bool) -> bool {
        match self {
            Access::Client => true,
            Access::Server => peer == Peer::Server || !requires_server_cert,
        }
    }
}

/// What the answering server knows about the connection an internal call came on; the RPC
/// listener tells (the root crate's `http::rpc`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Proven to be a server of this region: a mutual-TLS client certificate that names
    /// `server.<region>.nomad` (any certificate of the cluster's CA when
    /// `verify_server_hostname` is off).
    Server,
    /// Nothing proven: plain TCP, or a certificate that names no server.
    Unverified,
}

/// The header a forwarded client operation carries its caller's secret in; absent or empty:
/// the anonymous caller. Only a token travels: nothing on the wire stands for the server's own
/// authority (`Caller::Trusted`), so no peer can claim it.
pub const CALLER_HEADER: &str = "X-Nomad-Token";

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

    pub fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, RpcError> {
        match self {
            Codec::Json => serde_json::from_slice(body).map_err(|e| RpcError::BadBody(e.to_string())),
            Codec::Postcard => postcard::from_bytes(body).map_err(|e| RpcError::BadBody(e.to_string())),
        }
    }

    pub fn encode<T: Serialize>(self, v: &T) -> Result<Vec<u8>, RpcError> {
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
    /// Whether a follower may forward it to the leader in one request with others
    /// ([`crate::batch`]): only quick operations, as a batch is answered when its last is.
    const BATCHED: bool = false;
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
    /// A server's path called on a connection not proven to be a server's while
    /// `Settings::rpc_requires_server_cert` is on.
    #[error("{0} is answered only to servers: the connection presented no server certificate")]
    NotAServer(String),
}

/// How a batch of forwarded operations ([`paths::BATCH`]) and its answers are encoded.
pub const BATCH_CODEC: Codec = Codec::Postcard;

/// One forwarded client operation inside a batch ([`paths::BATCH`]): what a request of its own
/// would have carried.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchOp {
    /// Its internal path (one of [`paths`]).
    pub path: String,
    /// Its caller's secret (empty: anonymous), as [`CALLER_HEADER`] carries it.
    pub token: String,
    /// Its body, encoded as its path's codec says.
    pub body: Vec<u8>,
}

/// One operation's answer in a batch, in order: the reply body in its path's codec, or why the
/// receiving server could not answer it at all (an unknown path, a malformed body, a path that
/// may not travel in a batch).
pub type BatchAnswer = Result<Vec<u8>, String>;

/// Whether an operation on `path` may travel in a batch: a client's operation only, so a batch
/// never carries raft traffic or a server's duty past the check of who connected, nor another
/// batch.
pub fn batch_may_carry(path: &str) -> bool {
    path != paths::BATCH && paths::access(path) == Some(Access::Client)
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
    use crate::raft::TypeConfig;
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
        type Answer = Result<AppendEntriesResponse<TypeConfig>, RaftError<TypeConfig>>;
        let io = std::io::Error::other("no space left on device");
        let storage = StorageError::<TypeConfig>::write_logs(openraft::error::ErrorSource::from_error(&io));
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

    /// Only a client's operation travels in a batch: never raft traffic, a server's duty or a
    /// batch.
    #[test]
    fn only_client_operations_travel_in_a_batch() {
        assert!(batch_may_carry(paths::PUT_VARIABLE));
        assert!(batch_may_carry(paths::SET_SCHEDULER));
        for path in [paths::APPEND, paths::VOTE, paths::SNAPSHOT, paths::JOIN, paths::ELECT, paths::BATCH, "/x"] {
            assert!(!batch_may_carry(path), "{path}");
        }
    }

    /// `paths::ALL` names every path constant once, so the RPC server's admission and the tests
    /// that walk it cannot miss one.
    #[test]
    fn every_path_has_an_access_rule() {
        let source = include_str!("wire.rs");
        let module = &source[source.find("pub mod paths").expect("paths")..source.find("pub const ALL").expect("ALL")];
        let declared = module.lines().filter(|l| l.trim_start().starts_with("pub const ")).count();
        assert_eq!(declared, paths::ALL.len(), "a path constant is missing from paths::ALL");
        let distinct: std::collections::BTreeSet<&str> = paths::ALL.iter().map(|(p, _)| *p).collect();
        assert_eq!(distinct.len(), paths::ALL.len(), "a path is listed twice");
        assert!(paths::ALL.iter().all(|(p, _)| p.starts_with("/v1/internal/")));
        assert_eq!(paths::access(paths::APPEND), Some(Access::Server));
        assert_eq!(paths::access(paths::PUT_VARIABLE), Some(Access::Client));
        assert_eq!(paths::access("/v1/internal/nothing"), None);
    }

    #[test]
    fn server_paths_need_a_server_certificate_only_when_required() {
        let cases = [
            (Access::Client, Peer::Unverified, true, true),
            (Access::Client, Peer::Server, true, true),
            (Access::Server, Peer::Server, true, true),
            (Access::Server, Peer::Unverified, true, false),
            // Without TLS nothing can be proven: raft traffic is taken as in Nomad without TLS.
            (Access::Server, Peer::Unverified, false, true),
            (Access::Client, Peer::Unverified, false, true),
        ];
        for (access, peer, required, want) in cases {
            assert_eq!(access.admits(peer, required), want, "{access:?} from {peer:?}, required {required}");
        }
    }

    #[test]
    fn a_truncated_body_is_a_bad_body() {
        let bytes = Codec::Postcard.encode(&Err::<u64, _>(OpError::Rpc("x".repeat(40)))).expect("encodes");
        let cut = Codec::Postcard.decode::<Result<u64, OpError>>(&bytes[..bytes.len() / 2]);
        assert!(matches!(cut, Err(RpcError::BadBody(_))), "{cut:?}");
    }
}
