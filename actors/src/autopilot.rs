//! The autopilot actor owns server health tracking: per-server health, `StableSince`, and the
//! cluster's failure tolerance. The decisions are pure functions over [`ServerStats`]; the actor
//! only samples raft metrics and remembers when each server's health last changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::error::OpError;
use crate::membership::on_leader;
use crate::membership::Attempt;
use crate::membership::Node;
use crate::membership::PATH_HEALTH;
use crate::state::AutopilotConfig;

/// How long without a raft RPC answer before a server counts as failed (our stand-in for
/// gossip's failure detection).
pub const FAILED_AFTER: Duration = Duration::from_secs(5);

/// Raw facts about one server, as the leader sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStats {
    pub id: String,
    pub name: String,
    pub address: String,
    pub version: String,
    pub leader: bool,
    pub voter: bool,
    /// Time since the leader last heard from it; `None` if never.
    pub last_contact: Option<Duration>,
    pub last_term: u64,
    pub last_index: u64,
}

/// One entry of the health reply (field order is Nomad's wire order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHealth {
    pub last_contact_ns: i64,
    pub id: String,
    pub name: String,
    pub address: String,
    pub serf_status: String,
    pub version: String,
    pub leader: bool,
    pub last_term: u64,
    pub last_index: u64,
    pub healthy: bool,
    pub voter: bool,
    /// Seconds since the Unix epoch.
    pub stable_since: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReply {
    pub healthy: bool,
    pub failure_tolerance: i64,
    pub servers: Vec<ServerHealth>,
    pub leader: String,
    pub voters: Vec<String>,
}

/// `alive` while the server answers raft RPCs, `failed` after [`FAILED_AFTER`] of silence.
pub fn serf_status(s: &ServerStats) -> &'static str {
    match s.last_contact {
        _ if s.leader => "alive",
        Some(d) if d <= FAILED_AFTER => "alive",
        _ => "failed",
    }
}

/// raft-autopilot's rule: alive, in contact within the threshold, on the leader's term and
/// no more than `MaxTrailingLogs` behind the leader's last index.
pub fn is_healthy(s: &ServerStats, leader_term: u64, leader_index: u64, cfg: &AutopilotConfig) -> bool {
    if serf_status(s) != "alive" || leader_term == 0 {
        return false;
    }
    let contact_ok = match s.last_contact {
        Some(d) => cfg.last_contact_threshold >= 0 && d.as_nanos() <= cfg.last_contact_threshold as u128,
        None => false,
    };
    contact_ok && s.last_term == leader_term && leader_index.saturating_sub(s.last_index) <= cfg.max_trailing_logs
}

/// Healthy voters beyond a quorum of all voters, floored at zero.
pub fn failure_tolerance(healthy_voters: usize, voters: usize) -> i64 {
    let quorum = voters / 2 + 1;
    (healthy_voters as i64 - quorum as i64).max(0)
}

/// Builds the health reply from stats; `stable` remembers (healthy, since) per server ID and is
/// updated in place.
pub fn compute(
    stats: &[ServerStats],
    cfg: &AutopilotConfig,
    stable: &mut HashMap<String, (bool, u64)>,
    now_secs: u64,
) -> HealthReply {
    let leader = stats.iter().find(|s| s.leader);
    let (leader_term, leader_index) = leader.map_or((0, 0), |l| (l.last_term, l.last_index));
    let mut servers = Vec::new();
    for s in stats {
        let healthy = is_healthy(s, leader_term, leader_index, cfg);
        let entry = stable.entry(s.id.clone()).or_insert((healthy, now_secs));
        if entry.0 != healthy {
            *entry = (healthy, now_secs);
        }
        let last_contact_ns = match s.last_contact {
            _ if s.leader => 0,
            Some(d) => d.as_nanos().min(i64::MAX as u128) as i64,
            None => -1,
        };
        servers.push(ServerHealth {
            last_contact_ns,
            id: s.id.clone(),
            name: s.name.clone(),
            address: s.address.clone(),
            serf_status: serf_status(s).into(),
            version: s.version.clone(),
            leader: s.leader,
            last_term: s.last_term,
            last_index: s.last_index,
            healthy,
            voter: s.voter || s.leader,
            stable_since: entry.1,
        });
    }
    stable.retain(|id, _| stats.iter().any(|s| &s.id == id));
    let voters_total = servers.iter().filter(|s| s.voter).count();
    let healthy_voters = servers.iter().filter(|s| s.voter && s.healthy).count();
    // Voters: leader first, then healthy, then longest stable.
    let mut voters: Vec<&ServerHealth> = servers.iter().filter(|s| s.voter).collect();
    voters.sort_by_key(|s| (!s.leader, !s.healthy, s.stable_since));
    HealthReply {
        healthy: !servers.is_empty() && servers.iter().all(|s| s.healthy),
        failure_tolerance: failure_tolerance(healthy_voters, voters_total),
        leader: leader.map(|l| l.id.clone()).unwrap_or_default(),
        voters: voters.iter().map(|s| s.id.clone()).collect(),
        servers,
    }
}

