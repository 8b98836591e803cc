//! Real Nomad agent files start the agent (tests/fixtures/nomad-configs, each naming its source
//! in hashicorp/nomad): what applies to a server is honoured, what does not is named in one
//! warning, and a key Nomad does not know still stops the agent with file and key
//! (command/agent/config_parse.go). Agents on the cli binary's 127.40.x.y block; the files'
//! own data dirs and addresses are replaced by flags, which win over files as in Nomad.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::net;
use crate::support::*;

const WARNING: &str = "ignoring settings that do not apply to a raftwarden server";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nomad-configs").join(name)
}

/// An agent started with the generated config, then `files` in order, then flags for its data
/// dir, address and a single-server bootstrap.
fn start_with(dir: &Path, ip: String, name: &str, files: &[PathBuf]) -> Agent {
    let data = dir.join(name);
    let mut spec = AgentSpec::new(name, ip.clone(), data.clone());
    spec.extra_args = files.iter().map(|f| format!("-config={}", f.display())).collect();
    spec.extra_args.extend([
        format!("-data-dir={}", data.display()),
        format!("-bind={ip}"),
        "-bootstrap-expect=1".into(),
    ]);
    Agent::start(spec)
}

fn warnings(a: &Agent) -> Vec<String> {
    a.output().into_iter().filter(|l| l.contains(WARNING)).collect()
}

/// Nomad's demo, dev, e2e and terraform server files start a server; the blocks that do not
/// apply (consul, vault, keyring) are named once, and nothing is named when nothing is set.
#[test]
fn nomad_server_files_start_the_agent() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    for (i, (files, named)) in [
        (&["demo-vagrant-server.hcl"][..], None),
        (&["dev-cluster-server1.hcl"], None),
        (&["e2e-server-linux.hcl", "e2e-server-consul.hcl"], Some("consul, keyring")),
        (&["terraform-shared-nomad.hcl"], Some("consul, vault")),
    ]
    .into_iter()
    .enumerate()
    {
        let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
        let a = start_with(dir.path(), n.ip(i as u8 + 1), &format!("f{i}"), &paths);
        let v = a.get("/v1/agent/self").json();
        assert_eq!(v["config"]["Server"]["Enabled"], true, "{files:?}");
        let w = warnings(&a);
        match named {
            None => assert!(w.is_empty(), "{files:?}: {w:?}"),
            Some(named) => {
                assert_eq!(w.len(), 1, "{files:?}: one warning: {w:?}");
                assert!(w[0].ends_with(&format!("(no clients, jobs or integrations): {named}")), "{files:?}: {w:?}");
            }
        }
    }
    // The vagrant demo's own name and log level.
    let a = start_with(dir.path(), n.ip(9), "named", &[fixture("demo-vagrant-server.hcl")]);
    let v = a.get("/v1/agent/self").json();
    assert_eq!((v["config"]["NodeName"].as_str(), v["config"]["LogLevel"].as_str()), (Some("server1"), Some("DEBUG")));
}

/// Nomad's own every-key test file (command/agent/testdata/basic.hcl) starts a server once a
/// later file puts right what cannot hold on this machine (its key `abc`, its ports, addresses,
/// TLS and license files, its join addresses' retry limit): telemetry, headers and ACLs from the file
/// apply, and client, consul, vault, plugin, audit, ... are named in one warning.
#[test]
fn nomads_every_key_file_starts_a_server() {
    let n = net();
    let ip = n.ip(1);
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.hcl");
    std::fs::write(
        &fix,
        format!(
            "log_level = \"WARN\"\nports {{\n  http = 4646\n  rpc = 4647\n  serf = 4648\n}}\n\
             advertise {{\n  http = \"{ip}\"\n  rpc = \"{ip}\"\n  serf = \"{ip}\"\n}}\n\
             server {{\n  encrypt = \"AAAAAAAAAAAAAAAAAAAAAA==\"\n  license_path = \"\"\n  server_join {{\n    retry_max = 0\n  }}\n}}\n\
             tls {{\n  http = false\n  rpc = false\n}}\n"
        ),
    )
    .unwrap();
    let a = start_with(dir.path(), ip, "every", &[fixture("testdata-basic.hcl"), fix]);
    // telemetry { prometheus_metrics = true disable_hostname = true }
    let r = a.get("/v1/metrics?format=prometheus");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_until(
        Duration::from_secs(30),
        || a.get("/v1/metrics?format=prometheus").text().contains("nomad_raft_term"),
        || a.get("/v1/metrics?format=prometheus").text(),
    );
    assert!(!a.get("/v1/metrics?format=prometheus").text().contains("host=\""));
    // http_api_response_headers { Access-Control-Allow-Origin = "*" }
    assert_eq!(a.get("/v1/status/leader").header("Access-Control-Allow-Origin").as_deref(), Some("*"));
    // acl { enabled = true }
    assert_eq!(a.get("/v1/agent/self").status, 403);
    let w = warnings(&a);
    assert_eq!(w.len(), 1, "{w:?}");
    for named in ["addresses", "audit", "client", "consul", "keyring", "plugin", "reporting", "sentinel", "vault"] {
        // The file asks for JSON logs (log_json = true): the list ends the message's string.
        assert!(w[0].contains(&format!(" {named},")) || w[0].contains(&format!(" {named}\"")), "{named}: {w:?}");
    }
}

/// `ui { enabled = false }`: every `/ui/` path answers Nomad's stub page and the agent says
/// `UI is disabled` (command/agent/http.go).
#[test]
fn ui_disabled_serves_nomads_stub_page() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dir.path().join("ui.hcl");
    std::fs::write(&ui, "ui {\n  enabled = false\n}\n").unwrap();
    let a = start_with(dir.path(), net().ip(1), "noui", &[fixture("demo-vagrant-server.hcl"), ui]);
    let r = a.get("/ui/jobs");
    assert_eq!((r.status, r.text().as_str()), (200, "<html><p>Nomad UI is disabled</p></html>"));
    assert!(a.output().iter().any(|l| l.contains("UI is disabled")), "{:?}", a.output());
    let v = a.get("/v1/agent/self").json();
    assert_eq!(v["config"]["UI"]["Enabled"], false, "{v}");
    assert_eq!(v["config"]["Telemetry"]["PrometheusMetrics"], false, "{v}");
    assert_eq!(v["config"]["Telemetry"]["CollectionInterval"], "1s", "{v}");
}

/// A key Nomad does not know, in a real file, still stops the agent with the file and the key.
#[test]
fn unknown_key_in_a_nomad_file_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("telemetry {\n  prometheus_metrics = true\n  prometheus_metric = true\n}\n", "telemetry.prometheus_metric"),
        ("consul {\n  adress = \"127.0.0.1:8500\"\n}\n", "consul.adress"),
        ("plugin \"docker\" {\n  confg {}\n}\n", "plugin.docker.confg"),
    ] {
        let f = dir.path().join("extra.hcl");
        std::fs::write(&f, text).unwrap();
        let out = Command::new(BIN)
            .args([
                "agent",
                &format!("-config={}", fixture("demo-vagrant-server.hcl").display()),
                &format!("-config={}", f.display()),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("error loading {}: unknown key \"{key}\"", f.display())), "{key}: {err}");
    }
}
