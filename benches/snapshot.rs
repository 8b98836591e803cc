//! Snapshot save and restore end to end on one durable server, through the snapshot actor:
//! a consistent read, `state.bin`, the gzipped tar with its SHA-256 (save); verification, then
//! the restore's raft entries applied and committed (restore). Throughput is in bytes of
//! variable data. Sizes: 10 MiB and 100 MiB of 1 KiB variables; `SNAPSHOT_BENCH_GIB=1` adds
//! 1 GiB (minutes to fill).
//!
//! After criterion, `cargo bench` prints, per size, one timed save and restore with the
//! process's peak resident memory growth during each (Linux: `VmHWM`, reset through
//! `/proc/self/clear_refs` before each), to paste into a note.
//!
//! ```text
//! cargo bench --bench snapshot -- --warm-up-time 1 --measurement-time 10
//! ```

use std::io::Seek;
use std::io::SeekFrom;
use std::time::Duration;
use std::time::Instant;

use criterion::criterion_group;
use criterion::Criterion;
use criterion::SamplingMode;
use criterion::Throughput;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::snapshot::RestoreSnapshot;
use raftwarden_actors::snapshot::SaveSnapshot;
use raftwarden_actors::state::Variable;
use raftwarden_actors::variables::PutVariable;
use raftwarden_actors::Server;

const MIB: u64 = 1 << 20;
/// Bytes of item data per variable.
const VALUE: usize = 1024;
/// Writes in flight while filling (they share raft entries: group commit).
const FILL_DEPTH: usize = 64;
/// No fill or single operation may take longer than this.
const DEADLINE: Duration = Duration::from_secs(1800);

fn sizes() -> Vec<u64> {
    let mut s = vec![10 * MIB, 100 * MIB];
    if std::env::var("SNAPSHOT_BENCH_GIB").is_ok_and(|v| v == "1") {
        s.push(1024 * MIB);
    }
    s
}

fn start(system: &actix_rt::SystemRunner, dir: &std::path::Path) -> Server {
    let settings = raftwarden_actors::Settings::new("bench", dir, "127.0.0.1:1", "127.0.0.1:2");
    let server = system.block_on(raftwarden_actors::start(settings)).expect("start server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while system.block_on(server.config_store().send(GetSchedulerConfig { stale: false })).map_or(true, |r| r.is_err())
    {
        assert!(Instant::now() < deadline, "server never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Writes `bytes` of variable data as 1 KiB variables, `FILL_DEPTH` writes in flight.
async fn fill(server: &Server, bytes: u64) {
    let count = (bytes / VALUE as u64) as usize;
    let deadline = Instant::now() + DEADLINE;
    let writers = (0..FILL_DEPTH).map(|w| async move {
        let mut i = w;
        while i < count {
            assert!(Instant::now() < deadline, "fill took too long");
            let var = Variable {
                namespace: "default".into(),
                path: format!("bench/v{i:08}"),
                items: [("data".to_string(), format!("{i:0>width$}", width = VALUE - 4))].into_iter().collect(),
                create_index: 0,
                create_time: 0,
                modify_index: 0,
                modify_time: 0,
            };
            server.variables().send(PutVariable { var, cas: None }).await.expect("mailbox").expect("write");
            i += FILL_DEPTH;
        }
    });
    futures_util::future::join_all(writers).await;
}

/// Peak resident memory since the last reset, in bytes (Linux), and a reset of that peak.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    let mut report = vec![
        "snapshot end to end (one durable server, 1 KiB variables)".to_string(),
        "| state | save s | save MiB/s | save peak RSS growth | restore s | restore MiB/s | restore peak RSS growth |"
            .to_string(),
        "|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for size in sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let system = actix_rt::System::new();
        let server = start(&system, dir.path());
        system.block_on(fill(&server, size));
        let label = format!("{}MiB", size / MIB);
        // Above 100 MiB only the single timed run below: ten criterion samples of a 1 GiB
        // restore would take many minutes.
        let sampled = size <= 100 * MIB;
        group.throughput(Throughput::Bytes(size));
        if sampled {
            group.bench_function(format!("save/{label}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let saved = system.block_on(server.snapshots().send(SaveSnapshot { stale: false }));
                        saved.expect("mailbox").expect("save");
                    }
                    start.elapsed()
                })
            });
            let archive = system
                .block_on(server.snapshots().send(SaveSnapshot { stale: false }))
                .expect("mailbox")
                .expect("save");
            group.bench_function(format!("restore/{label}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut file = archive.file.try_clone().expect("clone the archive handle");
                        file.seek(SeekFrom::Start(0)).expect("rewind");
                        let restored = system.block_on(server.snapshots().send(RestoreSnapshot { archive: file }));
                        restored.expect("mailbox").expect("restore");
                    }
                    start.elapsed()
                })
            });
            drop(archive);
        }

        // One timed save and restore each, with the peak memory they added.
        if std::env::args().any(|a| a == "--bench") {
            reset_peak_rss();
            let base = peak_rss();
            let t = Instant::now();
            let saved = system.block_on(server.snapshots().send(SaveSnapshot { stale: false })).unwrap().unwrap();
            let save_s = t.elapsed().as_secs_f64();
            let save_peak = peak_rss();
            reset_peak_rss();
            let base2 = peak_rss();
            let mut file = saved.file.try_clone().unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            let t = Instant::now();
            system.block_on(server.snapshots().send(RestoreSnapshot { archive: file })).unwrap().unwrap();
            let restore_s = t.elapsed().as_secs_f64();
            let restore_peak = peak_rss();
            let growth = |peak: Option<u64>, base: Option<u64>| match (peak, base) {
                (Some(p), Some(b)) => format!("{:.0} MiB", p.saturating_sub(b) as f64 / MIB as f64),
                _ => "n/a".to_string(),
            };
            let mib = (size / MIB) as f64;
            report.push(format!(
                "| {label} | {save_s:.2} | {:.1} | {} | {restore_s:.2} | {:.1} | {} |",
                mib / save_s,
                growth(save_peak, base),
                mib / restore_s,
                growth(restore_peak, base2)
            ));
        }
        system.block_on(server.shutdown());
    }
    group.finish();
    if report.len() > 3 {
        println!("\n{}\n", report.join("\n"));
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
