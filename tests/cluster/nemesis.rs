//! What the nemesis tests (t97) share: a workload of concurrent clients recording into the
//! history checker, faults on real processes and real packets (SIGKILL, SIGSTOP/SIGCONT,
//! nftables rules on the servers' loopback addresses), healing, and the final check.
//!
//! These tests use their own loopback blocks, 127.97.x.y and 127.96.x.y for the soak (not the
//! binary's 127.30), so their nftables rules can never touch another test's servers.

use std::process::Command;
use std::process::Stdio;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use raftwarden_checker::Op;
use raftwarden_checker::Options;
use raftwarden_checker::Outcome;
use raftwarden_checker::Recorder;
use raftwarden_checker::Report;
use raftwarden_checker::Val;

use crate::support::poll;
use crate::support::Agent;
use crate::support::Cluster;
use crate::support::Net;

/// Loopback block of the nemesis tests (127.97.x.y).
pub const BLOCK: u8 = 97;

pub fn net() -> Net {
    Net::new(BLOCK)
}

/// Loopback block of the soak (127.96.x.y): its own, so a soak runs beside the nemeses.
pub const SOAK_BLOCK: u8 = 96;

/// How long each nemesis runs: `RAFTWARDEN_NEMESIS_SECS` (the long runs), else `short`.
pub fn nemesis_secs(short: u64) -> Duration {
    let secs = std::env::var("RAFTWARDEN_NEMESIS_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(short);
    Duration::from_secs(secs)
}

/// The variables the clients share (few, so they contend).
pub const VAR_KEYS: [&str; 3] = ["nemesis/k0", "nemesis/k1", "nemesis/k2"];
/// The checker's key of the scheduler configuration.
pub const SCHEDULER: &str = "scheduler";
/// The checker's key of the autopilot configuration.
pub const AUTOPILOT: &str = "autopilot";
/// The process id of the final reads.
pub const FINAL: usize = 999;

/// A tiny deterministic generator (xorshift64*), per client thread.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn client(timeout: Duration) -> reqwest::blocking::Client {
    raftwarden_actors::crypto::install_default_provider();
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// What one request came to: an answer (status, body), nothing sent (the connection was
/// refused: the operation did not happen), or no definite answer.
enum Sent {
    Answer(u16, serde_json::Value),
    Refused,
    Unknown(String),
}

fn send(rb: reqwest::blocking::RequestBuilder) -> Sent {
    match rb.send() {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes() {
                Ok(b) => Sent::Answer(status, serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null)),
                Err(e) => Sent::Unknown(format!("body: {e}")),
            }
        }
        Err(e) if e.is_connect() => Sent::Refused,
        Err(e) if e.is_timeout() => Sent::Unknown("timeout".into()),
        Err(e) => Sent::Unknown(format!("{e}")),
    }
}

fn var_val(v: &serde_json::Value) -> Option<Val> {
    let index = v["ModifyIndex"].as_u64()?;
    let value = v["Items"]["v"].as_str()?;
    Some(Val::new(value, index))
}

fn scheduler_val(v: &serde_json::Value) -> Option<Val> {
    let c = &v["SchedulerConfig"];
    Some(Val::new(c["NodeLimitForFeasibilityChecks"].as_u64()?.to_string(), c["ModifyIndex"].as_u64()?))
}

/// Answers the workload did not expect (a 400, a 403, a body it cannot read): recorded as
/// indeterminate, and counted so a test can show them.
pub static ODD_ANSWERS: AtomicU64 = AtomicU64::new(0);

fn odd(what: &str, status: u16, body: &serde_json::Value) -> Outcome {
    ODD_ANSWERS.fetch_add(1, Ordering::Relaxed);
    Outcome::Unknown(format!("{what}: unexpected {status} {body}"))
}

