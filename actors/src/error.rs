//! What can go wrong in an operation, said as what happened. Which HTTP status and which Nomad
//! text each case becomes is decided in one place of the HTTP layer, not here.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

/// A peer named by an operator: by raft server ID or by RPC address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerRef {
    Id(String),
    Address(String),
}

impl fmt::Display for PeerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerRef::Id(id) => write!(f, "id {id:?}"),
            PeerRef::Address(a) => write!(f, "address {a:?}"),
        }
    }
}

/// The error of every operation a server runs for a client, locally or on the leader. It
/// travels over internal RPC unchanged, so a follower reports exactly what the leader saw.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OpError {
    /// No leader became known within the hold time (Nomad's `RPCHoldTimeout`).
    #[error("No cluster leader")]
    NoLeader,
    /// A leadership transfer found no leader to move leadership from.
    #[error("No cluster leader")]
    NoLeaderForTransfer,
    /// The server that got a forwarded operation is not (or no longer) the leader; the sender
    /// retries against the new leader. Never reaches a client.
    #[error("not the leader")]
    NotLeader,
    /// The config row has not been written by the first leader yet.
    #[error("{0} config not initialized yet")]
    NotInitialized(String),
    /// The leader has not computed the cluster health yet (it has just been elected). Nomad
    /// crashes the request here; an error is kinder.
    #[error("autopilot has not computed the cluster health yet")]
    HealthNotReady,
    /// Peer removal named a server that is not in the raft configuration.
    #[error("{0} was not found in the Raft configuration")]
    PeerNotFound(PeerRef),
    /// A leadership transfer named a server that is not in the raft configuration.
    #[error("{0} was not found in the Raft configuration")]
    TransferTargetNotFound(PeerRef),
    /// A leadership transfer named a server that cannot lead (a non-voter).
    #[error("cannot transfer leadership to a non-voter")]
    TransferToNonVoter,
    /// The target did not take over within the transfer deadline.
    #[error("timed out waiting for leadership transfer")]
    TransferTimedOut,
    /// A server asked to join with an ID that is not a UUID.
    #[error("invalid server id {0:?}")]
    InvalidServerId(String),
    /// A variable write broke one of Nomad's rules (path, size, namespace); nothing changed.
    #[error("{0}")]
    InvalidVariable(crate::state::VarInvalid),
    /// openraft refused or failed the operation (its text).
    #[error("{0}")]
    Raft(String),
    /// Reading the local store failed (its text).
    #[error("{0}")]
    Storage(String),
    /// A server-to-server call failed: the peer was unreachable or answered nonsense.
    #[error("{0}")]
    Rpc(String),
    /// Saving a snapshot archive failed (its text).
    #[error("{0}")]
    SnapshotSave(String),
    /// Restoring a snapshot archive failed; nothing was restored (its text).
    #[error("failed to restore from snapshot: {0}")]
    RestoreFailed(String),
    /// Something that should not happen did: an actor of this server is gone (it is shutting
    /// down), the write queue stopped, an answer could not be encoded, or a command applied
    /// without the outcome its kind promises.
    #[error("internal error: {0}")]
    Internal(String),
    /// ACLs are off: the ACL endpoints have nothing to serve.
    #[error("ACL support disabled")]
    AclDisabled,
    /// The caller's token does not allow the operation.
    #[error("Permission denied")]
    PermissionDenied,
    /// The caller's secret names no token.
    #[error("ACL token not found")]
    TokenNotFound,
    /// The caller's token has expired.
    #[error("ACL token expired")]
    TokenExpired,
    /// A second ACL bootstrap without the reset index.
    #[error("ACL bootstrap already done (reset index: {0})")]
    AclBootstrapDone(u64),
    /// The `acl-bootstrap-reset` file names another index than the last bootstrap's.
    #[error("Invalid bootstrap reset index (specified {specified}, reset index: {reset})")]
    AclBadResetIndex { specified: u64, reset: u64 },
    /// An ACL write the leader refused as invalid (Nomad's 400s); the text says why.
    #[error("{0}")]
    AclInvalid(String),
    /// A license was refused (malformed, untrusted signature, wrong product, expired, older
    /// than the installed one); nothing changed.
    #[error("{0}")]
    InvalidLicense(crate::license::document::LicenseInvalid),
    /// The error the leader answered a forwarded operation with.
    #[error("rpc error: {0}")]
    Forwarded(Box<OpError>),
    /// An operation on the server's own authority (`Caller::Trusted`) reached a server that
    /// does not lead: that authority never travels, so it is not forwarded.
    #[error("an operation on the server's own authority runs only on the leader, and this server does not lead")]
    TrustedNotForwarded,
    /// A server asked to join that gossip does not show as an alive server of this region at
    /// the address it joins with.
    #[error("join refused: {0} is not an alive server in this region's gossip pool")]
    JoinerNotInGossip(String),
    /// A listing could not be read as asked: its `?filter=` does not parse or fails on an
    /// entry (Nomad's coded 400 `failed to create result paginator: ...` or `failed to read
    /// result page: ...`); the text is Nomad's whole message.
    #[error("{0}")]
    BadListing(String),
}

impl OpError {
    /// How an error the leader answered looks to the server that forwarded the operation.
    /// One hop of wrapping is enough: a forwarded error is never wrapped twice.
    pub fn forwarded(self) -> Self {
        match self {
            OpError::Forwarded(_) => self,
            other => OpError::Forwarded(Box::new(other)),
        }
    }
}

impl From<crate::authz::Denied> for OpError {
    /// A refusal as the operation's error: `Permission denied`, or the failed resolution itself.
    fn from(d: crate::authz::Denied) -> Self {
        use crate::authz::Denied;
        use crate::authz::Unresolved;
        match d {
            Denied::Permission => OpError::PermissionDenied,
            Denied::Unresolved(Unresolved::NotFound) => OpError::TokenNotFound,
            Denied::Unresolved(Unresolved::Expired) => OpError::TokenExpired,
        }
    }
}

impl From<actix::MailboxError> for OpError {
    /// A stopped actor is an internal error, never a panic.
    fn from(e: actix::MailboxError) -> Self {
        OpError::Internal(e.to_string())
    }
}

impl From<crate::raft::StorageError> for OpError {
    /// Reading the local store failed: its text, as Nomad's state store errors travel.
    fn from(e: crate::raft::StorageError) -> Self {
        OpError::Storage(e.to_string())
    }
}
