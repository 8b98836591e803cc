//! Nomad's archive tests (spec §10 items 87-90, 93-95) and properties of the format.

use proptest::prelude::*;

use super::*;

fn meta() -> SnapshotMetaJson {
    SnapshotMetaJson {
        version: SNAPSHOT_VERSION,
        id: "2-17-1700000000123".into(),
        index: 17,
        term: 2,
        peers: encode_peers(["127.0.0.1:4647"]),
        configuration: vec![ConfigServer { suffrage: 0, id: "a-b".into(), address: "127.0.0.1:4647".into() }],
        configuration_index: 1,
        size: 0,
    }
}

/// A state stream with two tables; `rows` rows of `value_len` bytes in the second.
fn state_bin(rows: usize, value_len: usize) -> Vec<u8> {
    let mut w = StateWriter::new(Vec::new(), b"header").unwrap();
    w.table("sm_autopilot").unwrap();
    w.row(b"config", b"{}").unwrap();
    w.table("sm_variables").unwrap();
    for i in 0..rows {
        let value: Vec<u8> = (0..value_len).map(|j| (i * 31 + j * 7) as u8).collect();
        w.row(format!("default/v{i}").as_bytes(), &value).unwrap();
    }
    w.finish().unwrap()
}

fn archive_of(meta: &SnapshotMetaJson, state: &[u8]) -> (Vec<u8>, ArchiveSummary) {
    let mut out = Vec::new();
    let summary = write_archive(meta, state, state.len() as u64, &mut out).unwrap();
    (out, summary)
}

fn gunzip(archive: &[u8]) -> Vec<u8> {
    let mut tar = Vec::new();
    Gunzip::new(archive).unwrap().read_to_end(&mut tar).unwrap();
    tar
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn read_err(archive: &[u8]) -> String {
    let mut state = Vec::new();
    read_archive(archive, &mut state).unwrap_err().to_string()
}

/// A tar of the given entries, written as `write_archive` writes them.
fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = TarWriter { out: Vec::new(), mtime: 1_700_000_000 };
    for (name, data) in entries {
        tar.small(name, data).unwrap();
    }
    tar.finish().unwrap()
}

fn sha_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn sums(entries: &[(&str, &[u8])]) -> Vec<u8> {
    entries.iter().map(|(name, data)| format!("{}  {name}\n", sha_hex(data))).collect::<String>().into_bytes()
}

