//! openraft wiring: the type configuration, the redb-backed stores and the RPC client.

pub mod link;
pub mod network;
pub(crate) mod snapfile;
pub mod stats;
pub mod store;

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

use crate::state::Applied;
use crate::state::Command;

/// The raft node ID. Nomad's wire IDs are UUID strings; openraft needs a `Copy` ID, so the
/// numeric ID is derived from the UUID (its first 8 bytes) and the UUID travels in [`ServerNode`].
pub type NodeId = u64;

/// What every server knows about every other server; stored in raft membership entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNode {
    /// The raft server ID as Nomad shows it (a UUID).
    pub id: String,
    /// `<name>.<region>`, Nomad's gossip member name.
    pub name: String,
    /// `ip:port` of the RPC listener (raft traffic and internal calls).
    pub rpc_addr: String,
    /// `ip:port` of the public HTTP API.
    pub http_addr: String,
    pub datacenter: String,
    pub version: String,
}

impl fmt::Display for ServerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}@{})", self.name, self.id, self.rpc_addr)
    }
}

/// Derives the numeric raft ID from the UUID form.
pub fn node_id_of(uuid: &uuid::Uuid) -> NodeId {
    let b = uuid.as_bytes();
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

openraft::declare_raft_types!(
    /// The raftwarden raft types.
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = NodeId,
        Node = ServerNode,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A file in the snapshot directory: built from a redb read transaction, streamed to
/// followers, never held in memory whole.
pub type SnapshotData = tokio::fs::File;

pub type Raft = openraft::Raft<TypeConfig, store::StateMachineStore>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type LeaderId = openraft::alias::LeaderIdOf<TypeConfig>;
pub type CommittedLeaderId = openraft::alias::CommittedLeaderIdOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type EntryPayload = openraft::alias::EntryPayloadOf<TypeConfig>;
pub type Membership = openraft::Membership<NodeId, ServerNode>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, SnapshotData>;
/// What the stores fail with: openraft 0.10's storage traits speak `std::io::Error`.
pub type StorageError = std::io::Error;
pub type RaftMetrics = openraft::RaftMetrics<TypeConfig>;

/// openraft's metrics channel.
pub type MetricsWatch = openraft::alias::WatchReceiverOf<TypeConfig, RaftMetrics>;

/// Waits until the metrics satisfy `done` (at once if they do now), or the channel closes.
pub async fn wait_metrics(watch: &mut MetricsWatch, done: impl Fn(&RaftMetrics) -> bool) {
    use openraft::async_runtime::watch::WatchReceiver;
    loop {
        if done(&watch.borrow_watched()) {
            return;
        }
        if watch.changed().await.is_err() {
            return;
        }
    }
}