/// One operation on a variable through `base` (any server: followers forward), recorded.
pub fn var_op(
    rec: &Recorder,
    http: &reqwest::blocking::Client,
    base: &str,
    p: usize,
    key: &str,
    op: Op,
) -> Option<Outcome> {
    let url = format!("{base}/v1/var/{key}");
    let with_cas = |u: String, cas: Option<u64>| match cas {
        Some(n) => format!("{u}?cas={n}"),
        None => u,
    };
    let rb = match &op {
        Op::Read => http.get(&url),
        Op::Write { value, cas } => http.put(with_cas(url, *cas)).body(format!("{{\"Items\":{{\"v\":\"{value}\"}}}}")),
        Op::Delete { cas } => http.delete(with_cas(url, *cas)),
    };
    let invoke = rec.now();
    let outcome = match send(rb) {
        Sent::Refused => return None,
        Sent::Unknown(why) => Outcome::Unknown(why),
        Sent::Answer(s, _) if s >= 500 => Outcome::Unknown(format!("{s}")),
        Sent::Answer(s, body) => match (&op, s) {
            (Op::Read, 200) => var_val(&body).map(|v| Outcome::Read(Some(v))).unwrap_or_else(|| odd("read", s, &body)),
            (Op::Read, 404) => Outcome::Read(None),
            (Op::Write { .. }, 200) => match body["ModifyIndex"].as_u64() {
                Some(i) => Outcome::Written { index: Some(i) },
                None => odd("write", s, &body),
            },
            (Op::Delete { .. }, 200 | 204) => Outcome::Deleted,
            (Op::Write { .. } | Op::Delete { .. }, 409) => {
                // The current variable, or a zero value (ModifyIndex 0, no Items) when absent.
                let current =
                    if body["ModifyIndex"].as_u64() == Some(0) { Some(None) } else { var_val(&body).map(Some) };
                match current {
                    Some(c) => Outcome::Refused { current: Some(c) },
                    None => odd("conflict", s, &body),
                }
            }
            _ => odd("variable", s, &body),
        },
    };
    rec.record(p, &format!("var/{key}"), op, invoke, outcome.clone());
    Some(outcome)
}

/// One operation on the scheduler configuration (read, or a write of
/// `NodeLimitForFeasibilityChecks` with or without `?cas=`), recorded.
pub fn scheduler_op(rec: &Recorder, http: &reqwest::blocking::Client, base: &str, p: usize, op: Op) -> Option<Outcome> {
    let url = format!("{base}/v1/operator/scheduler/configuration");
    let rb = match &op {
        Op::Read => http.get(&url),
        Op::Write { value, cas } => {
            let u = cas.map(|n| format!("{url}?cas={n}")).unwrap_or(url);
            http.put(u)
                .body(format!("{{\"SchedulerAlgorithm\":\"binpack\",\"NodeLimitForFeasibilityChecks\":{value}}}"))
        }
        Op::Delete { .. } => return None,
    };
    let invoke = rec.now();
    let outcome = match send(rb) {
        Sent::Refused => return None,
        Sent::Unknown(why) => Outcome::Unknown(why),
        Sent::Answer(s, _) if s >= 500 => Outcome::Unknown(format!("{s}")),
        Sent::Answer(200, body) => match &op {
            Op::Read => scheduler_val(&body)
                .map(|v| Outcome::Read(Some(v)))
                .unwrap_or_else(|| odd("scheduler read", 200, &body)),
            _ => match (body["Updated"].as_bool(), body["Index"].as_u64()) {
                (Some(true), Some(i)) => Outcome::Written { index: Some(i) },
                (Some(false), _) => Outcome::Refused { current: None },
                _ => odd("scheduler write", 200, &body),
            },
        },
        Sent::Answer(s, body) => odd("scheduler", s, &body),
    };
    rec.record(p, SCHEDULER, op, invoke, outcome.clone());
    Some(outcome)
}