/// Item 87: write then read round-trips meta and 1 KiB of random state exactly, and the
/// summary's digest is the SHA-256 of the bytes written.
#[test]
fn archive_round_trip() {
    let state: Vec<u8> = (0..1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (archive, summary) = archive_of(&meta(), &state);
    let mut out = Vec::new();
    let read = read_archive(archive.as_slice(), &mut out).unwrap();
    assert_eq!(read, SnapshotMetaJson { size: 1024, ..meta() });
    assert_eq!(out, state);
    assert_eq!(summary.sha256, <[u8; 32]>::from(Sha256::digest(&archive)));
    assert_eq!(summary.archive_len, archive.len() as u64);
    assert_eq!(summary.state_sha256, <[u8; 32]>::from(Sha256::digest(&state)));
    assert_eq!(parse_digest_header(&summary.digest_header()), Some(summary.sha256));
    assert!(summary.digest_header().starts_with("sha-256=") && summary.digest_header().ends_with('='));
    assert_eq!(parse_digest_header("md5=abc"), None);
}

/// The entries are in Nomad's order, mode 0600, USTAR, and `SHA256SUMS` lists both files.
#[test]
fn archive_layout_is_nomads() {
    let state = state_bin(3, 10);
    let (archive, _) = archive_of(&meta(), &state);
    let tar = gunzip(&archive);
    let json = meta().to_go_json().replace("\"Size\":0", &format!("\"Size\":{}", state.len()));
    let mut names = Vec::new();
    let mut at = 0;
    while tar[at] != 0 {
        let block: [u8; BLOCK] = tar[at..at + BLOCK].try_into().unwrap();
        assert!(tar_checksum_ok(&block).unwrap());
        assert_eq!(&block[100..108], b"0000600\0");
        assert_eq!(&block[257..265], b"ustar\x0000");
        assert_eq!(block[156], b'0');
        let size = tar_number(&block[124..136]).unwrap() as usize;
        let data = &tar[at + BLOCK..at + BLOCK + size];
        let name = String::from_utf8(tar_string(&block[..100]).to_vec()).unwrap();
        match name.as_str() {
            "meta.json" => assert_eq!(data, json.as_bytes()),
            "state.bin" => assert_eq!(data, state.as_slice()),
            "SHA256SUMS" => assert_eq!(
                String::from_utf8(data.to_vec()).unwrap(),
                format!("{}  meta.json\n{}  state.bin\n", sha_hex(json.as_bytes()), sha_hex(&state))
            ),
            other => panic!("unexpected entry {other}"),
        }
        names.push(name);
        at += BLOCK + size.div_ceil(BLOCK) * BLOCK;
    }
    assert_eq!(names, ["meta.json", "state.bin", "SHA256SUMS"]);
    assert_eq!(tar.len(), at + 2 * BLOCK, "two zero blocks end the tar");
    assert!(tar[at..].iter().all(|&b| b == 0));
}

/// meta.json is Go's encoding of raft's SnapshotMeta.
#[test]
fn meta_json_is_go_encoding() {
    let m = SnapshotMetaJson { id: "1-5-9<&>".into(), size: 42, ..meta() };
    assert_eq!(
        m.to_go_json(),
        "{\"Version\":1,\"ID\":\"1-5-9\\u003c\\u0026\\u003e\",\"Index\":17,\"Term\":2,\"Peers\":\"ka4xMjcuMC4wLjE6NDY0Nw==\",\
         \"Configuration\":{\"Servers\":[{\"Suffrage\":0,\"ID\":\"a-b\",\"Address\":\"127.0.0.1:4647\"}]},\
         \"ConfigurationIndex\":1,\"Size\":42}\n"
    );
    assert_eq!(SnapshotMetaJson::from_json(m.to_go_json().as_bytes()).unwrap(), m);
    let empty = SnapshotMetaJson::default().to_go_json();
    assert!(empty.contains("\"Peers\":null") && empty.contains("\"Servers\":null"), "{empty}");
    assert_eq!(SnapshotMetaJson::from_json(empty.as_bytes()).unwrap(), SnapshotMetaJson::default());
    assert_eq!(m.created_unix_ms(), None);
    assert_eq!(meta().created_unix_ms(), Some(1_700_000_000_123));
    let at = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
    assert_eq!(SnapshotMetaJson::id_for(2, 17, at), "2-17-1700000000123");
}

/// Item 88: a meta.json written by hand, with spaces and unknown fields, reads fine.
#[test]
fn good_data_with_spaced_meta_reads() {
    let json = br#"{
  "Version": 1, "ID": "2-3-4", "Index": 3, "Term": 2, "Peers": null,
  "Configuration": { "Servers": [ { "Suffrage": 1, "ID": "x", "Address": "10.0.0.1:4647" } ] },
  "ConfigurationIndex": 3, "Size": 5, "Extra": true
}
"#;
    let state = b"hello";
    let entries: [(&str, &[u8]); 2] = [("meta.json", json), ("state.bin", state)];
    let s = sums(&entries);
    let tar = tar_of(&[entries[0], entries[1], ("SHA256SUMS", &s)]);
    let mut out = Vec::new();
    let m = read_archive(gzip(&tar).as_slice(), &mut out).unwrap();
    assert_eq!(out, state);
    assert_eq!((m.id.as_str(), m.index, m.term, m.size), ("2-3-4", 3, 2, 5));
    assert_eq!(m.configuration, vec![ConfigServer { suffrage: 1, id: "x".into(), address: "10.0.0.1:4647".into() }]);
}

