//! The server's scheduled snapshots (`snapshot { ... token }`) with ACLs on: every request of
//! the schedule carries the block's token, so the saves work once that token exists and are
//! refused (counted as failures, no file kept) while it does not.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::net;
use crate::support::*;

const SECRET: &str = "5d1c0a2e-7f3b-4e69-8a14-0c9b2d3e4f50";

fn status(backups: &std::path::Path) -> Value {
    std::fs::read_to_string(backups.join("agent-status.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn snaps(backups: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(backups) else { return vec![] };
    entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "snap")).collect()
}

#[test]
fn scheduled_snapshots_use_the_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let mut spec = AgentSpec::new("aclsnap", net().ip(87), dir.path().join("aclsnap"));
    spec.extra_hcl = format!(
        "acl {{ enabled = true }}\nsnapshot {{\n  interval = \"200ms\"\n  retain = 2\n  path = \"{}\"\n  token = \"{SECRET}\"\n}}\n",
        backups.display()
    );
    let a = Agent::start(spec);
    assert!(!a.output().iter().any(|l| l.contains(SECRET)), "the token is never logged");

    // Before the token exists the leader's rounds are refused, and nothing is kept.
    wait_until(
        Duration::from_secs(30),
        || status(&backups)["Failures"].as_u64().unwrap_or(0) >= 1,
        || format!("no refused round: {} / {:?}", status(&backups), a.output()),
    );
    let s = status(&backups);
    let error = s["LastError"].as_str().unwrap_or_default();
    assert!(error.contains("403"), "{s}");
    assert!(snaps(&backups).is_empty());

    // Bootstrapping with that secret makes it a management token: the next rounds save.
    let body = serde_json::json!({ "BootstrapSecret": SECRET }).to_string();
    let r = a.request("POST", "/v1/acl/bootstrap", Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    wait_until(
        Duration::from_secs(30),
        || snaps(&backups).len() == 2 && status(&backups)["LastSuccessIndex"].as_u64().is_some(),
        || format!("no saved rounds: {} / {:?}", status(&backups), a.output()),
    );
    // Rounds go on every 200ms and prune the oldest: inspect a copy of the newest file.
    let copy = dir.path().join("newest.snap");
    wait_until(
        Duration::from_secs(30),
        || {
            let newest =
                snaps(&backups).into_iter().max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            newest.is_some_and(|f| std::fs::copy(f, &copy).is_ok())
        },
        || "no snapshot file to copy".into(),
    );
    let (code, out, err) = cli(&a.http(), &["operator", "snapshot", "inspect", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("acl"), "the archive holds the ACL state: {out}");
    assert!(!a.output().iter().any(|l| l.contains(SECRET)), "the token is never logged");

    // /v1/agent/snapshot-schedule reports the schedule and its status file, for agent:read.
    let r = a.get("/v1/agent/snapshot-schedule");
    assert_eq!(r.status, 403, "anonymous: {}", r.text());
    let r = call(&a, "GET", "/v1/agent/snapshot-schedule", Some(SECRET), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["Enabled"], true);
    assert_eq!(v["Interval"], "200ms");
    assert_eq!(v["Retain"], 2);
    assert_eq!(v["Path"], backups.display().to_string());
    assert!(v["Status"]["Rounds"].as_u64().is_some_and(|n| n >= 2), "{v}");
    assert!(v["Status"]["LastSuccessFile"].as_str().is_some_and(|f| f.ends_with(".snap")), "{v}");
    assert!(!r.text().contains(SECRET), "the token is never shown");
    let r = call(&a, "PUT", "/v1/agent/snapshot-schedule", Some(SECRET), None);
    assert_eq!(r.status, 405);
}

/// Without a `snapshot { }` block the schedule is reported off.
#[test]
fn snapshot_schedule_off_without_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "nosched");
    let r = a.get("/v1/agent/snapshot-schedule");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), serde_json::json!({ "Enabled": false }));
}
