//! A crash after many writes whose applies were never fsynced (the state machine commits
//! durably only every few MiB of log): the restarted agent replays them from the log, loses no
//! acknowledged write, and is ready again quickly.

use std::collections::BTreeMap;
use std::time::Duration;
use std::time::Instant;

use crate::net;
use crate::support::*;

const WRITERS: usize = 16;
const WRITES_EACH: usize = 150;

#[test]
fn kill_9_after_many_writes_replays_them_all_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = single(&net(), &dir, "alpha");
    let base = a.http();
    // Concurrent writers, so the writes travel in group-commit batches as under load.
    let acked: BTreeMap<String, u64> = std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let base = base.clone();
                s.spawn(move || {
                    let http = client();
                    let mut acked = Vec::new();
                    for i in 0..WRITES_EACH {
                        let path = format!("replay/w{w}/k{i}");
                        let r = http
                            .put(format!("{base}/v1/var/{path}"))
                            .body(format!("{{\"Items\":{{\"v\":\"{}\"}}}}", "x".repeat(200)))
                            .send()
                            .unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                        let v: serde_json::Value = r.json().unwrap();
                        acked.push((path, v["ModifyIndex"].as_u64().unwrap()));
                    }
                    acked
                })
            })
            .collect();
        writers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(acked.len(), WRITERS * WRITES_EACH);

    a.kill9();
    let restarted = Instant::now();
    a.launch();
    wait_ready(&a);
    let took = restarted.elapsed();

    let listed = a.get("/v1/vars?prefix=replay/").json();
    let found: BTreeMap<String, u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["Path"].as_str().unwrap().to_string(), v["ModifyIndex"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, acked, "every acknowledged write is back, at its index");
    assert!(took < Duration::from_secs(20), "ready {took:?} after the restart");
    // And it goes on at higher indexes.
    let next = a.put("/v1/var/replay/after", r#"{"Items":{"v":"y"}}"#);
    assert!(next.json()["ModifyIndex"].as_u64().unwrap() > acked.values().copied().max().unwrap());
}