/// Item 89: every way a tar can be wrong, with Nomad's texts.
#[test]
fn bad_data_errors() {
    let json = meta().to_go_json();
    let meta_e: (&str, &[u8]) = ("meta.json", json.as_bytes());
    let state_e: (&str, &[u8]) = ("state.bin", b"state");
    let good_sums = sums(&[meta_e, state_e]);
    let sums_e: (&str, &[u8]) = ("SHA256SUMS", &good_sums);
    let integrity = "failed checking integrity of snapshot: ";

    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("empty", Vec::new(), format!("{integrity}file missing for \"meta.json\"")),
        ("good", tar_of(&[meta_e, state_e, sums_e]), String::new()),
        (
            "extra entry",
            tar_of(&[meta_e, state_e, ("nope", b"x"), sums_e]),
            "unexpected file \"nope\" in snapshot".into(),
        ),
        ("missing meta", tar_of(&[state_e, sums_e]), format!("{integrity}hash check failed for \"meta.json\"")),
        (
            "corrupt meta",
            tar_of(&[("meta.json", json.replace("\"Index\":17", "\"Index\":18").as_bytes()), state_e, sums_e]),
            format!("{integrity}hash check failed for \"meta.json\""),
        ),
        ("missing state", tar_of(&[meta_e, sums_e]), format!("{integrity}hash check failed for \"state.bin\"")),
        (
            "corrupt state",
            tar_of(&[meta_e, ("state.bin", b"stati"), sums_e]),
            format!("{integrity}hash check failed for \"state.bin\""),
        ),
        ("missing sums", tar_of(&[meta_e, state_e]), format!("{integrity}file missing for \"meta.json\"")),
        (
            "sums name an unknown file",
            tar_of(&[meta_e, state_e, ("SHA256SUMS", &[good_sums.as_slice(), b"0123  nope\n"].concat())]),
            format!("{integrity}list missing hash for \"nope\""),
        ),
        (
            "sums miss state.bin",
            tar_of(&[meta_e, state_e, ("SHA256SUMS", &sums(&[meta_e]))]),
            format!("{integrity}file missing for \"state.bin\""),
        ),
        (
            "malformed sums line",
            tar_of(&[meta_e, state_e, ("SHA256SUMS", b"zz  meta.json\n")]),
            format!("{integrity}no hex data for %x string"),
        ),
        (
            "bad meta json",
            tar_of(&[("meta.json", b"{"), state_e, sums_e]),
            "failed to decode snapshot metadata: EOF while parsing an object at line 1 column 1".into(),
        ),
        (
            "name needs quoting",
            tar_of(&[("a\"b\x01\u{e9}", b"x")]),
            "unexpected file \"a\\\"b\\x01\u{e9}\" in snapshot".into(),
        ),
    ];
    for (what, tar, want) in cases {
        let got = match read_tar(tar.as_slice(), io::sink()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, want, "{what}");
        if !want.is_empty() {
            // Through gzip, the same error under Nomad's prefix.
            assert_eq!(read_err(&gzip(&tar)), format!("failed to read snapshot file: {want}"), "{what}");
        }
    }
}

/// Item 90: the hash list round-trips; an extra local file is missing from the list, an extra
/// listed file has no hash.
#[test]
fn hash_list_checks() {
    let (m, s) = ([1u8; 32], [2u8; 32]);
    let list = format!("{}  state.bin\n{}  meta.json\n", hex(&s), hex(&m));
    assert!(verify_sums(list.as_bytes(), &m, &s).is_ok(), "any order");
    let err = verify_sums(format!("{}  meta.json\n", hex(&m)).as_bytes(), &m, &s).unwrap_err();
    assert_eq!(err.to_string(), "file missing for \"state.bin\"");
    let err = verify_sums(format!("{list}{}  nope\n", hex(&m)).as_bytes(), &m, &s).unwrap_err();
    assert_eq!(err.to_string(), "list missing hash for \"nope\"");
    let err = verify_sums(list.replace("01", "00").as_bytes(), &m, &s).unwrap_err();
    assert_eq!(err.to_string(), "hash check failed for \"meta.json\"");
    assert!(verify_sums(list.replace('\n', "\r\n").as_bytes(), &m, &s).is_ok(), "CRLF lines");
    assert_eq!(verify_sums(b"\n", &m, &s).unwrap_err().to_string(), "unexpected EOF");
    assert_eq!(verify_sums(b"0102\n", &m, &s).unwrap_err().to_string(), "unexpected EOF");
}

