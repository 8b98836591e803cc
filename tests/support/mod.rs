//! Black-box test support: start real `raftwarden` agent processes on loopback addresses,
//! talk to them over real HTTP, and wait on conditions (`wait_until`, `holds_for`, the async
//! `eventually`, all on one polling loop) rather than for fixed times.
//!
//! Every agent gets its own loopback IP (127.<block>.<test>.<n>) with the standard ports, so
//! tests run in parallel without racing for free ports, and a restarted agent keeps its
//! address.

#![allow(dead_code)]

pub mod certs;
pub mod tls;

use std::io::BufRead;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

pub const BIN: &str = env!("CARGO_BIN_EXE_raftwarden");

static NEXT_SUBNET: AtomicU8 = AtomicU8::new(1);

/// A block of loopback addresses for one test: `127.<block>.<subnet>.<n>`.
pub struct Net {
    block: u8,
    subnet: u8,
}

impl Net {
    /// `block` separates test binaries; each call gives a fresh subnet inside it.
    /// `RAFTWARDEN_TEST_NET_SHIFT` moves every block by that much, so two checkouts can run
    /// their tests on one machine at once without sharing addresses.
    pub fn new(block: u8) -> Self {
        let shift = std::env::var("RAFTWARDEN_TEST_NET_SHIFT").ok().and_then(|s| s.parse::<u8>().ok()).unwrap_or(0);
        Self { block: block.wrapping_add(shift), subnet: NEXT_SUBNET.fetch_add(1, Ordering::SeqCst) }
    }

    pub fn ip(&self, n: u8) -> String {
        format!("127.{}.{}.{}", self.block, self.subnet, n)
    }
}

/// How to start one agent.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    pub name: String,
    pub ip: String,
    pub data_dir: PathBuf,
    pub bootstrap_expect: u32,
    pub retry_join: Vec<String>,
    /// Extra HCL appended to the generated config file.
    pub extra_hcl: String,
    pub extra_args: Vec<String>,
    /// The client for an agent whose HTTP port speaks HTTPS (`tls { http = true }`); its API
    /// URLs then start with `https://`.
    pub https: Option<reqwest::blocking::Client>,
    /// Environment variables of the process (e.g. the fault-injection ones,
    /// `actors/src/fault.rs`), set at each launch.
    pub env: Vec<(String, String)>,
}

impl AgentSpec {
    pub fn new(name: &str, ip: String, data_dir: PathBuf) -> Self {
        Self {
            name: name.into(),
            ip,
            data_dir,
            bootstrap_expect: 1,
            retry_join: Vec::new(),
            extra_hcl: String::new(),
            extra_args: Vec::new(),
            https: None,
            env: Vec::new(),
        }
    }
}

/// A running (or stopped) agent process.
pub struct Agent {
    pub spec: AgentSpec,
    child: Option<Child>,
    pub output: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    pub fn http(&self) -> String {
        let scheme = if self.spec.https.is_some() { "https" } else { "http" };
        format!("{scheme}://{}:4646", self.spec.ip)
    }

    /// The client that reaches this agent's API: plain, or the spec's HTTPS client.
    pub fn api_client(&self) -> reqwest::blocking::Client {
        self.spec.https.clone().unwrap_or_else(client)
    }

    pub fn rpc_addr(&self) -> String {
        format!("{}:4647", self.spec.ip)
    }

    /// The gossip (serf) address other servers join through.
    pub fn serf_addr(&self) -> String {
        format!("{}:4648", self.spec.ip)
    }

    /// Starts the agent and waits until its HTTP API answers.
    pub fn start(spec: AgentSpec) -> Agent {
        let mut a = Agent { spec, child: None, output: Arc::default() };
        a.launch();
        a
    }

    pub fn launch(&mut self) {
        self.launch_no_wait();
        wait_until(
            Duration::from_secs(30),
            || self.ping(),
            || format!("agent {} did not start: {:?}", self.spec.name, self.output()),
        );
    }

