//! Mutual TLS between servers (`tls { rpc = true verify_server_hostname = true }`): the
//! cluster forms and replicates over it, and the RPC port refuses whoever cannot prove to be a
//! server of this region. Certificates are made at test time (tests/support/certs.rs).

use std::time::Duration;

use raftwarden::tls::Policy;
use raftwarden::tls::Tls;
use raftwarden::tls::TlsFiles;
use raftwarden_actors::raft::link::Link;
use raftwarden_actors::raft::link::LinkError;
use raftwarden_actors::wire::paths;
use std::sync::Arc;

use crate::net;
use crate::support::tls::client_for;
use crate::support::tls::with_config;
use crate::support::tls::Pki;
use crate::support::*;

/// The RPC client TLS of another agent: checks `server.global.nomad` and presents the
/// certificate of `role` from `pki`.
fn agent_tls(pki: &Pki, role: &str) -> Arc<rustls::ClientConfig> {
    let (cert_file, key_file) = pki.pair(role);
    let files = TlsFiles { ca_file: Some(pki.path("nomad-agent-ca.pem")), cert_file, key_file };
    let policy = Policy { verify_server_hostname: true, region: "global".into(), ..Policy::default() };
    Tls::load(files, policy).expect("load").rpc_client().expect("client config")
}

/// An HTTP client on the RPC port as another agent would be ([`agent_tls`]).
fn agent_client(pki: &Pki, role: &str) -> reqwest::blocking::Client {
    with_config(agent_tls(pki, role))
}

#[test]
fn mutual_tls_cluster_replicates_and_refuses_non_servers() {
    let dir = tempfile::tempdir().unwrap();
    let net = net();
    let ips: Vec<String> = (1..=3).map(|n| net.ip(n)).collect();
    let pki = Pki::new(&dir.path().join("pki"), &ips);
    let tls = pki.hcl("rpc = true\n  verify_server_hostname = true");
    let c = Cluster::start_with(&net, &dir, 3, &[0, 1, 2], &tls);
    let leader = c.wait_leader(Duration::from_secs(60));
    for a in &c.agents {
        wait_ready(a);
    }
    let follower = (leader + 1) % 3;
    let r = c.agents[follower].request("PUT", "/v1/var/tls/check?cas=0", Some(r#"{"Items":{"over":"mtls"}}"#));
    assert_eq!(r.status, 200, "a write forwarded over mutual TLS: {}", r.text());
    let written = r.text();
    for a in &c.agents {
        wait_until(
            Duration::from_secs(10),
            || a.get("/v1/var/tls/check?stale").text() == written,
            || format!("{}: {}", a.spec.name, a.get("/v1/var/tls/check?stale").text()),
        );
    }

    // A snapshot saved through a follower streams from the leader over mutual TLS.
    let saved = c.agents[follower].get("/v1/operator/snapshot");
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert!(saved.body.len() > 100 && saved.header("digest").is_some());

    let rpc = |path: &str| format!("https://{}{path}", c.agents[follower].rpc_addr());
    let vote = rpc(paths::VOTE);
    // No certificate, or one from another CA: the handshake fails.
    let refused = |client: reqwest::blocking::Client, who: &str| {
        let r = client.post(&vote).body(Vec::new()).send();
        assert!(r.is_err(), "{who} reached the RPC port: {:?}", r.map(|r| r.status()));
    };
    refused(client_for(&pki.ca.pem, None), "a caller without a certificate");
    let other = Pki::new(&dir.path().join("other"), &ips);
    refused(client_for(&pki.ca.pem, Some(other.pair("server"))), "a server certificate of another CA");
    // Plain HTTP to the RPC port gets no HTTP answer.
    let plain = client().post(format!("http://{}{}", c.agents[follower].rpc_addr(), paths::VOTE)).send();
    assert!(plain.is_err(), "plain HTTP reached the RPC port: {:?}", plain.map(|r| r.status()));

    // A client's certificate gets through the handshake but is no server: raft is refused
    // before the body is read. A server's certificate is admitted (the empty body is then
    // a bad vote request).
    let as_client = agent_client(&pki, "client").post(&vote).body(Vec::new()).send().expect("client cert connects");
    let status = as_client.status().as_u16();
    assert_eq!(status, 403, "{}", as_client.text().unwrap_or_default());
    let as_server = agent_client(&pki, "server").post(&vote).body(Vec::new()).send().expect("server cert connects");
    assert_eq!(as_server.status().as_u16(), 400, "{}", as_server.text().unwrap_or_default());

    // Raft frames (`wire::frames`) on the same port, under the same rule.
    let follower_rpc = c.agents[follower].rpc_addr();
    let frame = |tls: Option<Arc<rustls::ClientConfig>>| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(Link::new(&follower_rpc, None, tls).call(paths::VOTE, b"", Duration::from_secs(10)))
    };
    let config = |pki: &Pki, role: &str| Some(agent_tls(pki, role));
    match frame(config(&pki, "client")) {
        Err(LinkError::Failed(text)) => assert!(text.contains("answered only to servers"), "{text}"),
        other => panic!("a client's certificate, as frames: {other:?}"),
    }
    match frame(config(&pki, "server")) {
        Err(LinkError::Failed(text)) => assert!(text.contains("malformed"), "{text}"),
        other => panic!("a server's certificate, as frames: {other:?}"),
    }
    // Plain frames get no answer (the TLS listener closes on them), and frames over TLS with
    // another CA's certificate get no handshake.
    let plain = frame(None);
    assert!(matches!(plain, Err(LinkError::Failed(_))), "plain frames reached the RPC port: {plain:?}");
    assert!(matches!(frame(config(&other, "server")), Err(LinkError::NoFrames)), "another CA's frames got in");
    // Nothing of that disturbed the cluster, whose own raft traffic went as frames over TLS.
    assert_eq!(c.wait_leader(Duration::from_secs(10)), leader);
    for a in &c.agents {
        let fell_back = a.output().into_iter().find(|l| l.contains("took no frames connection"));
        assert_eq!(fell_back, None, "{}", a.spec.name);
    }
}
