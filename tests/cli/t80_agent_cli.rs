//! The `raftwarden agent` command line: `-help`, flag and file errors, and plain log lines
//! when the logs go to a pipe or a file.

use std::io::Read;
use std::process::Command;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use crate::net;
use crate::support::*;

/// `nomad agent -h` lists the flags and exits 0; so does ours, in each spelling.
#[test]
fn agent_help_lists_the_flags() {
    for flag in ["-help", "-h", "--help"] {
        let out = Command::new(BIN).args(["agent", flag]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.starts_with("Usage: raftwarden agent [options]"), "{stdout}");
        for listed in [
            "-bind=<addr>",
            "-config=<path>",
            "-data-dir=<path>",
            "-dc=<datacenter>",
            "-log-level=<level>",
            "-log-json",
            "-node=<name>",
            "-region=<region>",
            "-dev",
            "-server",
            "-bootstrap-expect=<num>",
            "-retry-join=<address>",
            "-acl-enabled",
        ] {
            assert!(stdout.contains(&format!("\n  {listed}\n")), "{flag}: {listed} missing from\n{stdout}");
        }
    }
}

/// An unknown flag is an error that names it and points at `-help`.
#[test]
fn unknown_agent_flag_exits_non_zero() {
    let out = Command::new(BIN).args(["agent", "-dev", "-bogus=1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown flag -bogus") && err.contains("-help"), "{err}");
}

/// Unknown keys inside a block and values of the wrong type name the file and the key path.
#[test]
fn agent_file_errors_name_file_and_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("server {\n  enabled = true\n  bootstrap_expectt = 3\n}\n", "unknown key \"server.bootstrap_expectt\""),
        (
            "server {\n  enabled = true\n  bootstrap_expect = true\n}\n",
            "server.bootstrap_expect: expected a non-negative integer, got bool true",
        ),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.hcl"));
        std::fs::write(&f, format!("data_dir = \"{}\"\n{body}", dir.path().display())).unwrap();
        let out = Command::new(BIN).args(["agent", &format!("-config={}", f.display())]).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&f.display().to_string()) && err.contains(want), "{err} should contain {want}");
    }
}

/// Log lines written to a pipe (a file, a collector) carry no ANSI colour codes.
#[test]
fn logs_to_a_pipe_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let ip = net().ip(1);
    let cfg = dir.path().join("agent.hcl");
    std::fs::write(
        &cfg,
        format!(
            "name = \"plain\"\ndata_dir = \"{}\"\nbind_addr = \"{ip}\"\nserver {{\n  enabled = true\n}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["agent", &format!("-config={}", cfg.display())])
        .env("RAFTWARDEN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr: Arc<Mutex<Vec<u8>>> = Arc::default();
    let mut pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    wait_until(Duration::from_secs(30), || text().contains("bootstrapped a new raft cluster"), text);
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let bytes = stderr.lock().unwrap().clone();
    assert!(!bytes.contains(&0x1b), "ANSI escape in piped logs: {:?}", String::from_utf8_lossy(&bytes));
    assert!(text().contains("INFO"), "{}", text());
}

/// `server_join { retry_max retry_interval }`: when no `retry_join` address answers within
/// `retry_max` rounds, the agent logs Nomad's `max join retry exhausted, exiting` and exits 1.
#[test]
fn retry_join_gives_up_after_retry_max_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let n = net();
    let cfg = dir.path().join("agent.hcl");
    std::fs::write(
        &cfg,
        format!(
            "name = \"lonely\"\ndata_dir = \"{}\"\nbind_addr = \"{}\"\nserver {{\n  enabled = true\n  bootstrap_expect = 3\n  \
             server_join {{\n    retry_join = [\"{}\"]\n    retry_max = 2\n    retry_interval = \"200ms\"\n  }}\n}}\n",
            dir.path().join("data").display(),
            n.ip(1),
            n.ip(2),
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["agent", &format!("-config={}", cfg.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some(status) = wait_child(&mut child, Duration::from_secs(60)) else {
        let _ = child.kill();
        panic!("the agent kept retrying past retry_max");
    };
    let code = status.code();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("max join retry exhausted, exiting"), "{err}");
    assert!(err.contains("==> Error starting agent: max join retry exhausted"), "{err}");
}
