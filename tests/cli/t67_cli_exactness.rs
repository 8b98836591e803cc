//! The CLI compared with Nomad's commands (`command/*.go`, `hashicorp/cli`, Go's `flag`): one
//! case per difference that was fixed, run against a real agent (or a scripted server where
//! the agent cannot be made to answer that way).

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpListener;

use crate::net;
use crate::support::*;

/// A loopback HTTP server answering each request with `respond(method, path)`: (status, body).
fn scripted(ip: &str, respond: fn(&str, &str) -> (u16, String)) -> String {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or(""));
                    let path = target.split('?').next().unwrap_or("").to_string();
                    let mut length = 0;
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let (status, answer) = respond(&method, &path);
                    let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n", answer.len());
                    if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(answer.as_bytes())).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Nomad's client flag set (`Meta.FlagSet`): every command takes -namespace, the colour and
/// the TLS flags. As in Nomad the TLS files are read whatever the address's scheme, so they
/// must exist (made here by `tls ca create` and `tls cert create -cli`).
#[test]
fn every_command_takes_nomads_client_flags() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let pki = dir.path().join("pki");
    std::fs::create_dir(&pki).unwrap();
    for args in [&["tls", "ca", "create"][..], &["tls", "cert", "create", "-cli"]] {
        let (code, out, err) = cli_in(&pki, "", args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let file = |name: &str| pki.join(name).display().to_string();
    let (ca, cert, key) = (file("nomad-agent-ca.pem"), file("global-cli-nomad.pem"), file("global-cli-nomad-key.pem"));
    let (ca_cert, client_cert, client_key) =
        (format!("-ca-cert={ca}"), format!("-client-cert={cert}"), format!("-client-key={key}"));
    let pki_dir = pki.display().to_string();
    let flags = [
        "-namespace=default",
        "-no-color",
        "-force-color",
        ca_cert.as_str(),
        "-ca-path",
        pki_dir.as_str(),
        client_cert.as_str(),
        client_key.as_str(),
        "-tls-server-name=server.global.nomad",
        "-tls-skip-verify",
        "-insecure",
    ];
    for command in
        [&["operator", "raft", "list-peers"][..], &["operator", "scheduler", "get-config"], &["server", "members"]]
    {
        let args: Vec<&str> = command.iter().chain(flags.iter()).copied().collect();
        let (code, out, err) = cli(&a.http(), &args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}: {out}");
    }
    // A TLS file that cannot be read fails the command, http:// or not, as Nomad's api client.
    let (code, out, err) = cli(
        &a.http(),
        &["operator", "raft", "list-peers", "-client-cert=/nonexistent/c.pem", "-client-key=/nonexistent/k.pem"],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "Error initializing client: open /nonexistent/c.pem: no such file or directory\n");
    // -namespace (and NOMAD_NAMESPACE) is the global flag the var commands use.
    let (code, out, err) = cli(&a.http(), &["var", "put", "-namespace=default", "app/ns", "k=v"]);
    assert_eq!(code, 0, "{out} {err}");
    let (code, _, err) = cli(&a.http(), &["var", "get", "-namespace=*", "app/ns"]);
    assert_eq!((code, err.as_str()), (1, "The wildcard namespace (\"*\") is not valid for this command.\n"));
}

/// `hashicorp/cli` with Nomad's help writer (stdout): `-help` anywhere prints the command's help
/// and exits 0, a group without its command prints the group's help and exits 1, an unknown
/// command prints the top-level help and exits 127.
#[test]
fn help_is_printed_on_stdout_with_nomads_exit_codes() {
    let addr = "http://127.0.0.1:1";
    for args in [&["operator", "raft", "list-peers", "-help"][..], &["operator", "raft", "list-peers", "-yaml", "-h"]] {
        let (code, out, err) = cli(addr, args);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        assert!(out.contains("Usage: raftwarden operator raft list-peers"), "{out}");
    }
    let (code, out, err) = cli(addr, &["operator", "raft"]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert!(out.contains("Usage: raftwarden operator raft"), "{out}");
    for args in [&["nothing"][..], &[]] {
        let (code, out, err) = cli(addr, args);
        assert_eq!((code, err.as_str()), (127, ""), "{args:?}");
        assert!(out.contains("Usage: raftwarden"), "{out}");
    }
}

/// Go's `flag` package: its own message on stderr, then the command's help on stdout (its
/// `flags.Usage`), then the command's `Failed to parse args: ...` for the commands that print it.
#[test]
fn bad_flags_are_reported_as_go_reports_them() {
    let addr = "http://127.0.0.1:1";
    let (code, out, err) = cli(addr, &["operator", "raft", "list-peers", "-yaml"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "flag provided but not defined: -yaml\nFailed to parse args: flag provided but not defined: -yaml\n"
    );
    assert!(out.contains("Usage: raftwarden operator raft list-peers"), "{out}");
    // scheduler get-config prints no line of its own.
    let (code, _, err) = cli(addr, &["operator", "scheduler", "get-config", "--yaml=1"]);
    assert_eq!((code, err.as_str()), (1, "flag provided but not defined: -yaml\n"));
    let (code, _, err) = cli(addr, &["operator", "raft", "remove-peer", "-peer-id"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("flag needs an argument: -peer-id\n"), "{err}");
    let (code, _, err) = cli(addr, &["operator", "raft", "list-peers", "-stale=maybe"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("invalid boolean value \"maybe\" for -stale: parse error\n"), "{err}");
    let (code, _, err) = cli(addr, &["operator", "autopilot", "set-config", "-max-trailing-logs=x"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(
            "invalid value \"x\" for flag -max-trailing-logs: strconv.ParseUint: parsing \"x\": invalid syntax\n"
        ),
        "{err}"
    );
}

/// Go stops parsing flags at the first argument: commands that take none ignore what follows
/// (list-peers), or say so (scheduler set-config, server members).
#[test]
fn flags_end_at_the_first_argument() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, out, err) = cli(&a.http(), &["operator", "raft", "list-peers", "extra", "-yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alpha.global"), "{out}");
    // A switch never takes the next word: `-stale false` is -stale and the argument `false`.
    let (code, _, err) = cli(&a.http(), &["operator", "raft", "list-peers", "-stale", "false"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "extra"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "This command takes no arguments\nFor additional help try 'raftwarden operator scheduler set-config -help'\n")
    );
}

/// Nomad's set-config booleans are `flaghelper.BoolValue`s, which take a value like any other
/// flag (`-cleanup-dead-servers false`); its integers are `strconv.ParseUint(s, 0, ..)`.
#[test]
fn set_config_flags_take_values_as_nomads_do() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, out, err) = cli(
        &a.http(),
        &["operator", "autopilot", "set-config", "-cleanup-dead-servers", "false", "-max-trailing-logs=0x20"],
    );
    assert_eq!((code, out.as_str()), (0, "Configuration updated!\n"), "{err}");
    let v = a.get("/v1/operator/autopilot/configuration").json();
    assert_eq!((v["CleanupDeadServers"].clone(), v["MaxTrailingLogs"].clone()), (false.into(), 32.into()));
    let (code, _, err) = cli(&a.http(), &["operator", "autopilot", "set-config", "-cleanup-dead-servers"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("flag needs an argument: -cleanup-dead-servers\n"), "{err}");
    let (code, out, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "-memory-oversubscription", "true"]);
    assert_eq!((code, out.as_str()), (0, "Scheduler configuration updated!\n"), "{err}");
    assert_eq!(
        a.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"]["MemoryOversubscriptionEnabled"],
        true
    );
}

/// `-check-index` is a string Nomad parses itself; `-scheduler-algorithm` is checked by the
/// server, not the CLI.
#[test]
fn scheduler_set_config_check_index_and_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "-check-index=abc"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error parsing check-index value \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax\n")
    );
    let (code, _, err) = cli(&a.http(), &["operator", "scheduler", "set-config", "-scheduler-algorithm=random"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error setting scheduler configuration: Unexpected response code: "), "{err}");
}

/// Nomad's `raftTransferLeadership` texts.
#[test]
fn transfer_leadership_argument_errors() {
    let addr = "http://127.0.0.1:1";
    let (code, _, err) = cli(addr, &["operator", "raft", "transfer-leadership"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error transferring leadership to peer: an address or id is required for the destination peer\n")
    );
    let (code, _, err) = cli(addr, &["operator", "raft", "transfer-leadership", "-peer-id=a", "-peer-address=b:1"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Error transferring leadership to peer: cannot give both an address and id\n")
    );
}

/// A lost check-and-set is printed with `Ui.Output` (stdout), yet exits 1.
#[test]
fn cas_not_applied_is_printed_on_stdout() {
    let addr = scripted(&net().ip(67), |method, path| match (method, path) {
        ("GET", "/v1/operator/autopilot/configuration") => (
            200,
            r#"{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"MinQuorum":0,
                "ServerStabilizationTime":"10s","EnableRedundancyZones":false,"DisableUpgradeMigration":false,
                "EnableCustomUpgrades":false,"CreateIndex":4,"ModifyIndex":4}"#
                .into(),
        ),
        ("PUT", "/v1/operator/autopilot/configuration") => (200, "false".into()),
        ("GET", "/v1/operator/scheduler/configuration") => {
            (200, r#"{"SchedulerConfig":{"SchedulerAlgorithm":"binpack","ModifyIndex":5},"Index":5}"#.into())
        }
        ("PUT", "/v1/operator/scheduler/configuration") => (200, r#"{"Updated":false,"Index":5}"#.into()),
        _ => (404, String::new()),
    });
    let (code, out, err) = cli(&addr, &["operator", "autopilot", "set-config", "-min-quorum=1"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "Configuration could not be atomically updated, please try again\n", "")
    );
    let (code, out, err) = cli(&addr, &["operator", "scheduler", "set-config", "-pause-eval-broker=true"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "Scheduler configuration could not be atomically updated, please try again\n", "")
    );
}

/// `server join`: some joined with an error is a warning on stderr and exit 0.
#[test]
fn server_join_partial_success_is_a_warning() {
    let addr = scripted(&net().ip(68), |method, path| match (method, path) {
        ("PUT", "/v1/agent/join") => (200, r#"{"error":"dial tcp 10.0.0.9:4648: i/o timeout","num_joined":1}"#.into()),
        _ => (404, String::new()),
    });
    let (code, out, err) = cli(&addr, &["server", "join", "10.0.0.8", "10.0.0.9"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "", "Joined 1 servers successfully but got warning: dial tcp 10.0.0.9:4648: i/o timeout\n")
    );
}

/// `operator autopilot health` as Nomad's `formatAutopilotState` lays it out.
#[test]
fn autopilot_health_text_layout() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    wait_until(
        std::time::Duration::from_secs(30),
        || a.get("/v1/operator/autopilot/health").status == 200,
        || "never healthy".into(),
    );
    let (code, out, err) = cli(&a.http(), &["operator", "autopilot", "health"]);
    assert_eq!(code, 0, "{err}");
    let id = a.get("/v1/operator/autopilot/health").json()["Leader"].as_str().unwrap().to_string();
    assert!(out.contains(&format!("\nVoters:  \n\t{id}\nServers: \nID  ")), "{out:?}");
    assert!(out.ends_with("\n\n") && !out.ends_with("\n\n\n"), "{out:?}");
}

/// `nomad operator autopilot health -json` prints `json.Marshal` of the reply: one compact
/// line, not the indented `-json` of the other commands.
#[test]
fn autopilot_health_json_is_compact() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    wait_until(
        std::time::Duration::from_secs(30),
        || a.get("/v1/operator/autopilot/health").status == 200,
        || "never healthy".into(),
    );
    let (code, out, err) = cli(&a.http(), &["operator", "autopilot", "health", "-json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("{\"Healthy\":true,\"FailureTolerance\":0,\"Servers\":[{"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.ends_with("}\n"));
}

/// Errors from the OS read as Go prints them.
#[test]
fn snapshot_open_errors_read_as_go() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.snap");
    let missing = missing.to_str().unwrap();
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "inspect", missing]);
    assert_eq!((code, err), (1, format!("Error opening snapshot file: open {missing}: no such file or directory\n")));
    let (code, _, err) = cli("http://127.0.0.1:1", &["operator", "snapshot", "restore", missing]);
    assert_eq!(
        (code, err),
        (1, format!("Error opening snapshot file: \"open {missing}: no such file or directory\"\n"))
    );
}
