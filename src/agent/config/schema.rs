//! Nomad's whole agent file schema, as its `command/agent/config.go` and the structs it decodes
//! (`nomad/structs/config/*.go`, `client/config`) name the keys.
//!
//! ```text
//! file value ─> check (every key known to Nomad, else `unknown key "a.b"`)
//!            ─> keys this server reads stay ─> file::AgentFile (serde)
//!            └> keys that do not apply here are taken out and named in one warning
//! ```
//!
//! A server without clients, jobs or integrations has nothing to do with `client`, `consul`,
//! `vault`, `plugin`, `sentinel`, `audit`, ... : they are checked for keys Nomad does not know,
//! then set aside. Keys inside free-form maps (`meta`, `options`, a plugin's `config`) are not
//! checked, as Nomad does not check them either.

use serde_json::Map;
use serde_json::Value;

/// What a key means here.
pub enum Node {
    /// Read by [`super::file::AgentFile`].
    Read,
    /// Nomad knows it; it means nothing to this server: taken out, named in the warning.
    Ignored,
    /// A block whose keys are checked one by one.
    Block(&'static [(&'static str, Node)]),
    /// A block that does not apply: checked, taken out and named in the warning.
    IgnoredBlock(&'static [(&'static str, Node)]),
    /// Labelled blocks (`plugin "docker" { }`): every label's body is checked.
    IgnoredLabelled(&'static [(&'static str, Node)]),
    /// Any value; not checked (maps of the operator's own keys).
    Free,
}

use Node::*;

/// The `keyring "<provider>" { }` body: a few known keys and the provider's own settings.
const KEYRING: &[(&str, Node)] = &[("name", Free), ("active", Free)];

const SERVER_JOIN: &[(&str, Node)] =
    &[("start_join", Read), ("retry_join", Read), ("retry_max", Read), ("retry_interval", Read)];

const IGNORED_SERVER_JOIN: &[(&str, Node)] =
    &[("start_join", Free), ("retry_join", Free), ("retry_max", Free), ("retry_interval", Free)];

const PREEMPTION: &[(&str, Node)] = &[
    ("system_scheduler_enabled", Read),
    ("sysbatch_scheduler_enabled", Read),
    ("batch_scheduler_enabled", Read),
    ("service_scheduler_enabled", Read),
];

const SCHEDULER: &[(&str, Node)] = &[
    ("scheduler_algorithm", Read),
    ("preemption_config", Block(PREEMPTION)),
    ("memory_oversubscription_enabled", Read),
    ("reject_job_registration", Read),
    ("pause_eval_broker", Read),
    ("node_limit_for_feasibility_checks", Read),
];

/// `server { }` (Nomad's `ServerConfig`), plus this server's own license keys.
const SERVER: &[(&str, Node)] = &[
    ("enabled", Read),
    ("authoritative_region", Ignored),
    ("bootstrap_expect", Read),
    (
        "client_introduction",
        IgnoredBlock(&[("enforcement", Free), ("default_identity_ttl", Free), ("max_identity_ttl", Free)]),
    ),
    ("data_dir", Ignored),
    ("protocol_version", Ignored),
    ("raft_protocol", Read),
    ("raft_multiplier", Read),
    ("num_schedulers", Ignored),
    ("enabled_schedulers", Ignored),
    ("node_gc_threshold", Ignored),
    ("job_gc_interval", Ignored),
    ("job_gc_threshold", Ignored),
    ("eval_gc_threshold", Ignored),
    ("batch_eval_gc_threshold", Ignored),
    ("deployment_gc_threshold", Ignored),
    ("csi_volume_claim_gc_interval", Ignored),
    ("csi_volume_claim_gc_threshold", Ignored),
    ("csi_plugin_gc_threshold", Ignored),
    ("acl_token_gc_threshold", Ignored),
    ("root_key_gc_interval", Ignored),
    ("root_key_gc_threshold", Ignored),
    ("root_key_rotation_threshold", Ignored),
    ("heartbeat_grace", Ignored),
    ("min_heartbeat_ttl", Ignored),
    ("max_heartbeats_per_second", Ignored),
    ("failover_heartbeat_ttl", Ignored),
    ("start_join", Read),
    ("retry_join", Read),
    ("retry_max", Read),
    ("retry_interval", Read),
    ("rejoin_after_leave", Ignored),
    ("non_voting_server", Ignored),
    ("redundancy_zone", Ignored),
    ("upgrade_version", Ignored),
    ("encrypt", Read),
    ("server_join", Block(SERVER_JOIN)),
    ("default_scheduler_config", Block(SCHEDULER)),
    ("plan_rejection_tracker", IgnoredBlock(&[("enabled", Free), ("node_threshold", Free), ("node_window", Free)])),
    ("plan_apply_pipeline", Ignored),
    ("enable_event_broker", Ignored),
    ("event_buffer_size", Ignored),
    ("license_path", Read),
    ("license_public_keys", Read),
    (
        "search",
        IgnoredBlock(&[
            ("fuzzy_enabled", Free),
            ("limit_query", Free),
            ("limit_results", Free),
            ("min_term_length", Free),
        ]),
    ),
    ("deploy_query_rate_limit", Ignored),
    (
        "raft_logstore",
        IgnoredBlock(&[
            ("backend", Free),
            ("boltdb", Free),
            ("wal", Free),
            ("disable_log_cache", Free),
            ("verification", Free),
        ]),
    ),
    ("raft_boltdb", IgnoredBlock(&[("no_freelist_sync", Free)])),
    ("raft_snapshot_threshold", Read),
    ("raft_snapshot_interval", Ignored),
    ("raft_trailing_logs", Read),
    ("job_default_priority", Ignored),
    ("job_max_priority", Ignored),
    ("job_max_count", Ignored),
    ("job_max_source_size", Ignored),
    ("job_tracked_versions", Ignored),
    ("oidc_issuer", Ignored),
    ("start_timeout", Ignored),
    ("log_file", Ignored),
    ("non_production", Ignored),
];

