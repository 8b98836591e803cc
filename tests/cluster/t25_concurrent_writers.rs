//! Under load from many writers, every write gets an index of its own (openraft merges the
//! writes that reach it together into one append, not into one entry), and every follower
//! ends up with every acknowledged write at the index the leader gave it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::net;
use crate::support::*;

/// Variable path to `ModifyIndex`, as `GET /v1/vars?stale` lists them on one server.
fn indices(a: &Agent) -> Option<BTreeMap<String, u64>> {
    let r = a.get("/v1/vars?stale&per_page=100000");
    if r.status != 200 {
        return None;
    }
    let list = r.json();
    let list = list.as_array()?;
    list.iter().map(|v| Some((v["Path"].as_str()?.to_string(), v["ModifyIndex"].as_u64()?))).collect()
}

#[test]
fn concurrent_writers_get_their_own_indices_on_every_server() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "");
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    const WRITERS: usize = 32;
    const WRITES: usize = 40;
    let acked = Mutex::new(BTreeMap::new());
    let every = Mutex::new(Vec::new());
    let url = c.agents[leader].http();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (acked, every, url) = (&acked, &every, &url);
            s.spawn(move || {
                let http = client();
                for n in 0..WRITES {
                    let path = format!("many/w{w}/k{}", n % 4);
                    let r =
                        http.put(format!("{url}/v1/var/{path}")).body(format!(r#"{{"Items":{{"n":"{n}"}}}}"#)).send();
                    let r: Resp = r.expect("PUT").into();
                    assert_eq!(r.status, 200, "{path}: {}", r.text());
                    let index = r.json()["ModifyIndex"].as_u64().expect("ModifyIndex");
                    acked.lock().unwrap().insert(path, index);
                    every.lock().unwrap().push(index);
                }
            });
        }
    });
    let acked = acked.into_inner().unwrap();
    assert_eq!(acked.len(), WRITERS * 4);
    let every = every.into_inner().unwrap();
    let distinct: std::collections::BTreeSet<u64> = every.iter().copied().collect();
    assert_eq!(distinct.len(), WRITERS * WRITES, "two writes share an index");
    assert_eq!(indices(&c.agents[leader]).as_ref(), Some(&acked), "the leader's variables");
    for (i, a) in c.agents.iter().enumerate() {
        wait_until(
            Duration::from_secs(30),
            || indices(a).as_ref() == Some(&acked),
            || format!("server {i} holds {:?}", indices(a).map(|v| v.len())),
        );
    }
    eprintln!("{} writes, {} distinct indices", WRITERS * WRITES, distinct.len());
}