/// Items 93 and 95: garbage is refused at the gzip header and writes no state.
#[test]
fn garbage_is_refused() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "failed to decompress snapshot: EOF"),
        (b"foo", "failed to decompress snapshot: unexpected EOF"),
        (b"this is not a gzip stream at all", "failed to decompress snapshot: gzip: invalid header"),
        (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xff\xff",
            "failed to read snapshot file: failed reading snapshot: flate: corrupt input before offset 1",
        ),
    ];
    for (input, want) in cases {
        let mut state = Vec::new();
        let err = read_archive(input, &mut state).unwrap_err();
        assert_eq!(err.to_string(), want);
        assert!(state.is_empty());
    }
    // A tar that is not a tar.
    let err = read_err(&gzip(&[7u8; 1024]));
    assert_eq!(err, "failed to read snapshot file: failed reading snapshot: archive/tar: invalid tar header");
}

/// Item 94: a valid archive truncated by 200, 16, 8, 4, 2 or 1 bytes fails verification.
#[test]
fn truncated_archives_fail() {
    let (archive, _) = archive_of(&meta(), &state_bin(200, 40));
    for cut in [200, 16, 8, 4, 2, 1] {
        let err = read_err(&archive[..archive.len() - cut]);
        assert!(err.contains("unexpected EOF"), "cut {cut}: {err}");
    }
}

/// The gzip trailer and what follows the tar are checked (Go's concludeGzipRead).
#[test]
fn trailer_and_trailing_data() {
    let (archive, _) = archive_of(&meta(), b"state");
    let mut bad_crc = archive.clone();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 1;
    assert_eq!(read_err(&bad_crc), "gzip: invalid checksum");
    let mut bad_size = archive.clone();
    let at = bad_size.len() - 1;
    bad_size[at] ^= 1;
    assert_eq!(read_err(&bad_size), "gzip: invalid checksum");

    let more = [archive.as_slice(), &gzip(b"0123456789")].concat();
    assert_eq!(read_err(&more), "10 unread uncompressed bytes remain");
    let garbage = [archive.as_slice(), b"0123456789abc"].concat();
    assert_eq!(read_err(&garbage), "gzip: invalid header");
    let empty_member = [archive.as_slice(), &gzip(b"")].concat();
    assert!(read_archive(empty_member.as_slice(), io::sink()).is_ok(), "an empty extra member is nothing unread");
}

