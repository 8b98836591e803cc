//! Server and cluster health as raft-autopilot computes it (spec §2.6): pure functions over
//! the facts the leader samples, plus the little memory health needs between samples (when
//! each server's `Healthy` last flipped).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;
use std::time::SystemTime;

use serde::Deserialize;
use serde::Serialize;

use crate::liveness::MemberStatus;
use crate::state::AutopilotConfig;

/// Without a gossip status for a server, how long without a raft RPC answer before it counts
/// as failed (the stand-in for gossip's failure detection).
pub const FAILED_AFTER: Duration = Duration::from_secs(5);

/// A server's liveness as Nomad's serf names it; `None` when nothing is known of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SerfStatus {
    Alive,
    Failed,
    Left,
    None,
}

impl SerfStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SerfStatus::Alive => "alive",
            SerfStatus::Failed => "failed",
            SerfStatus::Left => "left",
            SerfStatus::None => "none",
        }
    }
}

impl From<MemberStatus> for SerfStatus {
    fn from(s: MemberStatus) -> Self {
        match s {
            MemberStatus::Alive => SerfStatus::Alive,
            MemberStatus::Failed => SerfStatus::Failed,
            MemberStatus::Left => SerfStatus::Left,
        }
    }
}

/// A server's status: what gossip says where it has an entry; otherwise alive while the leader
/// heard from it within [`FAILED_AFTER`]. `silence` is the time since its last raft answer (or
/// since the leader began tracking it, if it never answered). The leader is alive by definition.
pub fn serf_status(gossip: Option<MemberStatus>, silence: Duration, leader: bool) -> SerfStatus {
    match gossip {
        _ if leader => SerfStatus::Alive,
        Some(s) => s.into(),
        None if silence <= FAILED_AFTER => SerfStatus::Alive,
        None => SerfStatus::Failed,
    }
}

/// Raw facts about one server of the raft configuration, as the leader sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStats {
    pub id: String,
    pub name: String,
    pub address: String,
    pub version: String,
    pub leader: bool,
    /// Has a vote (the leader always has).
    pub voter: bool,
    pub status: SerfStatus,
    /// Time since the leader last heard from it; `None` if never.
    pub last_contact: Option<Duration>,
    pub last_term: u64,
    pub last_index: u64,
}

impl ServerStats {
    pub fn has_vote(&self) -> bool {
        self.voter || self.leader
    }
}

/// raft-autopilot's rule: raft has a term and an index; the server is alive; in contact within
/// `LastContactThreshold` (a negative threshold fails everyone); on the leader's last term; and
/// at most `MaxTrailingLogs` behind the leader's last index.
pub fn is_healthy(s: &ServerStats, leader_term: u64, leader_index: u64, cfg: &AutopilotConfig) -> bool {
    if leader_term == 0 || leader_index == 0 || s.status != SerfStatus::Alive {
        return false;
    }
    let Some(contact) = s.last_contact else { return false };
    let contact_ns = i64::try_from(contact.as_nanos()).unwrap_or(i64::MAX);
    if contact_ns > cfg.last_contact_threshold {
        return false;
    }
    s.last_term == leader_term && s.last_index.saturating_add(cfg.max_trailing_logs) >= leader_index
}

/// Healthy voters beyond a quorum of all voters, floored at zero. Non-voters count for neither.
pub fn failure_tolerance(healthy_voters: usize, voters: usize) -> i64 {
    let quorum = voters / 2 + 1;
    (healthy_voters as i64 - quorum as i64).max(0)
}

/// One server in a computed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerState {
    pub stats: ServerStats,
    pub healthy: bool,
    /// When `healthy` last changed (or when the server was first seen).
    pub stable_since: SystemTime,
}

impl ServerState {
    /// Healthy without a change for at least `min` at `now`.
    pub fn is_stable(&self, now: SystemTime, min: Duration) -> bool {
        self.healthy && now.duration_since(self.stable_since).unwrap_or_default() >= min
    }
}

