//! What hashicorp/raft's `Stats()` reports, read from openraft's metrics: the numbers Nomad
//! shows under `stats.raft` in `/v1/agent/self` (the HTTP layer words them as strings).

use std::time::Duration;

use openraft::ServerState;

use super::NodeId;

/// hashicorp/raft's node states, as its `RaftState.String()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftRole {
    Follower,
    Candidate,
    Leader,
    Shutdown,
}

impl RaftRole {
    /// openraft's states in hashicorp/raft's words: a learner (Nomad's non-voter) follows.
    pub fn of(state: ServerState) -> Self {
        match state {
            ServerState::Leader => Self::Leader,
            ServerState::Candidate => Self::Candidate,
            ServerState::Follower | ServerState::Learner => Self::Follower,
            ServerState::Shutdown => Self::Shutdown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Follower => "Follower",
            Self::Candidate => "Candidate",
            Self::Leader => "Leader",
            Self::Shutdown => "Shutdown",
        }
    }
}

/// One server of the latest configuration (hashicorp/raft's `Server`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredServer {
    pub id: String,
    pub address: String,
    pub voter: bool,
}

/// One server's raft state at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftStats {
    pub role: RaftRole,
    pub term: u64,
    pub last_log_index: u64,
    pub last_log_term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_snapshot_index: u64,
    pub last_snapshot_term: u64,
    pub latest_configuration_index: u64,
    pub latest_configuration: Vec<ConfiguredServer>,
    /// This server's ID (`num_peers` counts the other voters, none when it is not one).
    pub me: String,
    /// Since the leader was last heard from; `None` on the leader.
    pub last_contact: Option<Duration>,
}

impl RaftStats {
    /// Voters other than this server; 0 when this server is not a voter (hashicorp/raft).
    pub fn num_peers(&self) -> usize {
        let voters = || self.latest_configuration.iter().filter(|s| s.voter);
        if !voters().any(|s| s.id == self.me) {
            return 0;
        }
        voters().filter(|s| s.id != self.me).count()
    }
}

/// Reads the stats from openraft's metrics and the store's committed index.
pub(crate) fn read(
    m: &crate::raft::RaftMetrics,
    last_log: Option<crate::raft::LogId>,
    committed: u64,
    me: &str,
    last_contact: Duration,
) -> RaftStats {
    let membership = m.membership_config.membership();
    let voters: std::collections::BTreeSet<NodeId> = membership.voter_ids().collect();
    let role = RaftRole::of(m.state);
    RaftStats {
        role,
        term: m.current_term,
        last_log_index: last_log.map_or(0, |l| l.index),
        last_log_term: last_log.map_or(0, |l| l.leader_id.term),
        commit_index: committed,
        applied_index: m.last_applied.as_ref().map_or(0, |l| l.index),
        last_snapshot_index: m.snapshot.as_ref().map_or(0, |l| l.index),
        last_snapshot_term: m.snapshot.as_ref().map_or(0, |l| l.leader_id.term),
        latest_configuration_index: m.membership_config.log_id().map_or(0, |l| l.index),
        latest_configuration: membership
            .nodes()
            .map(|(id, n)| ConfiguredServer {
                id: n.id.clone(),
                address: n.rpc_addr.clone(),
                voter: voters.contains(id),
            })
            .collect(),
        me: me.to_string(),
        last_contact: (role != RaftRole::Leader).then_some(last_contact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str, voter: bool) -> ConfiguredServer {
        ConfiguredServer { id: id.into(), address: format!("{id}:4647"), voter }
    }

    #[test]
    fn num_peers_as_hashicorp_raft() {
        let mut s = RaftStats {
            role: RaftRole::Follower,
            term: 1,
            last_log_index: 0,
            last_log_term: 0,
            commit_index: 0,
            applied_index: 0,
            last_snapshot_index: 0,
            last_snapshot_term: 0,
            latest_configuration_index: 0,
            latest_configuration: vec![server("a", true), server("b", true), server("c", false)],
            me: "a".into(),
            last_contact: None,
        };
        assert_eq!(s.num_peers(), 1, "the other voter; a non-voter is no peer");
        s.me = "c".into();
        assert_eq!(s.num_peers(), 0, "a non-voter has no peers");
        assert_eq!(RaftRole::of(ServerState::Learner).as_str(), "Follower");
    }
}