/// `client { }` (Nomad's `ClientConfig`): only `enabled = false` is read.
const CLIENT: &[(&str, Node)] = &[
    ("enabled", Read),
    ("state_dir", Ignored),
    ("alloc_dir", Ignored),
    ("alloc_mounts_dir", Ignored),
    ("host_volumes_dir", Ignored),
    ("host_volume_plugin_dir", Ignored),
    ("common_plugin_dir", Ignored),
    ("servers", Ignored),
    ("node_class", Ignored),
    ("node_pool", Ignored),
    ("options", Ignored),
    ("meta", Ignored),
    ("chroot_env", Ignored),
    ("network_interface", Ignored),
    ("preferred_address_family", Ignored),
    ("network_speed", Ignored),
    ("cpu_disable_dmidecode", Ignored),
    ("cpu_total_compute", Ignored),
    ("memory_total_mb", Ignored),
    ("disk_total_mb", Ignored),
    ("disk_free_mb", Ignored),
    ("reservable_cores", Ignored),
    ("max_kill_timeout", Ignored),
    ("client_max_port", Ignored),
    ("client_min_port", Ignored),
    ("max_dynamic_port", Ignored),
    ("min_dynamic_port", Ignored),
    ("reserved", Ignored),
    ("gc_interval", Ignored),
    ("gc_parallel_destroys", Ignored),
    ("gc_disk_usage_threshold", Ignored),
    ("gc_inode_usage_threshold", Ignored),
    ("gc_max_allocs", Ignored),
    ("gc_volumes_on_node_gc", Ignored),
    ("no_host_uuid", Ignored),
    ("disable_remote_exec", Ignored),
    ("template", Ignored),
    ("server_join", IgnoredBlock(IGNORED_SERVER_JOIN)),
    ("host_volume", Ignored),
    ("cni_path", Ignored),
    ("cni_config_dir", Ignored),
    ("bridge_network_name", Ignored),
    ("bridge_network_subnet", Ignored),
    ("bridge_network_subnet_ipv6", Ignored),
    ("bridge_network_hairpin_mode", Ignored),
    ("host_network", Ignored),
    ("bind_wildcard_default_host_network", Ignored),
    ("cgroup_parent", Ignored),
    ("nomad_service_discovery", Ignored),
    ("artifact", Ignored),
    ("drain_on_shutdown", Ignored),
    ("users", Ignored),
    ("node_max_allocs", Ignored),
    ("log_file", Ignored),
    ("fingerprint", Ignored),
    ("default_ineligible", Ignored),
    // Nomad ignores it silently (config_parse.go: "stats is an unused key").
    ("stats", Ignored),
];

