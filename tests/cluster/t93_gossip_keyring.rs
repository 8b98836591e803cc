//! Gossip encryption: servers with one key form a cluster; a server with another key, or with
//! none, cannot join and says why in its log while the others carry on; packets in clear are
//! refused and answered with a notice; a key rotation through `/v1/agent/keyring/*` (install,
//! use, remove) keeps every member alive and writes replicating, and a restarted server keeps
//! the new key from its keyring file although its configuration still names the old one.

use std::net::UdpSocket;
use std::time::Duration;

use serde_json::Value;

use crate::net;
use crate::support::holds_for;
use crate::support::wait_ready;
use crate::support::wait_until;
use crate::support::Agent;
use crate::support::AgentSpec;
use crate::support::Cluster;

/// Old and new cluster keys (AES-256), and a stranger's key (AES-128).
const K1: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const K2: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";
const STRANGER: &str = "MzMzMzMzMzMzMzMzMzMzMw==";

const NO_KEY_TEXT: &str = "No installed keys could decrypt the message";

/// Gossip converges within a few probe rounds; this leaves room for a loaded machine.
const BOUND: Duration = Duration::from_secs(30);

fn encrypt_hcl(key: &str) -> String {
    format!("server {{\n  encrypt = \"{key}\"\n}}\n")
}

