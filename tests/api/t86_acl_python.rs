//! python-nomad's ACL methods against a real agent with ACLs on: `generate_bootstrap`,
//! `get_tokens`, `create_token`, `get_token`, `get_self_token`, `update_token`,
//! `delete_token`, `get_policies`, `create_policy`, `get_policy`, `update_policy` and
//! `delete_policy` (`tests/api/acl_python.py` makes the calls and checks the answers).
//! `.ci/run` installs python-nomad from PyPI into `target/pyenv` (`RAFTWARDEN_PYENV` points
//! elsewhere); outside CI the test is skipped, saying so, when that virtualenv is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::net;
use crate::support::*;

#[test]
fn python_nomad_acl_methods() {
    let Some(python) = python_nomad() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = AgentSpec::new("aclpy", net().ip(86), dir.path().join("aclpy"));
    spec.extra_hcl = "acl { enabled = true }\n".into();
    let a = Agent::start(spec);
    wait_until(
        Duration::from_secs(30),
        || a.get("/v1/operator/scheduler/configuration").status == 403,
        || format!("agent never became ready: {:?}", a.output()),
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/acl_python.py");
    // One run only: the script bootstraps, which succeeds once.
    let out = Command::new(&python).arg(&script).args([a.spec.ip.as_str(), "4646"]).output().expect("run python");
    let report = format!(
        "exit {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python-nomad ACL calls failed: {report}");
    eprintln!("python-nomad: {report}");
}
