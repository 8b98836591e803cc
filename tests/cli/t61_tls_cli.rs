//! The command line against an agent whose HTTP port is HTTPS and requires client certificates
//! (`tls { http = true verify_https_client = true }`), with certificates made at test time by
//! `raftwarden tls ca create` / `tls cert create`: the TLS flags and their `NOMAD_*` variables,
//! the failures without a client certificate or with another CA (in Go's words),
//! `-tls-skip-verify`, `-tls-server-name`, the snapshot agent, python-nomad, and the server's
//! own scheduled snapshots over HTTPS.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;

use crate::net;
use crate::support::*;
use crate::t60_tls_certs::ok_in;
use crate::t60_tls_certs::run_in;

/// The files `tls ca create`, `tls cert create -server` (for the agent's IP) and `-cli` write.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path, ip: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        ok_in(dir, &["tls", "ca", "create"]);
        ok_in(dir, &["tls", "cert", "create", "-server", "-additional-ipaddress", ip]);
        ok_in(dir, &["tls", "cert", "create", "-cli"]);
        Self { dir: dir.to_path_buf() }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn ca(&self) -> String {
        self.path("nomad-agent-ca.pem")
    }

    fn cli_cert(&self) -> String {
        self.path("global-cli-nomad.pem")
    }

    fn cli_key(&self) -> String {
        self.path("global-cli-nomad-key.pem")
    }

    /// The agent's `tls { }` block.
    fn hcl(&self) -> String {
        format!(
            "tls {{\n  http = true\n  verify_https_client = true\n  ca_file = \"{}\"\n  cert_file = \"{}\"\n  key_file = \"{}\"\n}}\n",
            self.ca(),
            self.path("global-server-nomad.pem"),
            self.path("global-server-nomad-key.pem")
        )
    }

    /// A test-side HTTPS client with the CLI certificate.
    fn client(&self) -> reqwest::blocking::Client {
        let ca = std::fs::read(self.ca()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca) {
            roots.add(cert.unwrap()).unwrap();
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(self.cli_cert()).unwrap().map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_file(self.cli_key()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(raftwarden_actors::crypto::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(Arc::new(roots))
            .with_client_auth_cert(chain, key)
            .unwrap();
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .tls_backend_preconfigured(config)
            .build()
            .unwrap()
    }
}

/// One agent with HTTPS and client verification, and its PKI.
fn https_agent(dir: &tempfile::TempDir, name: &str, extra_hcl: &str) -> (Agent, Pki) {
    let ip = net().ip(1);
    let pki = Pki::new(&dir.path().join("pki"), &ip);
    let mut spec = AgentSpec::new(name, ip, dir.path().join(name));
    spec.extra_hcl = pki.hcl() + extra_hcl;
    spec.https = Some(pki.client());
    let agent = Agent::start(spec);
    wait_ready(&agent);
    (agent, pki)
}

/// Runs the CLI with exactly these `NOMAD_*` variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run_in(Path::new("."), args, env)
}

#[test]
fn cli_speaks_https_with_flags_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = https_agent(&dir, "tlscli", "");
    let addr = agent.http();
    assert!(addr.starts_with("https://"), "{addr}");
    let (ca, cert, key) = (pki.ca(), pki.cli_cert(), pki.cli_key());
    let tls_flags = ["-ca-cert", ca.as_str(), "-client-cert", cert.as_str(), "-client-key", key.as_str()];

    // Flags.
    let mut args = vec!["operator", "raft", "list-peers", "-address", addr.as_str()];
    args.extend(tls_flags);
    let (code, out, err) = run(&args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tlscli.global") && out.contains("leader"), "{out}");

    // The same through NOMAD_* variables, for every kind of command.
    let env = [
        ("NOMAD_ADDR", addr.as_str()),
        ("NOMAD_CACERT", ca.as_str()),
        ("NOMAD_CLIENT_CERT", cert.as_str()),
        ("NOMAD_CLIENT_KEY", key.as_str()),
    ];
    let snap = dir.path().join("backup.snap");
    let snap_text = snap.display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["operator", "raft", "list-peers"],
        vec!["operator", "autopilot", "get-config"],
        vec!["operator", "scheduler", "get-config"],
        vec!["server", "members"],
        vec!["var", "put", "app/tls", "k=v"],
        vec!["var", "get", "-item", "k", "app/tls"],
        vec!["operator", "snapshot", "save", snap_text.as_str()],
        vec!["operator", "snapshot", "restore", snap_text.as_str()],
    ];
    for command in &commands {
        let (code, out, err) = run(command, &env);
        assert_eq!(code, 0, "{command:?}: {out}{err}");
    }
    assert_eq!(run(&["var", "get", "-item", "k", "app/tls"], &env).1, "v");

    // A CA directory (-ca-path / NOMAD_CAPATH) instead of a file.
    let cas = dir.path().join("cas");
    std::fs::create_dir(&cas).unwrap();
    std::fs::copy(&ca, cas.join("ca.pem")).unwrap();
    let cas_text = cas.display().to_string();
    let env_path = [
        ("NOMAD_ADDR", addr.as_str()),
        ("NOMAD_CAPATH", cas_text.as_str()),
        ("NOMAD_CLIENT_CERT", cert.as_str()),
        ("NOMAD_CLIENT_KEY", key.as_str()),
    ];
    let (code, _, err) = run(&["operator", "raft", "list-peers"], &env_path);
    assert_eq!(code, 0, "{err}");

    // A flag wins over its variable: a broken NOMAD_CACERT is not read when -ca-cert is given.
    let env_bad_ca = [("NOMAD_CACERT", "/nonexistent/ca.pem"), ("NOMAD_ADDR", addr.as_str())];
    let mut args = vec!["operator", "raft", "list-peers"];
    args.extend(tls_flags);
    let (code, _, err) = run(&args, &env_bad_ca);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["operator", "raft", "list-peers"], &env_bad_ca);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "Error initializing client: Error loading CA File: open /nonexistent/ca.pem: no such file or directory\n"
    );
}