fn alive_names(a: &Agent) -> Vec<String> {
    let members = a.get("/v1/agent/members").json_or_null();
    let mut names: Vec<String> = members["Members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter(|m| m["Status"] == "alive")
                .filter_map(|m| m["Name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn listed_names(a: &Agent) -> Vec<String> {
    let members = a.get("/v1/agent/members").json_or_null();
    members["Members"]
        .as_array()
        .map(|ms| ms.iter().filter_map(|m| m["Name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn all_alive(c: &Cluster) -> bool {
    let want: Vec<String> = (1..=c.agents.len()).map(|i| format!("s{i}.global")).collect();
    c.agents.iter().all(|a| alive_names(a) == want)
}

fn wait_all_alive(c: &Cluster, why: &str) {
    wait_until(
        BOUND,
        || all_alive(c),
        || {
            let views: Vec<_> = c.agents.iter().map(|a| (a.spec.name.clone(), alive_names(a))).collect();
            format!("{why}: not every member alive everywhere: {views:?}")
        },
    );
}

fn logged(a: &Agent, text: &str) -> bool {
    a.output().iter().any(|l| l.contains(text))
}

/// A write through `via` reaches every server (a stale read on each shows it).
fn write_replicates(c: &Cluster, via: usize, path: &str) {
    let body = format!(r#"{{"Items":{{"step":"{path}"}}}}"#);
    let r = c.agents[via].request("PUT", &format!("/v1/var/{path}"), Some(&body));
    assert_eq!(r.status, 200, "write {path} through {}: {}", c.agents[via].spec.name, r.text());
    for a in &c.agents {
        wait_until(
            BOUND,
            || a.get(&format!("/v1/var/{path}?stale")).json_or_null()["Items"]["step"] == path,
            || format!("{path} never reached {}", a.spec.name),
        );
    }
}

fn keyring(a: &Agent, op: &str, key: &str) -> (u16, String) {
    let r = a.request("PUT", &format!("/v1/agent/keyring/{op}"), Some(&format!(r#"{{"Key":"{key}"}}"#)));
    (r.status, r.text())
}

fn key_counts(a: &Agent) -> Value {
    let r = a.get("/v1/agent/keyring/list");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn keyring_file(a: &Agent) -> Vec<String> {
    let text = std::fs::read_to_string(a.spec.data_dir.join("server/serf.keyring")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn one_key_forms_a_cluster_and_a_wrong_key_cannot_join() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    // The refused-packet counter is read from the Prometheus text, which needs the telemetry
    // block (Nomad's default: off).
    let hcl = format!("{}telemetry {{\n  prometheus_metrics = true\n}}\n", encrypt_hcl(K1));
    let c = Cluster::start_with(&n, &dir, 3, &[0, 1, 2], &hcl);
    wait_all_alive(&c, "same key");
    assert_eq!(c.agents[0].get("/v1/agent/self").json()["stats"]["serf"]["encrypted"], "true");

    let mut spec = AgentSpec::new("s4", n.ip(4), dir.path().join("s4"));
    spec.bootstrap_expect = 3;
    spec.retry_join = (1..=3).map(|i| format!("{}:4648", n.ip(i))).collect();
    spec.extra_hcl = encrypt_hcl(STRANGER);
    let stranger = Agent::start(spec);

    // The stranger hears why from the servers it tries, and they log what they refused.
    wait_until(
        BOUND,
        || logged(&stranger, NO_KEY_TEXT),
        || format!("s4 never logged why it cannot join: {:?}", stranger.output()),
    );
    wait_until(
        BOUND,
        || logged(&c.agents[0], &format!("memberlist: failed to receive: {NO_KEY_TEXT}")),
        || format!("s1 never logged the refused packets: {:?}", c.agents[0].output()),
    );
    holds_for(
        Duration::from_secs(5),
        || all_alive(&c) && c.agents.iter().all(|a| !listed_names(a).contains(&"s4.global".to_string())),
        || format!("s4 got in, or the cluster suffered: {:?}", c.agents.iter().map(listed_names).collect::<Vec<_>>()),
    );
    assert_eq!(listed_names(&stranger), ["s4.global"], "s4 learnt of no member");
    write_replicates(&c, 1, "wrong-key/stays-out");
    let metrics = c.agents[0].get("/v1/metrics?format=prometheus").text();
    assert!(
        metrics.lines().any(|l| l.starts_with("nomad_memberlist_udp_refused") && l.contains("reason=\"decrypt\"")),
        "no refused-packet counter: {metrics}"
    );
}

#[test]
fn gossip_in_clear_is_refused_by_an_encrypting_server() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = AgentSpec::new("s1", n.ip(1), dir.path().join("s1"));
    spec.extra_hcl = encrypt_hcl(K1);
    let encrypted = Agent::start(spec);
    wait_ready(&encrypted);

    // A raw datagram in clear: refused, answered with a notice saying why.
    let socket = UdpSocket::bind(format!("{}:0", n.ip(9))).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    socket.send_to(b"\x09s9.global and a gossip packet in clear", encrypted.serf_addr()).unwrap();
    let mut buf = [0u8; 128];
    let (len, from) = socket.recv_from(&mut buf).expect("a notice back");
    assert_eq!(from.to_string(), encrypted.serf_addr());
    assert_eq!(&buf[..len], b"\xffraftwarden-gossip-refused\x02");
    wait_until(
        BOUND,
        || {
            logged(
                &encrypted,
                "memberlist: failed to receive: encryption is configured but remote state is not encrypted",
            )
        },
        || format!("no log of the refused packet: {:?}", encrypted.output()),
    );

    // A server without a key cannot join it, and says why.
    let mut spec = AgentSpec::new("s2", n.ip(2), dir.path().join("s2"));
    spec.bootstrap_expect = 2;
    spec.retry_join = vec![encrypted.serf_addr()];
    let clear = Agent::start(spec);
    wait_until(
        BOUND,
        || logged(&clear, "encryption is configured but remote state is not encrypted"),
        || format!("s2 never logged why it cannot join: {:?}", clear.output()),
    );
    holds_for(
        Duration::from_secs(3),
        || listed_names(&encrypted) == ["s1.global"],
        || format!("s2 got in: {:?}", listed_names(&encrypted)),
    );
    assert_eq!(encrypted.get("/v1/agent/self").json()["stats"]["serf"]["encrypted"], "true");
    assert_eq!(clear.get("/v1/agent/self").json()["stats"]["serf"]["encrypted"], "false");
    // Without a key there is no keyring to list or change, as serf answers.
    assert_eq!(keyring(&clear, "install", K2), (500, "1/1 nodes reported failure".into()));
}

#[test]
fn rotating_the_key_keeps_the_cluster_together_and_survives_a_restart() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&n, &dir, 3, &[0, 1, 2], &encrypt_hcl(K1));
    wait_all_alive(&c, "before the rotation");
    write_replicates(&c, 0, "rotation/start");

    // 1. install the new key through one server: every server has both.
    let (status, body) = keyring(&c.agents[1], "install", K2);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer, serde_json::json!({"Messages": {}, "Keys": {}, "NumNodes": 3}));
    let listed = key_counts(&c.agents[2]);
    assert_eq!(listed["Keys"], serde_json::json!({K1: 3, K2: 3}), "{listed}");
    assert_eq!(listed["NumNodes"], 3);
    wait_all_alive(&c, "after install");
    write_replicates(&c, 2, "rotation/installed");

    // 2. use it: every server encrypts with it; each keyring file names it first.
    assert_eq!(keyring(&c.agents[0], "use", K2).0, 200);
    for a in &c.agents {
        assert_eq!(keyring_file(a), [K2, K1], "{}", a.spec.name);
    }
    holds_for(Duration::from_secs(3), || all_alive(&c), || "a member failed after use".into());
    write_replicates(&c, 1, "rotation/used");

    // 3. remove the old key; the primary itself cannot be removed.
    assert_eq!(keyring(&c.agents[2], "remove", K1).0, 200);
    assert_eq!(key_counts(&c.agents[0])["Keys"], serde_json::json!({K2: 3}));
    assert_eq!(keyring(&c.agents[0], "remove", K2), (500, "3/3 nodes reported failure".into()));
    assert!(
        c.agents.iter().any(|a| logged(a, "serf: Failed to remove key: removing the primary key is not allowed")),
        "no server logged why"
    );
    assert_eq!(keyring(&c.agents[0], "use", K1), (500, "3/3 nodes reported failure".into()));
    holds_for(Duration::from_secs(3), || all_alive(&c), || "a member failed after remove".into());
    write_replicates(&c, 0, "rotation/removed");

    // 4. a restarted server keeps the new key (its file wins over `encrypt`, with Nomad's
    //    warning) and rejoins.
    c.agents[2].terminate();
    c.agents[2].launch();
    wait_all_alive(&c, "after the restart");
    assert!(logged(&c.agents[2], "keyring exists but -encrypt given, using keyring"), "{:?}", c.agents[2].output());
    assert_eq!(keyring_file(&c.agents[2]), [K2]);
    write_replicates(&c, 2, "rotation/restarted");
    assert_eq!(key_counts(&c.agents[1])["Keys"], serde_json::json!({K2: 3}));
}