    /// Starts the process without waiting for its API: for an agent that may stop on its own
    /// (a crash point) before it answers.
    pub fn launch_no_wait(&mut self) {
        std::fs::create_dir_all(&self.spec.data_dir).expect("data dir");
        let cfg = self.spec.data_dir.with_extension("hcl");
        let mut hcl = format!(
            "name = \"{}\"\ndata_dir = \"{}\"\nbind_addr = \"{}\"\nports {{\n  http = 4646\n  rpc = 4647\n}}\nserver {{\n  enabled = true\n  bootstrap_expect = {}\n",
            self.spec.name,
            self.spec.data_dir.display(),
            self.spec.ip,
            self.spec.bootstrap_expect
        );
        if !self.spec.retry_join.is_empty() {
            let joins: Vec<String> = self.spec.retry_join.iter().map(|j| format!("\"{j}\"")).collect();
            hcl.push_str(&format!("  server_join {{\n    retry_join = [{}]\n  }}\n", joins.join(", ")));
        }
        hcl.push_str("}\n");
        hcl.push_str(&self.spec.extra_hcl);
        std::fs::write(&cfg, hcl).expect("write config");
        let mut cmd = Command::new(BIN);
        cmd.arg("agent").arg(format!("-config={}", cfg.display())).args(&self.spec.extra_args);
        self.spawn(cmd);
    }