/// One operation on the autopilot configuration (read, or a write of `MaxTrailingLogs` with or
/// without `?cas=`; the rest stays at the defaults, with `CleanupDeadServers` off so a killed
/// server is never removed), recorded. A write answers only `true` or `false`.
pub fn autopilot_op(rec: &Recorder, http: &reqwest::blocking::Client, base: &str, p: usize, op: Op) -> Option<Outcome> {
    let url = format!("{base}/v1/operator/autopilot/configuration");
    let rb = match &op {
        Op::Read => http.get(&url),
        Op::Write { value, cas } => {
            let u = cas.map(|n| format!("{url}?cas={n}")).unwrap_or(url);
            http.put(u).body(format!(
                "{{\"CleanupDeadServers\":false,\"LastContactThreshold\":\"200ms\",\"MaxTrailingLogs\":{value},\"MinQuorum\":0,\"ServerStabilizationTime\":\"10s\"}}"
            ))
        }
        Op::Delete { .. } => return None,
    };
    let invoke = rec.now();
    let outcome = match send(rb) {
        Sent::Refused => return None,
        Sent::Unknown(why) => Outcome::Unknown(why),
        Sent::Answer(s, _) if s >= 500 => Outcome::Unknown(format!("{s}")),
        Sent::Answer(200, body) => match (&op, &body) {
            (Op::Read, _) => match (body["MaxTrailingLogs"].as_u64(), body["ModifyIndex"].as_u64()) {
                (Some(v), Some(i)) => Outcome::Read(Some(Val::new(v.to_string(), i))),
                _ => odd("autopilot read", 200, &body),
            },
            (_, serde_json::Value::Bool(true)) => Outcome::Written { index: None },
            (_, serde_json::Value::Bool(false)) => Outcome::Refused { current: None },
            _ => odd("autopilot write", 200, &body),
        },
        Sent::Answer(s, body) => odd("autopilot", s, &body),
    };
    rec.record(p, AUTOPILOT, op, invoke, outcome.clone());
    Some(outcome)
}

/// Concurrent clients, each a thread with a blocking client and a short timeout (faults give
/// indeterminate operations), sending a mix of reads, writes, check-and-sets and deletes to
/// random servers until `stop`.
pub struct Workload {
    pub recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workload {
    pub fn start(servers: Vec<String>, clients: usize, seed: u64) -> Workload {
        let recorder = Arc::new(Recorder::new());
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..clients)
            .map(|p| {
                let (rec, stop, servers) = (recorder.clone(), stop.clone(), servers.clone());
                std::thread::spawn(move || client_loop(&rec, &stop, &servers, p, seed))
            })
            .collect();
        Workload { recorder, stop, threads }
    }

    /// Stops the clients (each finishes its request in flight) and returns the recorder.
    pub fn stop(mut self) -> Arc<Recorder> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.recorder.clone()
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn client_loop(rec: &Recorder, stop: &AtomicBool, servers: &[String], p: usize, seed: u64) {
    let http = client(Duration::from_millis(2500));
    let mut rng = Rng::new(seed * 1000 + p as u64 + 1);
    // The last index this client saw per key: what its check-and-sets expect.
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        seq += 1;
        let base = &servers[rng.below(servers.len() as u64) as usize];
        let pick = rng.below(100);
        if pick < 10 {
            let op = if rng.below(2) == 0 {
                Op::Read
            } else {
                let value = (p as u64 + 1) * 1_000_000 + seq;
                Op::Write { value: value.to_string(), cas: Some(seen.get(AUTOPILOT).copied().unwrap_or(1)) }
            };
            if let Some(Outcome::Read(Some(v))) = autopilot_op(rec, &http, base, p, op) {
                seen.insert(AUTOPILOT.into(), v.index);
            }
            continue;
        }
        if pick < 25 {
            let op = if rng.below(2) == 0 {
                Op::Read
            } else {
                let value = (p as u64 + 1) * 1_000_000 + seq;
                Op::Write { value: value.to_string(), cas: Some(seen.get(SCHEDULER).copied().unwrap_or(1)) }
            };
            match scheduler_op(rec, &http, base, p, op) {
                Some(Outcome::Read(Some(v))) => {
                    seen.insert(SCHEDULER.into(), v.index);
                }
                Some(Outcome::Written { index: Some(i) }) => {
                    seen.insert(SCHEDULER.into(), i);
                }
                _ => {}
            }
            continue;
        }
        let key = VAR_KEYS[rng.below(VAR_KEYS.len() as u64) as usize];
        let expect = seen.get(key).copied().unwrap_or(0);
        let op = match rng.below(100) {
            0..40 => Op::Read,
            40..60 => Op::Write { value: format!("p{p}-{seq}"), cas: None },
            60..92 => Op::Write { value: format!("p{p}-{seq}"), cas: Some(expect) },
            92..96 => Op::Delete { cas: Some(expect) },
            _ => Op::Delete { cas: None },
        };
        match var_op(rec, &http, base, p, key, op) {
            Some(Outcome::Read(v)) | Some(Outcome::Refused { current: Some(v) }) => {
                seen.insert(key.into(), v.map(|v| v.index).unwrap_or(0));
            }
            Some(Outcome::Written { index: Some(i) }) => {
                seen.insert(key.into(), i);
            }
            Some(Outcome::Deleted) => {
                seen.insert(key.into(), 0);
            }
            _ => {}
        }
    }
}

