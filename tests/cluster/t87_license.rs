//! The license across a cluster (issue 10 point 4): the temporary license the first leader
//! writes is the same on every server; a license installed through a follower is verified and
//! applied by the leader, readable on every server with `?stale`, and survives a leader restart.

use std::path::Path;
use std::time::Duration;

use crate::net;
use crate::support::*;

const L: &str = "/v1/operator/license";

fn offline(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = cli_in(dir, "", args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn license_id(a: &Agent) -> serde_json::Value {
    a.get(&format!("{L}?stale")).json_or_null()["License"]["LicenseID"].clone()
}

#[test]
fn a_license_installed_through_a_follower_reaches_every_server_and_survives_a_leader_restart() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    offline(k, &["license", "keygen"]);
    let public = std::fs::read_to_string(k.join("license.pub")).unwrap();
    let hcl = format!("server {{\n  license_public_keys = [\"{}\"]\n}}\n", public.trim());
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], &hcl);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }

    // One temporary license, the same on every server.
    let temporary = c.agents[leader].get(L).json()["License"]["LicenseID"].clone();
    assert!(temporary.as_str().unwrap().starts_with("temporary-"), "{temporary}");
    for a in &c.agents {
        wait_until(Duration::from_secs(10), || license_id(a) == temporary, || a.get(L).text());
    }

    // A tampered license sent to a follower is refused by the leader with its reason; nothing changes.
    let f = (leader + 1) % 3;
    let text = offline(k, &["license", "issue", "-key=license.key", "-customer=acme", "-ttl=24h"]);
    let (payload, _) = text.trim().split_once('.').unwrap();
    let other = offline(k, &["license", "issue", "-key=license.key", "-customer=mallory", "-ttl=24h"]);
    let (_, foreign_signature) = other.trim().split_once('.').unwrap();
    let r = c.agents[f].put(L, &format!("{payload}.{foreign_signature}"));
    assert_eq!((r.status, r.text().as_str()), (400, "invalid license signature: no configured public key verifies it"));
    assert_eq!(license_id(&c.agents[leader]), temporary);

    // A good one through the follower: every server shows it, stale reads included.
    let r = c.agents[f].put(L, &text);
    assert_eq!(r.status, 200, "{}", r.text());
    let index = r.json()["Index"].as_u64().unwrap();
    let id = raftwarden_actors::license::document::decode_unverified(&text).unwrap().license_id;
    for a in &c.agents {
        wait_until(
            Duration::from_secs(10),
            || {
                let r = a.get(&format!("{L}?stale")).json_or_null();
                r["License"]["LicenseID"] == id.as_str() && r["Index"] == index
            },
            || a.get(&format!("{L}?stale")).text(),
        );
    }
    let (code, out, err) = cli(&c.agents[(leader + 2) % 3].http(), &["license", "get"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("License ID     = {id}")) && out.contains("Customer ID    = acme"), "{out}");

    // The leader restarts: the license is still there on it and on the others, and no new
    // leader replaces it with a temporary one.
    assert_eq!(c.agents[leader].terminate(), Some(0), "{:?}", c.agents[leader].output());
    let next = c.wait_leader(Duration::from_secs(30));
    assert_ne!(next, leader);
    c.agents[leader].launch();
    c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_until(Duration::from_secs(20), || license_id(a) == id.as_str(), || a.get(&format!("{L}?stale")).text());
        assert_eq!(a.get(&format!("{L}?stale")).json()["Index"], index);
    }
}
