//! Gossip on the serf port: three servers joined through their serf addresses list each other
//! `alive`; a crash shows `failed`, a graceful leave (`leave_on_terminate`,
//! `leave_on_interrupt`) `left`; force-leave and `-prune`; the join, self and health endpoints.

use std::time::Duration;

use serde_json::Value;

use crate::net;
use crate::support::cli;
use crate::support::wait_until;
use crate::support::Agent;
use crate::support::Cluster;

/// A crashed server is probed, suspected and declared failed within a few seconds (1 s probes,
/// ~3 s suspicion); this bound leaves room for a loaded machine.
const FAILURE_BOUND: Duration = Duration::from_secs(20);

fn members(a: &Agent) -> Vec<Value> {
    a.get("/v1/agent/members").json_or_null()["Members"].as_array().cloned().unwrap_or_default()
}

/// The status `observer` shows for member `name` (`<name>.global`), or `None` if not listed.
fn status_of(observer: &Agent, name: &str) -> Option<String> {
    members(observer)
        .iter()
        .find(|m| m["Name"] == format!("{name}.global"))
        .and_then(|m| m["Status"].as_str().map(str::to_string))
}

fn wait_status(observer: &Agent, name: &str, want: Option<&str>, why: &str) {
    wait_until(
        FAILURE_BOUND,
        || status_of(observer, name).as_deref() == want,
        || format!("{why}: {name} as {} sees it: {:?}", observer.spec.name, status_of(observer, name)),
    );
}