/// A paused process (SIGSTOP), resumed (SIGCONT) when dropped, also when the test panics.
pub struct Paused(u32);

impl Paused {
    pub fn new(agent: &Agent) -> Paused {
        let pid = agent.pid().expect("agent running");
        signal(pid, libc::SIGSTOP);
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: a plain system call naming a child of ours that has not been reaped.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// An nftables table of drop rules between server addresses, named after the test (and this
/// process, so two runs never share one), removed when dropped, also when the test panics.
/// Rules sit on the input hook: a dropped packet vanishes silently, as on a real network
/// (the output hook would fail the sender's `send` at once).
pub struct Firewall {
    table: String,
}

impl Firewall {
    /// The table for `test`; None (the test is skipped, saying so) where nft cannot run, except
    /// under `CI=true`, where that fails the test.
    pub fn new(test: &str) -> Option<Firewall> {
        let prefix = format!("rw_{test}_");
        let Ok(tables) = Command::new("nft").args(["list", "tables"]).stderr(Stdio::null()).output() else {
            return Self::unavailable("nft is not installed");
        };
        if !tables.status.success() {
            return Self::unavailable("nft cannot run here (not root?)");
        }
        // Tables of earlier runs that were killed before their Drop ran.
        for line in String::from_utf8_lossy(&tables.stdout).lines() {
            if let Some(name) = line.strip_prefix("table inet ").filter(|n| n.starts_with(&prefix)) {
                let pid = name.rsplit('_').next().unwrap_or("");
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = nft(&format!("delete table inet {name}"));
                }
            }
        }
        let table = format!("{prefix}{}", std::process::id());
        nft(&format!(
            "add table inet {table}\nadd chain inet {table} drops {{ type filter hook input priority -10; policy accept; }}"
        ))
        .unwrap_or_else(|e| panic!("nft: {e}"));
        Some(Firewall { table })
    }

    fn unavailable(why: &str) -> Option<Firewall> {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must run the partition tests: {why} (.ci/run installs nftables)"
        );
        eprintln!("skipped: {why}; the partition nemeses need nftables as root");
        None
    }

    /// Drops `percent`% (100: all) of the packets from `from` to `to` (every protocol: raft and
    /// forwarded calls on 4647, gossip on 4648).
    pub fn drop_from(&self, from: &str, to: &str, percent: u32) {
        let rule = if percent >= 100 {
            format!("add rule inet {} drops ip saddr {from} ip daddr {to} drop", self.table)
        } else {
            format!(
                "add rule inet {} drops ip saddr {from} ip daddr {to} numgen random mod 100 < {percent} drop",
                self.table
            )
        };
        nft(&rule).unwrap_or_else(|e| panic!("nft: {e}"));
    }