    fn spawn(&mut self, mut cmd: Command) {
        // RAFTWARDEN_TEST_LOG raises the agents' log level when a case is being debugged.
        let log = std::env::var("RAFTWARDEN_TEST_LOG").unwrap_or_else(|_| "warn".into());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).env("RAFTWARDEN_LOG", log);
        // The spec's own, set after the default so that it may change the log level.
        cmd.envs(self.spec.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.spawn().expect("spawn raftwarden");
        for pipe in [
            child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = self.output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut o) = out.lock() {
                        o.push(line);
                    }
                }
            });
        }
        self.child = Some(child);
    }

    pub fn output(&self) -> Vec<String> {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The HTTP API answers (`/v1/status/leader` answers 200 from any server, leader or not).
    fn ping(&self) -> bool {
        self.api_client()
            .get(format!("{}/v1/status/leader", self.http()))
            .send()
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        self.signal_and_wait(libc::SIGTERM)
    }

    /// SIGINT (Ctrl-C) and wait for a clean exit; returns the exit status code.
    pub fn interrupt(&mut self) -> Option<i32> {
        self.signal_and_wait(libc::SIGINT)
    }

    fn signal_and_wait(&mut self, signal: libc::c_int) -> Option<i32> {
        let mut c = self.child.take()?;
        // SAFETY: a plain system call naming a child of ours that is not reaped yet, so its pid
        // cannot belong to another process.
        unsafe { libc::kill(c.id() as libc::pid_t, signal) };
        if let Some(st) = wait_child(&mut c, Duration::from_secs(20)) {
            return st.code();
        }
        let _ = c.kill();
        let _ = c.wait();
        None
    }

    /// SIGHUP: the agent re-reads its configuration and certificates and goes on running.
    pub fn hangup(&self) {
        let pid = self.pid().expect("agent is running") as libc::pid_t;
        // SAFETY: a plain system call naming a child of ours that is not reaped yet.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    }

    /// Sets the running process's RLIMIT_FSIZE: a file write past `bytes` then fails with
    /// EFBIG (the agent ignores SIGXFSZ), the way a full disk fails a write.
    pub fn limit_file_size(&self, bytes: u64) {
        let pid = self.pid().expect("agent is running") as libc::pid_t;
        let lim = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
        // SAFETY: plain system call on a child process of ours, with a valid limit struct.
        let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    /// The size of the agent's raft store file now.
    pub fn store_size(&self) -> u64 {
        std::fs::metadata(self.spec.data_dir.join("server/raft.redb")).expect("raft store").len()
    }

    /// Waits for the process to exit on its own; its exit code, or None if it is still running
    /// at the deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let st = wait_child(self.child.as_mut()?, timeout)?;
        self.child = None;
        st.code()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Whether the process is still running (without needing `&mut`).
    pub fn child_running(&self) -> bool {
        match self.pid() {
            Some(pid) => std::path::Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid),
            None => false,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        Resp::from(self.api_client().get(format!("{}{}", self.http(), path)).send().expect("GET"))
    }

    pub fn put(&self, path: &str, body: &str) -> Resp {
        Resp::from(
            self.api_client().put(format!("{}{}", self.http(), path)).body(body.to_string()).send().expect("PUT"),
        )
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.api_client().request(m, format!("{}{}", self.http(), path));
        if let Some(b) = body {
            rb = rb.body(b.to_string());
        }
        Resp::from(rb.send().expect("request"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A response with everything a test compares.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl From<reqwest::blocking::Response> for Resp {
    fn from(r: reqwest::blocking::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().map(|b| b.to_vec()).unwrap_or_default();
        Self { status, headers, body }
    }
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The JSON body, or `null` for an error answer (e.g. a restarted follower whose stale
    /// state has not caught up yet); for use inside polling conditions.
    pub fn json_or_null(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    pub fn content_type(&self) -> Option<String> {
        self.header("content-type")
    }
}

pub fn client() -> reqwest::blocking::Client {
    raftwarden_actors::crypto::install_default_provider();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// How often the waiting helpers below look again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `cond` until it holds (true) or `timeout` passes (false): the one polling loop the
/// helpers below share.
pub fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `cond` until it holds or the deadline passes (then panics with `why`).
pub fn wait_until(timeout: Duration, cond: impl FnMut() -> bool, why: impl Fn() -> String) {
    if !poll(timeout, cond) {
        panic!("timed out: {}", why());
    }
}

/// Asserts `cond` holds at every poll for the whole of `window`: a bounded check that
/// something does not happen (a sleep and one look at the end would miss it happening and
/// being undone meanwhile).
pub fn holds_for(window: Duration, mut cond: impl FnMut() -> bool, why: impl Fn() -> String) {
    let end = Instant::now() + window;
    loop {
        assert!(cond(), "{}", why());
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// The async form of [`wait_until`] for cases that run inside an actix system: polls `f`
/// until it returns `Some`, failing with `what` after 30 s.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(POLL).await;
    }
}

/// Waits up to `timeout` for `child` to exit: its status, or None while it still runs.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let mut status = None;
    poll(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// Starts a single-server agent and waits until it leads and has written its defaults.
pub fn single(net: &Net, dir: &tempfile::TempDir, name: &str) -> Agent {
    single_with(net, dir, name, "")
}

pub fn single_with(net: &Net, dir: &tempfile::TempDir, name: &str, extra_hcl: &str) -> Agent {
    let mut spec = AgentSpec::new(name, net.ip(1), dir.path().join(name));
    spec.extra_hcl = extra_hcl.into();
    let agent = Agent::start(spec);
    wait_ready(&agent);
    agent
}

/// Waits until the agent answers a consistent scheduler read (leader elected, defaults in).
pub fn wait_ready(agent: &Agent) {
    wait_until(
        Duration::from_secs(30),
        || agent.get("/v1/operator/scheduler/configuration").status == 200,
        || format!("agent {} never became ready: {:?}", agent.spec.name, agent.output()),
    );
}

/// The server settings under which a stopped follower falls behind a compacted log quickly
/// (a snapshot every 20 entries, 5 kept), with the Prometheus metrics [`wait_compacted`] reads.
pub const COMPACTING_HCL: &str =
    "server {\n  raft_snapshot_threshold = 20\n  raft_trailing_logs = 5\n}\ntelemetry {\n  prometheus_metrics = true\n}\n";

/// Waits until the agent has compacted its raft log at least once (`nomad.raft.compactLogs`).
/// A leader compacts at its next replication attempt to a stopped follower, not while one is
/// in flight; once it has, that follower can only catch up by a snapshot.
pub fn wait_compacted(agent: &Agent) {
    let metrics = || agent.get("/v1/metrics?format=prometheus").text();
    wait_until(
        Duration::from_secs(30),
        || metrics().lines().any(|l| l.starts_with("nomad_raft_compactLogs_count") && !l.ends_with(" 0")),
        metrics,
    );
}

/// Runs the CLI binary with the given args and environment; returns (code, stdout, stderr).
pub fn cli(addr: &str, args: &[&str]) -> (i32, String, String) {
    cli_in(std::path::Path::new("."), addr, args)
}

/// Like [`cli`], in working directory `cwd`.
pub fn cli_in(cwd: &std::path::Path, addr: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("NOMAD_ADDR", addr)
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_REGION")
        .stdin(Stdio::null())
        .output()
        .expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A set of agents started with `bootstrap_expect = n` joined through each other's gossip
/// (serf) addresses, as Nomad's `retry_join`.
pub struct Cluster {
    pub agents: Vec<Agent>,
}

impl Cluster {
    /// Starts `n` servers in the given order (indexes into 0..n).
    pub fn start(net: &Net, dir: &tempfile::TempDir, n: usize, order: &[usize]) -> Cluster {
        Self::start_with(net, dir, n, order, "")
    }

    /// Like [`Cluster::start`], with extra HCL in every server's config file.
    pub fn start_with(net: &Net, dir: &tempfile::TempDir, n: usize, order: &[usize], extra_hcl: &str) -> Cluster {
        let joins: Vec<String> = (0..n).map(|i| format!("{}:4648", net.ip(i as u8 + 1))).collect();
        let specs: Vec<AgentSpec> = (0..n)
            .map(|i| {
                let name = format!("s{}", i + 1);
                let mut spec = AgentSpec::new(&name, net.ip(i as u8 + 1), dir.path().join(&name));
                spec.bootstrap_expect = n as u32;
                spec.retry_join = joins.clone();
                spec.extra_hcl = extra_hcl.into();
                spec
            })
            .collect();
        let mut slots: Vec<Option<Agent>> = (0..n).map(|_| None).collect();
        for &i in order {
            slots[i] = Some(Agent::start(specs[i].clone()));
        }
        let agents = slots.into_iter().map(|a| a.expect("every index in order")).collect();
        let c = Cluster { agents };
        c.wait_leader(Duration::from_secs(60));
        c
    }

    pub fn live(&mut self) -> Vec<usize> {
        (0..self.agents.len()).filter(|&i| self.agents[i].is_running()).collect()
    }

    /// The index of the leader as the given agent sees it.
    pub fn leader_seen_by(&self, i: usize) -> Option<usize> {
        let r = self.agents[i].api_client().get(format!("{}/v1/status/leader", self.agents[i].http())).send().ok()?;
        let addr: String = r.json().ok()?;
        self.agents.iter().position(|a| a.rpc_addr() == addr)
    }

    /// Waits until every running agent agrees on one leader that is itself running.
    pub fn wait_leader(&self, timeout: Duration) -> usize {
        let mut views = Vec::new();
        let mut agreed = None;
        poll(timeout, || {
            views = (0..self.agents.len())
                .filter(|&i| self.agents[i].child_running())
                .map(|i| self.leader_seen_by(i))
                .collect();
            agreed = match views.first() {
                Some(Some(l)) if views.iter().all(|v| *v == Some(*l)) && self.agents[*l].child_running() => Some(*l),
                _ => None,
            };
            agreed.is_some()
        });
        agreed.unwrap_or_else(|| panic!("no agreed leader: {views:?}"))
    }

    /// Waits until the raft configuration, as `i` reports it, has every agent of the cluster
    /// as a voter. After a server was down, autopilot may have removed it and re-added it as
    /// a non-voter; a fault test that then stops another server needs all three votes back,
    /// or the two left are not a quorum of the configuration they hold.
    pub fn wait_voters(&self, i: usize, timeout: Duration) {
        let addrs: Vec<String> = self.agents.iter().map(|a| a.rpc_addr()).collect();
        let servers = || -> Vec<serde_json::Value> {
            let url = format!("{}/v1/operator/raft/configuration", self.agents[i].http());
            let v = self.agents[i].api_client().get(url).send().and_then(|r| r.json::<serde_json::Value>());
            v.ok().and_then(|v| v["Servers"].as_array().cloned()).unwrap_or_default()
        };
        wait_until(
            timeout,
            || addrs.iter().all(|a| servers().iter().any(|s| s["Address"] == a.as_str() && s["Voter"] == true)),
            || format!("not every server a voter: {:?}", servers()),
        );
    }

    /// Moves the leadership from `leader` to `target` (asking again until it has moved), then
    /// waits until the new leader serves.
    pub fn transfer_to(&self, leader: usize, target: usize) {
        let addr = self.agents[target].rpc_addr();
        wait_until(
            Duration::from_secs(30),
            || {
                self.agents[leader].request(
                    "PUT",
                    &format!("/v1/operator/raft/transfer-leadership?address={addr}"),
                    None,
                );
                self.wait_leader(Duration::from_secs(10)) == target
            },
            || format!("leadership did not move to {addr}"),
        );
        wait_ready(&self.agents[target]);
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(true)
}

/// The python-nomad virtualenv's interpreter: `RAFTWARDEN_PYENV`, else `target/pyenv` (which
/// `.ci/run` creates). `None` when absent; under `CI=true` absence fails the test, since CI
/// must run what needs it.
pub fn python_nomad() -> Option<PathBuf> {
    let env = std::env::var_os("RAFTWARDEN_PYENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv"));
    let bin = env.join("bin/python");
    if bin.exists() {
        return Some(bin);
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must run this: .ci/run creates target/pyenv");
    eprintln!("skipped: no python-nomad virtualenv at target/pyenv (run .ci/run, or set RAFTWARDEN_PYENV)");
    None
}

/// One request to `a` with an optional `X-Nomad-Token` and body.
pub fn call(a: &Agent, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Resp {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
    let mut rb = a.api_client().request(m, format!("{}{}", a.http(), path));
    if let Some(t) = token {
        rb = rb.header("X-Nomad-Token", t);
    }
    if let Some(b) = body {
        rb = rb.body(b.to_string());
    }
    Resp::from(rb.send().expect("request"))
}
