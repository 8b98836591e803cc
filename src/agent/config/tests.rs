use raftwarden_actors::state::SchedulerAlgorithm;

use super::*;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn dev_defaults() {
    let c = load(&args(&["-dev"])).unwrap();
    assert!(c.dev && c.server.enabled);
    assert_eq!((c.bind_addr.as_str(), c.name.as_str(), c.region.as_str()), ("127.0.0.1", "dev", "global"));
    assert_eq!(c.ports, Ports::default());
    assert_eq!(c.server.bootstrap_expect, 1);
}

#[test]
fn realistic_nomad_server_file() {
    let d = tempfile::tempdir().expect("temp dir");
    let f = write(
        d.path(),
        "server.hcl",
        r#"
name       = "s1"
region     = "east"
datacenter = "dc2"
data_dir   = "/var/lib/raftwarden"
bind_addr  = "10.0.0.5"
log_level  = "debug"
leave_on_terminate = true
ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}
server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join = ["10.0.0.6:4647", "10.0.0.7:4647"]
  }
  default_scheduler_config {
    scheduler_algorithm = "spread"
    preemption_config {
      batch_scheduler_enabled = true
    }
  }
}
client {
  enabled = false
}
advertise {
  http = "192.0.2.10:80"
  rpc  = "192.0.2.10"
}
autopilot {
  last_contact_threshold = "500ms"
  max_trailing_logs      = 10
}
http_api_response_headers {
  "X-Frame-Options" = "DENY"
}
"#,
    );
    let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
    assert_eq!(c.name, "s1");
    assert_eq!(c.region, "east");
    assert_eq!(c.datacenter, "dc2");
    assert_eq!(c.log_level, "DEBUG");
    assert_eq!(c.ports, Ports { http: 5646, rpc: 5647, serf: 5648 });
    assert_eq!(c.server.bootstrap_expect, 3);
    assert_eq!(c.server.retry_join, vec!["10.0.0.6:4647", "10.0.0.7:4647"]);
    let sc = c.server.default_scheduler_config.unwrap();
    assert_eq!(sc.scheduler_algorithm, SchedulerAlgorithm::Spread);
    assert!(sc.preemption_config.batch_scheduler_enabled && sc.preemption_config.system_scheduler_enabled);
    let ap = c.autopilot.resolve();
    assert_eq!((ap.last_contact_threshold, ap.max_trailing_logs), (500_000_000, 10));
    assert!(ap.cleanup_dead_servers);
    assert_eq!(c.http_api_response_headers.get("X-Frame-Options").map(String::as_str), Some("DENY"));
    assert_eq!(c.advertise_rpc.as_deref(), Some("192.0.2.10"));
    assert_eq!(c.advertise_http.as_deref(), Some("192.0.2.10:80"));
}