    /// Cuts every link between the two sides, both ways.
    pub fn partition(&self, a: &[String], b: &[String]) {
        for x in a {
            for y in b {
                self.drop_from(x, y, 100);
                self.drop_from(y, x, 100);
            }
        }
    }

    /// Removes every rule.
    pub fn heal(&self) {
        nft(&format!("flush chain inet {} drops", self.table)).unwrap_or_else(|e| panic!("nft: {e}"));
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = nft(&format!("delete table inet {}", self.table));
    }
}

fn nft(script: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child.stdin.take().ok_or("stdin")?.write_all(script.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{script}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The cluster's HTTP base URLs.
pub fn urls(c: &Cluster) -> Vec<String> {
    c.agents.iter().map(|a| a.http()).collect()
}

/// The leader as every running server sees it, if they agree (None while they do not).
pub fn agreed_leader(c: &Cluster) -> Option<usize> {
    let views: Vec<Option<usize>> =
        (0..c.agents.len()).filter(|&i| c.agents[i].child_running()).map(|i| c.leader_seen_by(i)).collect();
    match views.first() {
        Some(Some(l)) if views.iter().all(|v| *v == Some(*l)) => Some(*l),
        _ => None,
    }
}

/// Waits (bounded) until the healed cluster serves: one agreed leader and a consistent read
/// answered by every server.
pub fn converge(c: &Cluster, timeout: Duration) {
    let http = client(Duration::from_secs(3));
    let ok = poll(timeout, || {
        agreed_leader(c).is_some()
            && c.agents.iter().all(|a| {
                http.get(format!("{}/v1/operator/scheduler/configuration", a.http()))
                    .send()
                    .is_ok_and(|r| r.status().as_u16() == 200)
            })
    });
    assert!(ok, "the cluster did not converge within {timeout:?} after healing");
}

/// The final read of every key (recorded as process [`FINAL`], retried until it has a definite
/// answer), then the checker. Panics with the report on a violation, or when fewer than
/// `min_definite` operations had a definite answer (a test that did nothing).
/// `fresh`: the variables did not exist when the history started (else they start unknown, as
/// after a snapshot restore).
pub fn final_check(c: &Cluster, rec: &Recorder, name: &str, faults: usize, min_definite: usize, fresh: bool) -> Report {
    let http = client(Duration::from_secs(5));
    for a in c.agents.iter().cycle().take(c.agents.len() * 20) {
        let mut done = true;
        for key in VAR_KEYS {
            done &= matches!(var_op(rec, &http, &a.http(), FINAL, key, Op::Read), Some(Outcome::Read(_)));
        }
        done &= matches!(scheduler_op(rec, &http, &a.http(), FINAL, Op::Read), Some(Outcome::Read(_)));
        done &= matches!(autopilot_op(rec, &http, &a.http(), FINAL, Op::Read), Some(Outcome::Read(_)));
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let history = rec.history();
    let started = Instant::now();
    let keys = VAR_KEYS.iter().filter(|_| fresh).map(|k| format!("var/{k}"));
    let report = raftwarden_checker::check(&history, &Options::default().absent_at_start(keys));
    eprintln!(
        "nemesis {name}: {faults} faults injected; checked in {:.1} s: {report}odd answers: {}",
        started.elapsed().as_secs_f64(),
        ODD_ANSWERS.load(Ordering::Relaxed)
    );
    assert!(report.ok(), "nemesis {name}: {report}");
    assert!(report.definite >= min_definite, "nemesis {name}: only {} definite operations: {report}", report.definite);
    // Every write is a raft entry of its own, as in Nomad: no index names two writes, of one
    // key or of two.
    assert_eq!(report.cross_key_shared_indices, 0, "nemesis {name}: writes shared an index: {report}");
    report
}
