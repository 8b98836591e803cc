//! `/v1/agent/self` raft stats and the gossip `revision` tag (Nomad's `command/agent/
//! agent_endpoint.go` puts hashicorp/raft's `Stats()` under `stats.raft`; `nomad/server.go`
//! `setupSerf` sets the tags), and request bodies that end oddly, read as Go's `net/http` and
//! `encoding/json` read them on Nomad's `decodeBody` (`command/agent/http.go`). Agents on the
//! api binary's 127.20.x.y block.

use std::io::Read;
use std::io::Write;
use std::net::Shutdown;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::net;
use crate::support::*;

/// hashicorp/raft's `Stats()` keys.
const RAFT_KEYS: [&str; 18] = [
    "applied_index",
    "commit_index",
    "fsm_pending",
    "last_contact",
    "last_log_index",
    "last_log_term",
    "last_snapshot_index",
    "last_snapshot_term",
    "latest_configuration",
    "latest_configuration_index",
    "num_peers",
    "protocol_version",
    "protocol_version_max",
    "protocol_version_min",
    "snapshot_version_max",
    "snapshot_version_min",
    "state",
    "term",
];

fn raft_stats(a: &Agent) -> serde_json::Map<String, Value> {
    a.get("/v1/agent/self").json()["stats"]["raft"].as_object().cloned().unwrap_or_default()
}

/// A Go duration text (`0`, `12.5ms`, `1.2s`, `1m3s`).
fn is_go_duration(s: &str) -> bool {
    s == "0" || (s.ends_with('s') && s.starts_with(|c: char| c.is_ascii_digit()))
}

/// The leader and a follower of three servers: every key of hashicorp/raft's stats, each a
/// string, with the numbers raft has; the members carry the `revision` tag.
#[test]
fn agent_self_has_raft_stats_and_members_a_revision_tag() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&n, &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(60));
    let follower = (leader + 1) % 3;
    c.agents[leader].put("/v1/var/stats/one", r#"{"Items":{"a":"b"}}"#);
    wait_until(
        Duration::from_secs(30),
        || {
            let s = raft_stats(&c.agents[follower]);
            s.get("num_peers").and_then(Value::as_str) == Some("2")
                && s.get("applied_index") == raft_stats(&c.agents[leader]).get("applied_index")
        },
        || format!("{:?} / {:?}", raft_stats(&c.agents[leader]), raft_stats(&c.agents[follower])),
    );
    let ls = raft_stats(&c.agents[leader]);
    let fs = raft_stats(&c.agents[follower]);
    for s in [&ls, &fs] {
        let keys: Vec<&str> = s.keys().map(String::as_str).collect();
        assert_eq!(keys, RAFT_KEYS, "{s:?}");
        assert!(s.values().all(Value::is_string), "every value a string, as Go's map[string]string: {s:?}");
    }
    let num = |s: &serde_json::Map<String, Value>, k: &str| s[k].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!((ls["state"].as_str(), fs["state"].as_str()), (Some("Leader"), Some("Follower")));
    assert_eq!((ls["num_peers"].as_str(), fs["num_peers"].as_str()), (Some("2"), Some("2")));
    assert_eq!(ls["last_contact"], "0", "the leader's own");
    assert!(is_go_duration(fs["last_contact"].as_str().unwrap()), "{fs:?}");
    assert!(num(&ls, "applied_index") >= 1 && num(&ls, "commit_index") >= num(&ls, "applied_index"), "{ls:?}");
    assert!(num(&ls, "last_log_index") >= num(&ls, "commit_index"), "{ls:?}");
    assert_eq!(num(&ls, "term"), num(&fs, "term"));
    assert_eq!(num(&ls, "last_log_term"), num(&ls, "term"), "the leader wrote in its own term");
    assert_eq!(ls["protocol_version"], "3");
    assert_eq!(ls["fsm_pending"], "0");
    // Go's `%+v` of []raft.Server, one per server, from the raft configuration.
    let config = c.agents[leader].get("/v1/operator/raft/configuration").json();
    let servers = config["Servers"].as_array().unwrap();
    let text = ls["latest_configuration"].as_str().unwrap();
    assert!(text.starts_with("[{Suffrage:Voter ID:") && text.ends_with("}]"), "{text}");
    for s in servers {
        let one =
            format!("{{Suffrage:Voter ID:{} Address:{}}}", s["ID"].as_str().unwrap(), s["Address"].as_str().unwrap());
        assert!(text.contains(&one), "{one} not in {text}");
    }
    assert_eq!(num(&ls, "latest_configuration_index"), config["Index"].as_u64().unwrap());

    let revision = c.agents[follower].get("/v1/agent/self").json()["config"]["Version"]["Revision"].clone();
    let members = c.agents[follower].get("/v1/agent/members").json();
    let members = members["Members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    for m in members {
        assert_eq!(m["Tags"]["revision"], revision, "{m}");
        assert!(m["Tags"]["build"].is_string(), "{m}");
    }
}

