use crate::net;
use crate::support::*;

const P: &str = "/v1/operator/scheduler/configuration";

/// Spec §10 item 20 and §2.7: defaults, body order, meta headers.
#[test]
fn get_defaults_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get(P);
    assert_eq!(r.status, 200);
    let v = r.json();
    let index = v["Index"].as_u64().unwrap();
    assert!(index > 0);
    assert_eq!(r.header("x-nomad-index"), Some(index.to_string()));
    assert_eq!(r.header("x-nomad-knownleader").as_deref(), Some("true"));
    assert_eq!(r.header("x-nomad-lastcontact").as_deref(), Some("0"));
    let ci = v["SchedulerConfig"]["CreateIndex"].as_u64().unwrap();
    assert_eq!(
        r.text(),
        format!(
            "{{\"SchedulerConfig\":{{\"SchedulerAlgorithm\":\"binpack\",\"PreemptionConfig\":{{\"SystemSchedulerEnabled\":true,\
             \"SysBatchSchedulerEnabled\":false,\"BatchSchedulerEnabled\":false,\"ServiceSchedulerEnabled\":false}},\
             \"MemoryOversubscriptionEnabled\":false,\"RejectJobRegistration\":false,\"PauseEvalBroker\":false,\
             \"NodeLimitForFeasibilityChecks\":0,\"CreateIndex\":{ci},\"ModifyIndex\":{index}}},\"Index\":{index},\
             \"LastContact\":0,\"KnownLeader\":true,\"NextToken\":\"\"}}"
        )
    );
    let pretty = a.get(&format!("{P}?pretty=1")).text();
    assert!(
        pretty.starts_with("{\n    \"SchedulerConfig\": {\n        \"SchedulerAlgorithm\": \"binpack\",\n"),
        "{pretty}"
    );
    assert!(pretty.ends_with("}\n"));
}

/// Spec §10 item 21: set and read back; `{Updated, Index}` with X-Nomad-Index.
#[test]
fn set_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let body = r#"{"MemoryOversubscriptionEnabled":true,"PauseEvalBroker":true,"NodeLimitForFeasibilityChecks":123,"PreemptionConfig":{"SystemSchedulerEnabled":true,"ServiceSchedulerEnabled":true}}"#;
    let r = a.put(P, body);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["Updated"], true);
    let index = v["Index"].as_u64().unwrap();
    assert!(index > 0);
    assert_eq!(r.header("x-nomad-index"), Some(index.to_string()));
    assert_eq!(r.text(), format!("{{\"Updated\":true,\"Index\":{index}}}"));
    let c = a.get(P).json()["SchedulerConfig"].clone();
    assert_eq!(c["MemoryOversubscriptionEnabled"], true);
    assert_eq!(c["PauseEvalBroker"], true);
    assert_eq!(c["NodeLimitForFeasibilityChecks"], 123);
    assert_eq!(c["PreemptionConfig"]["SystemSchedulerEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["ServiceSchedulerEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["SysBatchSchedulerEnabled"], false);
    assert_eq!(c["PreemptionConfig"]["BatchSchedulerEnabled"], false);
    assert_eq!(c["ModifyIndex"], index);
    // POST works the same; "" is stored as binpack; spread is accepted.
    let r = a.request("POST", P, Some(r#"{"SchedulerAlgorithm":"spread"}"#));
    assert_eq!(r.json()["Updated"], true);
    let c = a.get(P).json()["SchedulerConfig"].clone();
    assert_eq!(c["SchedulerAlgorithm"], "spread");
    assert_eq!(c["PreemptionConfig"]["SystemSchedulerEnabled"], false, "omitting PreemptionConfig turns System off");
    a.put(P, r#"{"SchedulerAlgorithm":""}"#);
    assert_eq!(a.get(P).json()["SchedulerConfig"]["SchedulerAlgorithm"], "binpack");
}

/// Spec §10 item 22 and §3.
#[test]
fn cas_full_replace() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let all = r#"{"PreemptionConfig":{"SystemSchedulerEnabled":true,"SysBatchSchedulerEnabled":true,"BatchSchedulerEnabled":true}}"#;
    let r = a.put(P, all);
    let index = r.json()["Index"].as_u64().unwrap();
    let r = a.put(&format!("{P}?cas={}", index - 1), "{}");
    let v = r.json();
    assert_eq!(v["Updated"], false);
    let failed_index = v["Index"].as_u64().unwrap();
    assert!(failed_index > index, "a failed CAS still takes a raft index");
    assert_eq!(r.header("x-nomad-index"), Some(failed_index.to_string()));
    assert_eq!(a.get(P).json()["SchedulerConfig"]["PreemptionConfig"]["BatchSchedulerEnabled"], true);
    let current = a.get(P).json()["Index"].as_u64().unwrap();
    assert_eq!(current, index);
    let r = a.put(&format!("{P}?cas={current}"), "{}");
    assert_eq!(r.json()["Updated"], true);
    let p = a.get(P).json()["SchedulerConfig"]["PreemptionConfig"].clone();
    for k in ["SystemSchedulerEnabled", "SysBatchSchedulerEnabled", "BatchSchedulerEnabled", "ServiceSchedulerEnabled"]
    {
        assert_eq!(p[k], false, "{k}");
    }
}

#[test]
fn set_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let cases: &[(&str, &str, u16, &str)] = &[
        ("", "", 400, "Error parsing scheduler config: Request body is empty"),
        ("", r#"{"SchedulerAlgorithm":"Spread"}"#, 400, "invalid scheduler algorithm: Spread"),
        ("?cas=abc", r#"{"SchedulerAlgorithm":"bogus"}"#, 400, "invalid scheduler algorithm: bogus"),
        ("?cas=abc", "{}", 400, "Error parsing cas value: strconv.ParseUint: parsing \"abc\": invalid syntax"),
        (
            "",
            r#"{"PreemptionConfig":{"BatchSchedulerEnabled":"yes"}}"#,
            400,
            "Error parsing scheduler config: json: cannot unmarshal string into Go struct field SchedulerConfiguration.PreemptionConfig.BatchSchedulerEnabled of type bool",
        ),
    ];
    for (q, body, status, want) in cases {
        let r = a.put(&format!("{P}{q}"), body);
        assert_eq!((r.status, r.text().as_str()), (*status, *want), "{q} {body}");
    }
    let r = a.put(P, r#"{"NodeLimitForFeasibilityChecks":-1}"#);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("cannot unmarshal number -1"), "{}", r.text());
    for m in ["DELETE", "PATCH"] {
        let r = a.request(m, P, None);
        assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"), "{m}");
    }
    assert_eq!(a.get(P).json()["SchedulerConfig"]["PreemptionConfig"]["SystemSchedulerEnabled"], true);
}

/// `server.default_scheduler_config` seeds the first leader's write.
#[test]
fn agent_config_seeds_scheduler_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let hcl = "server {\n  default_scheduler_config {\n    scheduler_algorithm = \"spread\"\n    memory_oversubscription_enabled = true\n    preemption_config {\n      batch_scheduler_enabled = true\n    }\n  }\n}\n";
    let a = single_with(&net(), &dir, "alpha", hcl);
    let c = a.get(P).json()["SchedulerConfig"].clone();
    assert_eq!(c["SchedulerAlgorithm"], "spread");
    assert_eq!(c["MemoryOversubscriptionEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["BatchSchedulerEnabled"], true);
    assert_eq!(c["PreemptionConfig"]["SystemSchedulerEnabled"], true);
}
