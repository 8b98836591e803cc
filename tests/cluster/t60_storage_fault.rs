//! A leader whose disk fills up: its store write fails, raft stops and the agent exits; the
//! other servers elect a leader and hold every acknowledged write; the server, restarted with
//! room, catches up; the same on a real full disk (a small tmpfs).

use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

fn write(a: &Agent, value: u32) -> Result<u64, (u16, String)> {
    let r = client()
        .put(format!("{}{S}", a.http()))
        .body(format!("{{\"NodeLimitForFeasibilityChecks\":{value}}}"))
        .send()
        .map_err(|e| (0, e.to_string()))?;
    let status = r.status().as_u16();
    let body = r.text().unwrap_or_default();
    match status {
        200 => Ok(serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["Index"].as_u64()).unwrap_or(0)),
        _ => Err((status, body)),
    }
}

fn state(a: &Agent, query: &str) -> (u64, u64) {
    let v = a.get(&format!("{S}{query}")).json_or_null();
    let sc = &v["SchedulerConfig"];
    (sc["NodeLimitForFeasibilityChecks"].as_u64().unwrap_or(0), sc["ModifyIndex"].as_u64().unwrap_or(0))
}

#[test]
fn leader_out_of_room_exits_and_cluster_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    for a in &c.agents {
        wait_ready(a);
    }
    let leader = c.wait_leader(Duration::from_secs(30));
    let leader_agent = &c.agents[leader];
    leader_agent.limit_file_size(leader_agent.store_size() + 4096);

    let started = Instant::now();
    let (mut acked, mut failed) = (None, None);
    for value in 1..=50_000u32 {
        // How many writes fit depends on the free pages redb keeps inside the file (seen: a few
        // hundred to 3,600), and a loaded machine takes ~30 ms a write: the count bounds the loop,
        // the time only catches a store that never fills.
        assert!(started.elapsed() < Duration::from_secs(400), "the leader's store never ran out of room");
        match write(&c.agents[leader], value) {
            Ok(index) => acked = Some((value as u64, index)),
            Err((status, body)) => {
                assert_eq!(status, 500, "{body}");
                assert!(body.contains("File too large"), "{body}");
                failed = Some(value as u64);
                break;
            }
        }
    }
    let failed = failed.expect("a write failed");
    let (last, index) = acked.expect("writes were acknowledged before the store filled up");
    assert_eq!(c.agents[leader].wait_exit(Duration::from_secs(30)), Some(1), "{:?}", c.agents[leader].output());
    let stopped = Instant::now();

    let new_leader = c.wait_leader(Duration::from_secs(30));
    assert_ne!(new_leader, leader);
    eprintln!("store full at write {failed}; new leader after {:?}", stopped.elapsed());
    let (value, modify) = state(&c.agents[new_leader], "");
    assert!(value == last || value == failed, "state {value}, last acknowledged {last}, failed {failed}");
    assert!(modify >= index);

    // Still writable through a follower, and the restarted server catches up.
    let follower = (0..3).find(|&i| i != leader && i != new_leader).unwrap();
    let next = write(&c.agents[follower], 777_777).expect("write after the fault");
    c.agents[leader].launch();
    for a in &c.agents {
        wait_until(
            Duration::from_secs(30),
            || state(a, "?stale") == (777_777, next),
            || format!("{} does not hold the write after the fault: {:?}", a.spec.name, state(a, "?stale")),
        );
    }
}

/// A tmpfs mounted for one test, unmounted when dropped (after the agents using it stop).
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    /// `None` when this host does not let the test mount (not root, or in a container without
    /// the capability): the caller skips, except under `CI=true`, where it fails.
    fn mount(path: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI must be able to mount a tmpfs: {why}");
            eprintln!("skipped: cannot mount a tmpfs here: {why}");
            return None;
        }
        Some(Tmpfs { path: path.to_path_buf() })
    }

    /// Fills the file system until `leave` bytes are free; returns the filler's path.
    fn fill(&self, leave: u64) -> std::path::PathBuf {
        // SAFETY: statvfs writes into the zeroed struct we hand it; the path is a valid C string.
        let free = unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            let c = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(libc::statvfs(c.as_ptr(), &mut st), 0);
            st.f_bavail * st.f_frsize
        };
        let filler = self.path.join("filler");
        let f = std::fs::File::create(&filler).unwrap();
        f.set_len(0).unwrap();
        let mut left = free.saturating_sub(leave);
        let chunk = vec![0xA5u8; 1 << 20];
        let mut w = std::io::BufWriter::new(f);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            std::io::Write::write_all(&mut w, &chunk[..n]).unwrap();
            left -= n as u64;
        }
        std::io::Write::flush(&mut w).unwrap();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A variable write of `value` (a few KiB, so the disk fills in a few hundred writes) through
