//! python-nomad, the Python client operators script Nomad with, against a 3-server cluster:
//! `agent.get_members()`, `status.leader.get_leader()`, `status.peers.get_peers()` and
//! `operator.get_configuration()`. `.ci/run` installs it from PyPI into `target/pyenv`
//! (`RAFTWARDEN_PYENV` points elsewhere); outside CI the test is skipped, saying so, when that
//! virtualenv is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::net;
use crate::support::python_nomad;
use crate::support::wait_until;
use crate::support::Cluster;

#[test]
fn python_nomad_reads_members_leader_peers_and_configuration() {
    let Some(python) = python_nomad() else {
        return;
    };
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(&n, &dir, 3, &[0, 1, 2]);
    let leader = c.wait_leader(Duration::from_secs(30));
    let follower = &c.agents[(leader + 1) % 3];
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/python_nomad.py");
    let last = std::cell::RefCell::new(String::new());
    wait_until(
        Duration::from_secs(30),
        || {
            let out = Command::new(&python)
                .arg(&script)
                .args([follower.spec.ip.as_str(), "4646", "3"])
                .output()
                .expect("run python");
            *last.borrow_mut() = format!(
                "exit {:?}\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            out.status.success()
        },
        || format!("python-nomad never saw the formed cluster: {}", last.borrow()),
    );
    eprintln!("python-nomad: {}", last.borrow());
}
