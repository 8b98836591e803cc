//! A clock jump on one server without touching the host's clock: the leader runs under
//! libfaketime (Debian's `faketime` package, LD_PRELOAD), which answers the process's
//! `clock_gettime(CLOCK_REALTIME)` (Rust's `SystemTime::now`) with a changed time read from a
//! file on every call, while `CLOCK_MONOTONIC` (Rust's `Instant`, every raft timer) stays
//! real (`FAKETIME_DONT_FAKE_MONOTONIC=1`). The leader's wall clock steps 2 h ahead, then
//! back, mid-run.
//!
//! Skipped with a message where libfaketime is not installed, except under `CI=true`
//! (`.ci/run` installs it).
//!
//! Addresses: this binary's block (127.30.x.y), a fresh subnet.

use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use crate::net;
use crate::support::*;

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The raft term a server is in (`/v1/agent/self`, Nomad's `stats.raft.term`).
fn term(a: &Agent) -> Option<u64> {
    a.get("/v1/agent/self").json_or_null()["stats"]["raft"]["term"].as_str()?.parse().ok()
}

/// One write through the leader: (ModifyIndex, ModifyTime in unix seconds).
fn write(a: &Agent, path: &str) -> Result<(u64, i64), String> {
    let r = a.put(&format!("/v1/var/{path}"), r#"{"Items":{"v":"1"}}"#);
    if r.status != 200 {
        return Err(format!("{} {}", r.status, r.text()));
    }
    let v = r.json();
    Ok((v["ModifyIndex"].as_u64().unwrap(), v["ModifyTime"].as_i64().unwrap() / 1_000_000_000))
}

fn real_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Writes stay ordered by their raft index while the leader's wall clock jumps 2 h ahead and
/// back; the jump shows in the times the leader stamps (`ModifyTime` is the leader's wall
/// clock, as in Nomad), not in the order; leadership is not disturbed (no election: raft's
/// timers run on the monotonic clock); every write reads back on every server.
#[test]
fn a_leader_clock_jump_keeps_writes_ordered_and_leadership() {
    if !std::path::Path::new(LIBFAKETIME).exists() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must have libfaketime ({LIBFAKETIME})");
        eprintln!("skipped: {LIBFAKETIME} is not installed (apt-get install faketime)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "telemetry {\n  prometheus_metrics = true\n}\n");
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let v = (leader + 1) % 3;
    let offset_file = dir.path().join("faketime");
    std::fs::write(&offset_file, "+0\n").unwrap();
    c.agents[v].terminate();
    c.agents[v].spec.env = vec![
        ("LD_PRELOAD".into(), LIBFAKETIME.into()),
        ("FAKETIME_TIMESTAMP_FILE".into(), offset_file.display().to_string()),
        ("FAKETIME_NO_CACHE".into(), "1".into()),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ];
    c.agents[v].launch();
    c.transfer_to(leader, v);
    c.wait_voters(v, Duration::from_secs(60));
    let observer = (v + 1) % 3;
    let term_before = term(&c.agents[observer]).expect("raft term");

    let mut writes = Vec::new();
    for (phase, offset, shift) in [("before", "+0", 0i64), ("ahead", "+2h", 7200), ("back", "+0", 0)] {
        std::fs::write(&offset_file, format!("{offset}\n")).unwrap();
        for i in 0..20 {
            let path = format!("clock/{phase}-{i:02}");
            let (index, time) = write(&c.agents[v], &path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let skew = time - real_now() - shift;
            assert!(skew.abs() < 120, "{path}: ModifyTime {time} is not the leader's clock {offset} (off by {skew} s)");
            writes.push((path, index));
        }
        eprintln!(
            "{phase}: term {:?} on the observer, leader {:?}",
            term(&c.agents[observer]),
            c.leader_seen_by(observer)
        );
    }
    for pair in writes.windows(2) {
        assert!(pair[1].1 > pair[0].1, "ModifyIndex went backwards or repeated: {pair:?}");
    }
    assert_eq!(c.wait_leader(Duration::from_secs(10)), v, "leadership moved during the clock jumps");
    let term_after = term(&c.agents[observer]).expect("raft term");
    assert!(term_after <= term_before + 1, "term {term_before} -> {term_after}: more than one election");
    for a in &c.agents {
        for (path, index) in &writes {
            wait_until(
                Duration::from_secs(10),
                || a.get(&format!("/v1/var/{path}?stale")).json_or_null()["ModifyIndex"].as_u64() == Some(*index),
                || format!("{}: {path}", a.spec.name),
            );
        }
    }
    eprintln!(
        "{} writes through a leader whose clock jumped +2h and back; term {term_before} -> {term_after}",
        writes.len()
    );
    c.agents[v].terminate();
}
