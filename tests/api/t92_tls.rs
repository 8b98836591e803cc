//! HTTPS on the HTTP port (`tls { http = true }`), with and without client certificates, the
//! certificates re-read on SIGHUP without a restart, the RPC port in `rpc_upgrade_mode`, the
//! files `tls cert create` writes, and the warning an agent with ACLs but without RPC TLS logs
//! at start. Certificates are made at test time (tests/support/certs.rs, or the binary).

use std::time::Duration;

use crate::net;
use crate::support::tls::first_certificate;
use crate::support::tls::peer_certificate;
use crate::support::tls::Pki;
use crate::support::*;

/// One agent with `tls { <settings> }` and `extra` HCL; its API is reached over HTTPS with
/// `identity`'s certificate when the settings turn `http` on.
fn tls_agent(dir: &tempfile::TempDir, name: &str, settings: &str, identity: Option<&str>, extra: &str) -> (Agent, Pki) {
    let ip = net().ip(1);
    let pki = Pki::new(&dir.path().join("pki"), std::slice::from_ref(&ip));
    let mut spec = AgentSpec::new(name, ip, dir.path().join(name));
    spec.extra_hcl = pki.hcl(settings) + extra;
    if settings.contains("http = true") {
        spec.https = Some(pki.client(identity));
    }
    let agent = Agent::start(spec);
    if !extra.contains("acl") {
        wait_ready(&agent);
    }
    (agent, pki)
}

fn leader_url(agent: &Agent) -> String {
    format!("{}/v1/status/leader", agent.http())
}

#[test]
fn https_with_verify_https_client_takes_only_certificates_of_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = tls_agent(&dir, "https1", "http = true\n  verify_https_client = true", Some("cli"), "");
    let url = leader_url(&agent);
    let plain = client().get(url.replacen("https://", "http://", 1)).send();
    assert!(!matches!(&plain, Ok(r) if r.status().is_success()), "plain HTTP was answered: {plain:?}");
    let anonymous = pki.client(None).get(&url).send();
    assert!(anonymous.is_err(), "HTTPS without a client certificate was answered: {anonymous:?}");
    let other = Pki::new(&dir.path().join("other"), std::slice::from_ref(&agent.spec.ip));
    let foreign = crate::support::tls::client_for(&pki.ca.pem, Some(other.pair("cli"))).get(&url).send();
    assert!(foreign.is_err(), "another CA's certificate was let in: {foreign:?}");
    for role in ["cli", "client"] {
        let r = pki.client(Some(role)).get(&url).send().expect("a certificate of the CA");
        assert_eq!(r.status().as_u16(), 200, "{role}");
    }
}

#[test]
fn https_without_verify_https_client_asks_for_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = tls_agent(&dir, "https2", "http = true", None, "");
    let r = pki.client(None).get(leader_url(&agent)).send().expect("HTTPS without a client certificate");
    assert_eq!(r.status().as_u16(), 200);
    let served = peer_certificate(&r).expect("server certificate");
    assert_eq!(served, first_certificate(&pki.pair("server").0));
    let tls = agent.get("/v1/agent/self").json()["config"]["TLSConfig"].clone();
    assert_eq!((tls["EnableHTTP"].as_bool(), tls["EnableRPC"].as_bool()), (Some(true), Some(false)), "{tls}");
    assert_eq!(tls["CertFile"].as_str(), Some(pki.pair("server").0.to_str().expect("path")));
}

#[test]
fn sighup_reloads_certificates_for_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = tls_agent(&dir, "reload", "http = true", None, "");
    let (cert, key) = pki.pair("server");
    let served = || {
        // A new client each time: a new connection, not one from a pool.
        let r = pki.client(None).get(leader_url(&agent)).send().expect("HTTPS");
        peer_certificate(&r).expect("server certificate")
    };
    let before = first_certificate(&cert);
    assert_eq!(served(), before);
    let pid = agent.pid();

    pki.ca.write_leaf(&pki.dir, "server", "global", &[agent.spec.ip.as_str(), "reloaded.example"]);
    let after = first_certificate(&cert);
    assert_ne!(after, before);
    agent.hangup();
    wait_until(
        Duration::from_secs(10),
        || served() == after,
        || format!("the new certificate is not served: {:?}", agent.output()),
    );
    assert_eq!(agent.pid(), pid);
    assert!(agent.child_running(), "SIGHUP stopped the agent");
    let out = agent.output();
    assert!(out.iter().any(|l| l == "==> Caught signal: hangup"), "{out:?}");
    assert!(out.iter().any(|l| l == "==> Reloading configuration..."), "{out:?}");

    // A key that does not parse: the reload fails, says so, and the agent keeps serving the
    // certificate it had.
    std::fs::write(&key, "not a key").expect("write");
    agent.hangup();
    wait_until(
        Duration::from_secs(10),
        || agent.output().iter().any(|l| l.contains("failed to reload the config") && l.contains("key_file")),
        || format!("no reload error logged: {:?}", agent.output()),
    );
    assert_eq!(served(), after);
    assert!(agent.child_running());
}

