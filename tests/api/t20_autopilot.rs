use crate::net;
use crate::support::*;

const P: &str = "/v1/operator/autopilot/configuration";

/// Spec §10 item 14 and §2.4: defaults, exact bytes and key order.
#[test]
fn get_defaults_exact_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get(P);
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
    assert!(r.header("x-nomad-index").is_none());
    let v = r.json();
    let (ci, mi) = (v["CreateIndex"].as_u64().unwrap(), v["ModifyIndex"].as_u64().unwrap());
    assert!(ci > 0);
    assert_eq!(
        r.text(),
        format!(
            "{{\"LastContactThreshold\":\"200ms\",\"ServerStabilizationTime\":\"10s\",\"CleanupDeadServers\":true,\
             \"MaxTrailingLogs\":250,\"MinQuorum\":0,\"EnableRedundancyZones\":false,\"DisableUpgradeMigration\":false,\
             \"EnableCustomUpgrades\":false,\"CreateIndex\":{ci},\"ModifyIndex\":{mi}}}"
        )
    );
    // Its MarshalJSON output stays compact under ?pretty; pretty only adds the newline.
    assert_eq!(a.get(&format!("{P}?pretty")).text(), format!("{}\n", r.text()));
}

/// Spec §10 item 15: full replacement PUT, bare `true`, read-back.
#[test]
fn put_replaces_everything() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.put(P, r#"{"CleanupDeadServers": false}"#);
    assert_eq!((r.status, r.text().as_str()), (200, "true"));
    assert!(r.header("x-nomad-index").is_none());
    let v = a.get(P).json();
    assert_eq!(v["CleanupDeadServers"], false);
    assert_eq!(v["MaxTrailingLogs"], 0, "missing fields become zero");
    assert_eq!(v["LastContactThreshold"], "0s");
    assert_eq!(v["ServerStabilizationTime"], "0s");
    // Durations round-trip in Go syntax, keys case-insensitively.
    let r = a.put(
        P,
        r#"{"lastcontactthreshold":"1m30s","ServerStabilizationTime":"1.5s","MaxTrailingLogs":99,"MinQuorum":3}"#,
    );
    assert_eq!(r.text(), "true");
    let v = a.get(P).json();
    assert_eq!(v["LastContactThreshold"], "1m30s");
    assert_eq!(v["ServerStabilizationTime"], "1.5s");
    assert_eq!((v["MaxTrailingLogs"].as_u64(), v["MinQuorum"].as_u64()), (Some(99), Some(3)));
    assert!(v["ModifyIndex"].as_u64() > v["CreateIndex"].as_u64());
}

