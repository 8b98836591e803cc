//! ACLs on a real agent with `acl { enabled = true }`: bootstrap once (and again through the
//! reset file), policies with Nomad's parse errors, tokens (create, self, read, list without
//! secrets, expiry, delete), enforcement of spec §5 and §10 items 27-28, 33-34, 36, 38, 45,
//! restart and snapshot restore of the ACL state.

use std::time::Duration;

use serde_json::json;
use serde_json::Value;

use crate::net;
use crate::support::*;

const ACL_ON: &str = "acl { enabled = true }\n";

/// Starts an agent with ACLs on and waits until it leads: an anonymous consistent read is
/// then refused (403) rather than failing for want of a leader.
fn acl_agent(dir: &tempfile::TempDir, name: &str) -> Agent {
    let mut spec = AgentSpec::new(name, net().ip(85), dir.path().join(name));
    spec.extra_hcl = ACL_ON.into();
    let a = Agent::start(spec);
    wait_acl_ready(&a);
    a
}

fn wait_acl_ready(a: &Agent) {
    wait_until(
        Duration::from_secs(30),
        || call(a, "GET", "/v1/operator/scheduler/configuration", None, None).status == 403,
        || format!("agent never became ready: {:?}", a.output()),
    );
}

fn bootstrap(a: &Agent) -> Value {
    let r = call(a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn put_policy(a: &Agent, mgmt: &str, name: &str, rules: &str) -> Resp {
    let body = json!({"Name": name, "Description": "test", "Rules": rules}).to_string();
    call(a, "PUT", &format!("/v1/acl/policy/{name}"), Some(mgmt), Some(&body))
}

fn client_token(a: &Agent, mgmt: &str, policies: &[&str]) -> Value {
    let body = json!({"Name": "t", "Type": "client", "Policies": policies}).to_string();
    let r = call(a, "POST", "/v1/acl/token", Some(mgmt), Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn secret(t: &Value) -> String {
    t["SecretID"].as_str().unwrap().to_string()
}

fn denied(r: &Resp, why: &str) {
    assert_eq!((r.status, r.text().as_str()), (403, "Permission denied"), "{why}");
}

#[test]
fn bootstrap_policies_tokens_and_enforcement() {
    let dir = tempfile::tempdir().unwrap();
    let a = acl_agent(&dir, "acl1");

    // Item 27/33: no token and a random UUID are refused.
    denied(&call(&a, "GET", "/v1/operator/raft/configuration", None, None), "27: no token");
    denied(&call(&a, "GET", "/v1/operator/scheduler/configuration", None, None), "33: no token");
    let random = "6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11";
    denied(&call(&a, "GET", "/v1/operator/snapshot", Some(random), None), "36: random UUID");
    let health = call(&a, "GET", "/v1/operator/autopilot/health", None, None);
    assert_eq!(health.status, 403, "45: health without a token");

    let root = bootstrap(&a);
    assert_eq!(root["Type"], "management");
    assert_eq!(root["Name"], "Bootstrap Token");
    assert_eq!(root["Global"], true);
    assert_eq!(root["ExpirationTTL"], "");
    let mgmt = secret(&root);
    let again = call(&a, "POST", "/v1/acl/bootstrap", None, None);
    let reset = root["CreateIndex"].as_u64().unwrap();
    assert_eq!((again.status, again.text()), (400, format!("ACL bootstrap already done (reset index: {reset})")));

    // Item 27: management reads the raft configuration; 34: scheduler set needs operator write.
    let conf = call(&a, "GET", "/v1/operator/raft/configuration", Some(&mgmt), None);
    assert_eq!(conf.status, 200, "{}", conf.text());
    assert_eq!(conf.json()["Servers"].as_array().map(Vec::len), Some(1));
    assert_eq!(call(&a, "GET", "/v1/operator/autopilot/health", Some(&mgmt), None).status, 200, "45");

    // Policies: Nomad's parse errors, then the four this test uses.
    let bad = put_policy(&a, &mgmt, "bad", r#"operator { capabilities = ["fly"] }"#);
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.text(),
        "policy 0 invalid: 1 error occurred:\n\t* failed to parse rules: Invalid operator capability 'fly'\n\n"
    );
    let mismatch = call(&a, "PUT", "/v1/acl/policy/x", Some(&mgmt), Some(r#"{"Name":"y","Rules":""}"#));
    assert_eq!((mismatch.status, mismatch.text()), (400, "ACL policy name does not match request path".into()));
    for (name, rules) in [
        ("ops-read", r#"operator { policy = "read" }"#),
        ("ops-write", r#"operator { policy = "write" }"#),
        ("snap", r#"operator { capabilities = ["snapshot-save"] }"#),
        ("node-write", r#"node { policy = "write" }"#),
        (
            "vars",
            r#"namespace "default" { variables { path "app/*" { capabilities = ["read", "write", "destroy"] } } }"#,
        ),
    ] {
        let r = put_policy(&a, &mgmt, name, rules);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert!(r.header("x-nomad-index").is_some());
    }
    denied(
        &put_policy(&a, &secret(&client_token(&a, &mgmt, &["ops-write"])), "p", "node { policy = \"read\" }"),
        "policy writes need management",
    );
    let got = call(&a, "GET", "/v1/acl/policy/ops-read", Some(&mgmt), None);
    assert_eq!(got.json()["Rules"], r#"operator { policy = "read" }"#);
    assert_eq!(call(&a, "GET", "/v1/acl/policy/nope", Some(&mgmt), None).status, 404);
    let names: Vec<String> = call(&a, "GET", "/v1/acl/policies", Some(&mgmt), None)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["node-write", "ops-read", "ops-write", "snap", "vars"]);

    let read = secret(&client_token(&a, &mgmt, &["ops-read"]));
    let write = secret(&client_token(&a, &mgmt, &["ops-write"]));
    let snap = secret(&client_token(&a, &mgmt, &["snap"]));
    let node = secret(&client_token(&a, &mgmt, &["node-write"]));
    let vars = secret(&client_token(&a, &mgmt, &["vars"]));

    let sched = "/v1/operator/scheduler/configuration";
    let body = r#"{"SchedulerAlgorithm":"binpack"}"#;
    assert_eq!(call(&a, "GET", sched, Some(&read), None).status, 200);
    denied(&call(&a, "GET", sched, Some(&node), None), "33: node-write");
    denied(&call(&a, "PUT", sched, Some(&read), Some(body)), "34: read cannot set");
    denied(&call(&a, "PUT", sched, Some(&node), Some(body)), "34: node-write");
    assert_eq!(call(&a, "PUT", sched, Some(&write), Some(body)).status, 200, "34: write sets");
    denied(&call(&a, "GET", "/v1/operator/raft/configuration", Some(&write), None), "raft config needs management");
    denied(&call(&a, "GET", "/v1/operator/raft/configuration", Some(&node), None), "27: node-write");
    denied(&call(&a, "DELETE", &format!("/v1/operator/raft/peer?id={random}"), None, None), "28: no token");
    denied(&call(&a, "DELETE", &format!("/v1/operator/raft/peer?id={random}"), Some(&node), None), "28: node-write");
    let unknown = call(&a, "DELETE", &format!("/v1/operator/raft/peer?id={random}"), Some(&mgmt), None);
    assert!(unknown.text().contains("not found in the Raft configuration"), "28: {}", unknown.text());

    // Item 36: snapshot save with the capability, operator write or management; not otherwise.
    for (who, token) in [("root", &mgmt), ("snapshot-save", &snap), ("operator write", &write)] {
        assert_eq!(call(&a, "GET", "/v1/operator/snapshot", Some(token), None).status, 200, "36: {who}");
    }
    for (who, token) in [("node-write", Some(node.as_str())), ("operator read", Some(&read)), ("none", None)] {
        denied(&call(&a, "GET", "/v1/operator/snapshot", token, None), &format!("36: {who}"));
    }
    // Item 38: restore is management only.
    for (who, token) in
        [("node-write", Some(node.as_str())), ("random", Some(random)), ("none", None), ("write", Some(&write))]
    {
        denied(&call(&a, "PUT", "/v1/operator/snapshot", token, Some("x")), &format!("38: {who}"));
    }

    // Variables per namespace and path.
    assert_eq!(call(&a, "PUT", "/v1/var/app/db", Some(&vars), Some(r#"{"Items":{"a":"1"}}"#)).status, 200);
    assert_eq!(call(&a, "GET", "/v1/var/app/db", Some(&vars), None).status, 200);
    denied(&call(&a, "PUT", "/v1/var/other/db", Some(&vars), Some(r#"{"Items":{"a":"1"}}"#)), "outside the path glob");
    denied(&call(&a, "GET", "/v1/var/app/db", Some(&write), None), "operator write is not variables");
    denied(&call(&a, "GET", "/v1/var/app/db", None, None), "anonymous");
    let listed = call(&a, "GET", "/v1/vars", Some(&vars), None);
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    denied(&call(&a, "GET", "/v1/vars", Some(&read), None), "no variables rule at all");
    assert_eq!(call(&a, "DELETE", "/v1/var/app/db", Some(&vars), None).status, 204);

    // Tokens: list without secrets (management only), self, own read, others refused.
    let list = call(&a, "GET", "/v1/acl/tokens", Some(&mgmt), None);
    assert_eq!(list.status, 200);
    let stubs = list.json();
    assert_eq!(stubs.as_array().map(Vec::len), Some(7));
    assert!(stubs.as_array().unwrap().iter().all(|t| t.get("SecretID").is_none() && t["AccessorID"].is_string()));
    denied(&call(&a, "GET", "/v1/acl/tokens", Some(&read), None), "token list needs management");
    let me = call(&a, "GET", "/v1/acl/token/self", Some(&read), None);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["SecretID"], read.as_str());
    let accessor = me.json()["AccessorID"].as_str().unwrap().to_string();
    assert_eq!(call(&a, "GET", &format!("/v1/acl/token/{accessor}"), Some(&read), None).status, 200);
    let root_accessor = root["AccessorID"].as_str().unwrap();
    denied(&call(&a, "GET", &format!("/v1/acl/token/{root_accessor}"), Some(&read), None), "another's token");
    let nobody = call(&a, "GET", "/v1/acl/token/self", Some(random), None);
    assert_eq!((nobody.status, nobody.text()), (403, "Permission denied".into()));

    // Expiry: a TTL within bounds sets ExpirationTime; one below the minimum is refused.
    let ttl = call(
        &a,
        "POST",
        "/v1/acl/token",
        Some(&mgmt),
        Some(r#"{"Type":"client","Policies":["ops-read"],"ExpirationTTL":"10m"}"#),
    );
    assert_eq!(ttl.status, 200, "{}", ttl.text());
    assert_eq!(ttl.json()["ExpirationTTL"], "10m0s");
    assert!(ttl.json()["ExpirationTime"].is_string());
    let short = call(
        &a,
        "POST",
        "/v1/acl/token",
        Some(&mgmt),
        Some(r#"{"Type":"client","Policies":["ops-read"],"ExpirationTTL":"1s"}"#),
    );
    assert_eq!(short.status, 400);
    assert!(
        short.text().contains("expiration time cannot be less than 1m0s in the future (was 1s)"),
        "{}",
        short.text()
    );
    let no_policies = call(&a, "POST", "/v1/acl/token", Some(&mgmt), Some(r#"{"Type":"client"}"#));
    assert_eq!(
        no_policies.text(),
        "token 0 invalid: 1 error occurred:\n\t* client token missing policies or roles\n\n"
    );

    // The anonymous policy applies to requests without a token.
    assert_eq!(put_policy(&a, &mgmt, "anonymous", r#"operator { policy = "read" }"#).status, 200);
    assert_eq!(call(&a, "GET", sched, None, None).status, 200);
    denied(&call(&a, "PUT", sched, None, Some(body)), "anonymous read only");

    // Deleting a token revokes it.
    let del = call(&a, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&mgmt), None);
    assert_eq!(del.status, 200, "{}", del.text());
    denied(&call(&a, "PUT", sched, Some(&read), Some(body)), "deleted token");
    let gone = call(&a, "GET", "/v1/acl/token/self", Some(&read), None);
    assert_eq!(gone.text(), "Permission denied");

    // The reset file allows exactly one more bootstrap at the index it names.
    let reset_file = dir.path().join("acl1/server/acl-bootstrap-reset");
    std::fs::write(&reset_file, format!("{}", reset + 1)).unwrap();
    let wrong = call(&a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(wrong.text(), format!("Invalid bootstrap reset index (specified {}, reset index: {reset})", reset + 1));
    std::fs::write(&reset_file, format!("{reset}\n")).unwrap();
    let second = bootstrap(&a);
    assert_ne!(second["SecretID"], root["SecretID"]);
    let third = call(&a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(third.status, 400, "the old reset index is spent: {}", third.text());
}

#[test]
fn restart_and_snapshot_restore_keep_acl_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = acl_agent(&dir, "acl2");
    let mgmt = secret(&bootstrap(&a));
    assert_eq!(put_policy(&a, &mgmt, "p1", r#"operator { policy = "read" }"#).status, 200);
    let t1 = client_token(&a, &mgmt, &["p1"]);
    let sched = "/v1/operator/scheduler/configuration";

    let saved = call(&a, "GET", "/v1/operator/snapshot", Some(&mgmt), None);
    assert_eq!(saved.status, 200);
    let archive = saved.body.clone();

    assert_eq!(put_policy(&a, &mgmt, "p2", r#"operator { policy = "write" }"#).status, 200);
    let accessor = t1["AccessorID"].as_str().unwrap();
    assert_eq!(call(&a, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&mgmt), None).status, 200);
    denied(&call(&a, "GET", sched, Some(&secret(&t1)), None), "deleted");

    let restore = client()
        .put(format!("{}/v1/operator/snapshot", a.http()))
        .header("X-Nomad-Token", &mgmt)
        .body(archive)
        .send()
        .unwrap();
    assert_eq!(restore.status().as_u16(), 200);
    assert_eq!(call(&a, "GET", sched, Some(&secret(&t1)), None).status, 200, "the restored token works again");
    assert_eq!(call(&a, "GET", "/v1/acl/policy/p2", Some(&mgmt), None).status, 404, "p2 came after the snapshot");

    a.terminate();
    a.launch();
    wait_acl_ready(&a);
    assert_eq!(call(&a, "GET", sched, Some(&secret(&t1)), None).status, 200, "tokens survive a restart");
    assert_eq!(call(&a, "GET", "/v1/acl/policy/p1", Some(&mgmt), None).status, 200, "policies survive a restart");
    let again = call(&a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(again.status, 400, "bootstrap state survives a restart");
}

#[test]
fn acl_endpoints_without_acls() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "noacl");
    for (method, path) in [("GET", "/v1/acl/policies"), ("GET", "/v1/acl/tokens"), ("POST", "/v1/acl/bootstrap")] {
        let r = call(&a, method, path, None, None);
        assert_eq!((r.status, r.text()), (400, "ACL support disabled".into()), "{method} {path}");
    }
    assert_eq!(call(&a, "GET", "/v1/operator/raft/configuration", None, None).status, 200, "ACLs off allow all");
}

/// The ACL answers as Nomad writes them (`nomad/structs/acl.go` ACLToken and ACLPolicy,
/// `command/agent/acl_endpoint.go`, `nomad/acl_endpoint.go` GetPolicy, `acl/policy.go` Parse):
/// `null` policies and roles, empty 200s for policy writes and deletes, `RulesJSON`, names from
/// the decoded path, `ExpirationTime` on every list entry, and `token/self` with an unknown
/// secret refused as `Permission denied` (Nomad 1.10.1+).
#[test]
fn acl_answers_as_nomad_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = acl_agent(&dir, "acl4");
    let root = bootstrap(&a);
    let mgmt = secret(&root);
    assert_eq!((&root["Policies"], &root["Roles"]), (&Value::Null, &Value::Null), "{root}");

    // Policy PUT: 200, no body, no Content-Type, the index.
    let rules = "namespace \"default\" {\n  policy = \"write\"\n}\noperator {\n  policy = \"read\"\n}\n";
    let put = put_policy(&a, &mgmt, "ops", rules);
    assert_eq!((put.status, put.body.len(), put.content_type()), (200, 0, None), "{}", put.text());
    assert!(put.header("X-Nomad-Index").is_some());

    // RulesJSON: acl.Parse's *Policy as encoding/json writes it.
    let got = call(&a, "GET", "/v1/acl/policy/ops", Some(&mgmt), None);
    assert_eq!(got.status, 200);
    let write_caps = json!([
        "list-jobs",
        "parse-job",
        "read-job",
        "csi-list-volume",
        "csi-read-volume",
        "read-job-scaling",
        "list-scaling-policies",
        "read-scaling-policy",
        "host-volume-read",
        "scale-job",
        "submit-job",
        "dispatch-job",
        "read-logs",
        "read-fs",
        "alloc-exec",
        "alloc-lifecycle",
        "csi-mount-volume",
        "csi-write-volume",
        "submit-recommendation",
        "host-volume-create",
        "host-volume-read"
    ]);
    let want = json!({
        "Namespaces": [{"Name": "default", "Policy": "write", "Capabilities": write_caps, "Variables": null}],
        "NodePools": null,
        "HostVolumes": null,
        "Agent": null,
        "Node": null,
        "Operator": {"Policy": "read", "Capabilities": ["license-read", "keyring-read"]},
        "Sentinel": null,
        "Quota": null,
        "Plugin": null,
        "Raw": rules,
        "ExtraKeysHCL": null
    });
    assert_eq!(got.json()["RulesJSON"], want);
    let keys: Vec<String> = got.json()["RulesJSON"].as_object().unwrap().keys().cloned().collect();
    let order = ["Namespaces", "NodePools", "HostVolumes", "Agent", "Node", "Operator", "Sentinel", "Quota", "Plugin"];
    assert_eq!(keys[..9], order.map(String::from), "Go's field order");

    // The name comes from the decoded path, and fails validation in Nomad's multi-error text.
    let body = json!({"Name": "bad name", "Rules": rules}).to_string();
    let bad = call(&a, "PUT", "/v1/acl/policy/bad%20name", Some(&mgmt), Some(&body));
    assert_eq!(
        (bad.status, bad.text().as_str()),
        (400, "policy 0 invalid: 1 error occurred:\n\t* invalid name 'bad name'\n\n")
    );

    // Token list: ExpirationTime on every entry, null when unset; Policies null for management.
    let client = client_token(&a, &mgmt, &["ops"]);
    assert_eq!(client["Policies"], json!(["ops"]));
    let list = call(&a, "GET", "/v1/acl/tokens", Some(&mgmt), None).json();
    let entries = list.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|t| t.as_object().unwrap().contains_key("ExpirationTime")), "{list}");
    let root_stub = entries.iter().find(|t| t["AccessorID"] == root["AccessorID"]).unwrap();
    assert_eq!((&root_stub["ExpirationTime"], &root_stub["Policies"]), (&Value::Null, &Value::Null));

    // Token DELETE and policy DELETE: 200, no body, no Content-Type.
    let accessor = client["AccessorID"].as_str().unwrap();
    let del = call(&a, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&mgmt), None);
    assert_eq!((del.status, del.body.len(), del.content_type()), (200, 0, None), "{}", del.text());
    let del = call(&a, "DELETE", "/v1/acl/policy/ops", Some(&mgmt), None);
    assert_eq!((del.status, del.body.len(), del.content_type()), (200, 0, None), "{}", del.text());

    // token/self with a secret that names no token.
    let nobody = call(&a, "GET", "/v1/acl/token/self", Some("6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11"), None);
    assert_eq!((nobody.status, nobody.text().as_str()), (403, "Permission denied"));
}