#[test]
fn acls_without_rpc_tls_warn_at_start() {
    let warning = "RPC traffic between servers, including raft, is unauthenticated";
    let dir = tempfile::tempdir().unwrap();
    let mut spec = AgentSpec::new("acl-plain", net().ip(1), dir.path().join("acl-plain"));
    spec.extra_hcl = "acl {\n  enabled = true\n}\n".into();
    let plain = Agent::start(spec);
    wait_until(
        Duration::from_secs(10),
        || plain.output().iter().any(|l| l.contains(warning) && l.contains("docs/security.md")),
        || format!("no warning: {:?}", plain.output()),
    );

    let dir = tempfile::tempdir().unwrap();
    let (secured, _pki) = tls_agent(&dir, "acl-tls", "rpc = true", None, "acl {\n  enabled = true\n}\n");
    let out = secured.output();
    assert!(!out.iter().any(|l| l.contains(warning)), "{out:?}");
}

#[test]
fn rpc_upgrade_mode_takes_plain_and_tls_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = tls_agent(&dir, "upgrade", "rpc = true\n  rpc_upgrade_mode = true", None, "");
    let vote = |scheme: &str| format!("{scheme}://{}{}", agent.rpc_addr(), raftwarden_actors::wire::paths::VOTE);
    // Both reach the raft path (and only then hear that an empty body is no vote request):
    // plain from a server not yet moved to TLS, TLS from one that has.
    let plain = client().post(vote("http")).body(Vec::new()).send().expect("plain HTTP in upgrade mode");
    assert_eq!(plain.status().as_u16(), 400, "{:?}", plain.text());
    let tls = pki.client(Some("server")).post(vote("https")).body(Vec::new()).send().expect("mutual TLS");
    assert_eq!(tls.status().as_u16(), 400, "{:?}", tls.text());
    // TLS still means mutual TLS.
    assert!(pki.client(None).post(vote("https")).body(Vec::new()).send().is_err());
}

/// The files `raftwarden tls ca create` and `tls cert create` write (an EC key in SEC1, as
/// Nomad's) serve HTTPS as they are.
#[test]
fn certificates_from_tls_cert_create_serve_https() {
    let dir = tempfile::tempdir().unwrap();
    let ip = net().ip(1);
    let pki = dir.path().join("pki");
    std::fs::create_dir_all(&pki).expect("dir");
    for args in [
        vec!["tls", "ca", "create"],
        vec!["tls", "cert", "create", "-server", "-additional-ipaddress", ip.as_str()],
        vec!["tls", "cert", "create", "-cli"],
    ] {
        let (code, out, err) = cli_in(&pki, "http://127.0.0.1:1", &args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let key = std::fs::read_to_string(pki.join("global-server-nomad-key.pem")).expect("key");
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{key}");
    let file = |name: &str| pki.join(name).display().to_string();
    let mut spec = AgentSpec::new("made", ip, dir.path().join("made"));
    spec.extra_hcl = format!(
        "tls {{\n  http = true\n  rpc = true\n  verify_https_client = true\n  verify_server_hostname = true\n  \
         ca_file = \"{}\"\n  cert_file = \"{}\"\n  key_file = \"{}\"\n}}\n",
        file("nomad-agent-ca.pem"),
        file("global-server-nomad.pem"),
        file("global-server-nomad-key.pem")
    );
    let ca = std::fs::read_to_string(pki.join("nomad-agent-ca.pem")).expect("CA");
    spec.https = Some(crate::support::tls::client_for(
        &ca,
        Some((pki.join("global-cli-nomad.pem"), pki.join("global-cli-nomad-key.pem"))),
    ));
    let agent = Agent::start(spec);
    wait_ready(&agent);
    assert_eq!(agent.get("/v1/status/leader").status, 200);
}
