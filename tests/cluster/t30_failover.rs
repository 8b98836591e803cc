//! Nothing acknowledged is lost: a client writes continuously (CAS and plain PUTs) while the
//! leader is killed with SIGKILL, several times.
//!
//! The check is a CAS chain: every write after an acknowledged one is a CAS against the index
//! that write returned, so `Updated: true` proves the previous acknowledged write was still
//! the state. When a request fails without an answer, the writer reads the state back: it must
//! be its last acknowledged write or the unanswered one, never anything older.

use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

struct Writer {
    value: u32,
    acked_value: u32,
    acked_index: u64,
    acked: usize,
    cas_failures: usize,
    unanswered: usize,
}

fn read_state(c: &Cluster, live: &[usize]) -> Option<(u32, u64)> {
    for &i in live {
        let r = client().get(format!("{}{S}", c.agents[i].http())).timeout(Duration::from_secs(10)).send().ok()?;
        if r.status().as_u16() == 200 {
            let v: serde_json::Value = r.json().ok()?;
            let sc = &v["SchedulerConfig"];
            return Some((sc["NodeLimitForFeasibilityChecks"].as_u64()? as u32, sc["ModifyIndex"].as_u64()?));
        }
    }
    None
}

impl Writer {
    /// One write to server `i`; plain PUT every fifth write, CAS otherwise.
    fn step(&mut self, c: &Cluster, i: usize, live: &[usize]) {
        self.value += 1;
        let v = self.value;
        let plain = v.is_multiple_of(5);
        let path = if plain { S.to_string() } else { format!("{S}?cas={}", self.acked_index) };
        let url = format!("{}{path}", c.agents[i].http());
        let body = format!("{{\"NodeLimitForFeasibilityChecks\":{v}}}");
        let resp = client().put(url).body(body).timeout(Duration::from_secs(10)).send();
        match resp {
            Ok(r) if r.status().as_u16() == 200 => {
                let j: serde_json::Value = r.json().expect("json");
                let updated = j["Updated"].as_bool().unwrap();
                if updated {
                    self.acked_value = v;
                    self.acked_index = j["Index"].as_u64().unwrap();
                    self.acked += 1;
                } else {
                    // Only our own unanswered write can have moved the state.
                    self.cas_failures += 1;
                    self.resync(c, live);
                }
            }
            _ => {
                self.unanswered += 1;
                self.resync(c, live);
            }
        }
    }

    /// After an unanswered or failed write: the state must be the last acknowledged write or
    /// a later write of ours, never older.
    fn resync(&mut self, c: &Cluster, live: &[usize]) {
        wait_until(
            Duration::from_secs(30),
            || {
                let Some((value, index)) = read_state(c, live) else { return false };
                assert!(
                    value >= self.acked_value && index >= self.acked_index,
                    "acknowledged write lost: state {value}@{index}, acknowledged {}@{}",
                    self.acked_value,
                    self.acked_index
                );
                self.acked_value = value;
                self.acked_index = index;
                true
            },
            || "cluster never answered a consistent read".into(),
        );
    }
}

#[test]
fn kill_leader_repeatedly_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    for a in &c.agents {
        wait_ready(a);
    }
    let (value, index) = read_state(&c, &[0, 1, 2]).unwrap();
    let mut w = Writer { value, acked_value: value, acked_index: index, acked: 0, cas_failures: 0, unanswered: 0 };
    let mut elections = Vec::new();
    for round in 0..3 {
        let live = c.live();
        // Write for a while against every live server in turn.
        for k in 0..30 {
            let target = live[k % live.len()];
            w.step(&c, target, &live);
        }
        let leader = c.wait_leader(Duration::from_secs(30));
        c.agents[leader].kill9();
        let killed_at = Instant::now();
        let live: Vec<usize> = c.live();
        // Keep writing through the failover.
        let mut k = 0;
        let new_leader = loop {
            w.step(&c, live[k % live.len()], &live);
            k += 1;
            if let Some(l) = c.leader_seen_by(live[0]).filter(|l| *l != leader && live.contains(l)) {
                break l;
            }
            assert!(killed_at.elapsed() < Duration::from_secs(30), "no new leader");
        };
        let took = killed_at.elapsed();
        elections.push(took);
        eprintln!("round {round}: leader {leader} killed, new leader {new_leader} after {took:?}");
        for _ in 0..20 {
            w.step(&c, live[k % live.len()], &live);
            k += 1;
        }
        // Bring the killed server back with its data so the next round again has 3 servers.
        c.agents[leader].launch();
        wait_until(
            Duration::from_secs(30),
            || c.agents[leader].get(&format!("{S}?stale")).json_or_null()["Index"].as_u64() >= Some(w.acked_index),
            || "restarted server did not catch up".into(),
        );
    }
    // Every server, including the restarted ones, holds the last acknowledged write.
    let final_write = {
        let live = c.live();
        w.step(&c, live[0], &live);
        (w.acked_value, w.acked_index)
    };
    for a in &c.agents {
        wait_until(
            Duration::from_secs(20),
            || {
                let v = a.get(&format!("{S}?stale")).json_or_null();
                v["SchedulerConfig"]["NodeLimitForFeasibilityChecks"].as_u64() == Some(final_write.0 as u64)
                    && v["SchedulerConfig"]["ModifyIndex"].as_u64() == Some(final_write.1)
            },
            || format!("{} does not hold the last write {final_write:?}", a.spec.name),
        );
    }
    eprintln!(
        "writes acknowledged={} cas_failures={} unanswered={} time_to_new_leader={elections:?}",
        w.acked, w.cas_failures, w.unanswered
    );
    assert!(w.acked > 100);
}
