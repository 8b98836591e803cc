//! `operator snapshot save|restore|agent` (spec §2.9, §2.10, §7): against a real agent, and
//! against a scripted HTTP server for what a healthy server never does (a wrong or missing
//! `Digest`, a failed restore) so the client's checks are tested on their own.

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::UNIX_EPOCH;

use raftwarden_actors::snapshot::archive;
use raftwarden_actors::snapshot::archive::SnapshotMetaJson;
use raftwarden_actors::snapshot::archive::StateWriter;

use crate::net;
use crate::support::*;

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn inspect_ok(file: &Path) -> String {
    let (code, out, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", file.to_str().unwrap()]);
    assert_eq!(code, 0, "inspect {}: {err}", file.display());
    out
}

/// A valid archive of a few rows, as bytes.
fn archive_bytes() -> Vec<u8> {
    let mut w = StateWriter::new(Vec::new(), b"header").unwrap();
    w.table("sm_variables").unwrap();
    for i in 0..5 {
        w.row(format!("default/app/{i}").as_bytes(), &[7u8; 50]).unwrap();
    }
    let state = w.finish().unwrap();
    let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let meta = SnapshotMetaJson {
        version: archive::SNAPSHOT_VERSION,
        id: SnapshotMetaJson::id_for(2, 17, created),
        index: 17,
        term: 2,
        ..Default::default()
    };
    let mut out = Vec::new();
    archive::write_archive(&meta, state.as_slice(), state.len() as u64, &mut out).unwrap();
    out
}

/// One request the scripted server saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    body: Vec<u8>,
}

