//! CAS write throughput of one durable server, measured at three depths so the cost of each
//! layer is visible in one run:
//!
//! - `cas_write/apply`: the pure state-machine CAS (no raft, no disk);
//! - `cas_write/actor`: a CAS write through the config-store actor, raft and the fsynced redb log;
//! - `cas_write/http`: the same write through the real HTTP API on loopback;
//! - `cas_write_inflight/{one_row,distinct_rows}/{1,16,64}`: plain writes with that many in
//!   flight at once (concurrent CAS on one row would mostly fail), to show that writes that
//!   arrive together share an entry and an fsync (group commit). `one_row`: every write replaces
//!   the scheduler row, so no two can share an entry (each keeps a `ModifyIndex` of its own);
//!   `distinct_rows`: each writer puts its own variable, so concurrent writes batch.
//!
//! After criterion, `cargo bench` also prints a fixed run per depth (writes/s, p50 and p99 of
//! single writes) as a table to paste into a note.
//!
//! `CAS_FSYNC_WRITES=<n>` turns the binary into a bounded load for `benches/fsyncs.sh`: start
//! one server, make `n` writes at 64 in flight, stop. No criterion. `CAS_FSYNC_TARGET=one_row`
//! or `distinct_rows` (the default) picks the workload.
//!
//! The whole measurement for a note (about two minutes, plus the build):
//!
//! ```text
//! cargo bench --bench cas_write -- --warm-up-time 1 --measurement-time 5 && benches/fsyncs.sh
//! ```
//!
//! Every loop is bounded in count and time (`DEADLINE`).

use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use actix::Addr;
use criterion::criterion_group;
use criterion::Criterion;
use criterion::SamplingMode;
use criterion::Throughput;
use raftwarden::http;
use raftwarden_actors::config_store::ConfigStore;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::config_store::SetSchedulerConfig;
use raftwarden_actors::state::Command;
use raftwarden_actors::state::SchedulerConfig;
use raftwarden_actors::state::State;
use raftwarden_actors::state::Variable;
use raftwarden_actors::variables::PutVariable;
use raftwarden_actors::Server;

/// What the concurrent writers write.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// Every write replaces the scheduler config row.
    OneRow,
    /// Writer `i` replaces variable `bench/w<i>`: concurrent writes touch different rows.
    DistinctRows,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::OneRow => "one_row",
            Target::DistinctRows => "distinct_rows",
        }
    }

    /// One plain write by writer `writer`; true when it was applied.
    async fn write(self, server: &Server, writer: usize) -> bool {
        match self {
            Target::OneRow => {
                let msg = SetSchedulerConfig { config: SchedulerConfig::default(), cas: None };
                matches!(server.config_store().send(msg).await, Ok(Ok(applied)) if applied.updated)
            }
            Target::DistinctRows => {
                let var = Variable {
                    namespace: "default".into(),
                    path: format!("bench/w{writer}"),
                    items: [("k".to_string(), "v".repeat(64))].into_iter().collect(),
                    create_index: 0,
                    create_time: 0,
                    modify_index: 0,
                    modify_time: 0,
                };
                matches!(server.variables().send(PutVariable { var, cas: None }).await, Ok(Ok(_)))
            }
        }
    }
}

/// Writes in flight for `cas_write_inflight` and the fixed run.
const DEPTHS: [usize; 3] = [1, 16, 64];
/// The two workloads of `cas_write_inflight` and the fixed run.
const TARGETS: [Target; 2] = [Target::OneRow, Target::DistinctRows];
/// Writes per depth in the fixed run that reports writes/s and p99.
const FIXED_WRITES: usize = 2_000;
/// Writes in flight in the fsync-counting mode.
const FSYNC_DEPTH: usize = 64;
/// No single batch of writes may take longer than this; a stuck server fails the bench.
const DEADLINE: Duration = Duration::from_secs(120);

fn settings(dir: &Path, rpc: &str, http: &str) -> raftwarden_actors::Settings {
    raftwarden_actors::Settings::new("bench", dir, rpc, http)
}

