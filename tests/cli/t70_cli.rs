//! The Nomad-compatible CLI against a real agent (spec §7; checklist items 53–63).

use crate::net;
use crate::support::*;

#[test]
fn raft_list_peers() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, out, err) = cli(&a.http(), &["operator", "raft", "list-peers"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Node"), "{out}");
    for col in ["ID", "Address", "State", "Voter", "RaftProtocol"] {
        assert!(lines[0].contains(col), "{out}");
    }
    assert!(lines[1].starts_with("alpha.global"), "{out}");
    assert!(lines[1].contains("leader") && lines[1].contains("true"), "{out}");
    let (code, out, _) = cli(&a.http(), &["operator", "raft", "list-peers", "-stale"]);
    assert_eq!(code, 0);
    assert!(out.contains("leader"));
}

#[test]
fn raft_remove_peer_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, _, err) = cli(&a.http(), &["operator", "raft", "remove-peer"]);
    assert_eq!(code, 1);
    assert!(err.contains("Missing peer id required"), "{err}");
    let (code, _, err) = cli(&a.http(), &["operator", "raft", "remove-peer", "-peer-id=nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("id \"nope\" was not found in the Raft configuration"), "{err}");
}

#[test]
fn autopilot_get_and_set_config() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, out, err) = cli(&a.http(), &["operator", "autopilot", "get-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CleanupDeadServers = true"), "{out}");
    assert!(out.contains("LastContactThreshold = 200ms"), "{out}");
    let (code, out, _) = cli(&a.http(), &["operator", "autopilot", "get-config", "-json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["CleanupDeadServers"], true);
    assert_eq!(v["LastContactThreshold"], "200ms");
    // Nomad prints the reply's own MarshalJSON: compact, one line.
    assert_eq!(out.matches('\n').count(), 1, "compact: {out}");
    let (code, out, _) = cli(&a.http(), &["operator", "autopilot", "get-config", "-t", "{{.CleanupDeadServers}}"]);
    assert_eq!((code, out.trim()), (0, "true"));
    // Item 59: all eight flags.
    let (code, out, err) = cli(
        &a.http(),
        &[
            "operator",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers=false",
            "-max-trailing-logs=99",
            "-min-quorum=3",
            "-last-contact-threshold=123ms",
            "-server-stabilization-time=123ms",
            "-enable-redundancy-zones=true",
            "-disable-upgrade-migration=true",
            "-enable-custom-upgrades=true",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("Configuration updated"), "{out}");
    let v = a.get("/v1/operator/autopilot/configuration").json();
    assert_eq!(v["CleanupDeadServers"], false);
    assert_eq!(v["MaxTrailingLogs"], 99);
    assert_eq!(v["MinQuorum"], 3);
    assert_eq!(v["LastContactThreshold"], "123ms");
    assert_eq!(v["ServerStabilizationTime"], "123ms");
    assert_eq!(v["EnableRedundancyZones"], true);
    assert_eq!(v["DisableUpgradeMigration"], true);
    assert_eq!(v["EnableCustomUpgrades"], true);
}

#[test]
fn scheduler_get_and_set_config() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, out, err) = cli(&a.http(), &["operator", "scheduler", "get-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Scheduler Algorithm               = binpack"), "{out}");
    assert!(out.contains("Preemption SysBatch Scheduler     = false"), "{out}");
    let (code, out, _) = cli(&a.http(), &["operator", "scheduler", "get-config", "-json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["SchedulerConfig"]["SchedulerAlgorithm"], "binpack");
    let (code, out, _) =
        cli(&a.http(), &["operator", "scheduler", "get-config", "-t", "{{.SchedulerConfig.SchedulerAlgorithm}}!!!"]);
    assert_eq!((code, out.trim()), (0, "binpack!!!"));
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "get-config", "-yaml"]);
    assert_eq!(code, 1, "{err}");

    // Item 63: no flags leaves the config unchanged.
    let before = a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"].clone();
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config"]);
    assert_eq!(code, 0, "{err}");
    let mut after = a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"].clone();
    after["ModifyIndex"] = before["ModifyIndex"].clone();
    assert_eq!(after, before);
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "-check-index=1000000"]);
    assert_eq!(code, 1);
    assert!(err.contains("check-index 1000000 does not match does not match current state"), "{err}");
    let index = a.get("/v1/operator/scheduler/configuration").json()["Index"].as_u64().unwrap();
    let (code, out, err) = cli(
        &a.http(),
        &[
            "operator",
            "scheduler",
            "set-config",
            &format!("-check-index={index}"),
            "-scheduler-algorithm=spread",
            "-preempt-system-scheduler=false",
            "-preempt-batch-scheduler=true",
            "-preempt-service-scheduler=true",
            "-preempt-sysbatch-scheduler=true",
            "-memory-oversubscription=true",
            "-reject-job-registration=true",
            "-pause-eval-broker=true",
            "-node-limit-for-feasibility-checks=200",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("Scheduler configuration updated!"), "{out}");
    let c = a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"].clone();
    assert_eq!(c["SchedulerAlgorithm"], "spread");
    assert_eq!(c["PreemptionConfig"]["SystemSchedulerEnabled"], false);
    assert_eq!(c["PreemptionConfig"]["BatchSchedulerEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["ServiceSchedulerEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["SysBatchSchedulerEnabled"], true);
    assert_eq!(c["MemoryOversubscriptionEnabled"], true);
    assert_eq!(c["RejectJobRegistration"], true);
    assert_eq!(c["PauseEvalBroker"], true);
    assert_eq!(c["NodeLimitForFeasibilityChecks"], 200);
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "-scheduler-algorithmm=spread"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn cli_reports_unreachable_server() {
    let n = net();
    let (code, _, err) = cli(&format!("http://{}:4646", n.ip(9)), &["operator", "raft", "list-peers"]);
    assert_eq!(code, 1);
    assert!(err.contains("Failed to retrieve raft configuration"), "{err}");
}

#[test]
fn cli_global_flags() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    // -address overrides NOMAD_ADDR; -region is sent as ?region=.
    let (code, out, err) =
        cli("http://127.0.0.1:1", &["operator", "scheduler", "get-config", &format!("-address={}", a.http())]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("binpack"));
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "get-config", "-region=mars"]);
    assert_eq!(code, 1);
    assert!(err.contains("Unexpected response code: 500 (No path to region)"), "{err}");
    let (code, _, err) = cli(&a.http(), &["operator", "raft", "list-peers", "-token", "abc", "-region", "global"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&a.http(), &["operator", "autopilot", "health"]);
    assert_eq!(code, 0);
    assert!(out.contains("Healthy: true") && out.contains("alpha.global"), "{out}");
    // Nomad's CLI prints a group's help on stdout when its command is unknown, and exits 1.
    let (code, out, _) = cli(&a.http(), &["operator", "nothing"]);
    assert_eq!(code, 1);
    assert!(out.contains("Usage: raftwarden"), "{out}");
}