/// The autopilot state of one pass on the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub healthy: bool,
    pub failure_tolerance: i64,
    /// In raft configuration order.
    pub servers: Vec<ServerState>,
    pub leader: String,
    /// Leader first, then healthy before unhealthy, longest stable first (raft-autopilot's
    /// `SortServers`).
    pub voters: Vec<String>,
    /// When this leadership's first state was computed: until `ServerStabilizationTime` has
    /// passed since, every healthy server counts as stable (raft-autopilot, so that a new
    /// leader does not hold back promotions it cannot have timed yet).
    pub first_state: SystemTime,
}

impl State {
    pub fn server(&self, id: &str) -> Option<&ServerState> {
        self.servers.iter().find(|s| s.stats.id == id)
    }

    /// The stabilization time in force at `now` (see [`State::first_state`]).
    pub fn stabilization_time(&self, cfg: &AutopilotConfig, now: SystemTime) -> Duration {
        let configured = Duration::from_nanos(cfg.server_stabilization_time.max(0) as u64);
        if now.duration_since(self.first_state).unwrap_or_default() > configured {
            configured
        } else {
            Duration::ZERO
        }
    }

    /// The reply of `GET /v1/operator/autopilot/health`.
    pub fn reply(&self) -> HealthReply {
        let servers = self
            .servers
            .iter()
            .map(|s| ServerHealth {
                last_contact_ns: match s.stats.last_contact {
                    _ if s.stats.leader => 0,
                    Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    None => -1,
                },
                id: s.stats.id.clone(),
                name: s.stats.name.clone(),
                address: s.stats.address.clone(),
                serf_status: s.stats.status.as_str().into(),
                version: s.stats.version.clone(),
                leader: s.stats.leader,
                last_term: s.stats.last_term,
                last_index: s.stats.last_index,
                healthy: s.healthy,
                voter: s.stats.has_vote(),
                stable_since: unix_secs_rounded(s.stable_since),
            })
            .collect();
        HealthReply {
            healthy: self.healthy,
            failure_tolerance: self.failure_tolerance,
            servers,
            leader: self.leader.clone(),
            voters: self.voters.clone(),
        }
    }
}

/// Go's `StableSince.Round(time.Second)`, as Unix seconds.
fn unix_secs_rounded(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| (d + Duration::from_millis(500)).as_secs())
}

/// What health remembers between passes of one leadership.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    first_state: Option<SystemTime>,
    /// Per server ID: healthy at the last pass, and since when.
    stable: HashMap<String, (bool, SystemTime)>,
}

/// Computes the next state from this pass's stats; `tracker` is updated in place.
pub fn compute(stats: &[ServerStats], cfg: &AutopilotConfig, tracker: &mut Tracker, now: SystemTime) -> State {
    let first_state = *tracker.first_state.get_or_insert(now);
    let leader = stats.iter().find(|s| s.leader);
    let (leader_term, leader_index) = leader.map_or((0, 0), |l| (l.last_term, l.last_index));
    let servers: Vec<ServerState> = stats
        .iter()
        .map(|s| {
            let healthy = is_healthy(s, leader_term, leader_index, cfg);
            let entry = tracker.stable.entry(s.id.clone()).or_insert((healthy, now));
            if entry.0 != healthy {
                *entry = (healthy, now);
            }
            ServerState { stats: s.clone(), healthy, stable_since: entry.1 }
        })
        .collect();
    tracker.stable.retain(|id, _| stats.iter().any(|s| &s.id == id));
    let voters_total = servers.iter().filter(|s| s.stats.has_vote()).count();
    let healthy_voters = servers.iter().filter(|s| s.stats.has_vote() && s.healthy).count();
    let mut voters: Vec<&ServerState> = servers.iter().filter(|s| s.stats.has_vote()).collect();
    voters.sort_by(|a, b| server_order(a, b));
    State {
        healthy: servers.iter().all(|s| s.healthy),
        failure_tolerance: failure_tolerance(healthy_voters, voters_total),
        leader: leader.map(|l| l.id.clone()).unwrap_or_default(),
        voters: voters.iter().map(|s| s.stats.id.clone()).collect(),
        servers,
        first_state,
    }
}

