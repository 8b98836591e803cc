//! `raftwarden acl ...` against a real agent with `acl { enabled = true }`: bootstrap (from a
//! file, then refused), policy apply/list/info/delete, token create/list/info/self/update/
//! delete, with Nomad's text and `-json` output, its error texts and exit codes, and the token
//! given by `-token` or by `NOMAD_TOKEN`.

use std::io::Write;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::net;
use crate::support::*;

const ACL_ON: &str = "acl { enabled = true }\n";
const BOOT_SECRET: &str = "9a5f3f1e-2b7c-4d8e-9f00-112233445566";

/// Runs the CLI with `NOMAD_TOKEN` set to `env_token` (unset when `None`) and `stdin` piped in.
fn run(a: &Agent, env_token: Option<&str>, stdin: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("NOMAD_ADDR", a.http())
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_REGION")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = env_token {
        cmd.env("NOMAD_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("run cli");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("cli output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Succeeds and returns stdout.
fn ok(a: &Agent, env_token: Option<&str>, args: &[&str]) -> String {
    let (code, out, err) = run(a, env_token, "", args);
    assert_eq!(code, 0, "{args:?}: {err}");
    assert_eq!(err, "", "{args:?}");
    out
}

/// Fails with exit 1 and exactly `want` on stderr (plus its newline), nothing on stdout.
fn fails(a: &Agent, env_token: Option<&str>, args: &[&str], want: &str) {
    let (code, out, err) = run(a, env_token, "", args);
    assert_eq!((code, out.as_str(), err.as_str()), (1, "", format!("{want}\n").as_str()), "{args:?}");
}

/// `Key = value` lines of Nomad's `formatKV` output.
fn kv(text: &str) -> Vec<(String, String)> {
    text.lines().filter_map(|l| l.split_once(" = ")).map(|(k, v)| (k.trim_end().to_string(), v.to_string())).collect()
}

fn field<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {key}: {pairs:?}"))
}

/// Every `=` of a formatKV block is in the same column.
fn aligned(text: &str) {
    let cols: Vec<usize> = text.lines().filter_map(|l| l.find(" = ")).collect();
    assert!(cols.windows(2).all(|w| w[0] == w[1]), "not aligned:\n{text}");
}

fn acl_agent(dir: &tempfile::TempDir) -> Agent {
    let mut spec = AgentSpec::new("aclcli", net().ip(88), dir.path().join("aclcli"));
    spec.extra_hcl = ACL_ON.into();
    let a = Agent::start(spec);
    wait_until(
        Duration::from_secs(30),
        || a.get("/v1/operator/scheduler/configuration").status == 403,
        || format!("agent never became ready: {:?}", a.output()),
    );
    a
}

#[test]
fn acl_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let a = acl_agent(&dir);
    let mgmt = BOOT_SECRET;

    // Bootstrap: a missing file fails before any request; then from a file (trailing newline
    // dropped), text output; then refused with Nomad's reset index.
    fails(
        &a,
        None,
        &["acl", "bootstrap", "/nonexistent/boot"],
        "Error reading provided token: open /nonexistent/boot: no such file or directory",
    );
    fails(
        &a,
        None,
        &["acl", "bootstrap", "a", "b"],
        "This command takes up to one argument\nFor additional help try 'raftwarden acl bootstrap -help'",
    );
    let boot_file = dir.path().join("boot");
    std::fs::write(&boot_file, format!("{BOOT_SECRET}\n")).unwrap();
    let out = ok(&a, None, &["acl", "bootstrap", boot_file.to_str().unwrap()]);
    aligned(&out);
    let boot = kv(&out);
    let names: Vec<&str> = boot.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Accessor ID",
            "Secret ID",
            "Name",
            "Type",
            "Global",
            "Create Time",
            "Expiry Time",
            "Create Index",
            "Modify Index",
            "Policies",
            "Roles"
        ],
        "{out}"
    );
    assert_eq!(field(&boot, "Secret ID"), BOOT_SECRET);
    assert_eq!(field(&boot, "Name"), "Bootstrap Token");
    assert_eq!(field(&boot, "Type"), "management");
    assert_eq!(field(&boot, "Global"), "true");
    assert_eq!(field(&boot, "Expiry Time"), "<none>");
    assert_eq!((field(&boot, "Policies"), field(&boot, "Roles")), ("n/a", "n/a"));
    assert!(field(&boot, "Create Time").ends_with(" +0000 UTC"), "{out}");
    let boot_accessor = field(&boot, "Accessor ID").to_string();
    let (code, out, err) = run(&a, None, "", &["acl", "bootstrap"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(
            "Error bootstrapping: Unexpected response code: 400 (ACL bootstrap already done (reset index: "
        ),
        "{err}"
    );

    // Policies: without a token refused; with -token from a file, with NOMAD_TOKEN from stdin.
    let rules_file = dir.path().join("ops.hcl");
    std::fs::write(&rules_file, "operator {\n  policy = \"read\"\n}\n").unwrap();
    let rules_path = rules_file.to_str().unwrap();
    fails(
        &a,
        None,
        &["acl", "policy", "apply", "ops", rules_path],
        "Error writing ACL policy: Unexpected response code: 403 (Permission denied)",
    );
    let out = ok(&a, None, &["acl", "policy", "apply", "-token", mgmt, "-description", "Operators", "ops", rules_path]);
    assert_eq!(out, "Successfully wrote \"ops\" ACL policy!\n");
    let (code, out, err) = run(
        &a,
        Some(mgmt),
        "namespace \"default\" {\n  variables {\n    path \"*\" { capabilities = [\"read\"] }\n  }\n}\n",
        &["acl", "policy", "apply", "vars", "-"],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "Successfully wrote \"vars\" ACL policy!\n", ""));
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "apply", "ops"],
        "This command takes two arguments: <name> and <path>\nFor additional help try 'raftwarden acl policy apply -help'",
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "apply", "ops", "/nonexistent/rules"],
        "Failed to read file: open /nonexistent/rules: no such file or directory",
    );
    let bad = dir.path().join("bad.hcl");
    std::fs::write(&bad, "operator { policy = \"sideways\" }\n").unwrap();
    let (code, _, err) = run(&a, Some(mgmt), "", &["acl", "policy", "apply", "bad", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.starts_with("Error writing ACL policy: Unexpected response code: 400 (policy 0 invalid: "), "{err}");

    let out = ok(&a, Some(mgmt), &["acl", "policy", "list"]);
    assert_eq!(out, "Name  Description\nops   Operators\nvars  <none>\n");
    let out = ok(&a, None, &["acl", "policy", "list", "-token", mgmt, "-json"]);
    assert!(out.starts_with("[\n    {\n        \"Name\": \"ops\",\n"), "4-space indent: {out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&String> = list[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Name", "Description", "CreateIndex", "ModifyIndex"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "list", "extra"],
        "This command takes no arguments\nFor additional help try 'raftwarden acl policy list -help'",
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "list", "-json", "-t", "{{.}}"],
        "Both json and template formatting are not allowed",
    );

    let out = ok(&a, Some(mgmt), &["acl", "policy", "info", "ops"]);
    let (head, rules) = out.split_once("\nRules\n\n").expect("Rules section");
    aligned(head);
    let info = kv(head);
    assert_eq!(field(&info, "Name"), "ops");
    assert_eq!(field(&info, "Description"), "Operators");
    assert!(field(&info, "CreateIndex").parse::<u64>().unwrap() > 0);
    assert_eq!(rules, "operator {\n  policy = \"read\"\n}\n\n");
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "info", "nope"],
        "Error fetching info on ACL policy: Unexpected response code: 404 (ACL policy not found)",
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "info"],
        "This command takes one argument: <name>\nFor additional help try 'raftwarden acl policy info -help'",
    );

    // Tokens: create with repeated -policy, a TTL, -json; text form; management type.
    let out = ok(
        &a,
        Some(mgmt),
        &["acl", "token", "create", "-name=reader", "-policy=ops", "-policy", "vars", "-ttl=1h", "-json"],
    );
    assert!(out.starts_with("{\n    \"ExpirationTTL\": \"1h0m0s\",\n    \"AccessorID\": "), "{out}");
    let reader: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(reader["Policies"], serde_json::json!(["ops", "vars"]));
    assert_eq!((reader["Type"].as_str(), reader["Global"].as_bool()), (Some("client"), Some(false)));
    assert!(reader.get("Hash").is_none() && reader["ExpirationTime"].is_string(), "{out}");
    let reader_accessor = reader["AccessorID"].as_str().unwrap().to_string();
    let reader_secret = reader["SecretID"].as_str().unwrap().to_string();

    let out = ok(&a, Some(mgmt), &["acl", "token", "create", "-name", "ci", "-policy=ops", "-global"]);
    aligned(out.split("\n\nRoles\n").next().unwrap());
    assert!(out.ends_with("Policies     = [ops]\n\nRoles\n<none>\n"), "{out}");
    let ci = kv(&out);
    assert_eq!((field(&ci, "Name"), field(&ci, "Type"), field(&ci, "Global")), ("ci", "client", "true"));
    assert_eq!(field(&ci, "Expiry Time"), "<none>");
    let ci_accessor = field(&ci, "Accessor ID").to_string();

    let out = ok(&a, Some(mgmt), &["acl", "token", "create", "-type=management", "-t", "{{.Type}} {{.Global}}"]);
    assert_eq!(out, "management false\n");
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "create", "-ttl=soon"],
        "Failed to parse TTL as time duration: time: invalid duration \"soon\"",
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "create", "extra"],
        "This command takes no arguments\nFor additional help try 'raftwarden acl token create -help'",
    );
    fails(
        &a,
        Some(&reader_secret),
        &["acl", "token", "create", "-policy=ops"],
        "Error creating token: Unexpected response code: 403 (Permission denied)",
    );

    // List: text with Nomad's columns, -json without secrets.
    let out = ok(&a, Some(mgmt), &["acl", "token", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Name", "Type", "Global", "Accessor", "ID", "Expired"]
    );
    assert_eq!(lines.len(), 5, "{out}");
    let reader_line = lines.iter().find(|l| l.contains(&reader_accessor)).expect("reader listed");
    assert_eq!(
        reader_line.split_whitespace().collect::<Vec<_>>(),
        ["reader", "client", "false", &reader_accessor, "false"]
    );
    assert!(lines.iter().any(|l| l.starts_with("<none>") && l.contains("management")), "{out}");
    let list: Value = serde_json::from_str(&ok(&a, Some(mgmt), &["acl", "token", "list", "-json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert!(list.as_array().unwrap().iter().all(|t| t.get("SecretID").is_none() && t.get("Hash").is_none()));
    fails(
        &a,
        Some(&reader_secret),
        &["acl", "token", "list"],
        "Error listing ACL tokens: Unexpected response code: 403 (Permission denied)",
    );

    // Info (management, or the token itself) and self (NOMAD_TOKEN, or -token over it).
    let out = ok(&a, Some(mgmt), &["acl", "token", "info", &reader_accessor]);
    let info = kv(&out);
    assert_eq!(field(&info, "Secret ID"), reader_secret);
    assert_eq!(field(&info, "Policies"), "[ops vars]");
    assert!(field(&info, "Expiry Time").ends_with(" +0000 UTC"), "{out}");
    let out = ok(&a, Some(&reader_secret), &["acl", "token", "self"]);
    assert_eq!(field(&kv(&out), "Accessor ID"), reader_accessor);
    let out = ok(&a, Some(&reader_secret), &["acl", "token", "self", "-token", mgmt]);
    assert_eq!(field(&kv(&out), "Accessor ID"), boot_accessor);
    fails(&a, None, &["acl", "token", "self"], "No token present in the environment or set via the CLI flag");
    fails(
        &a,
        Some("00000000-0000-0000-0000-000000000000"),
        &["acl", "token", "self"],
        "Error fetching self token: Unexpected response code: 403 (Permission denied)",
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "info"],
        "This command takes one argument: <token_accessor_id>\nFor additional help try 'raftwarden acl token info -help'",
    );
    fails(
        &a,
        Some(&reader_secret),
        &["acl", "token", "info", &ci_accessor],
        "Error fetching token: Unexpected response code: 403 (Permission denied)",
    );

    // Update: name and policies replaced. As in Nomad, a missing -global means false, and a
    // global token cannot become local.
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "update", "-name=renamed", &ci_accessor],
        "Error updating token: Unexpected response code: 400 (token 0 invalid: 1 error occurred:\n\t* cannot toggle global mode)",
    );
    let out = ok(&a, Some(mgmt), &["acl", "token", "update", "-name=renamed", "-policy=vars", "-global", &ci_accessor]);
    let up = kv(&out);
    assert_eq!((field(&up, "Name"), field(&up, "Policies"), field(&up, "Global")), ("renamed", "[vars]", "true"));
    assert_eq!(field(&up, "Accessor ID"), ci_accessor);
    assert!(
        field(&up, "Modify Index").parse::<u64>().unwrap() > field(&up, "Create Index").parse::<u64>().unwrap(),
        "{out}"
    );
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "update", "-name=x"],
        "This command takes one argument: <token_accessor_id>\nFor additional help try 'raftwarden acl token update -help'",
    );

    // Delete, then the token and policy are gone.
    let out = ok(&a, Some(mgmt), &["acl", "token", "delete", &ci_accessor]);
    assert_eq!(out, format!("Token {ci_accessor} successfully deleted\n"));
    fails(
        &a,
        Some(mgmt),
        &["acl", "token", "info", &ci_accessor],
        "Error fetching token: Unexpected response code: 404 (ACL token not found)",
    );
    fails(
        &a,
        Some(&reader_secret),
        &["acl", "token", "delete", &reader_accessor],
        "Error deleting token: Unexpected response code: 403 (Permission denied)",
    );
    let out = ok(&a, None, &["acl", "policy", "delete", "-token", mgmt, "vars"]);
    assert_eq!(out, "Successfully deleted vars policy!\n");
    assert_eq!(ok(&a, Some(mgmt), &["acl", "policy", "list"]), "Name  Description\nops   Operators\n");
    fails(
        &a,
        Some(mgmt),
        &["acl", "policy", "delete"],
        "This command takes one argument: <name>\nFor additional help try 'raftwarden acl policy delete -help'",
    );
}
