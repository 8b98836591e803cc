use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

#[test]
fn follower_forwards_writes_and_serves_stale_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    let f = (leader + 1) % 3;
    for a in &c.agents {
        wait_ready(a);
    }
    // A write to a follower is applied through the leader.
    let r = c.agents[f].put(S, r#"{"SchedulerAlgorithm":"spread","NodeLimitForFeasibilityChecks":7}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let index = r.json()["Index"].as_u64().unwrap();
    assert_eq!(r.header("x-nomad-index"), Some(index.to_string()));
    let on_leader = c.agents[leader].get(S).json();
    assert_eq!(on_leader["SchedulerConfig"]["SchedulerAlgorithm"], "spread");
    assert_eq!(on_leader["Index"], index);
    // A consistent read on the follower is answered by the leader (KnownLeader, LastContact 0).
    let r = c.agents[f].get(S);
    assert_eq!(r.json()["Index"], index);
    assert_eq!(r.header("x-nomad-knownleader").as_deref(), Some("true"));
    // A stale read on the follower is answered locally.
    wait_until(
        Duration::from_secs(5),
        || c.agents[f].get(&format!("{S}?stale")).json_or_null()["Index"] == index,
        || c.agents[f].get(&format!("{S}?stale")).text(),
    );
    let r = c.agents[f].get(&format!("{S}?stale"));
    assert_eq!(r.header("x-nomad-knownleader").as_deref(), Some("true"));
    let lc: u64 = r.header("x-nomad-lastcontact").unwrap().parse().unwrap();
    assert!(lc < 2_000, "a follower in contact reports a small LastContact: {lc}");
    // Raft's appends and votes went as frames: no server fell back to HTTP for a peer.
    for a in &c.agents {
        let fell_back = a.output().into_iter().find(|l| l.contains("took no frames connection"));
        assert_eq!(fell_back, None, "{}", a.spec.name);
    }
    // Forwarded plain errors gain `rpc error: `; coded ones pass unchanged.
    let r = c.agents[f].request("DELETE", "/v1/operator/raft/peer?id=nope", None);
    assert_eq!((r.status, r.text().as_str()), (500, "rpc error: id \"nope\" was not found in the Raft configuration"));
    let r = c.agents[leader].request("DELETE", "/v1/operator/raft/peer?id=nope", None);
    assert_eq!((r.status, r.text().as_str()), (500, "id \"nope\" was not found in the Raft configuration"));
    let r = c.agents[f].request("PUT", "/v1/operator/raft/transfer-leadership?address=9.9.9.9:8000", None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "address \"9.9.9.9:8000\" was not found in the Raft configuration")
    );

    // Kill the leader and the other follower: no quorum. The last follower still answers stale
    // reads, with KnownLeader false or a LastContact that grows.
    let other = (leader + 2) % 3;
    c.agents[leader].kill9();
    c.agents[other].kill9();
    // LastContact is the time since the leader was last heard: fixed gaps between the reads
    // are what it must report, so they are slept, not polled.
    std::thread::sleep(Duration::from_millis(300));
    let first = c.agents[f].get(&format!("{S}?stale"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["SchedulerConfig"]["SchedulerAlgorithm"], "spread");
    std::thread::sleep(Duration::from_millis(700));
    let second = c.agents[f].get(&format!("{S}?stale"));
    let known = second.header("x-nomad-knownleader").unwrap();
    let lc1: u64 = first.header("x-nomad-lastcontact").unwrap().parse().unwrap();
    let lc2: u64 = second.header("x-nomad-lastcontact").unwrap().parse().unwrap();
    assert!(known == "false" || lc2 > lc1, "known={known} lc1={lc1} lc2={lc2}");
    assert!(lc2 >= 700, "{lc2}");
    // A consistent read and a write wait for a leader, then fail with Nomad's error.
    let t = Instant::now();
    let r = c.agents[f].get(S);
    assert_eq!((r.status, r.text().as_str()), (500, "No cluster leader"));
    assert!(t.elapsed() >= Duration::from_secs(4), "{:?}", t.elapsed());
    let r = c.agents[f].put(S, "{}");
    assert_eq!((r.status, r.text().as_str()), (500, "No cluster leader"));
    let _ = c.live();
}