/// `telemetry { }` (Nomad's `Telemetry`).
const TELEMETRY: &[(&str, Node)] = &[
    ("in_memory_collection_interval", Read),
    ("in_memory_retention_period", Read),
    ("statsite_address", Ignored),
    ("statsd_address", Ignored),
    ("datadog_address", Ignored),
    ("datadog_tags", Ignored),
    ("prometheus_metrics", Read),
    ("disable_hostname", Read),
    ("use_node_name", Read),
    ("collection_interval", Read),
    ("publish_allocation_metrics", Ignored),
    ("publish_node_metrics", Ignored),
    ("include_alloc_metadata_in_metrics", Ignored),
    ("allowed_metadata_keys_in_metrics", Ignored),
    ("prefix_filter", Ignored),
    ("filter_default", Ignored),
    ("disable_dispatched_job_summary_metrics", Ignored),
    ("disable_quota_utilization_metrics", Ignored),
    ("disable_rpc_rate_metrics_labels", Ignored),
    ("disable_allocation_hook_metrics", Ignored),
    ("circonus_api_token", Ignored),
    ("circonus_api_app", Ignored),
    ("circonus_api_url", Ignored),
    ("circonus_submission_interval", Ignored),
    ("circonus_submission_url", Ignored),
    ("circonus_check_id", Ignored),
    ("circonus_check_force_metric_activation", Ignored),
    ("circonus_check_instance_id", Ignored),
    ("circonus_check_search_tag", Ignored),
    ("circonus_check_tags", Ignored),
    ("circonus_check_display_name", Ignored),
    ("circonus_broker_id", Ignored),
    ("circonus_broker_select_tag", Ignored),
];

/// `consul { }` (Nomad's `ConsulConfig`).
const CONSUL: &[(&str, Node)] = &[
    ("name", Free),
    ("server_service_name", Free),
    ("server_http_check_name", Free),
    ("server_serf_check_name", Free),
    ("server_rpc_check_name", Free),
    ("server_failures_before_critical", Free),
    ("server_failures_before_warning", Free),
    ("client_service_name", Free),
    ("client_http_check_name", Free),
    ("client_failures_before_critical", Free),
    ("client_failures_before_warning", Free),
    ("tags", Free),
    ("auto_advertise", Free),
    ("checks_use_advertise", Free),
    ("server_auto_join", Free),
    ("client_auto_join", Free),
    ("address", Free),
    ("grpc_address", Free),
    ("grpc_ca_file", Free),
    ("timeout", Free),
    ("token", Free),
    ("auth", Free),
    ("ssl", Free),
    ("share_ssl", Free),
    ("verify_ssl", Free),
    ("ca_file", Free),
    ("cert_file", Free),
    ("key_file", Free),
    ("namespace", Free),
    ("service_identity", Free),
    ("service_auth_method", Free),
    ("task_identity", Free),
    ("task_auth_method", Free),
    ("allow_unauthenticated", Free),
    ("enabled", Free),
];

/// `vault { }` (Nomad's `VaultConfig`).
const VAULT: &[(&str, Node)] = &[
    ("name", Free),
    ("enabled", Free),
    ("role", Free),
    ("namespace", Free),
    ("address", Free),
    ("jwt_auth_backend_path", Free),
    ("connection_retry_interval", Free),
    ("tls_server_name", Free),
    ("tls_skip_verify", Free),
    ("ca_file", Free),
    ("ca_path", Free),
    ("cert_file", Free),
    ("key_file", Free),
    ("create_from_role", Free),
    ("default_identity", Free),
    ("token", Free),
    ("allow_unauthenticated", Free),
    ("task_token_ttl", Free),
];

const UI: &[(&str, Node)] = &[
    ("enabled", Read),
    (
        "content_security_policy",
        Block(&[
            ("connect_src", Read),
            ("default_src", Read),
            ("form_action", Read),
            ("frame_ancestors", Read),
            ("img_src", Read),
            ("script_src", Read),
            ("style_src", Read),
        ]),
    ),
    ("consul", Block(&[("ui_url", Read)])),
    ("vault", Block(&[("ui_url", Read)])),
    ("label", Block(&[("text", Read), ("background_color", Read), ("text_color", Read)])),
    ("show_cli_hints", Read),
];

const AUDIT: &[(&str, Node)] = &[("enabled", Free), ("sink", Free), ("filter", Free)];

const SENTINEL: &[(&str, Node)] = &[("import", Free), ("additional_enabled_modules", Free)];

const REPORTING: &[(&str, Node)] = &[
    ("license", Free),
    ("address", Free),
    ("export_interval", Free),
    ("snapshot_retention_time", Free),
    ("disable_product_usage_reporting", Free),
];

const PLUGIN: &[(&str, Node)] = &[("args", Free), ("config", Free)];

const RPC: &[(&str, Node)] = &[
    ("accept_backlog", Free),
    ("keep_alive_interval", Free),
    ("connection_write_timeout", Free),
    ("stream_open_timeout", Free),
    ("stream_close_timeout", Free),
    ("dial_timeout", Free),
];

