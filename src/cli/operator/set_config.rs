//! The read-modify-write decisions of the `set-config` commands, as pure functions over the
//! configuration read from the server: which fields the given flags change, the check-index
//! test, and the CAS index to write with. Fields no flag names are sent back unchanged, because
//! both PUT endpoints replace the whole configuration.

use serde_json::Map;
use serde_json::Value;

use super::AutopilotSetConfig;
use super::SchedulerSetConfig;
use crate::cli::error::CliError;

pub const AUTOPILOT_CONFIGURATION: &str = "/v1/operator/autopilot/configuration";
pub const SCHEDULER_CONFIGURATION: &str = "/v1/operator/scheduler/configuration";

/// Applies the given autopilot flags to `config` (the body of GET autopilot configuration) and
/// returns its `ModifyIndex`, the CAS index for the write.
pub fn autopilot(config: &mut Value, flags: &AutopilotSetConfig) -> Result<u64, CliError> {
    let fields = object(config, AUTOPILOT_CONFIGURATION, "the configuration")?;
    let cas = modify_index(fields, AUTOPILOT_CONFIGURATION)?;
    let bools = [
        ("CleanupDeadServers", flags.cleanup_dead_servers),
        ("EnableRedundancyZones", flags.enable_redundancy_zones),
        ("DisableUpgradeMigration", flags.disable_upgrade_migration),
        ("EnableCustomUpgrades", flags.enable_custom_upgrades),
    ];
    for (key, value) in bools {
        if let Some(b) = value {
            fields.insert(key.into(), Value::Bool(b));
        }
    }
    for (key, value) in [("MaxTrailingLogs", flags.max_trailing_logs), ("MinQuorum", flags.min_quorum)] {
        if let Some(n) = value {
            fields.insert(key.into(), n.into());
        }
    }
    // The server only accepts durations as Go duration strings.
    let durations = [
        ("LastContactThreshold", flags.last_contact_threshold),
        ("ServerStabilizationTime", flags.server_stabilization_time),
    ];
    for (key, value) in durations {
        if let Some(nanos) = value {
            fields.insert(key.into(), crate::go::duration::format(nanos).into());
        }
    }
    Ok(cas)
}

/// From the GET scheduler configuration response, the body to PUT (the flat
/// `SchedulerConfig` with the given flags applied) and the CAS index to PUT it with. Fails when
/// `-check-index` is given (non-zero, as in Nomad) and differs from the current `ModifyIndex`.
pub fn scheduler(response: &Value, flags: &SchedulerSetConfig) -> Result<(Value, u64), CliError> {
    let mut config = response.get("SchedulerConfig").cloned().unwrap_or(Value::Null);
    let fields = object(&mut config, SCHEDULER_CONFIGURATION, "SchedulerConfig")?;
    let current = modify_index(fields, SCHEDULER_CONFIGURATION)?;
    if let Some(given) = check_index(flags.check_index.as_deref())?.filter(|&i| i != 0) {
        if given != current {
            return Err(CliError::CheckIndex { given, current });
        }
    }
    if let Some(algorithm) = &flags.scheduler_algorithm {
        fields.insert("SchedulerAlgorithm".into(), algorithm.as_str().into());
    }
    let top = [
        ("MemoryOversubscriptionEnabled", flags.memory_oversubscription),
        ("RejectJobRegistration", flags.reject_job_registration),
        ("PauseEvalBroker", flags.pause_eval_broker),
    ];
    for (key, value) in top {
        if let Some(b) = value {
            fields.insert(key.into(), Value::Bool(b));
        }
    }
    if let Some(n) = flags.node_limit_for_feasibility_checks {
        fields.insert("NodeLimitForFeasibilityChecks".into(), n.into());
    }
    let preemption = [
        ("SystemSchedulerEnabled", flags.preempt_system_scheduler),
        ("SysBatchSchedulerEnabled", flags.preempt_sysbatch_scheduler),
        ("BatchSchedulerEnabled", flags.preempt_batch_scheduler),
        ("ServiceSchedulerEnabled", flags.preempt_service_scheduler),
    ];
    if preemption.iter().any(|(_, v)| v.is_some()) {
        let entry = fields.entry("PreemptionConfig").or_insert_with(|| Value::Object(Map::new()));
        let preemption_fields = object(entry, SCHEDULER_CONFIGURATION, "PreemptionConfig")?;
        for (key, value) in preemption {
            if let Some(b) = value {
                preemption_fields.insert(key.into(), Value::Bool(b));
            }
        }
    }
    Ok((config, current))
}

