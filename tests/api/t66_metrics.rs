//! `GET /v1/metrics`: go-metrics' JSON summary and the Prometheus text, on a real agent, as
//! Nomad's `command/agent/metrics_endpoint.go` serves them (Prometheus only with
//! `telemetry { prometheus_metrics = true }`).

use std::time::Duration;

use crate::net;
use crate::support::*;

const PROMETHEUS: &str = "telemetry {\n  prometheus_metrics = true\n}\n";

/// The JSON summary has Nomad's shape; the raft and autopilot gauges are there within a tick
/// of start; the Prometheus text has the same metrics plus the per-route HTTP counters.
#[test]
fn metrics_json_and_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let a = single_with(&net(), &dir, "alpha", PROMETHEUS);
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
    // As Go's Prometheus client writes them: a HELP line (go-metrics' sink uses the name) and
    // a TYPE line for every metric.
    let types: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
    let helps: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# HELP ")).collect();
    assert!(types.len() >= 5, "{text}");
    assert_eq!(helps.len(), types.len(), "{text}");
    assert!(text.contains("# HELP nomad_raft_term nomad_raft_term\n# TYPE nomad_raft_term gauge\n"), "{text}");

    // Nomad's handler: GET only, 405 otherwise.
    let r = a.request("PUT", "/v1/metrics", Some(""));
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
}

/// The leader reports replication lag for each follower; a follower for no one.
#[test]
fn replication_lag_per_peer_on_the_leader() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(&net, &dir, 3, &[0, 1, 2], PROMETHEUS);
    let leader = c.wait_leader(Duration::from_secs(60));
    let lags = |i: usize| -> usize {
        let text = c.agents[i].get("/v1/metrics?format=prometheus").text();
        text.lines().filter(|l| l.starts_with("nomad_raft_replication_lag{")).count()
    };
    wait_until(Duration::from_secs(30), || lags(leader) == 2, || format!("leader lags: {}", lags(leader)));
    assert_eq!(lags((leader + 1) % 3), 0);
}

/// Nomad's default: no Prometheus endpoint. `?format=prometheus` answers 415 with Nomad's text
/// (command/agent/metrics_endpoint.go) while the JSON summary is served; `disable_hostname`
/// drops the `host` label from every metric (command/agent/command.go setupTelemetry).
#[test]
fn prometheus_needs_telemetry_prometheus_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "plain");
    let r = a.get("/v1/metrics?format=prometheus");
    assert_eq!((r.status, r.text().as_str()), (415, "Prometheus is not enabled"));
    assert_eq!(a.get("/v1/metrics").status, 200);
    assert_eq!(a.get("/v1/metrics?format=json").status, 200, "any other format is the JSON summary");

    let dir = tempfile::tempdir().unwrap();
    let b = single_with(
        &net(),
        &dir,
        "nohost",
        "telemetry {\n  prometheus_metrics = true\n  disable_hostname = true\n  collection_interval = \"200ms\"\n}\n",
    );
    wait_until(
        Duration::from_secs(30),
        || b.get("/v1/metrics?format=prometheus").text().contains("nomad_raft_term"),
        || b.get("/v1/metrics?format=prometheus").text(),
    );
    let text = b.get("/v1/metrics?format=prometheus").text();
    assert!(!text.contains("host=\""), "disable_hostname: {text}");
    let v = b.get("/v1/metrics").json();
    let gauges = v["Gauges"].as_array().cloned().unwrap_or_default();
    assert!(gauges.iter().all(|g| g["Labels"].get("host").is_none()), "{v}");
}
