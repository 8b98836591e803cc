//! `operator snapshot inspect` on archives written by the library: Nomad's tables, `-json`, and
//! a tampered archive refused (spec §7, checklist items 87-96 for the archive itself).

use std::time::Duration;
use std::time::UNIX_EPOCH;

use raftwarden_actors::snapshot::archive;
use raftwarden_actors::snapshot::archive::SnapshotMetaJson;
use raftwarden_actors::snapshot::archive::StateWriter;

use crate::support::*;

/// An archive of 20 variables and one autopilot row, and its `state.bin` length.
fn write_snapshot(path: &std::path::Path) -> u64 {
    let mut w = StateWriter::new(Vec::new(), b"header").unwrap();
    w.table("sm_autopilot").unwrap();
    w.row(b"config", &[1u8; 40]).unwrap();
    w.table("sm_variables").unwrap();
    for i in 0..20 {
        w.row(format!("default/app/{i}").as_bytes(), &[7u8; 100]).unwrap();
    }
    let state = w.finish().unwrap();
    let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let meta = SnapshotMetaJson {
        version: archive::SNAPSHOT_VERSION,
        id: SnapshotMetaJson::id_for(3, 42, created),
        index: 42,
        term: 3,
        ..Default::default()
    };
    let file = std::fs::File::create(path).unwrap();
    archive::write_archive(&meta, state.as_slice(), state.len() as u64, std::io::BufWriter::new(file)).unwrap();
    state.len() as u64
}

#[test]
fn snapshot_inspect_shows_meta_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.snap");
    let size = write_snapshot(&path);
    let file = path.to_str().unwrap();

    let (code, out, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", file]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // Nomad's formatKV, an empty line, then the types, a blank spacer row and the totals.
    assert_eq!(lines[0], "Created = 2023-11-14T22:13:20Z", "{out}");
    assert_eq!(lines[1], "ID      = 3-42-1700000000000", "{out}");
    assert!(lines[2].starts_with("Size    = ") && lines[2].ends_with("KiB"), "{out}");
    assert_eq!(&lines[3..6], ["Index   = 42", "Term    = 3", "Version = 1"], "{out}");
    assert_eq!(lines[6], "", "{out}");
    assert_eq!(lines[7].split_whitespace().collect::<Vec<_>>(), ["Type", "Count", "Size"], "{out}");
    assert_eq!(lines[8].split_whitespace().take(2).collect::<Vec<_>>(), ["variables", "20"], "largest first: {out}");
    assert_eq!(lines[9].split_whitespace().take(2).collect::<Vec<_>>(), ["autopilot", "1"], "{out}");
    assert_eq!(lines[10].trim(), "", "{out}");
    assert_eq!(lines[11].split_whitespace().take(2).collect::<Vec<_>>(), ["Total", "21"], "{out}");
    assert_eq!(lines.len(), 12, "{out}");

    let (code, out, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", "-json", file]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Meta"]["Index"], 42);
    assert_eq!(v["Meta"]["Size"], size);
    assert_eq!(v["Stats"][0]["Name"], "variables");
    assert_eq!(v["Stats"][0]["Count"], 20);
    // A row record is kind, key length, key, value length, value; keys are 13 or 14 bytes.
    assert_eq!(v["Stats"][0]["Sum"], 10 * (1 + 4 + 13 + 4 + 100) + 10 * (1 + 4 + 14 + 4 + 100));
}

#[test]
fn snapshot_inspect_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.snap");
    write_snapshot(&path);

    // Decompress, change one byte of state.bin's data, compress again: only SHA256SUMS knows.
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()), &mut tar)
        .unwrap();
    tar[3 * 512 + 50] ^= 1;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let tampered = dir.path().join("tampered.snap");
    std::fs::write(&tampered, gz.finish().unwrap()).unwrap();
    let (code, out, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", tampered.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err.trim_end(),
        "Error inspecting snapshot: failed to read snapshot: failed to read snapshot file: failed checking integrity \
         of snapshot: hash check failed for \"state.bin\""
    );

    let truncated = dir.path().join("truncated.snap");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 4]).unwrap();
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", truncated.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("unexpected EOF"), "{err}");

    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("This command takes one argument: <filename>"), "{err}");
    let missing = dir.path().join("missing.snap");
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error opening snapshot file: open ") && err.contains("missing.snap"), "{err}");
}