/// `a`: its ModifyIndex, or the status and body of the refusal (0 for no answer).
fn write_var(a: &Agent, path: &str, value: &str) -> Result<u64, (u16, String)> {
    let r = client()
        .put(format!("{}/v1/var/{path}", a.http()))
        .body(format!(r#"{{"Items":{{"v":"{value}"}}}}"#))
        .send()
        .map_err(|e| (0, e.to_string()))?;
    let status = r.status().as_u16();
    let body = r.text().unwrap_or_default();
    match status {
        200 => Ok(serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["ModifyIndex"].as_u64())
            .unwrap_or(0)),
        _ => Err((status, body)),
    }
}

fn var_index(a: &Agent, path: &str) -> Option<u64> {
    let r = a.get(&format!("/v1/var/{path}?stale"));
    (r.status == 200).then(|| r.json()["ModifyIndex"].as_u64()).flatten()
}

/// The leader's data dir on a small tmpfs that fills up (a real ENOSPC, not a file size
/// limit): its write is answered with an error, never acknowledged, and it stops; the other
/// two elect a leader and keep serving with every acknowledged write; once space is freed the
/// server, restarted on the same data dir, catches up with nothing lost.
#[test]
fn leader_on_a_full_disk_stops_and_catches_up_after_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    // One follower moves onto a tmpfs, then takes the leadership.
    let v = (leader + 1) % 3;
    c.agents[v].terminate();
    let Some(fs) = Tmpfs::mount(&dir.path().join("tmpfs"), "48m") else { return };
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", c.agents[v].spec.data_dir.display()))
        .arg(&fs.path)
        .status()
        .unwrap();
    assert!(status.success());
    c.agents[v].spec.data_dir = fs.path.clone();
    c.agents[v].launch();
    c.transfer_to(leader, v);
    c.wait_voters(v, Duration::from_secs(60));
    let filler = fs.fill(2 << 20);

    let value = "x".repeat(4000);
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..5_000u32 {
        match write_var(&c.agents[v], &format!("disk/k{i:05}"), &value) {
            Ok(index) => acked.push((format!("disk/k{i:05}"), index)),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let (status, body) = refused.expect("the full disk refused a write");
    assert!(status == 500 || status == 0, "{status} {body}");
    if status == 500 {
        assert!(body.contains("No space left on device"), "{body}");
    }
    assert!(!acked.is_empty(), "writes before the disk filled");
    assert_eq!(c.agents[v].wait_exit(Duration::from_secs(30)), Some(1), "{:?}", c.agents[v].output());
    let out = c.agents[v].output().join("\n");
    assert!(out.contains("No space left on device"), "{out}");
    eprintln!("disk full after {} acknowledged writes: {status} {}", acked.len(), body.lines().next().unwrap_or(""));

    // The others serve, with every acknowledged write.
    let new_leader = c.wait_leader(Duration::from_secs(30));
    assert_ne!(new_leader, v);
    let after = write_var(&c.agents[new_leader], "disk/after", "1").expect("a write after the fault");
    for (path, index) in &acked {
        assert_eq!(var_index(&c.agents[new_leader], path), Some(*index), "{path} lost");
    }

    // Space freed: the server comes back on its data dir and catches up.
    std::fs::remove_file(filler).unwrap();
    c.agents[v].launch();
    wait_until(
        Duration::from_secs(60),
        || var_index(&c.agents[v], "disk/after") == Some(after),
        || format!("the server did not catch up: {:?}", c.agents[v].get("/v1/var/disk/after?stale").text()),
    );
    for (path, index) in &acked {
        assert_eq!(var_index(&c.agents[v], path), Some(*index), "{path} lost on the restarted server");
    }
    drop(c);
}