#[test]
fn files_merge_in_order_and_flags_win() {
    let d = tempfile::tempdir().expect("temp dir");
    write(
        d.path(),
        "a.hcl",
        "name = \"a\"\ndata_dir = \"/a\"\nserver {\n enabled = true\n retry_join = [\"x:1\"]\n}\n",
    );
    write(d.path(), "b.json", r#"{"name": "b", "server": {"retry_join": ["y:2"], "bootstrap_expect": 3}}"#);
    write(d.path(), "ignored.txt", "not = config");
    let c = load(&args(&[&format!("-config={}", d.path().display())])).unwrap();
    assert_eq!(c.name, "b");
    assert_eq!(c.server.retry_join, vec!["x:1", "y:2"]);
    assert_eq!(c.server.bootstrap_expect, 3);
    let c = load(&args(&[
        "-config",
        &d.path().display().to_string(),
        "-node=flagged",
        "-bootstrap-expect",
        "5",
        "-retry-join=z:3",
        "--data-dir=/z",
        "-log-json",
        "-encrypt=AAAAAAAAAAAAAAAAAAAAAA==",
    ]))
    .unwrap();
    assert_eq!((c.name.as_str(), c.server.bootstrap_expect), ("flagged", 5));
    assert_eq!(c.server.encrypt, Some(vec![0; 16]), "-encrypt is server {{ encrypt }}");
    assert_eq!(c.server.retry_join, vec!["x:1", "y:2", "z:3"]);
    assert_eq!(c.data_dir, Some(PathBuf::from("/z")));
    assert!(c.log_json);
}

#[test]
fn repeated_blocks_merge() {
    let d = tempfile::tempdir().expect("temp dir");
    let f = write(
        d.path(),
        "x.hcl",
        "data_dir = \"/x\"\nserver {\n enabled = true\n}\nserver {\n bootstrap_expect = 3\n}\n",
    );
    let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
    assert!(c.server.enabled);
    assert_eq!(c.server.bootstrap_expect, 3);
}

#[test]
fn license_keys_and_path() {
    let d = tempfile::tempdir().expect("temp dir");
    let key = "8Fy2dV3yrcy1nOeZAN6dAtg3+CesKy4bspr9CCgiJr8=";
    let f = write(
        d.path(),
        "x.hcl",
        &format!(
            "data_dir = \"/x\"\nserver {{\n enabled = true\n license_path = \"/etc/l.lic\"\n}}\n\
                 server {{\n license_public_keys = [\"{key}\"]\n}}\n"
        ),
    );
    let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
    assert_eq!(c.server.license_path, Some(PathBuf::from("/etc/l.lic")));
    assert_eq!(c.server.license_public_keys, vec![key]);
    let bad = write(
        d.path(),
        "bad.hcl",
        "data_dir = \"/x\"\nserver {\n enabled = true\n license_public_keys = [\"AAAA\"]\n}\n",
    );
    let err = load(&args(&[&format!("-config={}", bad.display())])).unwrap_err().to_string();
    assert!(err.contains("server.license_public_keys: public key has 3 bytes, expected 32"), "{err}");
}

#[test]
fn errors_name_file_key_and_reason() {
    let d = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("severr {\n enabled = true\n}\n", "unknown key \"severr\""),
        (
            "server {\n bootstrap_expect = \"three\"\n}\n",
            "server.bootstrap_expect: expected a non-negative integer, got string \"three\"",
        ),
        ("server {\n enabled = true\n foo = 1\n}\n", "unknown key \"server.foo\""),
        (
            "autopilot {\n last_contact_threshold = \"5\"\n}\n",
            "autopilot.last_contact_threshold: time: missing unit in duration \"5\"",
        ),
        ("ports {\n http = 70000\n}\n", "ports.http: 70000 is out of range"),
        ("name = {\n", "invalid HCL"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = write(d.path(), &format!("c{i}.hcl"), text);
        let e = load(&args(&[&format!("-config={}", f.display())])).unwrap_err().to_string();
        assert!(e.starts_with(&format!("error loading {}: ", f.display())), "{e}");
        assert!(e.contains(want), "{e} should contain {want}");
    }
    let missing = d.path().join("missing.hcl");
    let e = load(&args(&[&format!("-config={}", missing.display())])).unwrap_err().to_string();
    assert!(e.contains("missing.hcl") && e.contains("No such file"), "{e}");
    let e = load(&args(&["-config=x", "-bogus"])).unwrap_err().to_string();
    assert!(e.contains("No such file") || e == "unknown flag -bogus", "{e}");
    assert_eq!(load(&args(&["-bogus"])).unwrap_err().to_string(), "unknown flag -bogus");
    assert!(load(&args(&["-bootstrap-expect=x"])).unwrap_err().to_string().contains("-bootstrap-expect"));
    assert!(load(&args(&["-server"])).unwrap_err().to_string().contains("data_dir is required"));
    assert!(load(&args(&["-data-dir=/x"])).unwrap_err().to_string().contains("servers only"));
    assert!(load(&args(&["-dev", "-bind=localhost"])).unwrap_err().to_string().contains("not an IP address"));
    assert!(load(&args(&["-dev", "-log-level=loud"])).unwrap_err().to_string().contains("log_level"));
    assert!(load(&args(&["-dev", "stray"])).unwrap_err().to_string().contains("unexpected argument"));
    assert!(load(&args(&["-dev", "-node"])).unwrap_err().to_string().contains("needs a value"));
}

#[test]
fn type_errors_and_unknown_nested_keys_name_the_path() {
    let d = tempfile::tempdir().expect("temp dir");
    let cases = [
        ("server {\n bootstrap_expectt = 3\n}\n", "unknown key \"server.bootstrap_expectt\""),
        ("server {\n server_join {\n retry_joins = []\n }\n}\n", "unknown key \"server.server_join.retry_joins\""),
        (
            "server {\n default_scheduler_config {\n preemption_config {\n batch = true\n }\n }\n}\n",
            "unknown key \"server.default_scheduler_config.preemption_config.batch\"",
        ),
        ("server {\n enabled = true\n}\nserver {\n nope = 1\n}\n", "unknown key \"server[1].nope\""),
        (
            "server {\n bootstrap_expect = true\n}\n",
            "server.bootstrap_expect: expected a non-negative integer, got bool true",
        ),
        (
            "server {\n bootstrap_expect = -1\n}\n",
            "server.bootstrap_expect: expected a non-negative integer, got number -1",
        ),
        ("server {\n enabled = \"yes\"\n}\n", "server.enabled: expected true or false, got string \"yes\""),
        ("server {\n retry_join = \"a:1\"\n}\n", "server.retry_join: expected a list of strings, got string \"a:1\""),
        ("server {\n retry_join = [1]\n}\n", "server.retry_join: expected a string, got number 1"),
        ("server = 3\n", "server: expected a block, got number 3"),
        ("name = 3\n", "name: expected a string, got number 3"),
        ("ports {\n rpc = 1.5\n}\n", "ports.rpc: expected a non-negative integer, got number 1.5"),
        ("client {\n enabled = 1\n}\n", "client.enabled: expected true or false, got number 1"),
        ("telemetry {\n prometheus_metric = true\n}\n", "unknown key \"telemetry.prometheus_metric\""),
        ("consul {\n adress = \"x\"\n}\n", "unknown key \"consul.adress\""),
        ("telemetry {\n collection_interval = \"1\"\n}\n", "telemetry.collection_interval: time: missing unit"),
        ("ui {\n enabled = \"no\"\n}\n", "ui.enabled: expected true or false, got string \"no\""),
        ("http_api_response_headers {\n X = 1\n}\n", "http_api_response_headers.X: expected a string, got number 1"),
        (
            "server {\n default_scheduler_config {\n scheduler_algorithm = \"random\"\n }\n}\n",
            "server.default_scheduler_config.scheduler_algorithm: invalid scheduler algorithm \"random\"",
        ),
        (
            "server {\n server_join {\n retry_interval = \"5\"\n }\n}\n",
            "server.server_join.retry_interval: time: missing unit",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let f = write(d.path(), &format!("t{i}.hcl"), text);
        let e = load(&args(&[&format!("-config={}", f.display())])).unwrap_err().to_string();
        assert!(e.starts_with(&format!("error loading {}: ", f.display())), "{e}");
        assert!(e.contains(want), "{e} should contain {want}");
    }
    for (i, (text, want)) in [
        ("[1, 2]", "expected a configuration object, got a list"),
        (r#"{"server": {"enabled": null}}"#, "server.enabled: expected true or false, got null"),
        (
            r#"{"autopilot": {"min_quorum": "3"}}"#,
            "autopilot.min_quorum: expected a non-negative integer, got string \"3\"",
        ),
    ]
    .iter()
    .enumerate()
    {
        let f = write(d.path(), &format!("j{i}.json"), text);
        let e = load(&args(&[&format!("-config={}", f.display())])).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should contain {want}");
    }
}

#[test]
fn dev_layers_under_files_and_flags() {
    let d = tempfile::tempdir().expect("temp dir");
    let f = write(d.path(), "a.hcl", "bind_addr = \"10.0.0.1\"\nserver {\n bootstrap_expect = 3\n}\n");
    let c = load(&args(&[&format!("-config={}", f.display()), "-dev"])).unwrap();
    assert_eq!((c.bind_addr.as_str(), c.server.bootstrap_expect, c.name.as_str()), ("10.0.0.1", 3, "dev"));
    let e = write(d.path(), "e.hcl", "region = \"r\"\n");
    let c = load(&args(&[&format!("-config={}", e.display()), "-dev"])).unwrap();
    assert_eq!((c.bind_addr.as_str(), c.server.bootstrap_expect, c.server.enabled), ("127.0.0.1", 1, true));
    let c = load(&args(&[&format!("-config={}", f.display()), "-dev", "-bind=127.0.0.2", "-node=n"])).unwrap();
    assert_eq!((c.bind_addr.as_str(), c.name.as_str()), ("127.0.0.2", "n"));
    assert!(!load(&args(&["-dev=false", "-server", "-data-dir=/x"])).unwrap().dev);
}

#[test]
fn later_files_override_single_keys_of_a_block() {
    let d = tempfile::tempdir().expect("temp dir");
    write(d.path(), "a.hcl", "data_dir = \"/a\"\nserver { enabled = true }\nautopilot { max_trailing_logs = 5 min_quorum = 3 }\nports { http = 5000 }\n");
    write(d.path(), "b.hcl", "autopilot { min_quorum = 4 }\nports { rpc = 5001 }\nserver {\n default_scheduler_config { pause_eval_broker = true }\n}\n");
    write(d.path(), "c.hcl", "server {\n default_scheduler_config { scheduler_algorithm = \"spread\" }\n}\n");
    let c = load(&args(&[&format!("-config={}", d.path().display())])).unwrap();
    let ap = c.autopilot.resolve();
    assert_eq!((ap.max_trailing_logs, ap.min_quorum), (5, 4));
    assert_eq!(c.ports, Ports { http: 5000, rpc: 5001, serf: 4648 });
    let sc = c.server.default_scheduler_config.unwrap();
    assert!(sc.pause_eval_broker);
    assert_eq!(sc.scheduler_algorithm, SchedulerAlgorithm::Spread);
    assert!(c.server.enabled);
}

#[test]
fn snapshot_schedule_block() {
    let d = tempfile::tempdir().expect("temp dir");
    let base = "data_dir = \"/a\"\nserver { enabled = true }\n";
    let f = write(d.path(), "none.hcl", base);
    assert_eq!(load(&args(&[&format!("-config={}", f.display())])).unwrap().snapshot, None);
    let f = write(
        d.path(),
        "s.hcl",
        &format!("{base}snapshot {{\n interval = \"15m\"\n retain = 5\n path = \"/b\"\n token = \"s3cr3t\"\n}}\n"),
    );
    let c = load(&args(&[&format!("-config={}", f.display())])).unwrap();
    let want = SnapshotSchedule {
        interval: std::time::Duration::from_secs(900),
        retain: 5,
        path: "/b".into(),
        token: Some("s3cr3t".into()),
    };
    assert_eq!(c.snapshot, Some(want));
    assert!(!format!("{:?}", c.snapshot).contains("s3cr3t"), "Debug never prints the token");
    let f = write(d.path(), "d.hcl", &format!("{base}snapshot {{ path = \"/b\" }}\n"));
    let c = load(&args(&[&format!("-config={}", f.display())])).unwrap().snapshot.unwrap();
    assert_eq!((c.interval, c.retain), (SnapshotSchedule::DEFAULT_INTERVAL, SnapshotSchedule::DEFAULT_RETAIN));
    assert_eq!(c.token, None);
    for (text, want) in [
        ("snapshot { retain = 2 }", "snapshot.path is required"),
        ("snapshot {\n path = \"/b\"\n interval = \"-1s\"\n}", "snapshot.interval must be positive"),
        ("snapshot {\n path = \"/b\"\n every = \"1s\"\n}", "every"),
    ] {
        let f = write(d.path(), "bad.hcl", &format!("{base}{text}\n"));
        let e = load(&args(&[&format!("-config={}", f.display())])).unwrap_err().to_string();
        assert!(e.contains(want), "{e} should contain {want}");
    }
}

#[test]
fn help_is_not_an_error_to_print() {
    match load(&args(&["-help"])) {
        Err(ConfigError::Help(text)) => assert!(text.contains("Usage: raftwarden agent")),
        other => panic!("{other:?}"),
    }
}

/// `tests/fixtures/nomad-configs/<name>`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nomad-configs").join(name)
}

/// Every real Nomad file decodes against the schema (no key unknown), and the server files
/// load as they are, with only a data dir where they name none.
#[test]
fn real_nomad_files_load() {
    let d = tempfile::tempdir().expect("temp dir");
    let data = format!("-data-dir={}", d.path().display());
    let dir = fixture("");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if matches!(p.extension().and_then(|e| e.to_str()), Some("hcl" | "json")) {
            file::decode(&p, read_file(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
    for files in [
        &["demo-vagrant-server.hcl"][..],
        &["demo-vagrant-server.hcl", "demo-tls-server.hcl"],
        &["dev-cluster-server1.hcl"],
        &["dev-tls-cluster-server.hcl"],
        &["e2e-server-linux.hcl", "e2e-server-consul.hcl"],
        &["terraform-shared-nomad.hcl"],
    ] {
        let mut a: Vec<String> = files.iter().map(|f| format!("-config={}", fixture(f).display())).collect();
        a.push(data.clone());
        let c = load(&a).unwrap_or_else(|e| panic!("{files:?}: {e}"));
        assert!(c.server.enabled, "{files:?}");
    }
    let c = load(&args(&[
        &format!("-config={}", fixture("e2e-server-linux.hcl").display()),
        &format!("-config={}", fixture("e2e-server-consul.hcl").display()),
        &data,
    ]))
    .unwrap();
    assert_eq!(c.server.bootstrap_expect, 3);
    assert_eq!(
        ignored_warning(&c).unwrap(),
        "ignoring settings that do not apply to a raftwarden server (no clients, jobs or integrations): consul, keyring"
    );
    let c = load(&args(&[&format!("-config={}", fixture("dev-tls-cluster-server.hcl").display()), &data])).unwrap();
    assert!(c.tls.http && c.tls.rpc && c.tls.verify_server_hostname && c.tls.verify_https_client);
    assert_eq!(c.region, "foo");
    assert_eq!(ignored_warning(&c), None);
}

/// Nomad's every-key test file (HCL and JSON): what applies is honoured, the rest is named in
/// the one warning. Its gossip key (`abc`) and log level (`ERR`) are not valid keys or levels
/// here, and its TLS files do not exist: a later file replaces those, as an operator would.
#[test]
fn nomads_every_key_file_is_honoured_where_it_applies() {
    let d = tempfile::tempdir().expect("temp dir");
    let fix =
        write(d.path(), "fix.hcl", "log_level = \"ERROR\"\nserver {\n  encrypt = \"AAAAAAAAAAAAAAAAAAAAAA==\"\n}\n");
    for name in ["testdata-basic.hcl", "testdata-basic.json"] {
        let c = load(&args(&[&format!("-config={}", fixture(name).display()), &format!("-config={}", fix.display())]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((c.region.as_str(), c.datacenter.as_str(), c.name.as_str()), ("foobar", "dc2", "my-web"), "{name}");
        assert!(c.telemetry.prometheus_metrics && c.telemetry.disable_hostname, "{name}");
        assert_eq!(c.telemetry.collection_interval, std::time::Duration::from_secs(3), "{name}");
        assert_eq!(c.telemetry.in_memory_collection_interval, std::time::Duration::from_secs(60), "{name}");
        assert_eq!(c.telemetry.in_memory_retention_period, std::time::Duration::from_secs(24 * 3600), "{name}");
        assert_eq!(c.server.raft_multiplier, 4, "{name}");
        assert_eq!(c.server.bootstrap_expect, 5, "{name}");
        assert_eq!(c.server.retry_max, 3, "{name}");
        assert_eq!(c.server.retry_interval, std::time::Duration::from_secs(15), "{name}");
        assert!(c.server.retry_join.iter().all(|j| j == "1.1.1.1" || j == "2.2.2.2"), "{name}");
        assert!(c.acl_enabled, "{name}");
        assert_eq!(c.acl_token_max_ttl, std::time::Duration::from_secs(100 * 3600), "{name}");
        let ap = c.autopilot.resolve();
        assert_eq!((ap.max_trailing_logs, ap.min_quorum), (17849, 3), "{name}");
        assert!(c.tls.http && c.tls.rpc_upgrade_mode, "{name}");
        assert_eq!(c.http_api_response_headers.get("Access-Control-Allow-Origin").map(String::as_str), Some("*"));
        assert!(c.leave_on_interrupt && c.leave_on_terminate, "{name}");
        assert!(c.ui.enabled, "{name}: Nomad's default");
        let warning = ignored_warning(&c).unwrap();
        for named in [
            "addresses",
            "audit",
            "client,",
            "consul",
            "vault",
            "sentinel",
            "plugin",
            "reporting",
            "keyring",
            "server.heartbeat_grace",
            "server.plan_rejection_tracker",
            "telemetry.statsd_address",
            "telemetry.publish_node_metrics",
            "enable_syslog",
            "log_file",
        ] {
            assert!(warning.contains(named), "{name}: {named} not named in {warning}");
        }
    }
}

#[test]
fn ui_and_telemetry_blocks() {
    let d = tempfile::tempdir().expect("temp dir");
    let c = load(&args(&["-dev"])).unwrap();
    assert!(c.ui.enabled && !c.telemetry.prometheus_metrics && !c.telemetry.disable_hostname);
    assert_eq!(c.telemetry.collection_interval, std::time::Duration::from_secs(1));
    let f = write(
        d.path(),
        "ui.hcl",
        r#"
ui {
  enabled = false
  show_cli_hints = false
  content_security_policy {
    script_src = ["'self'", "https://cdn.example"]
  }
  consul {
    ui_url = "https://consul.example/ui"
  }
  label {
    text = "prod"
    background_color = "red"
    text_color = "white"
  }
}
telemetry {
  prometheus_metrics = true
  use_node_name = true
  collection_interval = "250ms"
}
server {
  raft_multiplier = 2
  raft_protocol = 3
}
"#,
    );
    let c = load(&args(&["-dev", &format!("-config={}", f.display())])).unwrap();
    assert!(!c.ui.enabled && !c.ui.show_cli_hints);
    assert_eq!(c.ui.content_security_policy["script_src"], ["'self'", "https://cdn.example"]);
    assert_eq!(c.ui.consul_ui_url.as_deref(), Some("https://consul.example/ui"));
    assert_eq!(c.ui.label.as_ref().map(|l| l.text.as_str()), Some("prod"));
    assert!(c.telemetry.prometheus_metrics && c.telemetry.use_node_name);
    assert_eq!(c.telemetry.collection_interval, std::time::Duration::from_millis(250));
    assert_eq!(c.server.raft_multiplier, 2);
    assert_eq!(ignored_warning(&c), None);
    // Nomad's texts (command/agent/agent.go convertServerConfig).
    for (text, want) in [
        (
            "server {\n raft_multiplier = 11\n}\n",
            "server config setup failed: raft_multiplier cannot be 11. Must be between 1 and 10",
        ),
        (
            "server {\n raft_protocol = 2\n}\n",
            "server config setup failed: raft_protocol must be 3 in Nomad v1.4 and later, got 2",
        ),
        ("telemetry {\n collection_interval = \"0s\"\n}\n", "telemetry.collection_interval must be positive, got 0s"),
    ] {
        let f = write(d.path(), "bad.hcl", text);
        assert_eq!(load(&args(&["-dev", &format!("-config={}", f.display())])).unwrap_err().to_string(), want);
    }
}
