//! What the gossip layer knows about each server's liveness, independent of raft: `alive`,
//! `failed` (unreachable) or `left` (graceful leave or force-leave). The gossip actor writes it;
//! autopilot reads it for `SerfStatus`, health and dead-server cleanup. A server gossip has not
//! heard of yet has no entry, and readers fall back to raft contact.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;

use serde::Deserialize;
use serde::Serialize;

use crate::raft::NodeId;

/// A member's gossip status, as Nomad's serf names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberStatus {
    Alive,
    Failed,
    Left,
}

impl MemberStatus {
    /// The text serf and Nomad print (`alive`, `failed`, `left`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Alive => "alive",
            MemberStatus::Failed => "failed",
            MemberStatus::Left => "left",
        }
    }
}

/// Shared map from raft node ID to gossip status. Cheap to clone (one `Arc`).
#[derive(Clone, Default)]
pub struct Liveness {
    inner: Arc<RwLock<HashMap<NodeId, MemberStatus>>>,
}

impl Liveness {
    pub fn set(&self, id: NodeId, status: MemberStatus) {
        if let Ok(mut m) = self.inner.write() {
            m.insert(id, status);
        }
    }

    pub fn remove(&self, id: NodeId) {
        if let Ok(mut m) = self.inner.write() {
            m.remove(&id);
        }
    }

    /// The status gossip reports for `id`, or `None` when gossip has not heard of it.
    pub fn get(&self, id: NodeId) -> Option<MemberStatus> {
        self.inner.read().ok().and_then(|m| m.get(&id).copied())
    }

    pub fn all(&self) -> HashMap<NodeId, MemberStatus> {
        self.inner.read().map(|m| m.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove() {
        let l = Liveness::default();
        assert_eq!(l.get(1), None);
        l.set(1, MemberStatus::Alive);
        l.clone().set(2, MemberStatus::Failed);
        assert_eq!(l.get(1), Some(MemberStatus::Alive));
        assert_eq!(l.all().len(), 2);
        l.remove(1);
        assert_eq!(l.get(1), None);
        assert_eq!(MemberStatus::Left.as_str(), "left");
    }
}