/// The scripted server's answer: status, extra headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// A minimal HTTP/1.1 server on a loopback address: answers every request with `respond`
/// (keep-alive, Content-Length or chunked request bodies) and records what it saw.
fn scripted(ip: &str, respond: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let respond = Arc::new(respond);
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let (respond, log) = (respond.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                while let Some(req) = read_request(&mut reader) {
                    log.lock().unwrap().push(req.clone());
                    let (status, headers, body) = respond(&req);
                    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(&body)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn read_request(r: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        match k.to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().ok()?,
            "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Seen { method, target, body })
}

fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    archive::digest_header(&sha2::Sha256::digest(bytes).into())
}

// ---- against a real agent ----

/// Save to a named file and to Nomad's default name, refuse to overwrite, `-stale`; every file
/// passes `operator snapshot inspect` and no `.tmp` is left.
#[test]
fn save_named_default_stale_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for i in 0..5 {
        let r = a.request("PUT", &format!("/v1/var/app/k{i}"), Some(r#"{"Items":{"a":"b"}}"#));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let out_dir = tempfile::tempdir().unwrap();
    let named = out_dir.path().join("backup.snap");
    let named_s = named.to_str().unwrap();

    let (code, out, err) = cli_in(out_dir.path(), &a.http(), &["operator", "snapshot", "save", named_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("State file written to {named_s}\n"));
    assert_eq!(err, "", "silent when stderr is not a terminal");
    let shown = inspect_ok(&named);
    assert!(shown.lines().any(|l| l.split_whitespace().take(2).eq(["variables", "5"])), "{shown}");

    // Never overwrites, and says so in Nomad's words.
    let before = std::fs::read(&named).unwrap();
    let (code, out, err) = cli_in(out_dir.path(), &a.http(), &["operator", "snapshot", "save", named_s]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.starts_with(&format!("Destination file already exists: \"{named_s}\"\n")), "{err}");
    assert_eq!(std::fs::read(&named).unwrap(), before);

    // Default name, in the working directory.
    let (code, out, err) = cli_in(out_dir.path(), &a.http(), &["operator", "snapshot", "save"]);
    assert_eq!(code, 0, "{err}");
    let name = out.strip_prefix("State file written to ").and_then(|s| s.strip_suffix('\n')).unwrap();
    assert!(name.starts_with("nomad-state-") && name.ends_with(".snap"), "{name}");
    inspect_ok(&out_dir.path().join(name));

    // -stale answers from the local server.
    let stale = out_dir.path().join("stale.snap");
    let (code, _, err) =
        cli_in(out_dir.path(), &a.http(), &["operator", "snapshot", "save", "-stale", stale.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    inspect_ok(&stale);

    assert!(!files_in(out_dir.path()).iter().any(|f| f.ends_with(".tmp")), "{:?}", files_in(out_dir.path()));
    let (code, _, err) = cli_in(out_dir.path(), &a.http(), &["operator", "snapshot", "save", "a", "b"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("This command takes either no arguments or one: <filename>\n"), "{err}");
}

/// A saved file restores (the deleted variable is back); garbage is refused with the server's
/// error on stderr and exit 1.
#[test]
fn restore_saved_file_and_refuse_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.request("PUT", "/v1/var/app/keep", Some(r#"{"Items":{"v":"1"}}"#));
    assert_eq!(r.status, 200, "{}", r.text());
    let file = dir.path().join("saved.snap");
    let file_s = file.to_str().unwrap();
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "save", "-address", &a.http(), file_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(a.request("DELETE", "/v1/var/app/keep", None).status, 204);
    assert_eq!(a.get("/v1/var/app/keep").status, 404);

    let (code, out, err) = cli(&a.http(), &["operator", "snapshot", "restore", file_s]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "Snapshot Restored\n", ""));
    wait_until(
        Duration::from_secs(20),
        || a.get("/v1/var/app/keep").status == 200,
        || "the restored variable never came back".into(),
    );

    let garbage = dir.path().join("garbage.snap");
    std::fs::write(&garbage, b"this is not a snapshot archive").unwrap();
    let (code, out, err) = cli(&a.http(), &["operator", "snapshot", "restore", garbage.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(
            "Failed to get restore snapshot: Unexpected response code: 500 (failed to restore from snapshot: "
        ),
        "{err}"
    );
    assert_eq!(a.get("/v1/var/app/keep").status, 200, "a refused restore changes nothing");

    let (code, _, err) = cli(&a.http(), &["operator", "snapshot", "restore"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("This command takes one argument: <filename>\n"), "{err}");
    let missing = dir.path().join("missing.snap");
    let (code, _, err) = cli(&a.http(), &["operator", "snapshot", "restore", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.starts_with(&format!("Error opening snapshot file: \"open {}: ", missing.display())), "{err}");
}

/// The agent with `-max-rounds=3` and `retain = 2` leaves exactly two verified files and a
/// status file naming the newest.
#[test]
fn snapshot_agent_keeps_newest_verified() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let backups = dir.path().join("backups");
    let config = dir.path().join("snap-agent.hcl");
    std::fs::write(
        &config,
        format!("snapshot {{\n  interval = \"100ms\"\n  retain = 2\n  path = \"{}\"\n}}\n", backups.display()),
    )
    .unwrap();
    let (code, _, err) =
        cli(&a.http(), &["operator", "snapshot", "agent", &format!("-config={}", config.display()), "-max-rounds=3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.lines().filter(|l| l.contains("[INFO] snapshot agent: saved ")).count(), 3, "{err}");
    let snaps: Vec<String> = files_in(&backups).into_iter().filter(|f| f.ends_with(".snap")).collect();
    assert_eq!(snaps.len(), 2, "{:?}", files_in(&backups));
    for s in &snaps {
        assert!(s.starts_with("raftwarden-"), "{s}");
        inspect_ok(&backups.join(s));
    }
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join("agent-status.json")).unwrap()).unwrap();
    assert_eq!(status["Rounds"], 3, "{status}");
    assert_eq!(status["Failures"], 0, "{status}");
    assert!(status["LastSuccess"].is_string() && status["LastFailure"].is_null(), "{status}");
    let newest = status["LastSuccessFile"].as_str().unwrap();
    assert!(snaps.iter().any(|s| newest.ends_with(s.as_str())), "{newest} is kept: {snaps:?}");
}

// ---- against a scripted server ----

/// The bytes are checked against the `Digest` header: a mismatch or a missing header fails
/// with Nomad's texts and leaves neither the file nor its `.tmp`; a good one saves the bytes.
#[test]
fn save_checks_the_digest() {
    let body = archive_bytes();
    let good_digest = digest_of(&body);
    let served = body.clone();
    let mode = Arc::new(Mutex::new("wrong"));
    let m = mode.clone();
    let (addr, seen) = scripted(&net().ip(1), move |_| {
        let digest = match *m.lock().unwrap() {
            "wrong" => vec![("Digest".to_string(), digest_of(b"other bytes"))],
            "missing" => vec![],
            "md5" => vec![("Digest".to_string(), "md5=abc".to_string())],
            _ => vec![("Digest".to_string(), good_digest.clone())],
        };
        (200, digest, served.clone())
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.snap");
    let file_s = file.to_str().unwrap();

    let cases = [
        ("wrong", "Failed to download snapshot file: mismatch checksum\n"),
        ("missing", "Failed to get snapshot file: invalid digest format\n"),
        ("md5", "Failed to get snapshot file: unsupported checksum format\n"),
    ];
    for (m, want) in cases {
        *mode.lock().unwrap() = m;
        let (code, out, err) = cli(&addr, &["operator", "snapshot", "save", file_s]);
        assert_eq!((code, out.as_str(), err.as_str()), (1, "", want), "{m}");
        assert_eq!(files_in(dir.path()), Vec::<String>::new(), "{m}");
    }

    *mode.lock().unwrap() = "good";
    let (code, out, err) = cli(&addr, &["operator", "snapshot", "save", "-stale", file_s]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("State file written to {file_s}\n"));
    assert_eq!(std::fs::read(&file).unwrap(), body);
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|s| s.method == "GET"));
    assert_eq!(seen.last().unwrap().target, "/v1/operator/snapshot?stale=");
    assert_eq!(seen[0].target, "/v1/operator/snapshot");
}

/// Restore sends the file's bytes as the body of a PUT; a server error goes to stderr, exit 1.
#[test]
fn restore_streams_the_file_and_reports_errors() {
    let fail = Arc::new(Mutex::new(false));
    let f = fail.clone();
    let (addr, seen) = scripted(&net().ip(1), move |_| {
        if *f.lock().unwrap() {
            (
                500,
                vec![],
                b"failed to restore from snapshot: failed to decompress snapshot: gzip: invalid header".to_vec(),
            )
        } else {
            (200, vec![], Vec::new())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.snap");
    // Bigger than one read, so the body arrives in several chunks.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();

    let (code, out, err) = cli(&addr, &["operator", "snapshot", "restore", file.to_str().unwrap()]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "Snapshot Restored\n", ""));
    {
        let seen = seen.lock().unwrap();
        assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("PUT", "/v1/operator/snapshot"));
        assert!(seen[0].body == bytes, "the body is the file");
    }

    *fail.lock().unwrap() = true;
    let (code, out, err) = cli(&addr, &["operator", "snapshot", "restore", file.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "Failed to get restore snapshot: Unexpected response code: 500 (failed to restore from snapshot: failed to \
         decompress snapshot: gzip: invalid header)\n"
    );
}

/// The agent's rounds and retention, and a failing server recorded in the status file with
/// exit 1 for a bounded run; files it did not write are never touched.
#[test]
fn snapshot_agent_rounds_retention_and_failures() {
    let body = archive_bytes();
    let digest = digest_of(&body);
    let broken = Arc::new(Mutex::new(false));
    let b = broken.clone();
    let (addr, _) = scripted(&net().ip(1), move |_| {
        if *b.lock().unwrap() {
            (200, vec![("Digest".into(), digest_of(b"x"))], body.clone())
        } else {
            (200, vec![("Digest".into(), digest.clone())], body.clone())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("b");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(backups.join("keep-me.snap"), b"not ours").unwrap();
    let config = dir.path().join("agent.json");
    let json = serde_json::json!({
        "address": addr,
        "snapshot": {"interval": "20ms", "retain": 2, "path": backups.to_str().unwrap()}
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let config_flag = format!("-config={}", config.display());

    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "agent", &config_flag, "-max-rounds=4"]);
    assert_eq!(code, 0, "{err}");
    let files = files_in(&backups);
    let ours: Vec<&String> = files.iter().filter(|f| f.starts_with("raftwarden-")).collect();
    assert_eq!(ours.len(), 2, "{files:?}");
    assert!(files.contains(&"keep-me.snap".to_string()) && files.contains(&"agent-status.json".to_string()));
    for f in &ours {
        inspect_ok(&backups.join(f));
    }

    *broken.lock().unwrap() = true;
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "agent", &config_flag, "-max-rounds=2"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("[ERROR] snapshot agent: snapshot failed: Failed to download snapshot file: mismatch checksum"),
        "{err}"
    );
    assert!(
        err.ends_with("Last snapshot round failed: Failed to download snapshot file: mismatch checksum\n"),
        "{err}"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join("agent-status.json")).unwrap()).unwrap();
    assert_eq!((status["Rounds"].as_u64(), status["Failures"].as_u64()), (Some(2), Some(2)), "{status}");
    assert!(status["LastError"].as_str().unwrap().contains("mismatch checksum"), "{status}");
    assert_eq!(files_in(&backups), files, "failed rounds leave nothing behind and remove nothing");

    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "agent"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Missing -config=<file>"), "{err}");
}
