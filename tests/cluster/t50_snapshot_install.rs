//! A follower that fell behind the leader's purged log catches up by installing a raft
//! snapshot, streamed in chunks over the RPC port.

use std::time::Duration;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

#[test]
fn lagging_follower_installs_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], COMPACTING_HCL);
    let leader = c.wait_leader(Duration::from_secs(30));
    wait_ready(&c.agents[leader]);
    let f = (leader + 1) % 3;
    c.agents[f].kill9();
    let mut last = 0;
    for i in 1..=120u32 {
        let r = c.agents[leader].put(S, &format!("{{\"NodeLimitForFeasibilityChecks\":{i}}}"));
        assert_eq!(r.status, 200, "{}", r.text());
        last = r.json()["Index"].as_u64().unwrap();
    }
    wait_compacted(&c.agents[leader]);
    c.agents[f].launch();
    wait_until(
        Duration::from_secs(30),
        || {
            let v = c.agents[f].get(&format!("{S}?stale")).json_or_null();
            v["Index"].as_u64() == Some(last) && v["SchedulerConfig"]["NodeLimitForFeasibilityChecks"] == 120
        },
        || c.agents[f].get(&format!("{S}?stale")).text(),
    );
    // It serves as a full member afterwards: a later write reaches it too.
    let r = c.agents[f].put(S, r#"{"NodeLimitForFeasibilityChecks":121}"#);
    assert_eq!(r.status, 200);
    let idx = r.json()["Index"].as_u64().unwrap();
    wait_until(
        Duration::from_secs(10),
        || c.agents[f].get(&format!("{S}?stale")).json_or_null()["Index"].as_u64() == Some(idx),
        || "follower did not apply the next write".into(),
    );
    // `server members` lists all three, sorted, with the leader marked.
    let (code, out, err) = cli(&c.agents[f].http(), &["server", "members"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("Name") && lines[0].contains("Raft Version"), "{out}");
    assert!(lines[1].starts_with("s1.global") && lines[2].starts_with("s2.global"), "{out}");
    assert_eq!(out.matches("alive").count(), 3, "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("  true  ")).count(), 1, "{out}");
    let (code, out, _) = cli(&c.agents[f].http(), &["operator", "raft", "list-peers"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4);
}
