//! What autopilot changes in the raft configuration, decided from one health state and the
//! autopilot configuration: promotions of stable non-voters (raft-autopilot's
//! `StablePromoter`) and removal of dead servers (its `pruneDeadServers`, v0.1.6 as Nomad pins
//! it). Pure: the actor executes the actions.

use std::time::SystemTime;

use super::health::SerfStatus;
use super::health::ServerState;
use super::health::State;
use crate::state::AutopilotConfig;

/// One change to the raft configuration, by raft server ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Give a non-voter a vote.
    Promote(String),
    /// Remove a dead server; `voter` says whether it has a vote now.
    Remove { id: String, voter: bool },
}

/// The changes for this pass, in the order to apply them: promotions, then removals of dead
/// non-voters, then of dead voters.
///
/// - Every non-voter healthy for at least the stabilization time in force is promoted (no
///   odd-number rule: Nomad promotes all stable servers).
/// - Servers that left gracefully (`left`) are removed whatever the configuration, as Nomad's
///   leader removes a member serf reports left (`reconcileMember`); with `CleanupDeadServers`,
///   `failed` (or unknown) ones too. Removed are: all such non-voters; voters one by one, `left` before `failed`, while the voters
///   left would still number at least `MinQuorum` and no more than `(voters - 1) / 2` go in one
///   pass. Beyond raft-autopilot, no voter is removed while the live voters are short of a
///   quorum: such a change could not commit, and hashicorp/raft's leader would have stepped
///   down already.
pub fn plan(state: &State, cfg: &AutopilotConfig, now: SystemTime) -> Vec<Action> {
    let mut actions = Vec::new();
    let stabilization = state.stabilization_time(cfg, now);
    let mut promote: Vec<&ServerState> =
        state.servers.iter().filter(|s| !s.stats.has_vote() && s.is_stable(now, stabilization)).collect();
    promote.sort_by(|a, b| a.stats.id.cmp(&b.stats.id));
    actions.extend(promote.into_iter().map(|s| Action::Promote(s.stats.id.clone())));

    let dead = |s: &&ServerState| {
        let gone = match s.stats.status {
            SerfStatus::Alive => false,
            SerfStatus::Left => true,
            _ => cfg.cleanup_dead_servers,
        };
        gone && !s.stats.leader
    };
    // `left` first, then the rest, each by ID.
    let order = |a: &&ServerState, b: &&ServerState| {
        (a.stats.status != SerfStatus::Left, &a.stats.id).cmp(&(b.stats.status != SerfStatus::Left, &b.stats.id))
    };
    let mut dead_non_voters: Vec<&ServerState> =
        state.servers.iter().filter(|s| !s.stats.has_vote()).filter(dead).collect();
    dead_non_voters.sort_by(order);
    actions.extend(dead_non_voters.into_iter().map(|s| Action::Remove { id: s.stats.id.clone(), voter: false }));

    let mut voters = state.servers.iter().filter(|s| s.stats.has_vote()).count();
    let live_voters =
        state.servers.iter().filter(|s| s.stats.has_vote() && s.stats.status == SerfStatus::Alive).count();
    if live_voters < voters / 2 + 1 {
        return actions;
    }
    let mut max_removal = voters.saturating_sub(1) / 2;
    let mut dead_voters: Vec<&ServerState> = state.servers.iter().filter(|s| s.stats.has_vote()).filter(dead).collect();
    dead_voters.sort_by(order);
    for s in dead_voters {
        if (voters as u64).saturating_sub(1) < cfg.min_quorum || max_removal < 1 {
            continue;
        }
        actions.push(Action::Remove { id: s.stats.id.clone(), voter: true });
        max_removal -= 1;
        voters -= 1;
    }
    actions
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::health::compute;
    use super::super::health::tests::at;
    use super::super::health::tests::stats;
    use super::super::health::ServerStats;
    use super::super::health::Tracker;
    use super::*;

    /// Leader "a" plus servers described as (id, voter, status); every live one is healthy.
    fn cluster(rest: &[(&str, bool, SerfStatus)]) -> Vec<ServerStats> {
        let mut v = vec![stats("a", true, Some(0), 2, 50)];
        for (id, voter, status) in rest {
            let mut s = stats(id, false, Some(10), 2, 50);
            s.voter = *voter;
            s.status = *status;
            v.push(s);
        }
        v
    }

    const ALIVE: SerfStatus = SerfStatus::Alive;
    const FAILED: SerfStatus = SerfStatus::Failed;
    const LEFT: SerfStatus = SerfStatus::Left;

    fn remove(id: &str, voter: bool) -> Action {
        Action::Remove { id: id.into(), voter }
    }

    fn promote(id: &str) -> Action {
        Action::Promote(id.into())
    }

    /// Health state computed at t=100 (first state then too) for a plan at t=200: the
    /// stabilization time (10 s by default) is in force and every server is stable.
    fn plan_for(servers: &[ServerStats], cfg: &AutopilotConfig) -> Vec<Action> {
        let mut t = Tracker::default();
        let state = compute(servers, cfg, &mut t, at(100));
        plan(&state, cfg, at(200))
    }

    #[test]
    fn plan_table() {
        let on = AutopilotConfig::default();
        let off = AutopilotConfig { cleanup_dead_servers: false, ..on.clone() };
        let min = |n: u64| AutopilotConfig { min_quorum: n, ..on.clone() };
        let cases: Vec<(&str, Vec<ServerStats>, AutopilotConfig, Vec<Action>)> = vec![
            ("all healthy voters: nothing", cluster(&[("b", true, ALIVE), ("c", true, ALIVE)]), on.clone(), vec![]),
            (
                "stable non-voters are all promoted, even to an even count",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("e", false, ALIVE), ("d", false, ALIVE)]),
                on.clone(),
                vec![promote("d"), promote("e")],
            ),
            (
                "a failed non-voter is removed",
                cluster(&[("b", true, ALIVE), ("c", false, FAILED)]),
                on.clone(),
                vec![remove("c", false)],
            ),
            (
                "a failed non-voter stays without cleanup",
                cluster(&[("b", true, ALIVE), ("c", false, FAILED)]),
                off.clone(),
                vec![],
            ),
            (
                "3 voters, 1 failed: removed",
                cluster(&[("b", true, ALIVE), ("c", true, FAILED)]),
                on.clone(),
                vec![remove("c", true)],
            ),
            (
                "3 voters, 1 failed, cleanup off: kept",
                cluster(&[("b", true, ALIVE), ("c", true, FAILED)]),
                off.clone(),
                vec![],
            ),
            (
                "3 voters, 1 left, cleanup off: removed all the same (Nomad removes left members)",
                cluster(&[("b", true, ALIVE), ("c", true, LEFT)]),
                off.clone(),
                vec![remove("c", true)],
            ),
            (
                "a left non-voter and a failed one, cleanup off: only the left one goes",
                cluster(&[("b", true, ALIVE), ("c", false, LEFT), ("d", false, FAILED)]),
                off.clone(),
                vec![remove("c", false)],
            ),
            (
                "3 voters, 2 failed: no quorum of live voters, nothing removed",
                cluster(&[("b", true, FAILED), ("c", true, FAILED)]),
                on.clone(),
                vec![],
            ),
            ("2 voters, 1 failed: (2-1)/2 = 0 may go", cluster(&[("b", true, FAILED)]), on.clone(), vec![]),
            (
                "5 voters, 2 failed: both may go ((5-1)/2 = 2)",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, FAILED), ("e", true, FAILED)]),
                on.clone(),
                vec![remove("d", true), remove("e", true)],
            ),
            (
                "4 voters, 1 failed: one may go ((4-1)/2 = 1)",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, FAILED)]),
                on.clone(),
                vec![remove("d", true)],
            ),
            (
                "4 voters, 2 failed: live voters short of quorum, nothing",
                cluster(&[("b", true, ALIVE), ("c", true, FAILED), ("d", true, FAILED)]),
                on.clone(),
                vec![],
            ),
            (
                "7 voters, 3 failed: (7-1)/2 = 3 may go",
                cluster(&[
                    ("b", true, ALIVE),
                    ("c", true, ALIVE),
                    ("d", true, ALIVE),
                    ("e", true, FAILED),
                    ("f", true, FAILED),
                    ("g", true, FAILED),
                ]),
                on.clone(),
                vec![remove("e", true), remove("f", true), remove("g", true)],
            ),
            (
                "5 voters, 1 failed, MinQuorum 5: kept",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, ALIVE), ("e", true, FAILED)]),
                min(5),
                vec![],
            ),
            (
                "5 voters, 1 failed, MinQuorum 4: removed (4 remain)",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, ALIVE), ("e", true, FAILED)]),
                min(4),
                vec![remove("e", true)],
            ),
            (
                "5 voters, 2 failed, MinQuorum 4: only one goes, the left one first",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, FAILED), ("e", true, LEFT)]),
                min(4),
                vec![remove("e", true)],
            ),
            (
                "4 voters, 1 failed, MinQuorum 4: kept",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", true, FAILED)]),
                min(4),
                vec![],
            ),
            (
                "MinQuorum never holds back non-voters",
                cluster(&[("b", true, ALIVE), ("c", true, ALIVE), ("d", false, FAILED), ("e", false, LEFT)]),
                min(9),
                vec![remove("e", false), remove("d", false)],
            ),
            (
                "unknown status counts as dead",
                cluster(&[("b", true, ALIVE), ("c", true, SerfStatus::None)]),
                on.clone(),
                vec![remove("c", true)],
            ),
            (
                "promotion and removal in one pass",
                cluster(&[("b", true, ALIVE), ("c", true, FAILED), ("d", false, ALIVE)]),
                on.clone(),
                vec![promote("d"), remove("c", true)],
            ),
        ];
        for (why, servers, cfg, want) in cases {
            assert_eq!(plan_for(&servers, &cfg), want, "{why}");
        }
    }

    /// A non-voter is promoted only once healthy for the stabilization time, and never while
    /// unhealthy; a young state (first pass of this leadership) ignores the time.
    #[test]
    fn promotion_waits_for_stabilization() {
        let cfg = AutopilotConfig { server_stabilization_time: 5_000_000_000, ..AutopilotConfig::default() };
        let mut t = Tracker::default();
        let mut learner = stats("b", false, Some(10), 2, 1000);
        learner.voter = false;
        let leader = stats("a", true, Some(0), 2, 1000);
        // The leadership's first state at t=100 with the learner not yet caught up.
        let behind = ServerStats { last_index: 0, ..learner.clone() };
        let s = compute(&[leader.clone(), behind.clone()], &cfg, &mut t, at(100));
        assert_eq!(plan(&s, &cfg, at(100)), vec![], "unhealthy: never promoted");
        // Healthy from t=110 on.
        let s = compute(&[leader.clone(), learner.clone()], &cfg, &mut t, at(110));
        assert_eq!(plan(&s, &cfg, at(110)), vec![]);
        let s = compute(&[leader.clone(), learner.clone()], &cfg, &mut t, at(114));
        assert_eq!(plan(&s, &cfg, at(114)), vec![]);
        let s = compute(&[leader.clone(), learner.clone()], &cfg, &mut t, at(115));
        assert_eq!(plan(&s, &cfg, at(115)), vec![promote("b")]);

        // A new leadership (fresh tracker): stable at once while the state is younger than 5 s.
        let mut fresh = Tracker::default();
        let s = compute(&[leader.clone(), learner.clone()], &cfg, &mut fresh, at(200));
        assert_eq!(plan(&s, &cfg, at(200) + Duration::from_millis(10)), vec![promote("b")]);
    }
}
