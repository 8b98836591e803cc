//! Crash points inside a write, and a failing fsync: the agent
//! binary `cargo test` builds carries actors' `fault-injection` feature (the root crate's
//! dev-dependency), so an agent started with `RAFTWARDEN_CRASH_AT=<point>[:<nth>]` exits with
//! code 86 the nth time a write reaches that point, and one with `RAFTWARDEN_FSYNC_FAIL_AT=<n>`
//! sees every store fsync from the nth on fail with EIO (actors/src/fault.rs).
//!
//! Each case writes variables from several clients at once (so that writes share group-commit
//! entries), records every acknowledged one with its `ModifyIndex`, lets the crash happen,
//! restarts the server without the fault and checks that every acknowledged write reads back
//! with its index, that the store opens, and that the servers converge on one state.
//!
//! Addresses: this binary's block (127.30.x.y), a fresh subnet per case.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

/// The exit code of a crash point (`raftwarden_actors::fault::CRASH_EXIT_CODE`).
const CRASHED: i32 = 86;

const SNAPSHOT: &str = "/v1/operator/snapshot";

/// path -> (value, ModifyIndex)
type Vars = BTreeMap<String, (String, u64)>;

fn quick_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// Every variable a server holds locally (`?stale`), or `None` while it cannot answer.
fn vars_of(a: &Agent) -> Option<Vars> {
    let list = a.api_client().get(format!("{}/v1/vars?stale&per_page=100000", a.http())).send().ok()?;
    if list.status().as_u16() != 200 {
        return None;
    }
    let list: serde_json::Value = list.json().ok()?;
    let mut out = Vars::new();
    for v in list.as_array()? {
        let path = v["Path"].as_str()?.to_string();
        let var: serde_json::Value =
            a.api_client().get(format!("{}/v1/var/{path}?stale", a.http())).send().ok()?.json().ok()?;
        out.insert(path, (var["Items"]["v"].as_str()?.to_string(), var["ModifyIndex"].as_u64()?));
    }
    Some(out)
}