#[test]
fn without_a_client_certificate_or_with_another_ca_the_cli_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = https_agent(&dir, "tlsfail", "");
    let addr = agent.http();
    let (ca, cert, key) = (pki.ca(), pki.cli_cert(), pki.cli_key());
    let url = format!("{addr}/v1/operator/raft/configuration");

    // No client certificate: the server refuses the handshake.
    let (code, out, err) = run(&["operator", "raft", "list-peers", "-address", &addr, "-ca-cert", &ca], &[]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.starts_with(&format!("Failed to retrieve raft configuration: Get \"{url}\": ")), "{err}");
    assert!(err.contains("tls: ") || err.contains("connection"), "{err}");

    // Half a certificate: Nomad's text before any connection.
    let (code, _, err) =
        run(&["operator", "raft", "list-peers", "-address", &addr, "-ca-cert", &ca, "-client-cert", &cert], &[]);
    assert_eq!(code, 1);
    assert_eq!(err, "Error initializing client: Both client cert and client key must be provided\n");

    // Another CA does not vouch for this server.
    let other = Pki::new(&dir.path().join("other"), &agent.spec.ip);
    let other_ca = other.ca();
    let args = [
        "operator",
        "raft",
        "list-peers",
        "-address",
        &addr,
        "-ca-cert",
        &other_ca,
        "-client-cert",
        &cert,
        "-client-key",
        &key,
    ];
    let (code, _, err) = run(&args, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "Failed to retrieve raft configuration: Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority\n"
        )
    );
    // The other CA's client certificate is refused by the server.
    let args = [
        "operator",
        "raft",
        "list-peers",
        "-address",
        &addr,
        "-ca-cert",
        &ca,
        "-client-cert",
        &other.cli_cert(),
        "-client-key",
        &other.cli_key(),
    ];
    let (code, _, err) = run(&args, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("Failed to retrieve raft configuration: "), "{err}");

    // A name the certificate does not carry.
    let args = [
        "operator",
        "raft",
        "list-peers",
        "-address",
        &addr,
        "-ca-cert",
        &ca,
        "-client-cert",
        &cert,
        "-client-key",
        &key,
        "-tls-server-name",
        "other.example",
    ];
    let (code, _, err) = run(&args, &[]);
    assert_eq!(code, 1);
    assert!(
        err.ends_with(
            "tls: failed to verify certificate: x509: certificate is valid for server.global.nomad, localhost, not other.example\n"
        ),
        "{err}"
    );
    // ... and one it does, whatever the address.
    let args = [
        "operator",
        "raft",
        "list-peers",
        "-address",
        &addr,
        "-ca-cert",
        &ca,
        "-client-cert",
        &cert,
        "-client-key",
        &key,
        "-tls-server-name",
        "server.global.nomad",
    ];
    assert_eq!(run(&args, &[]).0, 0);

    // No CA at all: skipping verification works, with the flag or with NOMAD_SKIP_VERIFY.
    let args = [
        "operator",
        "raft",
        "list-peers",
        "-address",
        &addr,
        "-client-cert",
        &cert,
        "-client-key",
        &key,
        "-tls-skip-verify",
    ];
    let (code, _, err) = run(&args, &[]);
    assert_eq!(code, 0, "{err}");
    let env = [
        ("NOMAD_ADDR", addr.as_str()),
        ("NOMAD_CLIENT_CERT", cert.as_str()),
        ("NOMAD_CLIENT_KEY", key.as_str()),
        ("NOMAD_SKIP_VERIFY", "true"),
    ];
    let (code, _, err) = run(&["operator", "scheduler", "get-config"], &env);
    assert_eq!(code, 0, "{err}");

    // Plain HTTP to the HTTPS port gets no answer.
    let plain = addr.replacen("https://", "http://", 1);
    assert_eq!(run(&["operator", "raft", "list-peers", "-address", &plain], &[]).0, 1);
}