/// Sends `head` and `body`, closes the sending half, and returns the whole answer.
fn raw(a: &Agent, head: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(format!("{}:4646", a.spec.ip)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // A server that refuses the head may close before it is all written: its answer is
    // still there to read.
    let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body));
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A chunked body with no bytes is not Go's `http.NoBody`: the decode fails with `EOF`, not
/// `Request body is empty`; a body shorter than its Content-Length fails with the body
/// reader's `unexpected EOF`, each in the endpoint's own words (Nomad's operator_endpoint.go:
/// `Error parsing autopilot config: ...`, `Error parsing scheduler config: ...`).
#[test]
fn bodies_that_end_early_fail_as_go_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "odd");
    let put = |path: &str, framing: &str| {
        format!("PUT {path} HTTP/1.1\r\nHost: {}:4646\r\nConnection: close\r\n{framing}\r\n", a.spec.ip)
    };
    let autopilot = "/v1/operator/autopilot/configuration";
    let scheduler = "/v1/operator/scheduler/configuration";

    let r = raw(&a, &put(autopilot, "Transfer-Encoding: chunked\r\n"), b"0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    assert!(r.ends_with("\r\n\r\nError parsing autopilot config: EOF"), "{r}");

    let r = raw(&a, &put(autopilot, "Content-Length: 0\r\n"), b"");
    assert!(r.ends_with("\r\n\r\nError parsing autopilot config: Request body is empty"), "{r}");

    let r = raw(&a, &put(autopilot, "Content-Length: 100\r\n"), b"{\"CleanupDeadServers\": ");
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    assert!(r.ends_with("\r\n\r\nError parsing autopilot config: unexpected EOF"), "{r}");

    let r = raw(&a, &put(scheduler, "Content-Length: 100\r\n"), b"");
    assert!(r.ends_with("\r\n\r\nError parsing scheduler config: unexpected EOF"), "{r}");

    let r = raw(&a, &put(scheduler, "Transfer-Encoding: chunked\r\n"), b"5\r\n{\"Sch");
    assert!(r.ends_with("\r\n\r\nError parsing scheduler config: unexpected EOF"), "{r}");

    // Go's decoder stops after the first whole value: the missing rest is never read.
    let r = raw(&a, &put(autopilot, "Content-Length: 100\r\n"), b"{\"MaxTrailingLogs\": 77}");
    assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
    assert_eq!(a.get("/v1/operator/autopilot/configuration").json()["MaxTrailingLogs"], 77);
}

/// Request heads as far as actix-http follows Go's (`http.DefaultMaxHeaderBytes`, 1 MiB +
/// 4 KiB, in net/http's server.go): a 100 KiB header and 90 headers are read; past actix's
/// 128 KiB head both answer 431 (Go only past its own limit: docs/api.md lists the difference).
#[test]
fn large_request_heads_as_far_as_actix_allows() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "heads");
    let get = |extra: &str| {
        format!("GET /v1/status/leader HTTP/1.1\r\nHost: {}:4646\r\nConnection: close\r\n{extra}\r\n", a.spec.ip)
    };
    let big = format!("X-Big: {}\r\n", "a".repeat(100 * 1024));
    let r = raw(&a, &get(&big), b"");
    assert!(r.starts_with("HTTP/1.1 200 "), "{}", &r[..r.len().min(200)]);
    let many: String = (0..90).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = raw(&a, &get(&many), b"");
    assert!(r.starts_with("HTTP/1.1 200 "), "{}", &r[..r.len().min(200)]);
    let huge = format!("X-Big: {}\r\n", "a".repeat(200 * 1024));
    let r = raw(&a, &get(&huge), b"");
    // The server closes with the rest of the head unread, which may reset the connection
    // before its 431 is read: either way the request is not served.
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431 "), "{}", &r[..r.len().min(200)]);
    assert_eq!(a.get("/v1/status/leader").status, 200, "the agent serves on");
}
