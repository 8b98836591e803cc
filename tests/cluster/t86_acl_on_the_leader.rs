//! An operation sent to a follower is authorised on the leader, with the caller's token, in
//! one trip: a token that may write variables in one namespace writes there through a
//! follower and is refused in another, and a token deleted on the leader is refused through a
//! follower at once (no cache, no separate resolution on the follower). Posted to the leader's
//! RPC port as a follower forwards it, the same write is refused without the token.

use std::time::Duration;

use raftwarden_actors::state::Variable;
use raftwarden_actors::variables::PutVariable;
use raftwarden_actors::wire::Forwardable;
use raftwarden_actors::OpError;
use serde_json::json;

use crate::net;
use crate::support::*;

#[test]
fn a_followers_write_is_authorised_on_the_leader_with_the_callers_token() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "acl { enabled = true }\n");
    let leader = c.wait_leader(Duration::from_secs(60));
    let (l, f) = (&c.agents[leader], &c.agents[(leader + 1) % 3]);
    wait_until(
        Duration::from_secs(30),
        || call(f, "GET", "/v1/operator/scheduler/configuration", None, None).status == 403,
        || "follower never answered".into(),
    );
    let boot = call(l, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(boot.status, 200, "{}", boot.text());
    let mgmt = boot.json()["SecretID"].as_str().unwrap().to_string();
    let rules = r#"namespace "team-a" { variables { path "*" { capabilities = ["write", "read"] } } }"#;
    let policy = json!({"Name": "team-a", "Rules": rules}).to_string();
    assert_eq!(call(l, "PUT", "/v1/acl/policy/team-a", Some(&mgmt), Some(&policy)).status, 200);
    // Created on the leader and used through the follower at once: the leader resolves it.
    let body = json!({"Type": "client", "Policies": ["team-a"]}).to_string();
    let t = call(l, "POST", "/v1/acl/token", Some(&mgmt), Some(&body));
    assert_eq!(t.status, 200, "{}", t.text());
    let secret = t.json()["SecretID"].as_str().unwrap().to_string();
    let accessor = t.json()["AccessorID"].as_str().unwrap().to_string();

    let var = r#"{"Items":{"k":"v"}}"#;
    let ok = call(f, "PUT", "/v1/var/app/db?namespace=team-a", Some(&secret), Some(var));
    assert_eq!(ok.status, 200, "its own namespace, through a follower: {}", ok.text());
    assert_eq!(ok.json()["Namespace"], "team-a");
    let other = call(f, "PUT", "/v1/var/app/db?namespace=team-b", Some(&secret), Some(var));
    assert_eq!((other.status, other.text().as_str()), (403, "Permission denied"), "another namespace");
    let default = call(f, "PUT", "/v1/var/app/db", Some(&secret), Some(var));
    assert_eq!(default.status, 403, "the default namespace: {}", default.text());

    // The same write as a follower forwards it, straight to the leader's RPC port: refused
    // without the token, taken with it.
    let put = PutVariable {
        var: Variable { namespace: "team-a".into(), path: "app/direct".into(), ..Variable::default() },
        cas: None,
    };
    let forwarded = |token: Option<&str>| {
        let mut put = put.clone();
        put.var.items.insert("k".into(), "v".into());
        let mut rb = client()
            .post(format!("http://{}{}", l.rpc_addr(), PutVariable::PATH))
            .body(PutVariable::CODEC.encode(&put).unwrap());
        if let Some(t) = token {
            rb = rb.header("X-Nomad-Token", t);
        }
        let r = Resp::from(rb.send().expect("internal RPC"));
        assert_eq!(r.status, 200, "{}", r.text());
        PutVariable::CODEC.decode::<Result<raftwarden_actors::variables::VariableWrite, OpError>>(&r.body).unwrap()
    };
    match forwarded(None) {
        Err(OpError::PermissionDenied) => {}
        other => panic!("anonymous write on the leader's RPC port: {other:?}"),
    }
    assert!(forwarded(Some(&secret)).is_ok(), "the token's write on the leader's RPC port");

    // Deleted on the leader: refused through the follower at once.
    let del = call(l, "DELETE", &format!("/v1/acl/token/{accessor}"), Some(&mgmt), None);
    assert_eq!(del.status, 200, "{}", del.text());
    let gone = call(f, "PUT", "/v1/var/app/db?namespace=team-a", Some(&secret), Some(var));
    assert_eq!((gone.status, gone.text().as_str()), (403, "Permission denied"), "a deleted token");
    let read = call(f, "GET", "/v1/var/app/db?namespace=team-a", Some(&mgmt), None);
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["ModifyIndex"], ok.json()["ModifyIndex"], "the refused writes changed nothing");
}
