//! The sampler: once a second, raft's metrics, the store's counters, gossip's refused packets
//! and (on the leader) autopilot's health become gauges and counters of this server's
//! [`Metrics`](super::Metrics).
//! It polls the autopilot actor, so it lives at the top of the crate, started by
//! [`crate::start`].

use openraft::async_runtime::watch::WatchReceiver;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use openraft::ServerState;

use super::replication_lag;
use crate::autopilot::Autopilot;
use crate::autopilot::GetHealth;
use crate::context::ServerContext;
use crate::gossip::Refusal;

/// How often [`sample`] emits the raft and autopilot gauges unless `collection_interval` says.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples this server's raft and autopilot state into `metrics` every `collection_interval`
/// (Nomad's default: a second) until raft
/// stops. Counts leader changes as they happen (not at the tick), so none is missed.
pub(crate) async fn sample(ctx: Arc<ServerContext>, autopilot: Addr<Autopilot>) {
    let metrics = ctx.metrics.clone();
    let mut watch = ctx.raft.metrics();
    let every = ctx.settings.telemetry.collection_interval;
    let mut tick = tokio::time::interval(if every.is_zero() { SAMPLE_EVERY } else { every });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = Transitions::default();
    let mut fsyncs_reported = 0;
    let mut compactions_reported = (0, 0);
    let mut unreachable_reported: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut refused_reported = [0u64; Refusal::ALL.len()];
    loop {
        tokio::select! {
            changed = watch.changed() => {
                if changed.is_err() {
                    return;
                }
                let (state, leader) = {
                    let m = watch.borrow_watched();
                    (m.state, m.current_leader)
                };
                for event in seen.observe(state, leader) {
                    metrics.incr_counter(event, &[], 1);
                }
            }
            _ = tick.tick() => {
                let fsyncs = ctx.store_counters.fsyncs.load(Ordering::Relaxed);
                if fsyncs > fsyncs_reported {
                    metrics.incr_counter("nomad.raft.fsync", &[], fsyncs - fsyncs_reported);
                    fsyncs_reported = fsyncs;
                }
                // Log compactions since the last tick, each at their mean time (milliseconds).
                let compactions = (
                    ctx.store_counters.compactions.load(Ordering::Relaxed),
                    ctx.store_counters.compaction_micros.load(Ordering::Relaxed),
                );
                if compactions.0 > compactions_reported.0 {
                    let n = compactions.0 - compactions_reported.0;
                    let mean_ms = (compactions.1 - compactions_reported.1) as f32 / n as f32 / 1000.0;
                    for _ in 0..n {
                        metrics.add_sample("nomad.raft.compactLogs", &[], mean_ms);
                    }
                    compactions_reported = compactions;
                }
                // Packets gossip refused (wrong key, in clear, or encrypted without a key).
                for reason in Refusal::ALL {
                    let refused = ctx.gossip.counters().dropped(reason);
                    let reported = &mut refused_reported[reason.index()];
                    if refused > *reported {
                        metrics.incr_counter("nomad.memberlist.udp.refused", &[("reason", reason.label())], refused - *reported);
                        *reported = refused;
                    }
                }
                emit_raft_gauges(&ctx);
                // Peers raft could not connect to: how many now, and by peer how often each
                // went unreachable (the counter's increments since the last tick).
                let (down, went) = ctx.contacts.unreachable_counts();
                metrics.set_gauge("nomad.raft.peers.unreachable", &[], down as f32);
                for (peer_id, times) in went {
                    let reported = unreachable_reported.entry(peer_id.clone()).or_insert(0);
                    if times > *reported {
                        metrics.incr_counter("nomad.raft.peer.unreachable", &[("peer_id", &peer_id)], times - *reported);
                        *reported = times;
                    }
                }
                if ctx.is_leader() {
                    // Nomad's leader alone reports autopilot's state (its `NotifyState`).
                    if let Ok(Ok(h)) = autopilot.send(GetHealth).await {
                        metrics.set_gauge("nomad.nomad.autopilot.healthy", &[], if h.healthy { 1.0 } else { 0.0 });
                        metrics.set_gauge("nomad.nomad.autopilot.failure_tolerance", &[], h.failure_tolerance as f32);
                    }
                }
                metrics.upkeep();
            }
        }
    }
}

fn emit_raft_gauges(ctx: &ServerContext) {
    let metrics = &ctx.metrics;
    let m = ctx.raft.metrics().borrow_watched().clone();
    let last_index = m.last_log_index.unwrap_or_default();
    metrics.set_gauge("nomad.raft.term", &[], m.current_term as f32);
    metrics.set_gauge("nomad.raft.lastIndex", &[], last_index as f32);
    metrics.set_gauge("nomad.raft.commitIndex", &[], ctx.store_counters.committed.load(Ordering::Relaxed) as f32);
    metrics.set_gauge("nomad.raft.appliedIndex", &[], m.last_applied.map_or(0, |l| l.index) as f32);
    metrics.set_gauge("nomad.raft.peers", &[], m.membership_config.membership().voter_ids().count() as f32);
    if let Some(replication) = &m.replication {
        let membership = m.membership_config.membership();
        for (id, matched) in replication.iter() {
            if *id == ctx.node_id {
                continue;
            }
            let Some(node) = membership.get_node(id) else { continue };
            let lag = replication_lag(last_index, matched.map(|l| l.index));
            metrics.set_gauge("nomad.raft.replication.lag", &[("peer_id", &node.id)], lag as f32);
        }
    }
}

/// Raft role and leader changes as a server sees them, turned into counter names.
#[derive(Default)]
struct Transitions {
    state: Option<ServerState>,
    leader: Option<u64>,
}

impl Transitions {
    /// `nomad.raft.state.leader` / `.candidate` when this server enters that role (hashicorp
    /// raft's counters), `nomad.raft.leader.changes` when the leader it knows becomes another.
    fn observe(&mut self, state: ServerState, leader: Option<u64>) -> Vec<&'static str> {
        let mut events = Vec::new();
        if self.state != Some(state) {
            match state {
                ServerState::Leader => events.push("nomad.raft.state.leader"),
                ServerState::Candidate => events.push("nomad.raft.state.candidate"),
                _ => {}
            }
            self.state = Some(state);
        }
        if let Some(l) = leader {
            if self.leader != Some(l) {
                events.push("nomad.raft.leader.changes");
                self.leader = Some(l);
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let mut t = Transitions::default();
        assert_eq!(t.observe(ServerState::Follower, None), Vec::<&str>::new());
        assert_eq!(t.observe(ServerState::Candidate, None), ["nomad.raft.state.candidate"]);
        assert_eq!(t.observe(ServerState::Leader, Some(1)), ["nomad.raft.state.leader", "nomad.raft.leader.changes"]);
        assert_eq!(t.observe(ServerState::Leader, Some(1)), Vec::<&str>::new());
        assert_eq!(t.observe(ServerState::Follower, None), Vec::<&str>::new());
        assert_eq!(t.observe(ServerState::Follower, Some(2)), ["nomad.raft.leader.changes"]);
    }
}
