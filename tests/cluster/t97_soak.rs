//! The soak (ignored; run by hand): 3 servers under mixed load for `RAFTWARDEN_SOAK_SECS`
//! (default 1800), with a snapshot saved every minute, one restore halfway, a leadership
//! transfer every 45 s and a fault every 30 s (SIGKILL and restart, SIGSTOP, the leader cut
//! off by nftables when it can run). Every 10 s it samples each server's RSS, open file
//! descriptors, data dir size, raft log segments and snapshot files, and at the end asserts
//! that memory stayed flat, descriptors and disk bounded, and the log and snapshots
//! compacted; both halves of the history (before and after the restore) go through the
//! checker.
//!
//! `RAFTWARDEN_SOAK_SECS=600 cargo test --release --test cluster soak -- --ignored --nocapture`

use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use crate::nemesis::agreed_leader;
use crate::nemesis::converge;
use crate::nemesis::final_check;
use crate::nemesis::urls;
use crate::nemesis::Firewall;
use crate::nemesis::Paused;
use crate::nemesis::Rng;
use crate::nemesis::Workload;
use crate::nemesis::SOAK_BLOCK;
use crate::support::poll;
use crate::support::Cluster;
use crate::support::Net;

/// Log entries between raft snapshots, and entries kept behind one: small, so a soak
/// compacts many times.
const SOAK_HCL: &str = "server {\n  raft_snapshot_threshold = 2000\n  raft_trailing_logs = 500\n}\n";

#[derive(Clone, Debug)]
struct Sample {
    at: Duration,
    server: usize,
    rss_kib: u64,
    fds: usize,
    disk: u64,
    segments: usize,
    snapshots: usize,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// (bytes, raft log segments, snapshot files) under a data dir, walked to a bounded depth.
fn disk(dir: &Path, depth: u32) -> (u64, usize, usize) {
    let mut total = (0, 0, 0);
    let Ok(entries) = std::fs::read_dir(dir) else { return total };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() && depth > 0 {
            let (b, s, n) = disk(&e.path(), depth - 1);
            let in_snapshots = e.file_name() == "snapshots";
            total = (total.0 + b, total.1 + s, total.2 + n + if in_snapshots { count_files(&e.path()) } else { 0 });
        } else if meta.is_file() {
            total.0 += meta.len();
            if e.file_name().to_string_lossy().ends_with(".seg") {
                total.1 += 1;
            }
        }
    }
    total
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.flatten().filter(|e| e.metadata().is_ok_and(|m| m.is_file())).count()).unwrap_or(0)
}

fn http(timeout: Duration) -> reqwest::blocking::Client {
    raftwarden_actors::crypto::install_default_provider();
    reqwest::blocking::Client::builder().timeout(timeout).build().expect("client")
}