const ADDRS: &[(&str, Node)] = &[("http", Read), ("rpc", Read), ("serf", Read)];

/// The top level of an agent file (Nomad's `Config`), plus this server's `snapshot { }`.
pub const AGENT: &[(&str, Node)] = &[
    ("region", Read),
    ("datacenter", Read),
    ("name", Read),
    ("data_dir", Read),
    ("plugin_dir", Ignored),
    ("log_level", Read),
    ("log_json", Read),
    ("log_file", Ignored),
    ("log_include_location", Ignored),
    ("log_rotate_duration", Ignored),
    ("log_rotate_bytes", Ignored),
    ("log_rotate_max_files", Ignored),
    ("bind_addr", Read),
    ("enable_debug", Ignored),
    ("ports", Block(ADDRS)),
    ("addresses", IgnoredBlock(&[("http", Free), ("rpc", Free), ("serf", Free)])),
    ("advertise", Block(ADDRS)),
    ("client", Block(CLIENT)),
    ("server", Block(SERVER)),
    ("rpc", IgnoredBlock(RPC)),
    (
        "acl",
        Block(&[
            ("enabled", Read),
            ("token_ttl", Read),
            ("policy_ttl", Read),
            ("role_ttl", Read),
            ("replication_token", Ignored),
            ("token_min_expiration_ttl", Read),
            ("token_max_expiration_ttl", Read),
        ]),
    ),
    ("telemetry", Block(TELEMETRY)),
    ("leave_on_interrupt", Read),
    ("leave_on_terminate", Read),
    ("enable_syslog", Ignored),
    ("syslog_facility", Ignored),
    ("disable_update_check", Ignored),
    ("disable_anonymous_signature", Ignored),
    ("consul", IgnoredBlock(CONSUL)),
    ("vault", IgnoredBlock(VAULT)),
    ("ui", Block(UI)),
    (
        "tls",
        Block(&[
            ("http", Read),
            ("rpc", Read),
            ("verify_server_hostname", Read),
            ("ca_file", Read),
            ("cert_file", Read),
            ("key_file", Read),
            ("rpc_upgrade_mode", Read),
            ("verify_https_client", Read),
            ("tls_cipher_suites", Read),
            ("tls_min_version", Read),
            ("tls_prefer_server_cipher_suites", Read),
        ]),
    ),
    ("http_api_response_headers", Read),
    ("sentinel", IgnoredBlock(SENTINEL)),
    (
        "autopilot",
        Block(&[
            ("cleanup_dead_servers", Read),
            ("server_stabilization_time", Read),
            ("last_contact_threshold", Read),
            ("max_trailing_logs", Read),
            ("min_quorum", Read),
            ("enable_redundancy_zones", Read),
            ("disable_upgrade_migration", Read),
            ("enable_custom_upgrades", Read),
        ]),
    ),
    ("plugin", IgnoredLabelled(PLUGIN)),
    (
        "limits",
        Block(&[
            ("https_handshake_timeout", Read),
            ("http_max_conns_per_client", Read),
            ("rpc_handshake_timeout", Read),
            ("rpc_max_conns_per_client", Read),
        ]),
    ),
    ("audit", IgnoredBlock(AUDIT)),
    ("reporting", IgnoredBlock(REPORTING)),
    ("keyring", IgnoredLabelled(KEYRING)),
    ("eventlog", IgnoredBlock(&[("enabled", Free), ("level", Free)])),
    ("snapshot", Read),
];

