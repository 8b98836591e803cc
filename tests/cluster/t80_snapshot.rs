use std::time::Duration;

use crate::net;
use crate::support::*;

const SNAPSHOT: &str = "/v1/operator/snapshot";

/// Every variable's path and value as a server sees it locally (`?stale`), or `None` while it
/// cannot answer.
fn stale_vars(a: &Agent) -> Option<Vec<(String, String)>> {
    let list = a.get("/v1/vars?stale&per_page=1000");
    if list.status != 200 {
        return None;
    }
    let mut out = Vec::new();
    for v in list.json_or_null().as_array()? {
        let path = v["Path"].as_str()?.to_string();
        let var = a.get(&format!("/v1/var/{path}?stale")).json_or_null();
        out.push((path, var["Items"]["v"].as_str()?.to_string()));
    }
    Some(out)
}

fn put_var(a: &Agent, path: &str, value: &str) {
    let r = a.put(&format!("/v1/var/{path}"), &format!(r#"{{"Items":{{"v":"{value}"}}}}"#));
    assert_eq!(r.status, 200, "{}", r.text());
}

fn wait_vars(a: &Agent, want: &[(String, String)], what: &str) {
    wait_until(
        Duration::from_secs(60),
        || stale_vars(a).as_deref() == Some(want),
        || format!("{what}: {} has {:?}", a.spec.name, stale_vars(a).map(|v| v.len())),
    );
}

/// A save asked of a follower comes from the leader; a restore sent to a follower is installed
/// on every server through raft, including one that was down during the restore and catches up
/// when it returns; the same archive restores into a new cluster with other server IDs and
/// addresses (disaster recovery).
#[test]
fn restore_reaches_every_server_and_a_new_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(&net(), &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    for a in &c.agents {
        wait_ready(a);
    }
    for i in 0..300 {
        put_var(&c.agents[leader], &format!("svc/k{i:03}"), &format!("v{i}"));
    }
    let saved = stale_vars(&c.agents[leader]).unwrap();
    assert_eq!(saved.len(), 300);
    let f = (leader + 1) % 3;
    let archive = c.agents[f].get(SNAPSHOT);
    assert_eq!(archive.status, 200, "{}", archive.text());
    let archive = archive.body;

    // One follower is down while the state changes and the archive is restored.
    let down = (leader + 2) % 3;
    c.agents[down].kill9();
    put_var(&c.agents[leader], "svc/k000", "changed");
    assert_eq!(c.agents[leader].request("DELETE", "/v1/var/svc/k001", None).status, 204);
    put_var(&c.agents[leader], "svc/new", "after the save");
    // A bad archive, sent through a follower, is refused and changes nothing on any server.
    let changed: Vec<_> = [leader, f].iter().map(|&i| stale_vars(&c.agents[i]).unwrap()).collect();
    let mut tampered = archive.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x55;
    let r: Resp = client().put(format!("{}{SNAPSHOT}", c.agents[f].http())).body(tampered).send().unwrap().into();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().starts_with("rpc error: failed to restore from snapshot: "), "{}", r.text());
    for (n, &i) in [leader, f].iter().enumerate() {
        let now = stale_vars(&c.agents[i]);
        assert_eq!(now.as_ref(), Some(&changed[n]), "a bad archive changed {}", c.agents[i].spec.name);
    }

    let r: Resp =
        client().put(format!("{}{SNAPSHOT}", c.agents[f].http())).body(archive.clone()).send().unwrap().into();
    assert_eq!((r.status, r.text()), (200, String::new()));
    for i in [leader, f] {
        wait_vars(&c.agents[i], &saved, "after the restore");
    }
    c.agents[down].launch();
    wait_vars(&c.agents[down], &saved, "the server that was down");
    let leader = c.wait_leader(Duration::from_secs(30));
    put_var(&c.agents[leader], "svc/after", "restore");

    // Disaster recovery: a new cluster, other IDs and addresses, gets the same state.
    let dir2 = tempfile::tempdir().unwrap();
    let c2 = Cluster::start(&net(), &dir2, 3, &[2, 0, 1]);
    let l2 = c2.wait_leader(Duration::from_secs(30));
    for a in &c2.agents {
        wait_ready(a);
    }
    let r: Resp = client().put(format!("{}{SNAPSHOT}", c2.agents[l2].http())).body(archive).send().unwrap().into();
    assert_eq!(r.status, 200, "{}", r.text());
    for a in &c2.agents {
        wait_vars(a, &saved, "the new cluster");
    }
}