/// Writes `crash/c<call>/w<writer>-<n>` through `via` from `writers` clients at once until `stop`
/// says so or `limit` writes each; returns the acknowledged ones.
fn write_until(via: &Agent, writers: usize, limit: usize, stop: impl Fn() -> bool + Sync) -> Vars {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    let acked = Mutex::new(Vars::new());
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..writers {
            let (acked, failed, stop) = (&acked, &failed, &stop);
            let url = via.http();
            s.spawn(move || {
                let http = quick_client();
                for n in 0..limit {
                    if failed.load(Ordering::SeqCst) || stop() {
                        return;
                    }
                    let path = format!("crash/c{call}/w{w}-{n:05}");
                    let value = format!("{w}.{n}");
                    let r = http
                        .put(format!("{url}/v1/var/{path}"))
                        .body(format!(r#"{{"Items":{{"v":"{value}"}}}}"#))
                        .send();
                    match r {
                        Ok(r) if r.status().as_u16() == 200 => {
                            let v: serde_json::Value = r.json().unwrap_or_default();
                            let index = v["ModifyIndex"].as_u64().expect("an acknowledged write has its ModifyIndex");
                            acked.lock().unwrap().insert(path, (value, index));
                        }
                        // Not acknowledged: indeterminate, and this server is going away.
                        _ => {
                            failed.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            });
        }
    });
    acked.into_inner().unwrap()
}

/// Every acknowledged write is in `held` with the value and index it was acknowledged with.
fn assert_holds(who: &str, held: &Vars, acked: &Vars) {
    for (path, want) in acked {
        assert_eq!(held.get(path), Some(want), "{who} lost or changed the acknowledged write {path}");
    }
}

/// Whether the agent answers a read (it may also have stopped at its crash point already).
fn answers(a: &Agent) -> bool {
    quick_client()
        .get(format!("{}/v1/operator/scheduler/configuration", a.http()))
        .send()
        .is_ok_and(|r| r.status().as_u16() == 200)
}

/// After `launch_no_wait`: until the agent answers or has stopped.
fn wait_up_or_gone(a: &Agent) {
    wait_until(
        Duration::from_secs(30),
        || !a.child_running() || answers(a),
        || format!("{}: {:?}", a.spec.name, a.output()),
    );
}

fn single_spec(net: &Net, dir: &tempfile::TempDir, name: &str) -> AgentSpec {
    AgentSpec::new(name, net.ip(1), dir.path().join(name))
}

/// On one server, a crash at each point of a write, repeated at a later write after the
/// restart, loses nothing acknowledged; the write the crash cut short is indeterminate, and
/// the store opens and takes writes again. The segment points run with 16 KiB log segments.
#[test]
fn crash_inside_a_write_loses_nothing_acknowledged() {
    let cases = [
        ("log-appended", "log-appended:12"),
        ("apply-staged", "apply-staged:12"),
        ("apply-committed", "apply-committed:12"),
        ("segment-roll-synced", "segment-roll-synced:2"),
        ("segment-roll-created", "segment-roll-created:2"),
    ];
    for (name, crash_at) in cases {
        let dir = tempfile::tempdir().unwrap();
        let net = net();
        let mut spec = single_spec(&net, &dir, "s1");
        spec.env = vec![("RAFTWARDEN_SEGMENT_BYTES".into(), "16384".into())];
        let mut a = Agent::start(spec);
        wait_ready(&a);
        let mut acked = write_until(&a, 4, 10, || false);
        assert_eq!(acked.len(), 40, "{name}: writes before the fault");

        for round in 1..=2 {
            a.terminate();
            a.spec.env.push(("RAFTWARDEN_CRASH_AT".into(), crash_at.into()));
            a.launch_no_wait();
            wait_up_or_gone(&a);
            let started = Instant::now();
            let running = || a.child_running();
            let more = write_until(&a, 4, 2_000, || !running() || started.elapsed() > Duration::from_secs(120));
            assert_eq!(
                a.wait_exit(Duration::from_secs(30)),
                Some(CRASHED),
                "{name} round {round}: the crash point was not reached: {:?}",
                a.output()
            );
            acked.extend(more);
            a.spec.env.retain(|(k, _)| k != "RAFTWARDEN_CRASH_AT");
            a.launch();
            wait_ready(&a);
            let held = vars_of(&a).expect("variables after the restart");
            assert_holds(&format!("{name} round {round}"), &held, &acked);
            eprintln!("{name} round {round}: {} acknowledged, {} held after the restart", acked.len(), held.len());
        }
        let after = write_until(&a, 1, 3, || false);
        assert_eq!(after.len(), 3, "{name}: writes after the restarts");
        if name.starts_with("segment") {
            let segments = std::fs::read_dir(a.spec.data_dir.join("server/raft.log"))
                .map(|d| {
                    d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))).count()
                })
                .unwrap_or(0);
            assert!(segments > 1, "{name}: the log never rolled a segment ({segments})");
        }
    }
}

/// A follower that crashes after appending replicated entries, before applying them, comes
/// back with every acknowledged write and the leader's state.
#[test]
fn follower_crash_after_append_converges() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let f = (leader + 1) % 3;
    c.agents[f].terminate();
    c.agents[f].spec.env = vec![("RAFTWARDEN_CRASH_AT".into(), "log-appended:3".into())];
    c.agents[f].launch_no_wait();
    wait_up_or_gone(&c.agents[f]);
    let started = Instant::now();
    let follower_pid = c.agents[f].pid();
    let acked = write_until(&c.agents[leader], 4, 500, || {
        let running = follower_pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}/cmdline")).exists());
        !running || started.elapsed() > Duration::from_secs(120)
    });
    assert_eq!(c.agents[f].wait_exit(Duration::from_secs(30)), Some(CRASHED), "{:?}", c.agents[f].output());
    c.agents[f].spec.env.clear();
    c.agents[f].launch();
    let want = vars_of(&c.agents[leader]).expect("leader's variables");
    assert_holds("the leader", &want, &acked);
    wait_until(
        Duration::from_secs(60),
        || vars_of(&c.agents[f]).as_ref() == Some(&want),
        || {
            format!(
                "the restarted follower holds {:?} of {} variables",
                vars_of(&c.agents[f]).map(|v| v.len()),
                want.len()
            )
        },
    );
}

