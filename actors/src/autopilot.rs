//! The autopilot actor owns server health tracking: per-server health, `StableSince`, and the
//! cluster's failure tolerance. The decisions are pure functions over [`ServerStats`]; the actor
//! samples raft metrics on the leader and keeps, as its own state, when each server's health
//! last changed. A follower forwards a health request to the leader's autopilot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::error::OpError;
use crate::forward::paths;
use crate::forward::route;
use crate::forward::Forwarded;
use crate::forward::Origin;
use crate::forward::Remote;
use crate::forward::Routed;
use crate::forward::HOLD_TIMEOUT;
use crate::membership::Stop;
use crate::node::ServerContext;
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
fn sample(ctx: &ServerContext) -> Vec<ServerStats> {
    let m = ctx.metrics();
    let membership = m.membership_config.membership();
    let voters: Vec<_> = membership.voter_ids().collect();
    let replication = m.replication.clone().unwrap_or_default();
    membership
        .nodes()
        .map(|(id, n)| {
            let is_me = *id == ctx.node_id;
            let (last_term, last_index, last_contact) = if is_me {
                let idx = m.last_log_index.unwrap_or(0);
                (m.current_term, idx, Some(Duration::ZERO))
            } else {
                let matched = replication.get(id).copied().flatten();
                let contact = ctx.contacts.last(*id).map(|t| t.elapsed());
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

/// `GET /v1/operator/autopilot/health`: the cluster's health as the leader sees it.
#[derive(Message, Clone, Debug, Default, Serialize, Deserialize)]
#[rtype(result = "Result<HealthReply, OpError>")]
pub struct GetHealth;

impl Remote for GetHealth {
    const PATH: &'static str = paths::HEALTH;
    type Output = HealthReply;
}

/// Sample health this often on the leader, so that `StableSince` means something between
/// requests (raft-autopilot's default update interval is 2 s; we answer finer).
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// The autopilot actor.
pub struct Autopilot {
    ctx: Arc<ServerContext>,
    /// Per server ID: whether it was healthy at the last sample, and since when (Unix seconds).
    stable: HashMap<String, (bool, u64)>,
}

impl Autopilot {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx, stable: HashMap::new() }
    }

    /// Health now, on the leader; updates `stable`.
    fn health_now(&mut self) -> Result<HealthReply, OpError> {
        if !self.ctx.is_leader() {
            return Err(OpError::NotLeader);
        }
        let cfg = self.ctx.reader.autopilot().map_err(|e| OpError::Storage(e.to_string()))?;
        let cfg = cfg.map(|r| r.value).unwrap_or_default();
        let stats = sample(&self.ctx);
        Ok(compute(&stats, &cfg, &mut self.stable, now_secs()))
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Actor for Autopilot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(HEALTH_INTERVAL, |act, _| {
            if act.ctx.is_leader() {
                let _ = act.health_now();
            }
        });
    }
}

impl Handler<GetHealth> for Autopilot {
    type Result = ResponseActFuture<Self, Result<HealthReply, OpError>>;

    fn handle(&mut self, msg: GetHealth, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        let routed = async move { route(&ctx, Origin::Client, &msg, Instant::now() + HOLD_TIMEOUT).await };
        Box::pin(routed.into_actor(self).map(|routed, act, _| match routed? {
            Routed::Local => act.health_now(),
            Routed::Remote(reply) => Ok(reply),
        }))
    }
}

impl Handler<Forwarded<GetHealth>> for Autopilot {
    type Result = Result<HealthReply, OpError>;

    fn handle(&mut self, _: Forwarded<GetHealth>, _: &mut Self::Context) -> Self::Result {
        self.health_now()
    }
}

impl Handler<Stop> for Autopilot {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        ctx.stop();
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