/// The state length is the tar size; a short state is an error, not a short entry.
#[test]
fn short_state_is_a_write_error() {
    let err = write_archive(&meta(), &b"abc"[..], 4, Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

/// PAX records (Go writes one for a state of 8 GiB or more) parse back.
#[test]
fn pax_size_records() {
    let record = pax_record("size", "8589934592");
    assert_eq!(record, "19 size=8589934592\n");
    assert_eq!(parse_pax(record.as_bytes()).unwrap(), vec![(b"size".to_vec(), b"8589934592".to_vec())]);
    assert!(parse_pax(b"99 size=1\n").is_err());

    // A PAX header naming a size and path for the next entry.
    let mut tar = TarWriter { out: Vec::new(), mtime: 0 };
    let body = format!("{}{}", pax_record("path", "state.bin"), pax_record("size", "3"));
    tar.out.write_all(&TarWriter::<Vec<u8>>::header("PaxHeaders.0/x", body.len() as u64, 0, b'x')).unwrap();
    tar.out.write_all(body.as_bytes()).unwrap();
    tar.pad(body.len() as u64).unwrap();
    tar.out.write_all(&TarWriter::<Vec<u8>>::header("x", 0, 0, b'0')).unwrap();
    tar.out.write_all(b"abc").unwrap();
    tar.pad(3).unwrap();
    let bytes = tar.finish().unwrap();
    let mut r = TarReader::new(bytes.as_slice());
    let entry = r.next().unwrap().unwrap();
    assert_eq!((entry.name.as_slice(), entry.size), (&b"state.bin"[..], 3));
    let mut data = Vec::new();
    r.read_to_end(&mut data).unwrap();
    assert_eq!(data, b"abc");
    assert!(r.next().unwrap().is_none());
}

#[test]
fn inspect_counts_rows_per_table() {
    let state = state_bin(50, 100);
    let (archive, _) = archive_of(&meta(), &state);
    let inspection = inspect(archive.as_slice()).unwrap();
    assert_eq!(inspection.meta, SnapshotMetaJson { size: state.len() as u64, ..meta() });
    assert_eq!(inspection.state_size, state.len() as u64);
    let row = |key: usize, value: usize| (1 + 4 + key + 4 + value) as u64;
    let vars_size: u64 = (0..50).map(|i| row(format!("default/v{i}").len(), 100)).sum();
    assert_eq!(
        inspection.tables,
        vec![
            TableStats { name: "sm_autopilot".into(), count: 1, size: row(6, 2) },
            TableStats { name: "sm_variables".into(), count: 50, size: vars_size },
        ]
    );

    // A verified archive whose state is not ours, and a tampered one.
    let (foreign, _) = archive_of(&meta(), b"not a state stream");
    assert!(matches!(inspect(foreign.as_slice()), Err(InspectError::State(_))));
    let mut tampered = gunzip(&archive);
    let at = 3 * BLOCK + 100; // inside state.bin's data
    tampered[at] ^= 0x20;
    let err = inspect(gzip(&tampered).as_slice()).unwrap_err().to_string();
    assert_eq!(
        err,
        "failed to read snapshot file: failed checking integrity of snapshot: hash check failed for \"state.bin\""
    );
}

fn arb_meta() -> impl Strategy<Value = SnapshotMetaJson> {
    (
        any::<u64>(),
        any::<u64>(),
        ".{0,20}",
        proptest::collection::vec(("[a-z0-9-]{1,12}", "[0-9.:]{1,21}", 0i64..3), 0..4),
    )
        .prop_map(|(index, term, id, servers)| SnapshotMetaJson {
            version: SNAPSHOT_VERSION,
            id,
            index,
            term,
            peers: encode_peers(servers.iter().map(|s| s.1.as_str())),
            configuration: servers
                .into_iter()
                .map(|(id, address, suffrage)| ConfigServer { suffrage, id, address })
                .collect(),
            configuration_index: index / 2,
            size: 0,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// read(write(x)) == x.
    #[test]
    fn read_of_write_is_identity(m in arb_meta(), state in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let (archive, _) = archive_of(&m, &state);
        let mut out = Vec::new();
        let read = read_archive(archive.as_slice(), &mut out).unwrap();
        prop_assert_eq!(read, SnapshotMetaJson { size: state.len() as u64, ..m });
        prop_assert_eq!(out, state);
    }

    /// Any single-byte change is refused or reads back as the very same meta and state, never
    /// as other data: gzip ignores some bytes (header MTIME, XFL, OS, the FTEXT flag; deflate's
    /// final padding bits), and a deflate stream can encode the same bytes in more than one way
    /// (a change well inside the compressed data was read back unchanged, which the
    /// gzip CRC-32 and SHA256SUMS then confirm). Any truncation is refused.
    #[test]
    fn corruption_and_truncation_are_refused(
        state in proptest::collection::vec(any::<u8>(), 0..3000),
        at in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<proptest::sample::Index>(),
    ) {
        let (archive, _) = archive_of(&meta(), &state);
        let mut bad = archive.clone();
        let i = at.index(bad.len());
        bad[i] ^= flip;
        let mut out = Vec::new();
        match read_archive(bad.as_slice(), &mut out) {
            Err(_) => {}
            Ok(m) => {
                prop_assert_eq!(m, SnapshotMetaJson { size: state.len() as u64, ..meta() });
                prop_assert_eq!(out, state.clone(), "a change at {} of {} read back as other data", i, archive.len());
            }
        }
        let keep = cut.index(archive.len());
        prop_assert!(read_archive(&archive[..keep], io::sink()).is_err(), "accepted a cut to {} of {}", keep, archive.len());
    }

    /// Arbitrary bytes never panic, and neither do arbitrary bytes under a valid gzip layer.
    #[test]
    fn arbitrary_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_archive(bytes.as_slice(), io::sink());
        let _ = read_archive(gzip(&bytes).as_slice(), io::sink());
        let _ = read_tar(bytes.as_slice(), io::sink());
    }
}
