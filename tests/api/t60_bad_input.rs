//! Bad input never panics, never half-changes data, and gets Nomad's status.

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";
const A: &str = "/v1/operator/autopilot/configuration";

#[test]
fn malformed_bodies_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = single(&net(), &dir, "alpha");
    let before_s = a.get(S).json();
    let before_a = a.get(A).json();
    let both: &[&str] = &["{", "nul", "[]", "\"str\"", "42", "\u{0}\u{1}\u{2}"];
    let scheduler_only: &[&str] = &[
        "{\"PreemptionConfig\": []}",
        "{\"PreemptionConfig\": {\"SystemSchedulerEnabled\": null, \"BatchSchedulerEnabled\": 7}}",
        "{\"NodeLimitForFeasibilityChecks\": 1.5}",
        "{\"NodeLimitForFeasibilityChecks\": 99999999999}",
        "{\"SchedulerAlgorithm\": 5}",
    ];
    let autopilot_only: &[&str] = &[
        "{\"MaxTrailingLogs\": \"x\"}",
        "{\"ServerStabilizationTime\": \"10\"}",
        "{\"ServerStabilizationTime\": \"9999999999999h\"}",
        "{\"CleanupDeadServers\": 1}",
    ];
    let cases = both
        .iter()
        .flat_map(|b| [(S, *b), (A, *b)])
        .chain(scheduler_only.iter().map(|b| (S, *b)))
        .chain(autopilot_only.iter().map(|b| (A, *b)));
    for (p, b) in cases {
        let r = a.put(p, b);
        assert_eq!(r.status, 400, "{p} {b:?}: {}", r.text());
        assert!(!r.text().is_empty());
    }
    // Oversized bodies are refused, not buffered without limit.
    let huge = format!("{{\"SchedulerAlgorithm\":\"{}\"}}", "x".repeat(3 << 20));
    let r = a.put(S, &huge);
    assert_eq!(r.status, 413, "{}", r.text().chars().take(200).collect::<String>());
    // Nothing changed, and the server is still alive and well.
    assert!(a.is_running());
    let mut after_s = a.get(S).json();
    after_s["LastContact"] = before_s["LastContact"].clone();
    assert_eq!(after_s, before_s);
    assert_eq!(a.get(A).json(), before_a);
}

#[test]
fn null_and_trailing_data_follow_go() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    // JSON null decodes to the zero config; trailing bytes after the first value are ignored.
    assert_eq!(a.put(A, "null").text(), "true");
    assert_eq!(a.get(A).json()["CleanupDeadServers"], false);
    assert_eq!(a.put(A, "{\"CleanupDeadServers\":true} trailing garbage").text(), "true");
    assert_eq!(a.get(A).json()["CleanupDeadServers"], true);
}

#[test]
fn odd_query_strings_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = single(&net(), &dir, "alpha");
    for q in ["?%", "?%zz=1", "?stale=%ff", "?=x", "?&&&", "?pretty=%00", "?cas=%31", "?index=18446744073709551616"] {
        let r = a.get(&format!("{S}{q}"));
        assert!(r.status == 200 || r.status == 400, "{q}: {}", r.status);
    }
    // `cas=%31` is `cas=1`, a (failed) CAS.
    let r = a.put(&format!("{S}?cas=%31"), "{}");
    assert_eq!(r.json()["Updated"], false);
    assert!(a.is_running());
}
