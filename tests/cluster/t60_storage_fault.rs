//! A leader whose disk fills up: its store write fails, raft stops and the agent exits; the
//! other servers elect a leader and hold every acknowledged write; the server, restarted with
//! room, catches up.

use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

fn write(a: &Agent, value: u32) -> Result<u64, (u16, String)> {
    let r = client()
        .put(format!("{}{S}", a.http()))
        .body(format!("{{\"NodeLimitForFeasibilityChecks\":{value}}}"))
        .send()
        .map_err(|e| (0, e.to_string()))?;
    let status = r.status().as_u16();
    let body = r.text().unwrap_or_default();
    match status {
        200 => Ok(serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["Index"].as_u64()).unwrap_or(0)),
        _ => Err((status, body)),
    }
}

fn state(a: &Agent, query: &str) -> (u64, u64) {
    let v = a.get(&format!("{S}{query}")).json_or_null();
    let sc = &v["SchedulerConfig"];
    (sc["NodeLimitForFeasibilityChecks"].as_u64().unwrap_or(0), sc["ModifyIndex"].as_u64().unwrap_or(0))
}

#[test]
fn leader_out_of_room_exits_and_cluster_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    for a in &c.agents {
        wait_ready(a);
    }
    let leader = c.wait_leader(Duration::from_secs(30));
    let leader_agent = &c.agents[leader];
    leader_agent.limit_file_size(leader_agent.store_size() + 4096);

    let started = Instant::now();
    let (mut acked, mut failed) = (None, None);
    for value in 1..=50_000u32 {
        // How many writes fit depends on the free pages redb keeps inside the file (seen: a few
        // hundred to 3,600), and a loaded machine takes ~30 ms a write: the count bounds the loop,
        // the time only catches a store that never fills.
        assert!(started.elapsed() < Duration::from_secs(400), "the leader's store never ran out of room");
        match write(&c.agents[leader], value) {
            Ok(index) => acked = Some((value as u64, index)),
            Err((status, body)) => {
                assert_eq!(status, 500, "{body}");
                assert!(body.contains("File too large"), "{body}");
                failed = Some(value as u64);
                break;
            }
        }
    }
    let failed = failed.expect("a write failed");
    let (last, index) = acked.expect("writes were acknowledged before the store filled up");
    assert_eq!(c.agents[leader].wait_exit(Duration::from_secs(30)), Some(1), "{:?}", c.agents[leader].output());
    let stopped = Instant::now();

    let new_leader = c.wait_leader(Duration::from_secs(30));
    assert_ne!(new_leader, leader);
    eprintln!("store full at write {failed}; new leader after {:?}", stopped.elapsed());
    let (value, modify) = state(&c.agents[new_leader], "");
    assert!(value == last || value == failed, "state {value}, last acknowledged {last}, failed {failed}");
    assert!(modify >= index);

    // Still writable through a follower, and the restarted server catches up.
    let follower = (0..3).find(|&i| i != leader && i != new_leader).unwrap();
    let next = write(&c.agents[follower], 777_777).expect("write after the fault");
    c.agents[leader].launch();
    for a in &c.agents {
        wait_until(
            Duration::from_secs(30),
            || state(a, "?stale") == (777_777, next),
            || format!("{} does not hold the write after the fault: {:?}", a.spec.name, state(a, "?stale")),
        );
    }
}
