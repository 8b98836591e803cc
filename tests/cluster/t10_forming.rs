use std::time::Duration;

use crate::net;
use crate::support::*;

fn check_formed(c: &Cluster, n: usize) {
    let leader = c.wait_leader(Duration::from_secs(30));
    let v = c.agents[leader].get("/v1/operator/raft/configuration").json();
    let servers = v["Servers"].as_array().unwrap();
    assert_eq!(servers.len(), n, "{v}");
    assert!(servers.iter().all(|s| s["Voter"] == true), "{v}");
    assert_eq!(servers.iter().filter(|s| s["Leader"] == true).count(), 1);
    let mut names: Vec<&str> = servers.iter().map(|s| s["Node"].as_str().unwrap()).collect();
    names.sort();
    let want: Vec<String> = (1..=n).map(|i| format!("s{i}.global")).collect();
    assert_eq!(names, want);
    for s in servers {
        let i = c.agents.iter().position(|a| a.rpc_addr() == s["Address"]).expect("address of a started agent");
        assert_eq!(s["Node"], format!("s{}.global", i + 1));
    }
    // Every server sees the same configuration through a stale (local) read once replicated.
    for a in &c.agents {
        wait_until(
            Duration::from_secs(10),
            || a.get("/v1/operator/raft/configuration?stale").json()["Servers"].as_array().map(Vec::len) == Some(n),
            || format!("{} never saw {n} servers", a.spec.name),
        );
    }
    // And there is exactly one cluster: all report the same leader.
    for i in 0..n {
        assert_eq!(c.leader_seen_by(i), Some(leader));
    }
    for a in &c.agents {
        wait_ready(a);
    }
}

#[test]
fn three_servers_any_order_form_one_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&net(), &dir, 3, &[2, 0, 1]);
    check_formed(&c, 3);
    // The autopilot health view of the leader: all three healthy, tolerance 1.
    let leader = c.wait_leader(Duration::from_secs(10));
    wait_until(
        Duration::from_secs(20),
        || c.agents[leader].get("/v1/operator/autopilot/health").status == 200,
        || c.agents[leader].get("/v1/operator/autopilot/health").text(),
    );
    let h = c.agents[(leader + 1) % 3].get("/v1/operator/autopilot/health").json();
    assert_eq!(h["FailureTolerance"], 1, "{h}");
    assert_eq!(h["Servers"].as_array().unwrap().len(), 3);
    assert_eq!(h["Voters"].as_array().unwrap().len(), 3);
}

#[test]
fn five_servers_form_one_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&net(), &dir, 5, &[4, 1, 3, 0, 2]);
    check_formed(&c, 5);
}

/// A server started later, with the cluster already formed, joins it instead of
/// bootstrapping a second one.
#[test]
fn late_server_joins_existing_cluster() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&n, &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    let joins: Vec<String> = (1..=3).map(|i| format!("{}:4648", n.ip(i))).collect();
    let mut spec = AgentSpec::new("s4", n.ip(4), dir.path().join("s4"));
    spec.bootstrap_expect = 3;
    spec.retry_join = joins;
    let late = Agent::start(spec);
    wait_until(
        Duration::from_secs(30),
        || {
            c.agents[leader].get("/v1/operator/raft/configuration").json()["Servers"].as_array().map(Vec::len)
                == Some(4)
        },
        || c.agents[leader].get("/v1/operator/raft/configuration").text(),
    );
    wait_until(
        Duration::from_secs(20),
        || late.get("/v1/status/leader").text() == format!("\"{}\"", c.agents[leader].rpc_addr()),
        || late.get("/v1/status/leader").text(),
    );
    wait_ready(&late);
}

/// With bootstrap_expect = 3, servers that start minutes apart wait for each other: one
/// server alone never bootstraps a cluster of its own, so exactly one cluster forms.
#[test]
fn servers_started_apart_do_not_bootstrap_alone() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let joins: Vec<String> = (1..=3).map(|i| format!("{}:4648", n.ip(i))).collect();
    let spec = |i: u8| {
        let mut s = AgentSpec::new(&format!("s{i}"), n.ip(i), dir.path().join(format!("s{i}")));
        s.bootstrap_expect = 3;
        s.retry_join = joins.clone();
        s
    };
    let first = Agent::start(spec(1));
    holds_for(
        Duration::from_secs(3),
        || first.get("/v1/status/leader").text() == "\"\"",
        || format!("a lone server elected a leader: {}", first.get("/v1/status/leader").text()),
    );
    assert_eq!(first.get("/v1/status/leader").text(), "\"\"", "a lone server must not elect itself");
    let r = first.get("/v1/operator/raft/configuration");
    assert_eq!((r.status, r.text().as_str()), (500, "No cluster leader"));
    let second = Agent::start(spec(2));
    holds_for(
        Duration::from_secs(2),
        || [&first, &second].iter().all(|a| a.get("/v1/status/leader").text() == "\"\""),
        || {
            let leader = |a: &Agent| a.get("/v1/status/leader").text();
            format!("two of three elected a leader: {} / {}", leader(&first), leader(&second))
        },
    );
    assert_eq!(second.get("/v1/status/leader").text(), "\"\"", "two of three expected must still wait");
    let third = Agent::start(spec(3));
    let c = Cluster { agents: vec![first, second, third] };
    check_formed(&c, 3);
}