/// Spec §10 item 16 and §3: CAS is decided inside apply; a failed CAS is a 200 `false`.
#[test]
fn cas_rules() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    assert_eq!(a.put(P, r#"{"CleanupDeadServers": false}"#).text(), "true");
    let mi = a.get(P).json()["ModifyIndex"].as_u64().unwrap();
    let r = a.put(&format!("{P}?cas={}", mi - 1), r#"{"CleanupDeadServers": true}"#);
    assert_eq!((r.status, r.text().as_str()), (200, "false"));
    assert_eq!(a.get(P).json()["CleanupDeadServers"], false);
    assert_eq!(a.put(&format!("{P}?cas=0"), r#"{"CleanupDeadServers": true}"#).text(), "false");
    let r = a.put(&format!("{P}?cas={mi}"), r#"{"CleanupDeadServers": true}"#);
    assert_eq!(r.text(), "true");
    let v = a.get(P).json();
    assert_eq!(v["CleanupDeadServers"], true);
    // The failed CASes still took log entries.
    assert!(v["ModifyIndex"].as_u64().unwrap() > mi + 2);
}

#[test]
fn put_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let cases: &[(&str, &str, &str)] = &[
        ("", "", "Error parsing autopilot config: Request body is empty"),
        ("", "{\"LastContactThreshold\":\"abc\"}", "Error parsing autopilot config: time: invalid duration \"abc\""),
        ("?cas=x", "{}", "Error parsing cas value: strconv.ParseUint: parsing \"x\": invalid syntax"),
        ("?cas=", "{}", "Error parsing cas value: strconv.ParseUint: parsing \"\": invalid syntax"),
        ("?cas=1", "", "Error parsing autopilot config: Request body is empty"),
    ];
    for (q, body, want) in cases {
        let r = a.put(&format!("{P}{q}"), body);
        assert_eq!((r.status, r.text().as_str()), (400, *want), "{q} {body}");
        assert_eq!(r.content_type().as_deref(), Some("text/plain; charset=utf-8"));
    }
    let r = a.put(P, r#"{"LastContactThreshold": 200}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("Error parsing autopilot config: json: cannot unmarshal number into Go struct field"));
    let r = a.put(P, "{not json");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("Error parsing autopilot config: "), "{}", r.text());
    for m in ["POST", "DELETE", "PATCH"] {
        let r = a.request(m, P, Some("{}"));
        assert_eq!((r.status, r.text().as_str()), (404, "Invalid method"), "{m}");
    }
    // Nothing above changed the config.
    assert_eq!(a.get(P).json()["MaxTrailingLogs"], 250);
    // A trailing slash is a different, unregistered path.
    let r = a.get(&format!("{P}/"));
    assert_eq!((r.status, r.body.len()), (404, 0));
}

/// Spec §10 items 17–19: one healthy server; 429 and the same body when unhealthy.
#[test]
fn health_single_server() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get("/v1/operator/autopilot/health");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
    let v = r.json();
    assert_eq!(v["Healthy"], true);
    assert_eq!(v["FailureTolerance"], 0);
    let s = &v["Servers"][0];
    assert_eq!(s["Name"], "alpha.global");
    assert_eq!(s["SerfStatus"], "alive");
    assert_eq!(s["LastContact"], "0s");
    assert_eq!(s["Leader"], true);
    assert_eq!(s["Voter"], true);
    assert_eq!(s["Healthy"], true);
    assert!(s["StableSince"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["Leader"], s["ID"]);
    assert_eq!(v["Voters"][0], s["ID"]);
    let text = r.text();
    assert!(
        text.starts_with("{\"Healthy\":true,\"FailureTolerance\":0,\"Servers\":[{\"LastContact\":\"0s\",\"ID\":"),
        "{text}"
    );
    // Pretty output keeps each server entry compact (it has its own MarshalJSON).
    let pretty = a.get("/v1/operator/autopilot/health?pretty").text();
    assert!(pretty.contains("\"Servers\": [\n        {\"LastContact\":\"0s\","), "{pretty}");

    a.put("/v1/operator/autopilot/configuration", r#"{"LastContactThreshold":"-1s","MaxTrailingLogs":250}"#);
    let r = a.get("/v1/operator/autopilot/health");
    assert_eq!(r.status, 429);
    assert_eq!(r.content_type().as_deref(), Some("text/plain; charset=utf-8"));
    let v = r.json();
    assert_eq!(v["Healthy"], false);
    assert_eq!(v["Servers"][0]["Name"], "alpha.global");
    let r = a.request("POST", "/v1/operator/autopilot/health", None);
    assert_eq!((r.status, r.text().as_str()), (404, "Invalid method"));
    let r = a.get("/v1/operator/autopilot/health?stale=bogus");
    assert_eq!(r.status, 400);
}

/// Agent-config `autopilot {}` overrides the defaults the first leader writes.
#[test]
fn agent_config_overrides_autopilot_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let hcl = "autopilot {\n  cleanup_dead_servers = false\n  last_contact_threshold = \"500ms\"\n  max_trailing_logs = 42\n}\n";
    let a = single_with(&net(), &dir, "alpha", hcl);
    let v = a.get(P).json();
    assert_eq!(v["CleanupDeadServers"], false);
    assert_eq!(v["LastContactThreshold"], "500ms");
    assert_eq!(v["MaxTrailingLogs"], 42);
    assert_eq!(v["ServerStabilizationTime"], "10s");
}