#[test]
fn members_alive_then_failed_then_alive_again() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&n, &dir, 3, &[0, 1, 2]);
    for a in &c.agents {
        wait_until(
            FAILURE_BOUND,
            || members(a).iter().filter(|m| m["Status"] == "alive").count() == 3,
            || format!("{} members: {}", a.spec.name, a.get("/v1/agent/members").text()),
        );
    }
    let body = c.agents[0].get("/v1/agent/members").json();
    assert_eq!(body["ServerName"], "s1");
    assert_eq!(body["ServerRegion"], "global");
    assert_eq!(body["ServerDC"], "dc1");
    for m in body["Members"].as_array().unwrap() {
        let i = m["Name"].as_str().unwrap().trim_start_matches('s').trim_end_matches(".global");
        let agent = &c.agents[i.parse::<usize>().unwrap() - 1];
        assert_eq!(m["Addr"], agent.spec.ip.as_str());
        assert_eq!(m["Port"], 4648);
        assert_eq!(m["Tags"]["role"], "nomad");
        assert_eq!(m["Tags"]["dc"], "dc1");
        assert_eq!(m["Tags"]["region"], "global");
        assert_eq!(m["Tags"]["port"], "4647");
        assert_eq!(m["Tags"]["expect"], "3");
        assert_eq!(m["Tags"]["raft_vsn"], "3");
        assert_eq!((m["ProtocolCur"].as_u64(), m["DelegateCur"].as_u64()), (Some(2), Some(4)));
    }

    let (code, out, err) = cli(&c.agents[0].http(), &["server", "members"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Name "), "{out}");
    assert!(lines[0].contains("Raft Version") && lines[0].contains("Datacenter"), "{out}");
    assert_eq!(lines.len(), 4, "{out}");
    for (i, line) in lines[1..].iter().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], format!("s{}.global", i + 1), "{out}");
        assert_eq!(&cols[1..4], [n.ip(i as u8 + 1).as_str(), "4648", "alive"], "{out}");
        assert_eq!(&cols[7..], ["dc1", "global"], "{out}");
    }
    assert_eq!(out.matches("true").count(), 1, "exactly one leader: {out}");
    let (code, out, _) = cli(&c.agents[0].http(), &["server", "members", "-json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("server members -json");
    assert_eq!(v.as_array().map(Vec::len), Some(3), "{out}");
    assert!(v[0]["Tags"]["Leader"].is_string(), "{out}");

    let leader = c.wait_leader(Duration::from_secs(30));
    let victim = (leader + 1) % 3;
    let observer = (leader + 2) % 3;
    let name = c.agents[victim].spec.name.clone();
    c.agents[victim].kill9();
    wait_status(&c.agents[observer], &name, Some("failed"), "kill -9");
    wait_status(&c.agents[leader], &name, Some("failed"), "kill -9");
    c.agents[victim].launch();
    wait_status(&c.agents[observer], &name, Some("alive"), "restart");
    wait_status(&c.agents[leader], &name, Some("alive"), "restart");
}

#[test]
fn graceful_leave_force_leave_and_join() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&n, &dir, 3, &[0, 1, 2], "leave_on_terminate = true\n");
    wait_status(&c.agents[0], "s3", Some("alive"), "formed");
    // Dead-server cleanup off: a server that leaves is removed from raft all the same, as
    // Nomad's leader removes members serf reports left.
    let off = r#"{"CleanupDeadServers":false,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,"ServerStabilizationTime":"10s"}"#;
    let r = c.agents[0].put("/v1/operator/autopilot/configuration", off);
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    let in_raft = |a: &Agent, node: &str| {
        let v = a.get("/v1/operator/raft/configuration?stale").json_or_null();
        v["Servers"].as_array().is_some_and(|s| s.iter().any(|s| s["Node"] == node))
    };
    assert!(in_raft(&c.agents[0], "s3.global"));

    // SIGTERM with leave_on_terminate: left, and out of the raft configuration.
    assert_eq!(c.agents[2].terminate(), Some(0));
    wait_status(&c.agents[0], "s3", Some("left"), "SIGTERM with leave_on_terminate");
    wait_status(&c.agents[1], "s3", Some("left"), "SIGTERM with leave_on_terminate");
    wait_until(
        Duration::from_secs(20),
        || !in_raft(&c.agents[0], "s3.global") && !in_raft(&c.agents[1], "s3.global"),
        || "a server that left stayed in the raft configuration".into(),
    );

    // SIGINT with leave_on_interrupt: left.
    c.agents[2].spec.extra_hcl = "leave_on_interrupt = true\n".into();
    c.agents[2].launch();
    wait_status(&c.agents[0], "s3", Some("alive"), "restarted after leaving");
    assert_eq!(c.agents[2].interrupt(), Some(0));
    wait_status(&c.agents[0], "s3", Some("left"), "SIGINT with leave_on_interrupt");

    // SIGTERM without leave_on_terminate (Nomad's default): failed.
    c.agents[2].spec.extra_hcl = String::new();
    c.agents[2].launch();
    wait_status(&c.agents[0], "s3", Some("alive"), "restarted");
    assert_eq!(c.agents[2].terminate(), Some(0));
    wait_status(&c.agents[0], "s3", Some("failed"), "SIGTERM without leave_on_terminate");

    // force-leave: failed -> left everywhere; -prune: gone everywhere.
    let r = c.agents[0].request("PUT", "/v1/agent/force-leave?node=s3.global", None);
    assert_eq!((r.status, r.text().as_str()), (200, ""));
    wait_status(&c.agents[0], "s3", Some("left"), "force-leave");
    wait_status(&c.agents[1], "s3", Some("left"), "force-leave (gossiped)");
    let (code, out, err) = cli(&c.agents[1].http(), &["server", "force-leave", "-prune", "s3.global"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_status(&c.agents[0], "s3", None, "force-leave -prune");
    wait_status(&c.agents[1], "s3", None, "force-leave -prune");

    // A server with no join list joins through /v1/agent/join and `server join`.
    c.agents[2].spec.retry_join.clear();
    c.agents[2].launch();
    let r = c.agents[2].request("PUT", &format!("/v1/agent/join?address={}", c.agents[0].serf_addr()), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({"num_joined": 1, "error": ""}));
    wait_status(&c.agents[1], "s3", Some("alive"), "joined through /v1/agent/join");
    let (code, out, err) = cli(&c.agents[2].http(), &["server", "join", &c.agents[1].spec.ip]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "Joined 1 servers successfully\n");
    let nobody = format!("{}:4648", n.ip(9));
    let r = c.agents[2].request("POST", &format!("/v1/agent/join?address={nobody}"), None);
    let v = r.json();
    assert_eq!(v["num_joined"], 0, "{v}");
    assert!(v["error"].as_str().unwrap().starts_with("1 error occurred:\n\t* Failed to join"), "{v}");

    // Method and argument errors, in Nomad's words.
    let r = c.agents[0].request("DELETE", "/v1/agent/members", None);
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
    let r = c.agents[0].request("GET", "/v1/agent/join", None);
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
    let r = c.agents[0].request("PUT", "/v1/agent/join", None);
    assert_eq!((r.status, r.text().as_str()), (400, "missing address to join"));
    let r = c.agents[0].request("PUT", "/v1/agent/force-leave", None);
    assert_eq!((r.status, r.text().as_str()), (400, "missing node to force leave"));
    let r = c.agents[0].request("PUT", "/v1/agent/force-leave?node=x&prune=maybe", None);
    assert_eq!((r.status, r.text().as_str()), (400, "invalid prune value"));

    // self and health.
    let me = c.agents[0].get("/v1/agent/self").json();
    assert_eq!(me["member"]["Name"], "s1.global");
    assert_eq!(me["member"]["Port"], 4648);
    assert_eq!(me["member"]["Status"], "alive");
    assert_eq!(me["config"]["Region"], "global");
    assert_eq!(me["config"]["Ports"]["Serf"], 4648);
    assert_eq!(me["config"]["LeaveOnTerm"], true);
    assert_eq!(me["stats"]["nomad"]["server"], "true");
    let h = c.agents[0].get("/v1/agent/health");
    assert_eq!((h.status, h.json()), (200, serde_json::json!({"server": {"ok": true, "message": "ok"}})));
    let h = c.agents[0].get("/v1/agent/health?type=client");
    assert_eq!((h.status, h.text().as_str()), (500, r#"{"client":{"ok":false,"message":"client not enabled"}}"#));
}