/// Nomad's `parseCheckIndex`: empty means no check, otherwise a base-10 `strconv.ParseUint`.
pub fn check_index(raw: Option<&str>) -> Result<Option<u64>, CliError> {
    let Some(value) = raw.filter(|v| !v.is_empty()) else { return Ok(None) };
    let fail = |why: &str| CliError::CheckIndexSyntax {
        value: value.to_string(),
        reason: format!("strconv.ParseUint: parsing {}: {why}", crate::go::quote(value)),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail("invalid syntax"));
    }
    value.parse().map(Some).map_err(|_| fail("value out of range"))
}

fn object<'a>(v: &'a mut Value, endpoint: &'static str, what: &str) -> Result<&'a mut Map<String, Value>, CliError> {
    v.as_object_mut().ok_or_else(|| CliError::Malformed { endpoint, problem: format!("{what} is not a JSON object") })
}

fn modify_index(fields: &Map<String, Value>, endpoint: &'static str) -> Result<u64, CliError> {
    fields
        .get("ModifyIndex")
        .and_then(Value::as_u64)
        .ok_or_else(|| CliError::Malformed { endpoint, problem: "no ModifyIndex".into() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn autopilot_config() -> Value {
        json!({
            "LastContactThreshold": "200ms", "ServerStabilizationTime": "10s", "CleanupDeadServers": true,
            "MaxTrailingLogs": 250, "MinQuorum": 0, "EnableRedundancyZones": false,
            "DisableUpgradeMigration": false, "EnableCustomUpgrades": false, "CreateIndex": 4, "ModifyIndex": 9
        })
    }

    #[test]
    fn autopilot_without_flags_changes_nothing() {
        let mut config = autopilot_config();
        assert_eq!(autopilot(&mut config, &AutopilotSetConfig::default()).unwrap(), 9);
        assert_eq!(config, autopilot_config());
    }

    #[test]
    fn autopilot_applies_every_flag() {
        let mut config = autopilot_config();
        let flags = AutopilotSetConfig {
            cleanup_dead_servers: Some(false),
            max_trailing_logs: Some(99),
            min_quorum: Some(3),
            last_contact_threshold: Some(123_000_000),
            server_stabilization_time: Some(90_000_000_000),
            enable_redundancy_zones: Some(true),
            disable_upgrade_migration: Some(true),
            enable_custom_upgrades: Some(true),
            extra: Vec::new(),
        };
        assert_eq!(autopilot(&mut config, &flags).unwrap(), 9);
        assert_eq!(
            config,
            json!({
                "LastContactThreshold": "123ms", "ServerStabilizationTime": "1m30s", "CleanupDeadServers": false,
                "MaxTrailingLogs": 99, "MinQuorum": 3, "EnableRedundancyZones": true,
                "DisableUpgradeMigration": true, "EnableCustomUpgrades": true, "CreateIndex": 4, "ModifyIndex": 9
            })
        );
    }

    #[test]
    fn autopilot_rejects_malformed_configs() {
        for mut bad in [json!([]), json!(null), json!({"CleanupDeadServers": true}), json!({"ModifyIndex": "9"})] {
            let err = autopilot(&mut bad, &AutopilotSetConfig::default()).unwrap_err();
            assert!(matches!(err, CliError::Malformed { .. }), "{bad}: {err}");
        }
    }

    fn scheduler_response() -> Value {
        json!({
            "SchedulerConfig": {
                "SchedulerAlgorithm": "binpack",
                "PreemptionConfig": {"SystemSchedulerEnabled": true, "SysBatchSchedulerEnabled": false,
                                     "BatchSchedulerEnabled": false, "ServiceSchedulerEnabled": false},
                "MemoryOversubscriptionEnabled": false, "RejectJobRegistration": false, "PauseEvalBroker": false,
                "NodeLimitForFeasibilityChecks": 0, "CreateIndex": 5, "ModifyIndex": 7
            },
            "Index": 7, "LastContact": 0, "KnownLeader": true, "NextToken": ""
        })
    }

    #[test]
    fn scheduler_without_flags_sends_the_current_config() {
        let (body, cas) = scheduler(&scheduler_response(), &SchedulerSetConfig::default()).unwrap();
        assert_eq!(cas, 7);
        assert_eq!(body, scheduler_response()["SchedulerConfig"]);
    }

    #[test]
    fn scheduler_applies_every_flag() {
        let flags = SchedulerSetConfig {
            check_index: Some("7".into()),
            scheduler_algorithm: Some("spread".into()),
            memory_oversubscription: Some(true),
            reject_job_registration: Some(true),
            pause_eval_broker: Some(true),
            preempt_batch_scheduler: Some(true),
            preempt_service_scheduler: Some(true),
            preempt_sysbatch_scheduler: Some(true),
            preempt_system_scheduler: Some(false),
            node_limit_for_feasibility_checks: Some(200),
            extra: Vec::new(),
        };
        let (body, cas) = scheduler(&scheduler_response(), &flags).unwrap();
        assert_eq!(cas, 7);
        assert_eq!(
            body,
            json!({
                "SchedulerAlgorithm": "spread",
                "PreemptionConfig": {"SystemSchedulerEnabled": false, "SysBatchSchedulerEnabled": true,
                                     "BatchSchedulerEnabled": true, "ServiceSchedulerEnabled": true},
                "MemoryOversubscriptionEnabled": true, "RejectJobRegistration": true, "PauseEvalBroker": true,
                "NodeLimitForFeasibilityChecks": 200, "CreateIndex": 5, "ModifyIndex": 7
            })
        );
    }

    #[test]
    fn scheduler_check_index() {
        let with =
            |check_index: &str| SchedulerSetConfig { check_index: Some(check_index.into()), ..Default::default() };
        let err = scheduler(&scheduler_response(), &with("1000000")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error performing check index set: check-index 1000000 does not match does not match current state value 7"
        );
        // As in Nomad, 0 means "no check".
        assert!(scheduler(&scheduler_response(), &with("0")).is_ok());
        assert!(scheduler(&scheduler_response(), &with("")).is_ok());
        assert!(scheduler(&scheduler_response(), &with("7")).is_ok());
        let err = scheduler(&scheduler_response(), &with("x7")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error parsing check-index value \"x7\": strconv.ParseUint: parsing \"x7\": invalid syntax"
        );
        let err = scheduler(&scheduler_response(), &with("99999999999999999999")).unwrap_err();
        assert!(err.to_string().ends_with(": value out of range"), "{err}");
    }

    #[test]
    fn scheduler_fills_in_a_missing_preemption_config() {
        let response = json!({"SchedulerConfig": {"ModifyIndex": 3}});
        let flags = SchedulerSetConfig { preempt_batch_scheduler: Some(true), ..Default::default() };
        let (body, _) = scheduler(&response, &flags).unwrap();
        assert_eq!(body, json!({"ModifyIndex": 3, "PreemptionConfig": {"BatchSchedulerEnabled": true}}));
    }

    #[test]
    fn scheduler_rejects_malformed_responses() {
        for bad in [
            json!({}),
            json!({"SchedulerConfig": []}),
            json!({"SchedulerConfig": {}}),
            json!({"SchedulerConfig": {"ModifyIndex": 1, "PreemptionConfig": 5}}),
        ] {
            let flags = SchedulerSetConfig { preempt_batch_scheduler: Some(true), ..Default::default() };
            assert!(matches!(scheduler(&bad, &flags), Err(CliError::Malformed { .. })), "{bad}");
        }
    }
}