/// A follower that crashes while it installs a raft snapshot (once after its first row, once
/// after the file is published but before the store records it) opens its store and then
/// installs the snapshot in full.
#[test]
fn crash_during_snapshot_install_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], COMPACTING_HCL);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let f = (leader + 1) % 3;
    c.agents[f].kill9();
    let acked = write_until(&c.agents[leader], 4, 30, || false);
    assert_eq!(acked.len(), 120);
    wait_compacted(&c.agents[leader]);
    for point in ["snapshot-install-rows", "snapshot-install-published"] {
        c.agents[f].spec.env = vec![("RAFTWARDEN_CRASH_AT".into(), point.into())];
        c.agents[f].launch_no_wait();
        assert_eq!(
            c.agents[f].wait_exit(Duration::from_secs(60)),
            Some(CRASHED),
            "{point}: the follower did not reach the point: {:?}",
            c.agents[f].output()
        );
    }
    c.agents[f].spec.env.clear();
    c.agents[f].launch();
    let want = vars_of(&c.agents[leader]).expect("leader's variables");
    assert_holds("the leader", &want, &acked);
    wait_until(
        Duration::from_secs(60),
        || vars_of(&c.agents[f]).as_ref() == Some(&want),
        || format!("the follower holds {:?} of {} variables", vars_of(&c.agents[f]).map(|v| v.len()), want.len()),
    );
}

/// A snapshot restore cut by a crash is all old or all new after the restart, never a mix:
/// cut while rows are staged, and cut while the commit swaps the tables (its entry is in the
/// log, so the restart finishes it: all new). The server restores cleanly afterwards.
#[test]
fn restore_cut_by_a_crash_is_all_old_or_all_new() {
    for (point, must_be_new) in [("restore-staged", false), ("restore-commit", true)] {
        let dir = tempfile::tempdir().unwrap();
        let net = net();
        let mut a = Agent::start(single_spec(&net, &dir, "s1"));
        wait_ready(&a);
        write_until(&a, 4, 25, || false);
        let new_state = vars_of(&a).unwrap();
        let archive = a.get(SNAPSHOT);
        assert_eq!(archive.status, 200, "{}", archive.text());
        let archive = archive.body;
        // The state moves on: more variables and every old one rewritten.
        for (path, _) in new_state.iter() {
            let r = a.put(&format!("/v1/var/{path}"), r#"{"Items":{"v":"changed"}}"#);
            assert_eq!(r.status, 200, "{}", r.text());
        }
        write_until(&a, 1, 30, || false);
        let old_state = vars_of(&a).unwrap();
        assert_ne!(old_state, new_state);

        a.terminate();
        a.spec.env = vec![("RAFTWARDEN_CRASH_AT".into(), point.into())];
        a.launch();
        let r = quick_client().put(format!("{}{SNAPSHOT}", a.http())).body(archive.clone()).send();
        assert!(!r.as_ref().is_ok_and(|r| r.status().as_u16() == 200), "{point}: a restore was acknowledged");
        assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(CRASHED), "{point}: {:?}", a.output());
        a.spec.env.clear();
        a.launch();
        wait_ready(&a);
        let after = vars_of(&a).expect("variables after the restart");
        if must_be_new {
            assert!(after == new_state, "{point}: the restore's commit was in the log but not applied");
        } else {
            assert!(after == old_state || after == new_state, "{point}: a half-applied restore: {after:?}");
        }
        eprintln!(
            "{point}: after the restart the state is {}",
            if after == new_state { "the restored one" } else { "the old one" }
        );
        let r: Resp = client().put(format!("{}{SNAPSHOT}", a.http())).body(archive).send().unwrap().into();
        assert_eq!(r.status, 200, "{point}: {}", r.text());
        assert_eq!(vars_of(&a).as_ref(), Some(&new_state), "{point}: a restore after the crash");
    }
}