#[test]
fn snapshot_agent_saves_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = https_agent(&dir, "tlsagent", "");
    let backups = dir.path().join("backups");
    let config = dir.path().join("snapshot-agent.hcl");
    std::fs::write(
        &config,
        format!(
            "nomad {{\n  address = \"{}\"\n  ca_file = \"{}\"\n  cert_file = \"{}\"\n  key_file = \"{}\"\n}}\nsnapshot {{\n  interval = \"1h\"\n  path = \"{}\"\n}}\n",
            agent.http(),
            pki.ca(),
            pki.cli_cert(),
            pki.cli_key(),
            backups.display()
        ),
    )
    .unwrap();
    let (code, _, err) =
        run(&["operator", "snapshot", "agent", &format!("-config={}", config.display()), "-max-rounds=1"], &[]);
    assert_eq!(code, 0, "{err}");
    let snaps: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".snap"))
        .collect();
    assert_eq!(snaps.len(), 1, "{snaps:?} {err}");
}

#[test]
fn scheduled_snapshots_are_saved_when_the_api_is_https() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("scheduled");
    let schedule =
        format!("snapshot {{\n  interval = \"300ms\"\n  retain = 2\n  path = \"{}\"\n}}\n", backups.display());
    let (agent, _pki) = https_agent(&dir, "tlssched", &schedule);
    let status = backups.join("agent-status.json");
    wait_until(
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .is_some_and(|v| v["LastSuccessFile"].is_string())
        },
        || format!("no scheduled snapshot over HTTPS: {:?} {:?}", std::fs::read_to_string(&status), agent.output()),
    );
    let text = std::fs::read_to_string(&status).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let file = v["LastSuccessFile"].as_str().unwrap();
    assert!(Path::new(file).exists(), "{text}");
    let (code, out, err) = run(&["operator", "snapshot", "inspect", file], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Index"), "{out}");
}

#[test]
fn python_nomad_reads_over_https_with_a_client_certificate() {
    let Some(python) = python_nomad() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (agent, pki) = https_agent(&dir, "tlspy", "");
    let script = "import sys, nomad\n\
        host, ca, cert, key = sys.argv[1:5]\n\
        n = nomad.Nomad(host=host, port=4646, secure=True, verify=ca, cert=(cert, key), timeout=10)\n\
        leader = n.status.leader.get_leader()\n\
        assert leader.endswith(':4647'), leader\n\
        config = n.operator.get_configuration()\n\
        assert [s['Node'] for s in config['Servers']] == ['tlspy.global'], config\n\
        print(leader)\n";
    let out = Command::new(&python)
        .args(["-c", script, agent.spec.ip.as_str(), &pki.ca(), &pki.cli_cert(), &pki.cli_key()])
        .output()
        .expect("run python");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python-nomad over HTTPS: {text}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), agent.rpc_addr());

    // Without the client certificate python-nomad is refused too.
    let refused = "import sys, nomad\n\
        n = nomad.Nomad(host=sys.argv[1], port=4646, secure=True, verify=sys.argv[2], timeout=10)\n\
        n.status.leader.get_leader()\n";
    let out =
        Command::new(&python).args(["-c", refused, agent.spec.ip.as_str(), &pki.ca()]).output().expect("run python");
    assert!(!out.status.success(), "answered without a client certificate");
}