/// raft-autopilot's `ServerLessThan`: the leader, then voters, then healthy servers (longest
/// stable first), then unhealthy ones (most recently changed first), then by ID.
fn server_order(a: &ServerState, b: &ServerState) -> Ordering {
    let rank = |s: &ServerState| (!s.stats.leader, !s.stats.has_vote(), !s.healthy);
    rank(a).cmp(&rank(b)).then_with(|| {
        let by_time = if a.healthy { a.stable_since.cmp(&b.stable_since) } else { b.stable_since.cmp(&a.stable_since) };
        by_time.then_with(|| a.stats.id.cmp(&b.stats.id))
    })
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// A voter, alive, in contact `contact_ms` ago (None: never), at `term`/`index`.
    pub(crate) fn stats(id: &str, leader: bool, contact_ms: Option<u64>, term: u64, index: u64) -> ServerStats {
        ServerStats {
            id: id.into(),
            name: format!("{id}.global"),
            address: "127.0.0.1:4647".into(),
            version: "0.1.0".into(),
            leader,
            voter: true,
            status: SerfStatus::Alive,
            last_contact: contact_ms.map(Duration::from_millis),
            last_term: term,
            last_index: index,
        }
    }

    #[test]
    fn failure_tolerance_table() {
        for (healthy, voters, want) in [
            (1, 1, 0),
            (3, 3, 1),
            (2, 3, 0),
            (5, 5, 2),
            (4, 5, 1),
            (3, 5, 0),
            (1, 3, 0),
            (4, 4, 1),
            (2, 2, 0),
            (0, 0, 0),
        ] {
            assert_eq!(failure_tolerance(healthy, voters), want, "{healthy}/{voters}");
        }
    }

    #[test]
    fn serf_status_table() {
        let s = Duration::from_secs;
        let cases = [
            ("leader is alive whatever else", None, s(60), true, SerfStatus::Alive),
            ("gossip alive wins over silence", Some(MemberStatus::Alive), s(60), false, SerfStatus::Alive),
            ("gossip failed wins over recent contact", Some(MemberStatus::Failed), s(0), false, SerfStatus::Failed),
            ("gossip left", Some(MemberStatus::Left), s(0), false, SerfStatus::Left),
            ("no gossip, heard recently", None, s(1), false, SerfStatus::Alive),
            ("no gossip, at the limit", None, FAILED_AFTER, false, SerfStatus::Alive),
            ("no gossip, silent too long", None, s(6), false, SerfStatus::Failed),
        ];
        for (why, gossip, silence, leader, want) in cases {
            assert_eq!(serf_status(gossip, silence, leader), want, "{why}");
        }
    }

    /// One row per raft-autopilot health rule (its `TestServerHealth` cases and ours).
    #[test]
    fn health_rules_table() {
        let cfg = AutopilotConfig::default(); // 200 ms, 250 trailing logs
        let with = |f: &dyn Fn(&mut ServerStats)| {
            let mut s = stats("b", false, Some(50), 3, 1000);
            f(&mut s);
            s
        };
        let cases: Vec<(&str, ServerStats, u64, u64, AutopilotConfig, bool)> = vec![
            ("in step with the leader", with(&|_| {}), 3, 1000, cfg.clone(), true),
            ("leader ahead within MaxTrailingLogs", with(&|_| {}), 3, 1250, cfg.clone(), true),
            ("trailing beyond MaxTrailingLogs", with(&|_| {}), 3, 1251, cfg.clone(), false),
            (
                "ahead of the leader's view (replication in flight)",
                with(&|s| s.last_index = 1001),
                3,
                1000,
                cfg.clone(),
                true,
            ),
            ("stale term", with(&|s| s.last_term = 2), 3, 1000, cfg.clone(), false),
            (
                "last contact at the threshold",
                with(&|s| s.last_contact = Some(Duration::from_millis(200))),
                3,
                1000,
                cfg.clone(),
                true,
            ),
            (
                "last contact beyond the threshold",
                with(&|s| s.last_contact = Some(Duration::from_millis(201))),
                3,
                1000,
                cfg.clone(),
                false,
            ),
            ("never heard from", with(&|s| s.last_contact = None), 3, 1000, cfg.clone(), false),
            (
                "negative threshold",
                with(&|s| s.last_contact = Some(Duration::ZERO)),
                3,
                1000,
                AutopilotConfig { last_contact_threshold: -1, ..cfg.clone() },
                false,
            ),
            (
                "zero threshold, zero contact",
                with(&|s| s.last_contact = Some(Duration::ZERO)),
                3,
                1000,
                AutopilotConfig { last_contact_threshold: 0, ..cfg.clone() },
                true,
            ),
            ("failed in gossip", with(&|s| s.status = SerfStatus::Failed), 3, 1000, cfg.clone(), false),
            ("left in gossip", with(&|s| s.status = SerfStatus::Left), 3, 1000, cfg.clone(), false),
            ("unknown to gossip", with(&|s| s.status = SerfStatus::None), 3, 1000, cfg.clone(), false),
            ("raft not started: no leader term", with(&|_| {}), 0, 1000, cfg.clone(), false),
            ("raft not started: no leader index", with(&|s| s.last_index = 0), 3, 0, cfg.clone(), false),
            (
                "MaxTrailingLogs 0: exactly caught up",
                with(&|_| {}),
                3,
                1000,
                AutopilotConfig { max_trailing_logs: 0, ..cfg.clone() },
                true,
            ),
            (
                "MaxTrailingLogs 0: one behind",
                with(&|_| {}),
                3,
                1001,
                AutopilotConfig { max_trailing_logs: 0, ..cfg.clone() },
                false,
            ),
        ];
        for (why, s, term, index, cfg, want) in cases {
            assert_eq!(is_healthy(&s, term, index, &cfg), want, "{why}");
        }
    }

    #[test]
    fn single_leader_is_healthy() {
        let mut t = Tracker::default();
        let r = compute(&[stats("a", true, Some(0), 2, 10)], &AutopilotConfig::default(), &mut t, at(100)).reply();
        assert!(r.healthy);
        assert_eq!(r.failure_tolerance, 0);
        assert_eq!(r.leader, "a");
        assert_eq!(r.voters, vec!["a".to_string()]);
        assert_eq!(r.servers[0].last_contact_ns, 0);
        assert_eq!(r.servers[0].stable_since, 100);
    }

    #[test]
    fn negative_threshold_makes_everyone_unhealthy() {
        let cfg = AutopilotConfig { last_contact_threshold: -1_000_000_000, ..AutopilotConfig::default() };
        let mut t = Tracker::default();
        let servers = [stats("a", true, Some(0), 2, 10), stats("b", false, Some(0), 2, 10)];
        let r = compute(&servers, &cfg, &mut t, at(100));
        assert!(!r.healthy);
        assert!(r.servers.iter().all(|s| !s.healthy));
        assert_eq!(r.failure_tolerance, 0);
    }

    #[test]
    fn lagging_stale_or_silent_followers_are_unhealthy() {
        let mut t = Tracker::default();
        let mut e = stats("e", false, None, 0, 0);
        e.status = SerfStatus::Failed;
        let servers = [
            stats("a", true, Some(0), 3, 1000),
            stats("b", false, Some(50), 3, 999),
            stats("c", false, Some(50), 3, 700),
            stats("d", false, Some(500), 3, 1000),
            e,
        ];
        let r = compute(&servers, &AutopilotConfig::default(), &mut t, at(7)).reply();
        let h: Vec<bool> = r.servers.iter().map(|s| s.healthy).collect();
        assert_eq!(h, vec![true, true, false, false, false]);
        assert_eq!(r.servers[4].serf_status, "failed");
        assert_eq!(r.servers[4].last_contact_ns, -1);
        assert_eq!(r.failure_tolerance, 0, "2 healthy of 5 voters");
        assert!(!r.healthy);
        assert_eq!(r.voters[..2], ["a".to_string(), "b".to_string()]);
    }

    /// Non-voters count for neither side of FailureTolerance, and are not listed as voters,
    /// but an unhealthy non-voter makes the cluster unhealthy (raft-autopilot).
    #[test]
    fn non_voters_are_excluded_from_failure_tolerance() {
        let mut t = Tracker::default();
        let learner =
            |id: &str, contact: Option<u64>| ServerStats { voter: false, ..stats(id, false, contact, 3, 1000) };
        let servers = [
            stats("a", true, Some(0), 3, 1000),
            stats("b", false, Some(10), 3, 1000),
            stats("c", false, Some(10), 3, 1000),
            learner("d", Some(10)),
            learner("e", Some(10)),
        ];
        let r = compute(&servers, &AutopilotConfig::default(), &mut t, at(1)).reply();
        assert!(r.healthy);
        assert_eq!(r.failure_tolerance, 1, "3 voters, all healthy");
        assert_eq!(r.voters.len(), 3);
        assert!(!r.servers[3].voter && !r.servers[4].voter);
        let mut servers = servers.to_vec();
        servers[4] = learner("e", Some(5_000));
        let r = compute(&servers, &AutopilotConfig::default(), &mut t, at(2)).reply();
        assert!(!r.healthy, "an unhealthy non-voter makes the cluster unhealthy");
        assert_eq!(r.failure_tolerance, 1, "but leaves the tolerance alone");
    }

    #[test]
    fn stable_since_moves_only_on_change() {
        let cfg = AutopilotConfig::default();
        let mut t = Tracker::default();
        let a = [stats("a", true, Some(0), 1, 1)];
        compute(&a, &cfg, &mut t, at(10));
        let r = compute(&a, &cfg, &mut t, at(20));
        assert_eq!(r.servers[0].stable_since, at(10));
        assert_eq!(r.first_state, at(10));
        let bad = AutopilotConfig { last_contact_threshold: -1, ..cfg.clone() };
        let r = compute(&a, &bad, &mut t, at(30));
        assert_eq!(r.servers[0].stable_since, at(30));
        let r = compute(&a, &bad, &mut t, at(40));
        assert_eq!(r.servers[0].stable_since, at(30));
        assert_eq!(r.first_state, at(10), "first state time is kept");
        // A server that leaves the configuration is forgotten: back, it starts anew.
        compute(&[], &cfg, &mut t, at(50));
        let r = compute(&a, &cfg, &mut t, at(60));
        assert_eq!(r.servers[0].stable_since, at(60));
    }

    /// raft-autopilot's voter order: leader, healthy longest-stable first, then unhealthy with
    /// the most recent change first, ties by ID.
    #[test]
    fn voters_order() {
        let cfg = AutopilotConfig::default();
        let mut t = Tracker::default();
        let ok = |id: &str| stats(id, false, Some(10), 3, 100);
        let bad = |id: &str| stats(id, false, Some(10_000), 3, 100);
        compute(&[stats("l", true, Some(0), 3, 100), ok("c"), bad("e")], &cfg, &mut t, at(1));
        compute(
            &[stats("l", true, Some(0), 3, 100), ok("c"), bad("e"), ok("b"), bad("d"), ok("a")],
            &cfg,
            &mut t,
            at(5),
        );
        let r = compute(
            &[ok("a"), ok("b"), ok("c"), bad("d"), bad("e"), stats("l", true, Some(0), 3, 100)],
            &cfg,
            &mut t,
            at(9),
        );
        assert_eq!(r.voters, ["l", "c", "a", "b", "d", "e"]);
    }

    #[test]
    fn stabilization_time_ignored_while_state_is_young() {
        let cfg = AutopilotConfig { server_stabilization_time: 10_000_000_000, ..AutopilotConfig::default() };
        let mut t = Tracker::default();
        let s = compute(&[stats("a", true, Some(0), 1, 1)], &cfg, &mut t, at(100));
        assert_eq!(s.stabilization_time(&cfg, at(105)), Duration::ZERO);
        assert_eq!(s.stabilization_time(&cfg, at(110)), Duration::ZERO);
        assert_eq!(s.stabilization_time(&cfg, at(111)), Duration::from_secs(10));
        let neg = AutopilotConfig { server_stabilization_time: -5, ..cfg };
        assert_eq!(s.stabilization_time(&neg, at(200)), Duration::ZERO);
    }

    #[test]
    fn stable_since_rounds_to_the_second() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(10_499);
        assert_eq!(unix_secs_rounded(t), 10);
        assert_eq!(unix_secs_rounded(t + Duration::from_millis(1)), 11);
    }
}
