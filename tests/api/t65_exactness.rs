//! Where Nomad (its handlers, Go's `net/http`, `net/url` and `encoding/json`) answers
//! differently from what we used to: one test per difference fixed, each named after it.

use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";
const A: &str = "/v1/operator/autopilot/configuration";

/// `StatusLeaderRequest` / `StatusPeersRequest`: anything but GET is 405 `Invalid method`
/// (HEAD included: Nomad's mux has no method patterns, the handler refuses it).
#[test]
fn status_endpoints_refuse_other_methods() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for p in ["/v1/status/leader", "/v1/status/peers"] {
        assert_eq!(a.get(p).status, 200, "{p}");
        for m in ["PUT", "POST", "DELETE"] {
            let r = a.request(m, p, Some(""));
            assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"), "{m} {p}");
        }
        assert_eq!(a.request("HEAD", p, None).status, 405, "HEAD {p}");
    }
}

/// The raft configuration's `Index` is the log index of its configuration entry, never 0 (the
/// value Nomad's clients read as "none").
#[test]
fn raft_configuration_index_is_a_real_entry() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let index = a.get("/v1/operator/raft/configuration").json()["Index"].as_u64().unwrap();
    assert!(index >= 1, "Index {index}");
    let stale = a.get("/v1/operator/raft/configuration?stale").json()["Index"].as_u64().unwrap();
    assert_eq!(stale, index);
}

/// `nomad agent -dev -config=FILE`: the file overrides the -dev defaults (bind_addr here).
#[test]
fn dev_mode_config_file_bind_addr_is_used() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let ip = net.ip(1);
    let file = dir.path().join("dev.hcl");
    std::fs::write(&file, format!("bind_addr = \"{ip}\"\n")).unwrap();
    let child = Command::new(BIN)
        .args(["agent", "-dev", &format!("-config={}", file.display())])
        .env("RAFTWARDEN_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);
    wait_until(
        Duration::from_secs(30),
        || client().get(format!("http://{ip}:4646/v1/status/leader")).send().is_ok_and(|r| r.status().as_u16() == 200),
        || format!("a -dev agent never answered on {ip}:4646"),
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Go's `req.URL.Query()` drops a pair it cannot unescape or that holds a `;`: the request
/// goes on without it (so `stale` is not set), where we used to answer 400.
#[test]
fn undecodable_query_pairs_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for q in ["?stale=%zz", "?stale=bogus;x=1", "?stale=%4", "?index=%GG&stale=%"] {
        let r = a.get(&format!("{S}{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
    // The good pairs next to a bad one still count.
    let r = a.get(&format!("{S}?x=%zz&stale=bogus"));
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Go's `encoding/json` reads invalid UTF-8 inside a string as U+FFFD, one per bad byte,
/// where serde refuses the body.
#[test]
fn invalid_utf8_in_json_strings_reads_as_replacement_characters() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let body = b"{\"Items\":{\"k\":\"a\xffb\xe2\x82c\"}}".to_vec();
    let r = client().put(format!("{}/v1/var/utf8", a.http())).body(body).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(a.get("/v1/var/utf8").json()["Items"]["k"], "a\u{FFFD}b\u{FFFD}\u{FFFD}c");
    // Outside a string a bad byte is still a syntax error.
    let r = client().put(format!("{}{A}", a.http())).body(b"\xff".to_vec()).send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

/// Go matches JSON keys to fields case-insensitively and every match assigns, so the last
/// spelling in the document wins (we used to prefer the exact spelling).
#[test]
fn repeated_keys_in_any_case_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    assert_eq!(a.put(A, r#"{"CleanupDeadServers": true, "cleanupdeadservers": false}"#).text(), "true");
    assert_eq!(a.get(A).json()["CleanupDeadServers"], false);
    assert_eq!(a.put(A, r#"{"CLEANUPDEADSERVERS": false, "CleanupDeadServers": true}"#).text(), "true");
    assert_eq!(a.get(A).json()["CleanupDeadServers"], true);
}
