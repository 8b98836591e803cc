//! A bounded load generator for raftwarden and etcd, the client half of `benches/harness.sh`,
//! and a way to load-test a running cluster:
//!
//! ```text
//! cargo run --release --example loadgen -- --system raftwarden --addr http://127.0.0.1:4646 \
//!     --mode put --clients 64 --ops 20000 --secs 20
//! ```
//!
//! Modes: `put` (each client writes its own keys, unconditionally), `cas` (each client runs a
//! compare-and-set loop on one key of its own: raftwarden `PUT /v1/var/<key>?cas=<ModifyIndex>`,
//! etcd `/v3/kv/txn` comparing `mod_revision`), `row` (every client writes one shared key,
//! `bench/row`, unconditionally: raftwarden `PUT /v1/var/bench/row`, etcd `/v3/kv/put`; no two
//! writes to one row can share a raft entry), `shared-cas` (every client runs a compare-and-set
//! loop on one shared key, `bench/shared`: a lost race is raftwarden's 409, whose body is the
//! current variable, or etcd's failed compare, whose `failure` branch reads the key; either
//! tells the next attempt's index without another read), `fill` (writes `--ops` distinct keys
//! once, for snapshot tests). Every run stops after `--ops` operations or `--secs` seconds,
//! whichever comes first, and prints one JSON line: throughput, latency percentiles, errors, and
//! `won` (the writes applied) beside `cas_lost`.
//!
//! An op is an applied write in `put`, `row`, `fill` and `cas` (where a lost CAS, which only
//! follows another process writing the same key, is counted in `cas_lost` alone); in
//! `shared-cas` an op is an attempt, won or lost, so `ops_per_sec` is attempts/s, latencies are
//! per attempt and `won_per_sec` the successes. A lost race is not an error.
//! Several `--addr`s spread the clients over them (requests to followers are forwarded).
//! `https://` addresses take `--ca-cert`, and `--client-cert` with `--client-key` when the
//! servers verify clients (Nomad's `NOMAD_CACERT`, `NOMAD_CLIENT_CERT`, `NOMAD_CLIENT_KEY`).

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use serde_json::json;
use serde_json::Value;

#[derive(Clone, Copy, PartialEq)]
enum System {
    Raftwarden,
    Etcd,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Put,
    Cas,
    Row,
    SharedCas,
    Fill,
}

impl Mode {
    const ALL: [Mode; 5] = [Mode::Put, Mode::Cas, Mode::Row, Mode::SharedCas, Mode::Fill];

