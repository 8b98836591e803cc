//! A follower's forwarding fits the leader's per-client connection limit: each forwarded call
//! holds an HTTP/1.1 connection of its own, so a follower keeps at most
//! `PEER_CALLS_IN_FLIGHT` (20) of them in flight to one peer and a burst of writes waits for
//! a slot rather than be refused at the leader's `rpc_max_conns_per_client`.

use std::sync::Arc;
use std::sync::Barrier;
use std::sync::Mutex;
use std::time::Duration;

use crate::net;
use crate::support::*;

/// Writers at once, all through one follower: three times what the leader lets that follower
/// hold.
const WRITERS: usize = 64;
const WRITES_EACH: usize = 5;

/// With Nomad's smallest RPC limit (26) on every server, 64 writers at once through a follower
/// all succeed: the follower never opens more connections to the leader than the limit takes.
#[test]
fn a_burst_of_forwarded_writes_fits_the_leaders_rpc_connection_limit() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "limits {\n  rpc_max_conns_per_client = 26\n}\n");
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    let follower = &c.agents[(leader + 1) % 3];
    let base = follower.http();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let start = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, failures, start) = (base.clone(), failures.clone(), start.clone());
            std::thread::spawn(move || {
                let http = client();
                start.wait();
                for i in 0..WRITES_EACH {
                    let url = format!("{base}/v1/var/burst/{w}/{i}");
                    match http.put(&url).body(r#"{"Items":{"k":"v"}}"#).send() {
                        Ok(r) if r.status().as_u16() == 200 => {}
                        Ok(r) => failures.lock().unwrap().push(format!(
                            "{url}: {} {}",
                            r.status(),
                            r.text().unwrap_or_default()
                        )),
                        Err(e) => failures.lock().unwrap().push(format!("{url}: {e}")),
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} writes failed, e.g. {:?}",
        failures.len(),
        WRITERS * WRITES_EACH,
        &failures[..failures.len().min(3)]
    );
    let listed = c.agents[leader].get("/v1/vars?prefix=burst/").json();
    assert_eq!(listed.as_array().map(Vec::len), Some(WRITERS * WRITES_EACH), "{listed}");
}
