//! `GET /v1/metrics`: go-metrics' JSON summary and the Prometheus text, on a real agent.

use std::time::Duration;

use crate::net;
use crate::support::*;

/// The JSON summary has Nomad's shape; the raft and autopilot gauges are there within a tick
/// of start; the Prometheus text has the same metrics plus the per-route HTTP counters.
#[test]
fn metrics_json_and_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let gauge = |name: &str| {
        let v = a.get("/v1/metrics").json();
        v["Gauges"].as_array().and_then(|g| g.iter().find(|g| g["Name"] == name).cloned())
    };
    wait_until(
        Duration::from_secs(30),
        || gauge("nomad.nomad.autopilot.healthy").is_some_and(|g| g["Value"] == 1.0),
        || format!("no healthy gauge: {}", a.get("/v1/metrics").text()),
    );
    let r = a.get("/v1/metrics");
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
    let v = r.json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Timestamp", "Gauges", "Points", "Counters", "Samples"]);
    assert!(v["Timestamp"].as_str().unwrap().ends_with(" +0000 UTC"), "{}", v["Timestamp"]);
    assert_eq!(v["Points"], serde_json::json!([]));
    let term = gauge("nomad.raft.term").unwrap();
    assert!(term["Value"].as_f64().unwrap() >= 1.0);
    assert!(term["Labels"]["host"].is_string(), "{term}");
    for name in ["nomad.raft.lastIndex", "nomad.raft.commitIndex", "nomad.raft.appliedIndex"] {
        assert!(gauge(name).is_some(), "{name}");
    }
    // A whole-number float keeps its `.0`, as Nomad's codec writes it.
    assert!(a.get("/v1/metrics").text().contains("\"Value\":1.0"));

    a.get("/v1/var/some/where");
    let r = a.get("/v1/metrics?format=prometheus");
    assert_eq!(r.content_type().as_deref(), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = r.text();
    for needle in [
        "# TYPE nomad_raft_term gauge",
        "# TYPE nomad_raft_fsync counter",
        "# TYPE nomad_nomad_autopilot_failure_tolerance gauge",
        "# TYPE nomad_raft_state_leader counter",
        "# TYPE nomad_http_latency summary",
        "nomad_http_requests{method=\"GET\",route=\"/v1/var/:path\",code=\"404\"",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("some/where"), "routes are labelled by pattern");

    // Nomad's handler: GET only, 405 otherwise.
    let r = a.request("PUT", "/v1/metrics", Some(""));
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
}

/// The leader reports replication lag for each follower; a follower for no one.
#[test]
fn replication_lag_per_peer_on_the_leader() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&net, &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(60));
    let lags = |i: usize| -> usize {
        let text = c.agents[i].get("/v1/metrics?format=prometheus").text();
        text.lines().filter(|l| l.starts_with("nomad_raft_replication_lag{")).count()
    };
    wait_until(Duration::from_secs(30), || lags(leader) == 2, || format!("leader lags: {}", lags(leader)));
    assert_eq!(lags((leader + 1) % 3), 0);
}