/// Starts one durable single server in `dir` and waits until it serves writes.
fn start_server(
    system: &actix_rt::SystemRunner,
    dir: &Path,
    http_addr: &str,
) -> (raftwarden_actors::Server, Addr<ConfigStore>) {
    let server =
        system.block_on(raftwarden_actors::start(settings(dir, "127.0.0.1:1", http_addr))).expect("start server");
    let store = server.config_store().clone();
    // Wait for leadership and the default rows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while system.block_on(store.send(GetSchedulerConfig { stale: false })).map(|r| r.is_err()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, store)
}

/// What one batch of concurrent writes achieved.
struct Run {
    elapsed: Duration,
    /// Latency of each successful write, in completion order.
    latencies: Vec<Duration>,
    failures: u64,
}

/// Makes `total` plain (non-CAS) writes with `depth` of them in flight, each writer sending its
/// next write as soon as its previous one is answered. Only successes count (`latencies`); a
/// failed write still uses up its turn, and time running out ends the run.
async fn concurrent_writes(server: &Server, target: Target, depth: usize, total: usize) -> Run {
    let tickets = AtomicU64::new(0);
    let failures = AtomicU64::new(0);
    let total = total as u64;
    let deadline = Instant::now() + DEADLINE;
    let start = Instant::now();
    let tasks = (0..depth.min(total as usize).max(1)).map(|writer| {
        let (tickets, failures) = (&tickets, &failures);
        async move {
            let mut latencies = Vec::new();
            while tickets.fetch_add(1, Ordering::Relaxed) < total && Instant::now() < deadline {
                let sent = Instant::now();
                if target.write(server, writer).await {
                    latencies.push(sent.elapsed());
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }
    });
    let latencies: Vec<Duration> = futures_util::future::join_all(tasks).await.into_iter().flatten().collect();
    Run { elapsed: start.elapsed(), latencies, failures: failures.load(Ordering::Relaxed) }
}

/// The value below which `q` (0..1) of the sorted samples fall (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cas_write");
    group.measurement_time(Duration::from_secs(8)).sample_size(20);

    group.bench_function("apply", |b| {
        let mut state = State::default();
        state.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 1);
        let mut index = 1;
        b.iter(|| {
            index += 1;
            let cmd = Command::SetScheduler { config: SchedulerConfig::default(), cas: Some(index - 1) };
            assert!(state.apply(&cmd, index).updated);
        })
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let system = actix_rt::System::new();
    let http_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http_addr = http_listener.local_addr().expect("addr").to_string();
    let (server, store) = start_server(&system, dir.path(), &http_addr);
    let current = |system: &actix_rt::SystemRunner| {
        system
            .block_on(store.send(GetSchedulerConfig { stale: false }))
            .expect("mailbox")
            .expect("read")
            .row
            .modify_index
    };

    group.bench_function("actor", |b| {
        let mut index = current(&system);
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let msg = SetSchedulerConfig { config: SchedulerConfig::default(), cas: Some(index) };
                    let applied = store.send(msg).await.expect("mailbox").expect("write");
                    assert!(applied.updated);
                    index = applied.index;
                }
                start.elapsed()
            })
        })
    });

    let api = system.block_on(async {
        let state = http::ApiState::new(server.clone());
        let srv = http::serve_api(http_listener, state, Default::default(), 1).expect("serve");
        let handle = srv.handle();
        actix_rt::spawn(srv);
        handle
    });
    raftwarden_actors::crypto::install_default_provider();
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{http_addr}/v1/operator/scheduler/configuration");
    group.bench_function("http", |b| {
        let mut index = current(&system);
        b.iter_custom(|iters| {
            // The HTTP server runs on the system's arbiter; drive it from a client thread.
            let url = url.clone();
            let client = client.clone();
            let start_index = index;
            let worker = std::thread::spawn(move || {
                let mut index = start_index;
                let start = Instant::now();
                for _ in 0..iters {
                    let r = client.put(format!("{url}?cas={index}")).body("{}").send().expect("PUT");
                    let v: serde_json::Value = r.json().expect("json");
                    assert_eq!(v["Updated"], true);
                    index = v["Index"].as_u64().expect("index");
                }
                (start.elapsed(), index)
            });
            let (elapsed, last) = system.block_on(async move {
                loop {
                    if worker.is_finished() {
                        return worker.join().expect("client thread");
                    }
                    actix_rt::time::sleep(Duration::from_millis(1)).await;
                }
            });
            index = last;
            elapsed
        })
    });
    group.finish();

    let mut group = c.benchmark_group("cas_write_inflight");
    group.measurement_time(Duration::from_secs(8)).sample_size(10);
    // Every sample makes the same number of writes, so even the first one keeps all `depth`
    // writes in flight (linear sampling starts with tiny samples).
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(1));
    for target in TARGETS {
        for depth in DEPTHS {
            group.bench_function(format!("{}/{depth}", target.name()), |b| {
                b.iter_custom(|iters| {
                    let iters = usize::try_from(iters).expect("iteration count fits usize");
                    let run = system.block_on(concurrent_writes(&server, target, depth, iters));
                    assert_eq!(run.failures, 0, "writes failed at depth {depth}");
                    assert_eq!(run.latencies.len(), iters, "writes did not finish in time at depth {depth}");
                    run.elapsed
                })
            });
        }
    }
    group.finish();

    // The fixed run belongs to `cargo bench`, not to `cargo test --benches` (no `--bench` flag).
    if std::env::args().any(|a| a == "--bench") {
        let mut lines = vec![
            format!("cas_write_inflight fixed run: {FIXED_WRITES} plain writes per depth, through the actors, one durable server"),
            "| writes to | in flight | writes/s | p50 ms | p99 ms | failed |".to_string(),
            "|---|---:|---:|---:|---:|---:|".to_string(),
        ];
        for target in TARGETS {
            for depth in DEPTHS {
                let mut run = system.block_on(concurrent_writes(&server, target, depth, FIXED_WRITES));
                run.latencies.sort();
                let rate = run.latencies.len() as f64 / run.elapsed.as_secs_f64();
                lines.push(format!(
                    "| {} | {depth} | {rate:.0} | {:.2} | {:.2} | {} |",
                    target.name(),
                    ms(percentile(&run.latencies, 0.50)),
                    ms(percentile(&run.latencies, 0.99)),
                    run.failures
                ));
            }
        }
        println!("\n{}\n", lines.join("\n"));
    }

    system.block_on(async {
        api.stop(true).await;
        server.shutdown().await;
    });
}

/// `CAS_FSYNC_WRITES=<n>`: `n` writes at 64 in flight on a fresh server, for `fsyncs.sh`.
/// With `n = 0` it measures what start-up and shut-down alone cost, which the script subtracts.
fn count_fsyncs_mode(writes: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let system = actix_rt::System::new();
    let http_addr = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").to_string();
    let (server, _) = start_server(&system, dir.path(), &http_addr);
    let target = match std::env::var("CAS_FSYNC_TARGET").as_deref() {
        Ok("one_row") => Target::OneRow,
        _ => Target::DistinctRows,
    };
    if writes > 0 {
        let run = system.block_on(concurrent_writes(&server, target, FSYNC_DEPTH, writes));
        assert_eq!(run.failures, 0, "writes failed");
        assert_eq!(run.latencies.len(), writes, "writes did not finish in time");
        println!(
            "{writes} writes to {} at {FSYNC_DEPTH} in flight: {:.0} writes/s",
            target.name(),
            writes as f64 / run.elapsed.as_secs_f64()
        );
    }
    system.block_on(server.shutdown());
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(writes) = std::env::var("CAS_FSYNC_WRITES") {
        count_fsyncs_mode(writes.parse().expect("CAS_FSYNC_WRITES is a number of writes"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
