use crate::net;
use crate::support::*;

/// Spec §10 item 1: one server, Leader and Voter true; field order and types.
#[test]
fn single_server_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get("/v1/operator/raft/configuration");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
    assert!(r.header("x-nomad-index").is_none(), "raft configuration sets no X-Nomad-Index");
    let text = r.text();
    assert!(text.starts_with(r#"{"Servers":[{"ID":""#), "{text}");
    let v = r.json();
    let servers = v["Servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1);
    let s = &servers[0];
    assert_eq!(s["Node"], "alpha.global");
    assert_eq!(s["Address"], a.rpc_addr());
    assert_eq!(s["Leader"], true);
    assert_eq!(s["Voter"], true);
    assert_eq!(s["RaftProtocol"], "3");
    assert!(v["Index"].is_u64(), "Index is the raft configuration entry index");
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    let pos = |k| text.find(&format!("\"{k}\"")).unwrap();
    assert!(pos("ID") < pos("Node") && pos("Node") < pos("Address") && pos("Address") < pos("Leader"));
    assert!(pos("Leader") < pos("Voter") && pos("Voter") < pos("RaftProtocol") && pos("RaftProtocol") < pos("Index"));
    assert_eq!(keys.len(), 6);
    // The ID is a UUID and stale reads answer the same.
    assert_eq!(s["ID"].as_str().unwrap().len(), 36);
    assert_eq!(a.get("/v1/operator/raft/configuration?stale").json(), v);
}

/// Wrong method: 405 with an empty body and no Content-Type (spec §2.1).
#[test]
fn raft_configuration_wrong_method() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for m in ["PUT", "POST", "DELETE", "PATCH"] {
        let r = a.request(m, "/v1/operator/raft/configuration", Some("{}"));
        assert_eq!(r.status, 405, "{m}");
        assert!(r.body.is_empty(), "{m}: {}", r.text());
        assert!(r.content_type().is_none(), "{m}");
    }
    // Prefix routing like Go's mux: /configurationX also routes; unknown subpaths are 404 Invalid method.
    assert_eq!(a.get("/v1/operator/raft/configurationX").status, 200);
    let r = a.get("/v1/operator/raft/nothing");
    assert_eq!((r.status, r.text().as_str()), (404, "Invalid method"));
    let r = a.get("/v1/operator/raft");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location").as_deref(), Some("/v1/operator/raft/"));
}

/// Spec §2.2 and §10 item 2: peer removal errors.
#[test]
fn remove_peer_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get("/v1/operator/raft/peer?id=x");
    assert_eq!((r.status, r.text().as_str()), (404, "Invalid method"));
    let r = a.request("DELETE", "/v1/operator/raft/peer?address=1.2.3.4:4647&id=x", None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "Removing a peer by address is not supported in the current raft protocol version")
    );
    let r = a.request("DELETE", "/v1/operator/raft/peer", None);
    assert_eq!((r.status, r.text().as_str()), (400, "Must specify the peer's ID to remove"));
    let r = a.request("DELETE", "/v1/operator/raft/peer?id=nope", None);
    assert_eq!((r.status, r.text().as_str()), (500, "id \"nope\" was not found in the Raft configuration"));
    assert_eq!(r.content_type().as_deref(), Some("text/plain; charset=utf-8"));
    let r = a.request("DELETE", "/v1/operator/raft/peer?id=", None);
    assert_eq!((r.status, r.text().as_str()), (500, "id \"\" was not found in the Raft configuration"));
}

/// Spec §2.3 and §10 items 3–13: transfer-leadership validation on one server.
#[test]
fn transfer_leadership_validation() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let p = "/v1/operator/raft/transfer-leadership";
    for m in ["GET", "DELETE", "PATCH", "OPTIONS"] {
        let r = a.request(m, p, None);
        assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"), "{m}");
    }
    let cases = [
        ("", "must specify id or address"),
        ("?id=foo&address=bar", "must specify either id or address"),
        ("?id=foo&id=bar", "must specify only one id"),
        ("?address=foo&address=bar", "must specify only one address"),
        ("?id", "id must be non-empty"),
        ("?address", "address must be non-empty"),
    ];
    for (q, want) in cases {
        let r = a.request("PUT", &format!("{p}{q}"), None);
        assert_eq!((r.status, r.text().as_str()), (400, want), "{q}");
    }
    let r = a.request("PUT", &format!("{p}?id=foo"), None);
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("id must be a uuid"), "{}", r.text());
    let r = a.request("PUT", &format!("{p}?address=bar"), None);
    assert!(r.text().starts_with("address must be in IP:port format"), "{}", r.text());
    let id = "6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11";
    let r = a.request("PUT", &format!("{p}?id={id}"), None);
    assert_eq!((r.status, r.text()), (400, format!("id \"{id}\" was not found in the Raft configuration")));
    let r = a.request("POST", &format!("{p}?address=9.9.9.9:8000"), None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "address \"9.9.9.9:8000\" was not found in the Raft configuration")
    );
    // Transfer to itself is a no-op success.
    let me = a.get("/v1/operator/raft/configuration").json()["Servers"][0]["ID"].as_str().unwrap().to_string();
    let r = a.request("PUT", &format!("{p}?id={me}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["Noop"], true);
    assert_eq!(v["Err"], serde_json::Value::Null);
    assert_eq!(v["To"]["ID"], me.as_str());
}

/// `GET /v1/status/leader` and `/v1/status/peers`.
#[test]
fn status_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    assert_eq!(a.get("/v1/status/leader").text(), format!("\"{}\"", a.rpc_addr()));
    assert_eq!(a.get("/v1/status/peers").json(), serde_json::json!([a.rpc_addr()]));
}

/// `advertise { rpc }` is the address the raft configuration shows (port defaults to the
/// listener's).
#[test]
fn advertise_address_is_used() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let hcl = format!("advertise {{\n  rpc = \"{}\"\n}}\n", n.ip(9));
    let mut spec = AgentSpec::new("alpha", n.ip(1), dir.path().join("alpha"));
    spec.extra_hcl = hcl;
    let a = Agent::start(spec);
    wait_ready(&a);
    let v = a.get("/v1/operator/raft/configuration").json();
    assert_eq!(v["Servers"][0]["Address"], format!("{}:4647", n.ip(9)));
}