/// Checks every key of one file against Nomad's schema and takes out what does not apply
/// here; returns the dotted paths taken out (for the one warning). The error is
/// `unknown key "a.b"`, the path of the first key Nomad would not know.
pub fn check(value: &mut Value) -> Result<Vec<String>, String> {
    let mut ignored = Vec::new();
    block(value, AGENT, "", true, &mut ignored)?;
    Ok(ignored)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// One block, written once (an object) or several times (a list of objects, as HCL1 gives
/// repeated blocks). Anything else is left for the typed decoder to word its error.
fn block(
    value: &mut Value,
    keys: &'static [(&'static str, Node)],
    path: &str,
    keep: bool,
    ignored: &mut Vec<String>,
) -> Result<(), String> {
    match value {
        Value::Object(map) => object(map, keys, path, keep, ignored),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(map) = item {
                    object(map, keys, &format!("{path}[{i}]"), keep, ignored)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `keep`: the block is read here, so ignored keys are taken out of it; otherwise the whole
/// block goes and its keys are only checked.
fn object(
    map: &mut Map<String, Value>,
    keys: &'static [(&'static str, Node)],
    path: &str,
    keep: bool,
    ignored: &mut Vec<String>,
) -> Result<(), String> {
    let mut out = Vec::new();
    for (key, v) in map.iter_mut() {
        let here = join(path, key);
        let Some((_, node)) = keys.iter().find(|(k, _)| k == key) else {
            return Err(format!("unknown key {here:?}"));
        };
        match node {
            Read | Free => {}
            Ignored => out.push(key.clone()),
            Block(sub) => block(v, sub, &here, keep, ignored)?,
            IgnoredBlock(sub) => {
                block(v, sub, &here, false, ignored)?;
                out.push(key.clone());
            }
            IgnoredLabelled(sub) => {
                labelled(v, sub, &here)?;
                out.push(key.clone());
            }
        }
    }
    if keep {
        for key in out {
            map.remove(&key);
            ignored.push(join(path, &key));
        }
    }
    Ok(())
}

/// `plugin "docker" { ... }`: an object of label to body (or a list of such objects).
fn labelled(value: &mut Value, keys: &'static [(&'static str, Node)], path: &str) -> Result<(), String> {
    let mut bodies: Vec<(String, &mut Value)> = Vec::new();
    match value {
        Value::Object(map) => bodies.extend(map.iter_mut().map(|(k, v)| (k.clone(), v))),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item {
                    bodies.extend(map.iter_mut().map(|(k, v)| (k.clone(), v)));
                }
            }
        }
        _ => {}
    }
    for (label, body) in bodies {
        // Keyring providers carry their own settings: only the body's shape is checked.
        if path == "keyring" {
            continue;
        }
        block(body, keys, &join(path, &label), false, &mut Vec::new())?;
    }
    Ok(())
}

/// The one warning an agent logs for what it set aside, or `None` when nothing was.
pub fn warning(ignored: &[String]) -> Option<String> {
    if ignored.is_empty() {
        return None;
    }
    // Repeated blocks' indexes say nothing here; a client block is one thing that does not
    // apply, however many of its keys are set.
    let mut names: Vec<String> = ignored
        .iter()
        .map(|p| {
            let mut name = String::with_capacity(p.len());
            let mut in_index = false;
            for c in p.chars() {
                match c {
                    '[' => in_index = true,
                    ']' => in_index = false,
                    c if !in_index => name.push(c),
                    _ => {}
                }
            }
            if name.starts_with("client.") {
                name.truncate("client".len());
            }
            name
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    Some(format!(
        "ignoring settings that do not apply to a raftwarden server (no clients, jobs or integrations): {}",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn known_keys_pass_and_what_does_not_apply_is_taken_out() {
        let mut v = json!({
            "server": {"enabled": true, "heartbeat_grace": "10s", "server_join": {"retry_join": ["a"]}},
            "client": {"enabled": false},
            "consul": {"address": "127.0.0.1:8500"},
            "plugin": {"docker": {"config": {"anything": {"goes": 1}}}},
            "telemetry": {"prometheus_metrics": true, "publish_node_metrics": true},
        });
        let ignored = check(&mut v).unwrap();
        assert_eq!(
            v,
            json!({
                "server": {"enabled": true, "server_join": {"retry_join": ["a"]}},
                "client": {"enabled": false},
                "telemetry": {"prometheus_metrics": true},
            })
        );
        assert_eq!(
            warning(&ignored).unwrap(),
            "ignoring settings that do not apply to a raftwarden server (no clients, jobs or integrations): \
             consul, plugin, server.heartbeat_grace, telemetry.publish_node_metrics"
        );
        assert_eq!(warning(&[]), None);
    }

    #[test]
    fn unknown_keys_name_their_path() {
        for (v, path) in [
            (json!({"telemetri": {}}), "telemetri"),
            (json!({"server": [{"enabled": true}, {"bogus": 1}]}), "server[1].bogus"),
            (json!({"consul": {"adress": "x"}}), "consul.adress"),
            (json!({"plugin": [{"docker": {"confg": {}}}]}), "plugin.docker.confg"),
            (json!({"plugin": {"docker": [{"config": {}}, {"arg": []}]}}), "plugin.docker[1].arg"),
            (json!({"ui": {"label": {"txt": "x"}}}), "ui.label.txt"),
            (
                json!({"server": {"default_scheduler_config": {"preemption_config": {"x": true}}}}),
                "server.default_scheduler_config.preemption_config.x",
            ),
        ] {
            let mut v = v;
            assert_eq!(check(&mut v).unwrap_err(), format!("unknown key {path:?}"));
        }
    }
}