/// A failing fsync (EIO from the nth store fsync on) is never acknowledged: the server stops
/// with the error instead of retrying the fsync as if the data were safe (fsyncgate), the
/// others carry on without losing a write, and the server, restarted with a working disk,
/// catches up. Run on a follower and then on the leader of the same cluster.
#[test]
fn failing_fsync_stops_the_server_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let mut acked = Vars::new();
    // The follower: its fsync fails, it exits, writes through the leader go on.
    let f = (leader + 1) % 3;
    c.agents[f].terminate();
    c.agents[f].spec.env = vec![("RAFTWARDEN_FSYNC_FAIL_AT".into(), "40".into())];
    c.agents[f].launch();
    let started = Instant::now();
    let pid = c.agents[f].pid();
    let gone = || !pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}/cmdline")).exists());
    acked.extend(write_until(&c.agents[leader], 4, 1_000, || gone() || started.elapsed() > Duration::from_secs(120)));
    assert_eq!(c.agents[f].wait_exit(Duration::from_secs(30)), Some(1), "{:?}", c.agents[f].output());
    let out = c.agents[f].output().join("\n");
    assert!(out.contains("Input/output error") && out.contains("raft stopped"), "{out}");
    acked.extend(write_until(&c.agents[leader], 2, 10, || false));
    assert!(acked.len() >= 20);
    c.agents[f].spec.env.clear();
    c.agents[f].launch();

    // The leader: restarted with the fault, given the leadership, written to until its fsync
    // fails; a write whose fsync failed is answered with an error, never 200.
    let leader = c.wait_leader(Duration::from_secs(30));
    wait_ready(&c.agents[leader]);
    // The follower's exit may have let autopilot remove it (a dead server cleaned up) and
    // add it back as a non-voter: until it votes again, the leader and one other are the
    // whole quorum, and the leader's stop below would leave no quorum at all.
    c.wait_voters(leader, Duration::from_secs(60));
    let v = (leader + 2) % 3;
    c.agents[v].terminate();
    c.agents[v].spec.env = vec![("RAFTWARDEN_FSYNC_FAIL_AT".into(), "60".into())];
    c.agents[v].launch();
    c.transfer_to(leader, v);
    c.wait_voters(v, Duration::from_secs(60));
    let started = Instant::now();
    let pid = c.agents[v].pid();
    let gone = || !pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}/cmdline")).exists());
    acked.extend(write_until(&c.agents[v], 4, 1_000, || gone() || started.elapsed() > Duration::from_secs(120)));
    assert_eq!(c.agents[v].wait_exit(Duration::from_secs(60)), Some(1), "{:?}", c.agents[v].output());
    let mut new_leader = None;
    // Both survivors are voters of a three-voter configuration (waited for above), so they
    // elect within a few election timeouts; their logs are printed if they never agree.
    poll(Duration::from_secs(120), || {
        new_leader = (0..3).filter(|&i| i != v).find_map(|i| c.leader_seen_by(i)).filter(|&l| l != v);
        new_leader.is_some()
    });
    let new_leader = new_leader.unwrap_or_else(|| {
        let outputs: Vec<String> =
            c.agents.iter().map(|a| format!("{}: {}", a.spec.name, a.output().join("\n"))).collect();
        panic!("no leader after the old one stopped:\n{}", outputs.join("\n\n"))
    });
    acked.extend(write_until(&c.agents[new_leader], 2, 10, || false));
    let want = vars_of(&c.agents[new_leader]).expect("new leader's variables");
    assert_holds("the new leader", &want, &acked);
    c.agents[v].spec.env.clear();
    c.agents[v].launch();
    for a in &c.agents {
        wait_until(
            Duration::from_secs(60),
            || vars_of(a).as_ref() == Some(&want),
            || format!("{} holds {:?} of {} variables", a.spec.name, vars_of(a).map(|v| v.len()), want.len()),
        );
    }
}