/// Samples raft metrics on the leader into [`ServerStats`].
fn sample(node: &Node) -> Vec<ServerStats> {
    let m = node.metrics();
    let membership = m.membership_config.membership();
    let voters: Vec<_> = membership.voter_ids().collect();
    let replication = m.replication.clone().unwrap_or_default();
    membership
        .nodes()
        .map(|(id, n)| {
            let is_me = *id == node.node_id;
            let (last_term, last_index, last_contact) = if is_me {
                let idx = m.last_log_index.unwrap_or(0);
                (m.current_term, idx, Some(Duration::ZERO))
            } else {
                let matched = replication.get(id).copied().flatten();
                let contact = node.contacts.last(*id).map(|t| t.elapsed());
                (matched.map_or(0, |l| l.leader_id.term), matched.map_or(0, |l| l.index), contact)
            };
            ServerStats {
                id: n.id.clone(),
                name: n.name.clone(),
                address: n.rpc_addr.clone(),
                version: n.version.clone(),
                leader: is_me,
                voter: voters.contains(id),
                last_contact,
                last_term,
                last_index,
            }
        })
        .collect()
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<HealthReply, OpError>")]
pub struct GetHealth {
    pub forwarded: bool,
}

pub struct Autopilot {
    node: Arc<Node>,
    stable: Arc<Mutex<HashMap<String, (bool, u64)>>>,
}

impl Autopilot {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node, stable: Arc::default() }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn health_now(node: &Node, stable: &Mutex<HashMap<String, (bool, u64)>>) -> Result<HealthReply, OpError> {
    let cfg = node.reader.autopilot().map_err(|e| OpError::Plain(e.to_string()))?.map(|r| r.value).unwrap_or_default();
    let stats = sample(node);
    let mut stable = stable.lock().map_err(|_| OpError::Plain("autopilot state poisoned".into()))?;
    Ok(compute(&stats, &cfg, &mut stable, now_secs()))
}

impl Actor for Autopilot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Keep StableSince meaningful between requests by sampling once a second on the leader.
        ctx.run_interval(Duration::from_secs(1), |act, _| {
            if act.node.is_leader() {
                let _ = health_now(&act.node, &act.stable);
            }
        });
    }
}

impl Handler<GetHealth> for Autopilot {
    type Result = ResponseFuture<Result<HealthReply, OpError>>;

    fn handle(&mut self, msg: GetHealth, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        let stable = self.stable.clone();
        Box::pin(async move {
            let fwd = GetHealth { forwarded: true };
            on_leader(node, msg.forwarded, PATH_HEALTH, &fwd, move |n| {
                let stable = stable.clone();
                async move {
                    if n.is_leader() {
                        Attempt::Done(health_now(&n, &stable))
                    } else {
                        Attempt::NotLeader
                    }
                }
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(id: &str, leader: bool, contact_ms: Option<u64>, term: u64, index: u64) -> ServerStats {
        ServerStats {
            id: id.into(),
            name: format!("{id}.global"),
            address: "127.0.0.1:4647".into(),
            version: "0.1.0".into(),
            leader,
            voter: true,
            last_contact: contact_ms.map(Duration::from_millis),
            last_term: term,
            last_index: index,
        }
    }

    #[test]
    fn failure_tolerance_table() {
        for (healthy, voters, want) in [(1, 1, 0), (3, 3, 1), (2, 3, 0), (5, 5, 2), (4, 5, 1), (1, 3, 0), (0, 0, 0)] {
            assert_eq!(failure_tolerance(healthy, voters), want, "{healthy}/{voters}");
        }
    }

    #[test]
    fn single_leader_is_healthy() {
        let cfg = AutopilotConfig::default();
        let mut stable = HashMap::new();
        let r = compute(&[stats("a", true, Some(0), 2, 10)], &cfg, &mut stable, 100);
        assert!(r.healthy);
        assert_eq!(r.failure_tolerance, 0);
        assert_eq!(r.leader, "a");
        assert_eq!(r.voters, vec!["a".to_string()]);
    }

    #[test]
    fn negative_threshold_makes_everyone_unhealthy() {
        let cfg = AutopilotConfig { last_contact_threshold: -1_000_000_000, ..AutopilotConfig::default() };
        let mut stable = HashMap::new();
        let r = compute(&[stats("a", true, Some(0), 2, 10)], &cfg, &mut stable, 100);
        assert!(!r.healthy);
    }

    #[test]
    fn lagging_stale_or_silent_followers_are_unhealthy() {
        let cfg = AutopilotConfig::default();
        let mut stable = HashMap::new();
        let servers = [
            stats("a", true, Some(0), 3, 1000),
            stats("b", false, Some(50), 3, 999),
            stats("c", false, Some(50), 3, 700),
            stats("d", false, Some(500), 3, 1000),
            stats("e", false, None, 0, 0),
        ];
        let r = compute(&servers, &cfg, &mut stable, 7);
        let h: Vec<bool> = r.servers.iter().map(|s| s.healthy).collect();
        assert_eq!(h, vec![true, true, false, false, false]);
        assert_eq!(r.servers[4].serf_status, "failed");
        assert_eq!(r.failure_tolerance, 0);
        assert!(!r.healthy);
        assert_eq!(r.voters[0], "a");
    }

    #[test]
    fn stable_since_moves_only_on_change() {
        let cfg = AutopilotConfig::default();
        let mut stable = HashMap::new();
        compute(&[stats("a", true, Some(0), 1, 1)], &cfg, &mut stable, 10);
        let r = compute(&[stats("a", true, Some(0), 1, 1)], &cfg, &mut stable, 20);
        assert_eq!(r.servers[0].stable_since, 10);
        let bad = AutopilotConfig { last_contact_threshold: -1, ..cfg };
        let r = compute(&[stats("a", true, Some(0), 1, 1)], &bad, &mut stable, 30);
        assert_eq!(r.servers[0].stable_since, 30);
    }
}
