//! `raftwarden operator gossip keyring generate|list|install|use|remove` and `operator keygen`:
//! a key generated without a server, then a rotation on a real agent with a gossip key and
//! ACLs on (the keyring endpoints need `agent:write`, the listing too), with Nomad's texts,
//! streams and exit codes.

use base64::Engine as _;

use crate::net;
use crate::support::*;

const K1: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const K2: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

fn run(a: &Agent, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args).env("NOMAD_ADDR", a.http()).env_remove("NOMAD_TOKEN").env_remove("NOMAD_REGION");
    if let Some(t) = token {
        cmd.env("NOMAD_TOKEN", t);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn generate_prints_a_new_32_byte_key_without_a_server() {
    let decode = |out: &str| base64::engine::general_purpose::STANDARD.decode(out.trim_end()).unwrap();
    // No agent answers here: generate never calls one.
    let (code, first, err) = cli("http://127.0.0.1:1", &["operator", "gossip", "keyring", "generate"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(first.lines().count(), 1, "{first}");
    assert_eq!(decode(&first).len(), 32);
    let (_, second, _) = cli("http://127.0.0.1:1", &["operator", "gossip", "keyring", "generate"]);
    assert_ne!(first, second, "every key is new");

    let (code, out, err) = cli("http://127.0.0.1:1", &["operator", "keygen"]);
    assert_eq!(code, 0);
    assert_eq!(decode(&out).len(), 32);
    assert!(err.starts_with("WARNING! The \"raftwarden operator keygen\" command is deprecated."), "{err}");
    assert!(
        err.replace('\n', " ").contains("Please use \"raftwarden operator gossip keyring generate\" instead."),
        "{err}"
    );
}

#[test]
fn list_install_use_remove_against_an_agent() {
    let dir = tempfile::tempdir().unwrap();
    let hcl = format!("acl {{ enabled = true }}\nserver {{\n  encrypt = \"{K1}\"\n}}\n");
    let mut spec = AgentSpec::new("s1", net().ip(1), dir.path().join("s1"));
    spec.extra_hcl = hcl;
    let a = Agent::start(spec);
    let mut root = String::new();
    wait_until(
        std::time::Duration::from_secs(30),
        || {
            let r = call(&a, "POST", "/v1/acl/bootstrap", None, None);
            root = r.json_or_null()["SecretID"].as_str().unwrap_or_default().to_string();
            r.status == 200
        },
        || format!("no ACL bootstrap: {:?}", a.output()),
    );
    let token_with = |name: &str, rules: &str| {
        let policy = serde_json::json!({"Name": name, "Rules": rules}).to_string();
        let r = call(&a, "POST", &format!("/v1/acl/policy/{name}"), Some(&root), Some(&policy));
        assert_eq!(r.status, 200, "{}", r.text());
        let token = serde_json::json!({"Type": "client", "Policies": [name]}).to_string();
        call(&a, "POST", "/v1/acl/token", Some(&root), Some(&token)).json()["SecretID"].as_str().unwrap().to_string()
    };
    let reader = token_with("agent-read", "agent { policy = \"read\" }");
    let writer = token_with("agent-write", "agent { policy = \"write\" }");

    let gathering = "Gathering installed encryption keys...\n";
    let list = |token: Option<&str>| run(&a, token, &["operator", "gossip", "keyring", "list"]);
    let denied = "error: Unexpected response code: 403 (Permission denied)\n";
    // Nomad asks agent:write of every keyring call, the listing included.
    assert_eq!(list(None), (1, gathering.to_string(), denied.to_string()));
    assert_eq!(list(Some(&reader)), (1, gathering.to_string(), denied.to_string()));
    assert_eq!(list(Some(&writer)), (0, format!("{gathering}Key\n{K1}\n"), String::new()));

    let keyring = |op: &str, key: &str| run(&a, Some(&writer), &["operator", "gossip", "keyring", op, key]);
    assert_eq!(keyring("install", K2), (0, "Installing new gossip encryption key...\n".into(), String::new()));
    assert_eq!(list(Some(&writer)).1, format!("{gathering}Key\n{K1}\n{K2}\n"));
    assert_eq!(keyring("use", K2), (0, "Changing primary gossip encryption key...\n".into(), String::new()));
    assert_eq!(
        keyring("remove", K2),
        (
            1,
            "Removing gossip encryption key...\n".into(),
            "error: Unexpected response code: 500 (1/1 nodes reported failure)\n".into()
        ),
        "the primary key stays"
    );
    assert_eq!(keyring("remove", K1).0, 0);
    assert_eq!(list(Some(&writer)).1, format!("{gathering}Key\n{K2}\n"));
    let saved = std::fs::read_to_string(dir.path().join("s1/server/serf.keyring")).unwrap();
    assert_eq!(serde_json::from_str::<Vec<String>>(&saved).unwrap(), [K2]);

    assert_eq!(
        keyring("install", "not base64!"),
        (
            1,
            "Installing new gossip encryption key...\n".into(),
            "error: Unexpected response code: 500 (illegal base64 data at input byte 3)\n".into()
        )
    );
    assert_eq!(keyring("use", "AAAA").2, "error: Unexpected response code: 500 (1/1 nodes reported failure)\n");

    // Arguments are counted before any call, with Nomad's sentences.
    let (code, out, err) = run(&a, Some(&writer), &["operator", "gossip", "keyring", "install"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "",
            "This command requires one argument: <key>\nFor additional help try 'raftwarden operator gossip keyring install -help'\n"
        )
    );
    let (code, _, err) = run(&a, Some(&writer), &["operator", "gossip", "keyring", "list", "extra"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "This command takes no arguments\nFor additional help try 'raftwarden operator gossip keyring list -help'\n"
    );
}