fn soak_secs() -> Duration {
    Duration::from_secs(std::env::var("RAFTWARDEN_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1800))
}

/// The largest value of `f` over the samples of `server` taken in [from, to).
fn max_in(samples: &[Sample], server: usize, from: Duration, to: Duration, f: impl Fn(&Sample) -> u64) -> u64 {
    samples.iter().filter(|s| s.server == server && s.at >= from && s.at < to).map(f).max().unwrap_or(0)
}

#[test]
#[ignore = "a soak of 30 minutes by default; run by hand (docs/robustness.md)"]
fn soak_mixed_load_with_nemeses() {
    let total = soak_secs();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = Cluster::start_with(&Net::new(SOAK_BLOCK), &dir, 3, &[0, 1, 2], SOAK_HCL);
    let fw = Firewall::new("t97_soak");
    let snapshot_client = http(Duration::from_secs(120));
    let mut rng = Rng::new(97);
    let started = Instant::now();
    let mut work = Some(Workload::start(urls(&c), 6, 97));
    let mut samples: Vec<Sample> = Vec::new();
    let (mut saves, mut transfers, mut transfer_failures, mut faults, mut restored) = (0, 0, 0, 0, false);
    let mut last_archive: Option<Vec<u8>> = None;
    let mut checked = 0;
    let mut next = [Duration::ZERO, Duration::from_secs(60), Duration::from_secs(45), Duration::from_secs(30)];
    let leader = |c: &Cluster| {
        let mut l = None;
        assert!(
            poll(Duration::from_secs(60), || {
                l = agreed_leader(c);
                l.is_some()
            }),
            "no agreed leader"
        );
        l.unwrap_or(0)
    };
    for _ in 0..1_000_000 {
        let now = started.elapsed();
        if now >= total {
            break;
        }
        if now >= next[0] {
            next[0] = now + Duration::from_secs(10);
            for (i, a) in c.agents.iter().enumerate() {
                let Some(pid) = a.pid() else { continue };
                let (disk, segments, snapshots) = disk(&a.spec.data_dir, 4);
                let (Some(rss_kib), Some(fds)) = (rss_kib(pid), fds(pid)) else { continue };
                samples.push(Sample { at: now, server: i, rss_kib, fds, disk, segments, snapshots });
            }
            let line: Vec<String> = samples
                .iter()
                .rev()
                .take(3)
                .map(|s| {
                    format!(
                        "s{} rss {} MiB fds {} disk {} KiB seg {} snap {}",
                        s.server + 1,
                        s.rss_kib / 1024,
                        s.fds,
                        s.disk / 1024,
                        s.segments,
                        s.snapshots
                    )
                })
                .collect();
            eprintln!("soak {:>5} s: {}", now.as_secs(), line.join(" | "));
        }
        if now >= next[1] {
            // A snapshot save every minute, through a random server.
            next[1] = now + Duration::from_secs(60);
            let a = &c.agents[rng.below(3) as usize];
            if let Ok(r) = snapshot_client.get(format!("{}/v1/operator/snapshot", a.http())).send() {
                if r.status().as_u16() == 200 {
                    if let Ok(b) = r.bytes() {
                        saves += 1;
                        last_archive = Some(b.to_vec());
                    }
                }
            }
        }
        if now >= next[2] {
            // A leadership transfer to a random follower.
            next[2] = now + Duration::from_secs(45);
            let l = leader(&c);
            let to = (l + 1 + rng.below(2) as usize) % 3;
            let url = format!(
                "{}/v1/operator/raft/transfer-leadership?address={}",
                c.agents[l].http(),
                c.agents[to].rpc_addr()
            );
            match http(Duration::from_secs(10)).put(url).send() {
                Ok(r) if r.status().as_u16() == 200 => transfers += 1,
                Ok(r) => {
                    transfer_failures += 1;
                    eprintln!(
                        "soak: transfer to s{} answered {}: {}",
                        to + 1,
                        r.status(),
                        r.text().unwrap_or_default()
                    );
                }
                Err(e) => {
                    transfer_failures += 1;
                    eprintln!("soak: transfer to s{}: {e}", to + 1);
                }
            }
        }
        if now >= next[3] {
            next[3] = now + Duration::from_secs(30);
            let l = leader(&c);
            let v = if rng.below(2) == 0 { l } else { (l + 1 + rng.below(2) as usize) % 3 };
            match (rng.below(3), &fw) {
                (0, _) => {
                    c.agents[v].kill9();
                    std::thread::sleep(Duration::from_secs(2));
                    c.agents[v].launch();
                }
                (1, Some(fw)) => {
                    let others: Vec<String> = (0..3).filter(|&i| i != l).map(|i| c.agents[i].spec.ip.clone()).collect();
                    fw.partition(&[c.agents[l].spec.ip.clone()], &others);
                    std::thread::sleep(Duration::from_secs(3));
                    fw.heal();
                }
                _ => {
                    let p = Paused::new(&c.agents[v]);
                    std::thread::sleep(Duration::from_secs(3));
                    drop(p);
                }
            }
            faults += 1;
            converge(&c, Duration::from_secs(60));
        }
        if !restored && now >= total / 2 {
            if let Some(archive) = last_archive.clone() {
                // A restore rewinds the state: the history before it is checked on its own and
                // a new one starts after it, from whatever the archive held.
                restored = true;
                converge(&c, Duration::from_secs(60));
                let rec = work.take().expect("workload").stop();
                checked += final_check(&c, &rec, "soak (before the restore)", faults, 200, true).operations;
                let r = snapshot_client
                    .put(format!("{}/v1/operator/snapshot", c.agents[leader(&c)].http()))
                    .body(archive)
                    .send();
                let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
                assert_eq!(status, 200, "snapshot restore");
                converge(&c, Duration::from_secs(60));
                work = Some(Workload::start(urls(&c), 6, 98));
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    converge(&c, Duration::from_secs(60));
    let rec = work.take().expect("workload").stop();
    let after = final_check(&c, &rec, "soak", faults, 200, !restored);
    checked += after.operations;
    eprintln!(
        "soak: {} s, {checked} operations checked, {faults} faults, {saves} snapshots saved, restored: {restored}, {transfers} transfers ({transfer_failures} failed), {} samples",
        started.elapsed().as_secs(),
        samples.len()
    );

    // Flat and bounded: each server's last third against its first third.
    let third = total / 3;
    for s in 0..3 {
        let first = |f: fn(&Sample) -> u64| max_in(&samples, s, Duration::ZERO, third, f);
        let last = |f: fn(&Sample) -> u64| max_in(&samples, s, third * 2, total + third, f);
        let (rss0, rss1) = (first(|x| x.rss_kib), last(|x| x.rss_kib));
        let (fd0, fd1) = (first(|x| x.fds as u64), last(|x| x.fds as u64));
        let (disk0, disk1) = (first(|x| x.disk), last(|x| x.disk));
        let (seg1, snap1) = (last(|x| x.segments as u64), last(|x| x.snapshots as u64));
        eprintln!(
            "soak s{}: rss max {} -> {} MiB, fds max {fd0} -> {fd1}, disk max {} -> {} MiB, segments {seg1}, snapshot files {snap1}",
            s + 1,
            rss0 / 1024,
            rss1 / 1024,
            disk0 >> 20,
            disk1 >> 20
        );
        assert!(rss1 <= rss0 * 13 / 10 + 8 * 1024, "s{}: memory grew from {rss0} KiB to {rss1} KiB", s + 1);
        assert!(fd1 <= fd0 + 64, "s{}: open files grew from {fd0} to {fd1}", s + 1);
        assert!(disk1 <= disk0 * 2 + (64 << 20), "s{}: the data dir grew from {disk0} to {disk1} bytes", s + 1);
        // The log is cut behind each snapshot (2,000 entries, 500 kept): a few segments, and
        // the store keeps the current snapshot and at most the one being written.
        assert!(seg1 <= 8, "s{}: {seg1} raft log segments: the log is not compacted", s + 1);
        assert!(snap1 <= 4, "s{}: {snap1} snapshot files: old snapshots are not removed", s + 1);
    }
    assert!(saves >= (total.as_secs() / 60).saturating_sub(1) as usize / 2, "only {saves} snapshot saves");
    drop(fw);
}
