//! `GET /v1/operator/snapshot` and `PUT|POST /v1/operator/snapshot` against a real agent
//! (spec §2.9, §2.10, §10 items 87-96): the archive and its Digest, a round trip that restores
//! exactly the saved state, and bad archives refused with Nomad's errors, changing nothing.

use sha2::Digest;

use crate::net;
use crate::support::*;

const SNAPSHOT: &str = "/v1/operator/snapshot";

fn put_var(a: &Agent, path: &str, value: &str) {
    let r = a.put(&format!("/v1/var/{path}"), &format!(r#"{{"Items":{{"v":"{value}"}}}}"#));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Every variable as (path, ModifyIndex), in order: a `ModifyIndex` names one write, so equal
/// lists mean equal contents.
fn vars(a: &Agent) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut next = String::new();
    loop {
        let page = a.get(&format!("/v1/vars?per_page=1000&next_token={next}"));
        for v in page.json().as_array().unwrap() {
            out.push((v["Path"].as_str().unwrap().to_string(), v["ModifyIndex"].as_u64().unwrap()));
        }
        match page.header("x-nomad-nexttoken") {
            Some(t) if !t.is_empty() => next = t,
            _ => return out,
        }
    }
}

fn value(a: &Agent, path: &str) -> String {
    a.get(&format!("/v1/var/{path}")).json()["Items"]["v"].as_str().unwrap_or_default().to_string()
}

fn restore(a: &Agent, archive: &[u8]) -> Resp {
    client().put(format!("{}{SNAPSHOT}", a.http())).body(archive.to_vec()).send().unwrap().into()
}

fn save(a: &Agent, query: &str) -> Vec<u8> {
    let r = a.get(&format!("{SNAPSHOT}{query}"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type().as_deref(), Some("application/x-gzip"));
    let digest: [u8; 32] = sha2::Sha256::digest(&r.body).into();
    assert_eq!(
        r.header("digest"),
        Some(raftwarden_actors::snapshot::archive::digest_header(&digest)),
        "Digest is sha-256=<base64 of the body>"
    );
    assert!(r.header("x-nomad-index").is_none(), "the snapshot index is not exposed");
    r.body
}

#[test]
fn save_then_restore_brings_back_exactly_the_saved_state() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for i in 0..2_000 {
        put_var(&a, &format!("app/k{i:04}"), &format!("v{i}"));
    }
    let sched = a.put("/v1/operator/scheduler/configuration", r#"{"SchedulerAlgorithm":"spread"}"#);
    assert_eq!(sched.status, 200);
    let saved_vars = vars(&a);
    let saved_sched = a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"].clone();
    let archive = save(&a, "");
    assert!(!save(&a, "?stale").is_empty(), "?stale saves from the local server");

    // Change, delete and add after the save.
    put_var(&a, "app/k0000", "changed");
    assert_eq!(a.request("DELETE", "/v1/var/app/k0001", None).status, 204);
    put_var(&a, "app/new", "after the save");
    assert_eq!(a.put("/v1/operator/scheduler/configuration", r#"{"SchedulerAlgorithm":"binpack"}"#).status, 200);
    assert_ne!(vars(&a), saved_vars);

    let r = restore(&a, &archive);
    assert_eq!((r.status, r.text().as_str(), r.content_type()), (200, "", None), "an empty 200");
    assert_eq!(vars(&a), saved_vars);
    assert_eq!(saved_vars.len(), 2_000);
    assert_eq!((value(&a, "app/k0000"), value(&a, "app/k1999")), ("v0".to_string(), "v1999".to_string()));
    assert_eq!(a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"], saved_sched);
    // Writes go on after a restore.
    put_var(&a, "app/after", "restore");
    assert_eq!(vars(&a).len(), saved_vars.len() + 1);
}

#[test]
fn bad_archives_are_refused_with_nomads_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    put_var(&a, "keep/me", "1");
    let archive = save(&a, "");
    put_var(&a, "keep/later", "2");
    let before = vars(&a);

    let mut tampered = archive.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x55;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "failed to restore from snapshot: failed to decompress snapshot: EOF"),
        (
            "garbage",
            b"this is not an archive at all".to_vec(),
            "failed to restore from snapshot: failed to decompress snapshot: gzip: invalid header",
        ),
        ("truncated", archive[..archive.len() - 16].to_vec(), "failed to restore from snapshot: "),
        ("tampered", tampered, "failed to restore from snapshot: "),
    ];
    for (what, body, prefix) in cases {
        let r = restore(&a, &body);
        assert_eq!(r.status, 500, "{what}: {}", r.text());
        assert_eq!(r.content_type().as_deref(), Some("text/plain; charset=utf-8"), "{what}");
        assert!(r.text().starts_with(prefix), "{what}: {}", r.text());
        assert_eq!(vars(&a), before, "{what} changed the state");
    }
    let r = a.request("DELETE", SNAPSHOT, None);
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
}

/// A save taken while writes go on is one consistent cut: four writers each write their own
/// keys in sequence, and in the saved state every writer's keys form an unbroken prefix (no
/// write missing before a later one, no half-applied batch), restored into another server.
#[test]
fn a_save_during_writes_is_a_consistent_cut() {
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, stop, written) = (a.http(), stop.clone(), written.clone());
            std::thread::spawn(move || {
                let client = client();
                // Bounded in count; the main thread stops it much earlier.
                for i in 0..5_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let r = client
                        .put(format!("{url}/v1/var/cut/w{w}/k{i:05}"))
                        .body(format!(r#"{{"Items":{{"v":"{i}"}}}}"#))
                        .send()
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    wait_until(std::time::Duration::from_secs(60), || written.load(Ordering::Relaxed) >= 200, || "writes".into());
    let archive = save(&a, "");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }

    let dir_b = tempfile::tempdir().unwrap();
    let b = single(&net(), &dir_b, "beta");
    let r = restore(&b, &archive);
    assert_eq!(r.status, 200, "{}", r.text());
    let restored = vars(&b);
    assert!(restored.len() >= 200, "the cut holds the writes acknowledged before the save");
    for w in 0..4 {
        let ids: Vec<usize> = restored
            .iter()
            .filter_map(|(p, _)| p.strip_prefix(&format!("cut/w{w}/k")).map(|i| i.parse().unwrap()))
            .collect();
        assert_eq!(ids, (0..ids.len()).collect::<Vec<_>>(), "writer {w}'s keys are a prefix");
    }
}

/// Scheduled snapshots in the server (`snapshot { interval retain path }`): the leader saves
/// on the interval, verifies each file, keeps the newest `retain` and reports in a status file.
#[test]
fn the_server_saves_on_a_schedule_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let hcl = format!("snapshot {{\n  interval = \"300ms\"\n  retain = 2\n  path = \"{}\"\n}}\n", backups.display());
    let a = single_with(&net(), &dir, "alpha", &hcl);
    put_var(&a, "scheduled/one", "1");
    let snaps = || -> Vec<std::path::PathBuf> {
        let Ok(entries) = std::fs::read_dir(&backups) else { return vec![] };
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "snap")).collect()
    };
    let rounds = || -> u64 {
        std::fs::read_to_string(backups.join("agent-status.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["Rounds"].as_u64())
            .unwrap_or(0)
    };
    wait_until(std::time::Duration::from_secs(30), || rounds() >= 4, || format!("rounds: {}", rounds()));
    let files = snaps();
    assert_eq!(files.len(), 2, "retain = 2 keeps the newest two: {files:?}");
    for f in files {
        let (code, out, err) = cli(&a.http(), &["operator", "snapshot", "inspect", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("variables"), "{out}");
    }
}
