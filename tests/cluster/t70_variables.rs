use std::time::Duration;

use crate::net;
use crate::support::*;

/// A variable written on a follower goes through the leader, is read there consistently and
/// stale on every server, and survives a restart of the whole cluster. A forwarded validation
/// error gains Nomad's `rpc error: ` prefix.
#[test]
fn variables_replicate_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let f = (leader + 1) % 3;
    let r = c.agents[f].request("PUT", "/v1/var/app/db?cas=0", Some(r#"{"Items":{"user":"admin"}}"#));
    assert_eq!(r.status, 200, "{}", r.text());
    let written = r.text();
    let index = r.json()["ModifyIndex"].as_u64().unwrap();

    let on_leader = c.agents[leader].get("/v1/var/app/db");
    assert_eq!((on_leader.status, on_leader.text()), (200, written.clone()));
    for a in &c.agents {
        wait_until(
            Duration::from_secs(10),
            || a.get("/v1/var/app/db?stale").text() == written,
            || format!("{}: {}", a.spec.name, a.get("/v1/var/app/db?stale").text()),
        );
    }
    // A CAS conflict and a rule violation travel back from the leader.
    let conflict = c.agents[f].request("PUT", "/v1/var/app/db?cas=0", Some(r#"{"Items":{"user":"x"}}"#));
    assert_eq!((conflict.status, conflict.text()), (409, written.clone()));
    let bad = c.agents[f].request("PUT", "/v1/var/nomad", Some(r#"{"Items":{"a":"b"}}"#));
    assert_eq!(bad.status, 500);
    assert!(bad.text().starts_with("rpc error: \"nomad\" is a reserved"), "{}", bad.text());
    let list = c.agents[f].get("/v1/vars");
    assert_eq!(list.json()[0]["ModifyIndex"].as_u64(), Some(index));

    for a in c.agents.iter_mut() {
        a.terminate();
    }
    for a in c.agents.iter_mut() {
        a.launch();
    }
    c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_until(
            Duration::from_secs(30),
            || a.get("/v1/var/app/db?stale").text() == written,
            || format!("{} after restart: {}", a.spec.name, a.get("/v1/var/app/db?stale").text()),
        );
    }
    let leader = c.wait_leader(Duration::from_secs(30));
    assert_eq!(c.agents[leader].get("/v1/var/app/db").text(), written);
}