    fn name(self) -> &'static str {
        match self {
            Mode::Put => "put",
            Mode::Cas => "cas",
            Mode::Row => "row",
            Mode::SharedCas => "shared-cas",
            Mode::Fill => "fill",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether every attempt counts as an op, lost or won (the shared-key CAS race).
    fn counts_attempts(self) -> bool {
        self == Mode::SharedCas
    }
}

/// The one key every client of `row` writes.
const ROW_KEY: &str = "bench/row";
/// The one key every client of `shared-cas` races on.
const SHARED_KEY: &str = "bench/shared";

struct Args {
    system: System,
    addrs: Vec<String>,
    mode: Mode,
    clients: usize,
    ops: u64,
    secs: u64,
    value_size: usize,
    token: Option<String>,
    /// HTTPS: the CA to trust and the client certificate to present (Nomad's `-ca-cert`,
    /// `-client-cert`, `-client-key`).
    ca_cert: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
}

const USAGE: &str = "usage: loadgen --system raftwarden|etcd --addr URL [--addr URL ...] \
--mode put|cas|row|shared-cas|fill [--clients N] [--ops N] [--secs S] [--value-size BYTES] [--token SECRET] \
[--ca-cert PEM --client-cert PEM --client-key PEM]";

fn parse_args<I: IntoIterator<Item = String>>(argv: I) -> Result<Args, String> {
    let mut a = Args {
        system: System::Raftwarden,
        addrs: Vec::new(),
        mode: Mode::Put,
        clients: 1,
        ops: 10_000,
        secs: 20,
        value_size: 256,
        token: std::env::var("NOMAD_TOKEN").ok(),
        ca_cert: std::env::var("NOMAD_CACERT").ok(),
        client_cert: std::env::var("NOMAD_CLIENT_CERT").ok(),
        client_key: std::env::var("NOMAD_CLIENT_KEY").ok(),
    };
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--system" => {
                a.system = match value()?.as_str() {
                    "raftwarden" => System::Raftwarden,
                    "etcd" => System::Etcd,
                    other => return Err(format!("unknown system {other:?}\n{USAGE}")),
                }
            }
            "--addr" => a.addrs.push(value()?.trim_end_matches('/').to_string()),
            "--mode" => {
                let v = value()?;
                a.mode = Mode::parse(&v).ok_or_else(|| format!("unknown mode {v:?}\n{USAGE}"))?;
            }
            "--clients" => a.clients = number(value()?)?.max(1) as usize,
            "--ops" => a.ops = number(value()?)?,
            "--secs" => a.secs = number(value()?)?,
            "--value-size" => a.value_size = number(value()?)? as usize,
            "--token" => a.token = Some(value()?),
            "--ca-cert" => a.ca_cert = Some(value()?),
            "--client-cert" => a.client_cert = Some(value()?),
            "--client-key" => a.client_key = Some(value()?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other:?}\n{USAGE}")),
        }
    }
    if a.addrs.is_empty() {
        return Err(format!("at least one --addr is needed\n{USAGE}"));
    }
    Ok(a)
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    won: u64,
    cas_lost: u64,
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (c as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Client {
    http: reqwest::Client,
    addr: String,
    system: System,
    token: Option<String>,
    value: String,
}

impl Client {
    /// One write; `cas` is the index/revision to compare with. Returns whether it was applied
    /// and the key's index/revision after it (a lost CAS tells the current one: raftwarden's 409
    /// body is the current variable; the etcd transaction reads the key when the compare fails).
    async fn write(&self, key: &str, cas: Option<u64>) -> Result<(bool, Option<u64>), String> {
        let (url, body) = match self.system {
            System::Raftwarden => {
                let mut url = format!("{}/v1/var/{key}", self.addr);
                if let Some(c) = cas {
                    url.push_str(&format!("?cas={c}"));
                }
                (url, json!({"Items": {"v": self.value}}))
            }
            System::Etcd => {
                let put = json!({"key": b64(key), "value": b64(&self.value)});
                match cas {
                    None => (format!("{}/v3/kv/put", self.addr), put),
                    Some(rev) => (
                        format!("{}/v3/kv/txn", self.addr),
                        json!({
                            "compare": [{"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string()}],
                            "success": [{"request_put": put}],
                            "failure": [{"request_range": {"key": b64(key)}}],
                        }),
                    ),
                }
            }
        };
        let mut req = match self.system {
            System::Raftwarden => self.http.put(url),
            System::Etcd => self.http.post(url),
        };
        if let Some(t) = &self.token {
            req = req.header("X-Nomad-Token", t);
        }
        let resp = req.json(&body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        reply_outcome(self.system, status, &text, cas.is_some())
    }
}

/// What a write's reply says: whether it was applied, and the key's index/revision after it.
/// raftwarden answers a lost CAS with 409 and the current variable as the body (as Nomad does),
/// so its `ModifyIndex` is the next attempt's; etcd answers a failed compare with 200,
/// `succeeded` false and the `failure` branch's range of the key, whose `mod_revision` is.
fn reply_outcome(system: System, status: u16, text: &str, cas: bool) -> Result<(bool, Option<u64>), String> {
    let body = || serde_json::from_str::<Value>(text).map_err(|e| format!("{status}: reply is not JSON: {e}"));
    match (system, status) {
        (System::Raftwarden, 200 | 409) => Ok((status == 200, body()?["ModifyIndex"].as_u64())),
        (System::Etcd, 200) => {
            let v = body()?;
            let revision = |r: &Value| r.as_str().and_then(|r| r.parse().ok());
            if cas && v["succeeded"].as_bool() != Some(true) {
                let current = &v["responses"][0]["response_range"]["kvs"][0]["mod_revision"];
                return Ok((false, revision(current)));
            }
            Ok((true, revision(&v["header"]["revision"])))
        }
        (_, code) => Err(format!("{code}: {}", text.trim())),
    }
}

/// The key and the CAS index of a client's `n`th request (`seq` is the run's op number, `index`
/// the index its key had after the client's last request).
fn next_request(mode: Mode, id: usize, n: u64, seq: u64, index: Option<u64>) -> (String, Option<u64>) {
    match mode {
        Mode::Put => (format!("load/put/c{id}/k{}", n % 64), None),
        Mode::Fill => (format!("load/fill/k{seq:08}"), None),
        Mode::Cas => (format!("load/cas/c{id}"), Some(index.unwrap_or(0))),
        Mode::Row => (ROW_KEY.to_string(), None),
        // The first attempt compares with 0 ("absent"): it wins on a fresh key, and otherwise its
        // lost race tells the current index, so no client needs a read or a plain write first.
        Mode::SharedCas => (SHARED_KEY.to_string(), Some(index.unwrap_or(0))),
    }
}

async fn run_client(c: Client, id: usize, mode: Mode, budget: Arc<AtomicU64>, deadline: Instant, stride: u64) -> Tally {
    let mut t = Tally::default();
    // A per-client CAS loop starts from a plain write, which tells it the current index.
    let mut index = None;
    if mode == Mode::Cas {
        index = c.write(&format!("load/cas/c{id}"), None).await.ok().and_then(|(_, i)| i);
    }
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        let seq = budget.fetch_add(1, Ordering::Relaxed);
        if seq >= stride {
            break;
        }
        let (key, cas) = next_request(mode, id, n, seq, index);
        let started = Instant::now();
        let outcome = c.write(&key, cas).await;
        let took = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match outcome {
            Ok((applied, i)) => {
                index = i;
                if applied {
                    t.won += 1;
                } else {
                    t.cas_lost += 1;
                }
                if applied || mode.counts_attempts() {
                    t.latencies_us.push(took);
                }
            }
            Err(e) => {
                t.errors += 1;
                if t.errors <= 3 {
                    eprintln!("client {id}: {e}");
                }
            }
        }
        n += 1;
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// A rustls client config trusting `ca` and presenting `identity` (certificate, key) when given.
fn https(ca: &str, identity: Option<(&str, &str)>) -> Result<rustls::ClientConfig, String> {
    use raftwarden::tls::files;
    let roots = files::load_ca(ca.as_ref()).map_err(|e| e.to_string())?;
    let builder = rustls::ClientConfig::builder_with_provider(raftwarden_actors::crypto::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some((cert, key)) => {
            let chain = files::load_chain(cert.as_ref()).map_err(|e| e.to_string())?;
            let key = files::load_key(key.as_ref()).map_err(|e| e.to_string())?;
            builder.with_client_auth_cert(chain, key).map_err(|e| e.to_string())
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    raftwarden_actors::crypto::install_default_provider();
    let builder = reqwest::Client::builder().pool_max_idle_per_host(args.clients).timeout(Duration::from_secs(30));
    let builder = match &args.ca_cert {
        None => builder,
        Some(ca) => match https(ca, args.client_cert.as_deref().zip(args.client_key.as_deref())) {
            Ok(config) => builder.tls_backend_preconfigured(config),
            Err(e) => {
                eprintln!("tls: {e}");
                std::process::exit(1);
            }
        },
    };
    let http = match builder.build() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("http client: {e}");
            std::process::exit(1);
        }
    };
    let value = "x".repeat(args.value_size);
    let budget = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let tasks: Vec<_> = (0..args.clients)
        .map(|id| {
            let c = Client {
                http: http.clone(),
                addr: args.addrs[id % args.addrs.len()].clone(),
                system: args.system,
                token: args.token.clone(),
                value: value.clone(),
            };
            tokio::spawn(run_client(c, id, args.mode, budget.clone(), deadline, args.ops))
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(t) => {
                all.latencies_us.extend(t.latencies_us);
                all.errors += t.errors;
                all.won += t.won;
                all.cas_lost += t.cas_lost;
            }
            Err(e) => {
                eprintln!("client task failed: {e}");
                all.errors += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let ok = all.latencies_us.len();
    let out = json!({
        "system": match args.system { System::Raftwarden => "raftwarden", System::Etcd => "etcd" },
        "mode": args.mode.name(),
        "clients": args.clients,
        "ops": ok,
        "errors": all.errors,
        "won": all.won,
        "cas_lost": all.cas_lost,
        "secs": secs,
        "ops_per_sec": ok as f64 / secs,
        "won_per_sec": all.won as f64 / secs,
        "p50_ms": percentile(&all.latencies_us, 0.50),
        "p99_ms": percentile(&all.latencies_us, 0.99),
        "p999_ms": percentile(&all.latencies_us, 0.999),
    });
    println!("{out}");
    if all.errors > 0 && ok == 0 {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn the_shared_key_modes_parse_and_others_are_refused() {
        let a = args("--system etcd --addr http://127.0.0.1:2379/ --mode shared-cas --clients 64").unwrap();
        assert!(a.mode == Mode::SharedCas && a.system == System::Etcd && a.clients == 64);
        assert_eq!(a.addrs, ["http://127.0.0.1:2379"]);
        assert!(args("--addr http://a --mode row").unwrap().mode == Mode::Row);
        for m in Mode::ALL {
            assert!(Mode::parse(m.name()) == Some(m));
        }
        let e = args("--addr http://a --mode shared_cas").err().unwrap();
        assert!(e.starts_with("unknown mode \"shared_cas\"") && e.contains("row|shared-cas"), "{e}");
        assert!(args("--addr http://a --mode").err().unwrap().starts_with("--mode needs a value"));
    }

    #[test]
    fn every_client_of_a_shared_mode_uses_one_key_and_shared_cas_starts_from_absent() {
        for id in [0, 7, 63] {
            assert_eq!(next_request(Mode::Row, id, id as u64, 9, Some(5)), (ROW_KEY.to_string(), None));
            assert_eq!(next_request(Mode::SharedCas, id, 0, 0, None), (SHARED_KEY.to_string(), Some(0)));
            assert_eq!(next_request(Mode::SharedCas, id, 3, 9, Some(41)), (SHARED_KEY.to_string(), Some(41)));
        }
        assert_ne!(next_request(Mode::Put, 1, 0, 0, None).0, next_request(Mode::Put, 2, 0, 0, None).0);
        assert!(Mode::SharedCas.counts_attempts() && !Mode::Cas.counts_attempts() && !Mode::Row.counts_attempts());
    }

    #[test]
    fn a_lost_race_tells_the_current_index_and_is_not_an_error() {
        // raftwarden's (and Nomad's) 409: the current variable, sniffed as text/plain.
        let conflict =
            r#"{"Namespace":"default","Path":"bench/shared","CreateIndex":12,"ModifyIndex":57,"Items":{"v":"x"}}"#;
        assert_eq!(reply_outcome(System::Raftwarden, 409, conflict, true), Ok((false, Some(57))));
        assert_eq!(reply_outcome(System::Raftwarden, 200, conflict, true), Ok((true, Some(57))));
        // etcd's failed compare: 200, succeeded absent (false), the failure branch's range.
        let failed = r#"{"header":{"revision":"90"},"responses":[{"response_range":{"kvs":[{"key":"YmVuY2gvc2hhcmVk","mod_revision":"88"}],"count":"1"}}]}"#;
        assert_eq!(reply_outcome(System::Etcd, 200, failed, true), Ok((false, Some(88))));
        let won = r#"{"header":{"revision":"91"},"succeeded":true,"responses":[{"response_put":{}}]}"#;
        assert_eq!(reply_outcome(System::Etcd, 200, won, true), Ok((true, Some(91))));
        assert_eq!(reply_outcome(System::Etcd, 200, r#"{"header":{"revision":"92"}}"#, false), Ok((true, Some(92))));
    }

    #[test]
    fn other_answers_are_errors_with_their_text() {
        assert_eq!(
            reply_outcome(System::Raftwarden, 403, "Permission denied\n", true),
            Err("403: Permission denied".into())
        );
        assert_eq!(reply_outcome(System::Etcd, 409, "{}", true), Err("409: {}".into()));
        let e = reply_outcome(System::Raftwarden, 409, "<html>", true).err().unwrap();
        assert!(e.starts_with("409: reply is not JSON"), "{e}");
    }
}
