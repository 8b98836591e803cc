//! Snapshot archive throughput over a 64 MiB `state.bin` of random-ish rows (1 KiB values, half
//! random bytes hex-encoded, as a JSON-ish variable compresses about two to one), in MB/s of
//! state:
//!
//! - `encode`: `write_archive` (tar, gzip level 6, SHA-256 of the state and of the body);
//! - `verify`: `read_archive` with the state thrown away (Nomad's `snapshot.Verify`);
//! - `decode`: `read_archive` with the state written to a file (what restore does).
//!
//! `ARCHIVE_BENCH_MIB` changes the state size.

use std::io::BufWriter;
use std::io::Seek;
use std::io::SeekFrom;
use std::time::Duration;

use criterion::criterion_group;
use criterion::criterion_main;
use criterion::Criterion;
use criterion::Throughput;
use raftwarden_actors::snapshot::archive;
use raftwarden_actors::snapshot::archive::SnapshotMetaJson;
use raftwarden_actors::snapshot::archive::StateWriter;

/// A state stream of about `mib` MiB.
fn state_bin(mib: usize) -> Vec<u8> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut w = StateWriter::new(Vec::with_capacity(mib << 20), b"bench").unwrap();
    w.table("sm_variables").unwrap();
    let rows = (mib << 20) / 1060;
    let mut value = Vec::with_capacity(1024);
    for i in 0..rows {
        value.clear();
        value.extend_from_slice(b"{\"Items\":{\"key\":\"");
        while value.len() < 1000 {
            value.extend_from_slice(format!("{:016x}", next()).as_bytes());
        }
        value.extend_from_slice(b"\"}}");
        w.row(format!("default/app/{i:08}").as_bytes(), &value).unwrap();
    }
    w.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let mib: usize = std::env::var("ARCHIVE_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let state = state_bin(mib);
    let meta = SnapshotMetaJson { version: archive::SNAPSHOT_VERSION, id: "1-1-0".into(), ..Default::default() };
    let mut encoded = Vec::new();
    archive::write_archive(&meta, state.as_slice(), state.len() as u64, &mut encoded).unwrap();
    eprintln!(
        "state.bin {} bytes, archive {} bytes ({:.2}x)",
        state.len(),
        encoded.len(),
        state.len() as f64 / encoded.len() as f64
    );

    let mut group = c.benchmark_group("archive");
    group.throughput(Throughput::Bytes(state.len() as u64)).sample_size(10).measurement_time(Duration::from_secs(20));

    group.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(encoded.len() + (1 << 20));
        b.iter(|| {
            out.clear();
            archive::write_archive(&meta, state.as_slice(), state.len() as u64, &mut out).unwrap()
        })
    });
    group.bench_function("verify", |b| b.iter(|| archive::read_archive(encoded.as_slice(), std::io::sink()).unwrap()));
    group.bench_function("decode", |b| {
        let mut file = tempfile::tempfile().unwrap();
        b.iter(|| {
            file.set_len(0).unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            archive::read_archive(encoded.as_slice(), BufWriter::new(&mut file)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
