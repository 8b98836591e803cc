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

/// Blocking queries and filters through a follower (Nomad's `blockingRPC` in
/// `nomad/rpc.go`, on the reads of `nomad/variables_endpoint.go`): the follower forwards each
/// read to the leader and waits between reads on its own state machine's applied index, so a
/// write through the leader ends the wait of a consistent and of a stale read on a follower;
/// a forwarded `?filter=` keeps the leader's coded 400.
#[test]
fn blocking_queries_and_filters_through_a_follower() {
    use std::sync::mpsc::RecvTimeoutError;
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let f = (leader + 1) % 3;
    let first = c.agents[leader].request("PUT", "/v1/var/block/f", Some(r#"{"Items":{"v":"1"}}"#));
    let index = first.json()["ModifyIndex"].as_u64().unwrap();
    wait_until(
        Duration::from_secs(10),
        || c.agents[f].get("/v1/var/block/f?stale").status == 200,
        || "the follower never applied the write".into(),
    );
    let blocked = |query: &str| {
        let url = format!("{}/v1/var/block/f?index={index}&wait=20s{query}", c.agents[f].http());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(Resp::from(client().get(url).send().expect("blocking GET")));
        });
        rx
    };
    let consistent = blocked("");
    let stale = blocked("&stale");
    for rx in [&consistent, &stale] {
        assert!(matches!(rx.recv_timeout(Duration::from_millis(800)), Err(RecvTimeoutError::Timeout)));
    }
    let second =
        c.agents[leader].request("PUT", &format!("/v1/var/block/f?cas={index}"), Some(r#"{"Items":{"v":"2"}}"#));
    assert_eq!(second.status, 200);
    for rx in [consistent, stale] {
        let woke = rx.recv_timeout(Duration::from_secs(10)).expect("the write ends the follower's wait");
        assert_eq!((woke.status, woke.json()["Items"]["v"].as_str()), (200, Some("2")));
        assert_eq!(woke.header("x-nomad-index"), second.header("x-nomad-index"));
    }

    let filtered = c.agents[f].get("/v1/vars?filter=Path%20contains%20%22block%22");
    assert_eq!(filtered.json().as_array().map(Vec::len), Some(1), "{}", filtered.text());
    let bad = c.agents[f].get("/v1/vars?filter=NotValid");
    assert_eq!(
        (bad.status, bad.text()),
        (400, "failed to create result paginator: failed to read filter expression: 1:9 (8): no match found".into())
    );
}
