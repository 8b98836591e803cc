//! CAS write throughput of one durable server, measured at three depths so the cost of each
//! layer is visible in one run:
//!
//! - `apply`: the pure state-machine CAS (no raft, no disk);
//! - `actor`: a CAS write through the config-store actor, raft and the fsynced redb log;
//! - `http`: the same write through the real HTTP API on loopback.

use std::net::TcpListener;
use std::time::Duration;
use std::time::Instant;

use criterion::criterion_group;
use criterion::criterion_main;
use criterion::Criterion;
use raftwarden::http;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::config_store::SetSchedulerConfig;
use raftwarden_actors::state::Command;
use raftwarden_actors::state::SchedulerConfig;
use raftwarden_actors::state::State;

fn settings(dir: &std::path::Path, rpc: &str, http: &str) -> raftwarden_actors::Settings {
    raftwarden_actors::Settings::new("bench", dir, rpc, http)
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
    let server = system
        .block_on(raftwarden_actors::start(settings(dir.path(), "127.0.0.1:1", &http_addr)))
        .expect("start server");
    let store = server.config_store().clone();
    // Wait for leadership and the default rows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while system.block_on(store.send(GetSchedulerConfig { stale: false })).map(|r| r.is_err()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    system.block_on(async {
        api.stop(true).await;
        server.shutdown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
