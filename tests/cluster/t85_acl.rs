//! ACL enforcement on a 3-server cluster, every request sent to a follower: every endpoint x
//! {no token, unknown token, operator-read, operator-write, snapshot-save, variables-only,
//! management} against spec §5. Tokens are created through the follower a moment before they
//! are used, so this also shows that forwarded requests are authorised with the caller's token
//! as the leader knows it.

use std::time::Duration;

use serde_json::json;

use crate::net;
use crate::support::*;

#[test]
fn every_endpoint_by_every_kind_of_token_through_a_follower() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "acl { enabled = true }\n");
    let leader = c.wait_leader(Duration::from_secs(60));
    let f = &c.agents[(leader + 1) % 3];
    wait_until(
        Duration::from_secs(30),
        || call(f, "GET", "/v1/operator/scheduler/configuration", None, None).status == 403,
        || "follower never answered".into(),
    );

    let boot = call(f, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(boot.status, 200, "{}", boot.text());
    let mgmt = boot.json()["SecretID"].as_str().unwrap().to_string();
    let mut tokens = Vec::new();
    for (name, rules) in [
        ("op-read", r#"operator { policy = "read" }"#),
        ("op-write", r#"operator { policy = "write" }"#),
        ("snap", r#"operator { capabilities = ["snapshot-save"] }"#),
        ("vars", r#"namespace "default" { variables { path "*" { capabilities = ["read", "write", "destroy"] } } }"#),
    ] {
        let body = json!({"Name": name, "Rules": rules}).to_string();
        let r = call(f, "PUT", &format!("/v1/acl/policy/{name}"), Some(&mgmt), Some(&body));
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let body = json!({"Type": "client", "Policies": [name]}).to_string();
        let t = call(f, "POST", "/v1/acl/token", Some(&mgmt), Some(&body));
        assert_eq!(t.status, 200, "{}", t.text());
        tokens.push(t.json()["SecretID"].as_str().unwrap().to_string());
    }
    let unknown = "6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11".to_string();
    // Columns: none, unknown, op-read, op-write, snapshot-save, variables-only, management.
    let who: [Option<&str>; 7] =
        [None, Some(&unknown), Some(&tokens[0]), Some(&tokens[1]), Some(&tokens[2]), Some(&tokens[3]), Some(&mgmt)];
    let sched = r#"{"SchedulerAlgorithm":"binpack"}"#;
    let auto = r#"{"CleanupDeadServers":true}"#;
    let var = r#"{"Items":{"k":"v"}}"#;
    let missing_peer = "/v1/operator/raft/peer?id=6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d12";
    // (method, path, body, expected status per column); a non-403 success code is what the
    // endpoint answers once authorised; `ANY` is "authorised": health answers 200 or 429 by how
    // long the servers have been up.
    const ANY: u16 = 0;
    type Row<'a> = (&'a str, &'a str, Option<&'a str>, [u16; 7]);
    let table: Vec<Row<'_>> = vec![
        ("GET", "/v1/operator/raft/configuration", None, [403, 403, 403, 403, 403, 403, 200]),
        ("DELETE", missing_peer, None, [403, 403, 403, 403, 403, 403, 500]),
        ("GET", "/v1/operator/autopilot/configuration", None, [403, 403, 200, 200, 403, 403, 200]),
        ("PUT", "/v1/operator/autopilot/configuration", Some(auto), [403, 403, 403, 200, 403, 403, 200]),
        ("GET", "/v1/operator/autopilot/health", None, [403, 403, ANY, ANY, 403, 403, ANY]),
        ("GET", "/v1/operator/scheduler/configuration", None, [403, 403, 200, 200, 403, 403, 200]),
        ("PUT", "/v1/operator/scheduler/configuration", Some(sched), [403, 403, 403, 200, 403, 403, 200]),
        ("POST", "/v1/operator/scheduler/configuration", Some(sched), [403, 403, 403, 200, 403, 403, 200]),
        ("GET", "/v1/operator/snapshot", None, [403, 403, 403, 200, 200, 403, 200]),
        ("PUT", "/v1/operator/snapshot", Some("not an archive"), [403, 403, 403, 403, 403, 403, 500]),
        ("PUT", "/v1/var/app/x", Some(var), [403, 403, 403, 403, 403, 200, 200]),
        ("GET", "/v1/var/app/x", None, [403, 403, 403, 403, 403, 200, 200]),
        ("GET", "/v1/vars", None, [403, 403, 403, 403, 403, 200, 200]),
        ("GET", "/v1/acl/tokens", None, [403, 403, 403, 403, 403, 403, 200]),
        ("GET", "/v1/acl/policies", None, [200, 403, 200, 200, 200, 200, 200]),
        (
            "PUT",
            "/v1/acl/policy/x",
            Some(r#"{"Name":"x","Rules":"node { policy = \"read\" }"}"#),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        ("GET", "/v1/acl/token/self", None, [200, 403, 200, 200, 200, 200, 200]),
        ("GET", "/v1/operator/license", None, [403, 403, 200, 200, 403, 403, 200]),
        ("PUT", "/v1/operator/license", Some("not a license"), [403, 403, 403, 400, 403, 403, 400]),
        ("GET", "/v1/agent/members", None, [403, 403, 403, 403, 403, 403, 200]),
        ("GET", "/v1/agent/self", None, [403, 403, 403, 403, 403, 403, 200]),
        ("PUT", "/v1/agent/force-leave?node=nosuch", None, [403, 403, 403, 403, 403, 403, 200]),
        ("GET", "/v1/agent/health", None, [200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/v1/metrics", None, [200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/v1/status/leader", None, [200, 200, 200, 200, 200, 200, 200]),
        ("GET", "/v1/status/peers", None, [200, 200, 200, 200, 200, 200, 200]),
    ];
    let mut failures = Vec::new();
    for (method, path, body, want) in &table {
        for (col, token) in who.iter().enumerate() {
            let r = call(f, method, path, *token, *body);
            let ok = if want[col] == ANY { r.status != 403 } else { r.status == want[col] };
            if !ok {
                failures.push(format!("{method} {path} column {col}: {} {} (want {})", r.status, r.text(), want[col]));
            }
            if want[col] == 403 && r.status == 403 {
                let text = r.text();
                assert!(
                    text == "Permission denied" || text == "ACL token not found",
                    "{method} {path} column {col}: {text}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
