//! Spec §1 machinery: items 97–112 of the checklist.

use std::io::Read;

use crate::net;
use crate::support::*;

const S: &str = "/v1/operator/scheduler/configuration";

/// Items 104: `pretty=1`, bare `pretty`, `pretty=false` are pretty; `pretty=0` is compact.
#[test]
fn pretty_printing() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for q in ["?pretty", "?pretty=1", "?pretty=false", "?pretty="] {
        let t = a.get(&format!("{S}{q}")).text();
        assert!(t.starts_with("{\n    \"SchedulerConfig\""), "{q}: {t}");
        assert!(t.ends_with("}\n"), "{q}");
    }
    let t = a.get(&format!("{S}?pretty=0")).text();
    assert!(t.starts_with("{\"SchedulerConfig\"") && t.ends_with('}'), "{t}");
}

/// Item 108: stale parsing and its exact 400.
#[test]
fn stale_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    for q in ["stale", "stale=true", "stale=false", "stale=1", "consistent"] {
        assert_eq!(a.get(&format!("{S}?{q}")).status, 200, "{q}");
    }
    for p in
        [S, "/v1/operator/raft/configuration", "/v1/operator/autopilot/configuration", "/v1/operator/autopilot/health"]
    {
        let r = a.get(&format!("{p}?stale=random"));
        assert_eq!(r.status, 400, "{p}");
        assert_eq!(r.text(), "Expect `true` or `false` for `stale` query string parameter");
        assert_eq!(r.content_type().as_deref(), Some("text/plain; charset=utf-8"));
    }
}

/// Item 107 and 111: wait/index/per_page are parsed (never blocking here) and validated.
#[test]
fn wait_index_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    assert_eq!(a.get(&format!("{S}?wait=60s&index=1000")).status, 200);
    let r = a.get(&format!("{S}?wait=bogus"));
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid wait time"));
    let r = a.get(&format!("{S}?index=-1"));
    assert_eq!((r.status, r.text().as_str()), (400, "Invalid index"));
    let r = a.get(&format!("{S}?per_page=a"));
    assert_eq!((r.status, r.text().as_str()), (400, "Expect a number for `per_page` query string parameter"));
    assert_eq!(a.get(&format!("{S}?next_token=a&per_page=3")).status, 200);
}

/// Item 109: region defaults to the agent's; another region has no path.
#[test]
fn region_routing() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    assert_eq!(a.get(&format!("{S}?region=global")).status, 200);
    assert_eq!(a.get(&format!("{S}?region=")).status, 200);
    for (m, p, body) in [
        ("GET", S, None),
        ("PUT", S, Some("{}")),
        ("GET", "/v1/operator/raft/configuration", None),
        ("PUT", "/v1/operator/autopilot/configuration", Some("{}")),
        ("DELETE", "/v1/operator/raft/peer?id=x", None),
    ] {
        let sep = if p.contains('?') { '&' } else { '?' };
        let r = a.request(m, &format!("{p}{sep}region=mars"), body);
        assert_eq!((r.status, r.text().as_str()), (500, "No path to region"), "{m} {p}");
    }
    // The write with a foreign region changed nothing.
    assert_eq!(a.get("/v1/operator/autopilot/configuration").json()["MaxTrailingLogs"], 250);
}

/// Item 110: tokens in both forms are accepted (ACLs disabled: any token passes).
#[test]
fn tokens_accepted_with_acls_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let c = client();
    for (h, v) in [("X-Nomad-Token", "  garbage  "), ("Authorization", "Bearer abc"), ("Authorization", "foobar")] {
        let r = c.get(format!("{}{S}", a.http())).header(h, v).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{h}: {v}");
    }
}

/// Items 97–102: meta headers, JSON content type, custom response headers.
#[test]
fn custom_headers_and_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let hcl = "http_api_response_headers {\n  \"Access-Control-Allow-Origin\" = \"*\"\n  \"X-Custom\" = \"yes\"\n}\n";
    let a = single_with(&net(), &dir, "alpha", hcl);
    for p in [S, "/v1/operator/autopilot/configuration", "/v1/nonexistent"] {
        let r = a.get(p);
        assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("*"), "{p}");
        assert_eq!(r.header("x-custom").as_deref(), Some("yes"), "{p}");
    }
    let r = a.get(S);
    assert_eq!(r.headers.get_all("x-nomad-index").iter().count(), 1);
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
}

/// Responses are gzip-compressed when the client asks.
#[test]
fn gzip_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = client().get(format!("{}{S}", a.http())).header("Accept-Encoding", "gzip").send().unwrap();
    assert_eq!(r.headers().get("content-encoding").unwrap(), "gzip");
    let bytes = r.bytes().unwrap();
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut plain).unwrap();
    assert!(plain.starts_with("{\"SchedulerConfig\""), "{plain}");
    let r = a.get(S);
    assert!(r.header("content-encoding").is_none());
}

/// Spec §1.1 routing fallthrough, the license endpoint's query and method errors (the license
/// itself: `t87_license`) and the utilization stub.
#[test]
fn routing_and_oss_stubs() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get("/");
    assert_eq!((r.status, r.header("location").as_deref()), (307, Some("/ui/")));
    let r = a.get("/v1/operator/nothing");
    assert_eq!((r.status, r.body.len()), (404, 0));
    let r = a.get("/v1/operator/license?stale=bogus");
    assert_eq!(r.status, 400);
    let r = a.put("/v1/operator/license", "x");
    assert_eq!(r.status, 400);
    let r = a.request("POST", "/v1/operator/license", Some("x"));
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
    let r = a.request("POST", "/v1/operator/utilization", Some("{}"));
    assert_eq!((r.status, r.text().as_str()), (501, "Nomad Enterprise only endpoint"));
    let r = a.get("/v1/operator/utilization");
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
}
