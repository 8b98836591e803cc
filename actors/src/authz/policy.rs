//! Nomad's ACL policy language (`acl/policy.go`): HCL1 (or JSON) rules parsed, validated and
//! expanded into plain data, with Nomad's error texts.
//!
//! Understood: `namespace "<glob>" { policy capabilities variables { path "<glob>" {
//! capabilities } } }`, `operator { policy capabilities }`, and the single-policy blocks
//! `agent`, `node`, `quota`, `plugin`. `node_pool "<glob>" {}` and `host_volume "<glob>" {}`
//! are accepted and kept out of decisions (no endpoint here needs them), so real Nomad
//! policies load unchanged.

use serde_json::Map;
use serde_json::Value;

use crate::hcl1;

pub const DENY: &str = "deny";
pub const READ: &str = "read";
pub const LIST: &str = "list";
pub const WRITE: &str = "write";
pub const SCALE: &str = "scale";

/// Operator capabilities (spec §5).
pub const OPERATOR_CAPABILITIES: [&str; 6] =
    ["deny", "snapshot-save", "license-read", "keyring-rotate", "keyring-read", "keyring-delete"];

/// Variable path capabilities.
pub const VARIABLE_CAPABILITIES: [&str; 5] = ["write", "read", "list", "destroy", "deny"];

const NAMESPACE_CAPABILITIES: &[&str] = &[
    "deny",
    "list-jobs",
    "parse-job",
    "read-job",
    "submit-job",
    "dispatch-job",
    "read-logs",
    "read-fs",
    "alloc-exec",
    "alloc-node-exec",
    "alloc-lifecycle",
    "sentinel-override",
    "csi-register-plugin",
    "csi-write-volume",
    "csi-read-volume",
    "csi-list-volume",
    "csi-mount-volume",
    "host-volume-create",
    "host-volume-register",
    "host-volume-read",
    "host-volume-write",
    "host-volume-delete",
    "list-scaling-policies",
    "read-scaling-policy",
    "read-job-scaling",
    "scale-job",
    "submit-recommendation",
    "register-job",
    "revert-job",
    "deregister-job",
    "purge-job",
    "evaluate-job",
    "plan-job",
    "tag-job-version",
    "stable-job",
    "fail-deployment",
    "pause-deployment",
    "promote-deployment",
    "unblock-deployment",
    "cancel-deployment",
    "set-alloc-health-deployment",
    "gc-allocation",
    "pause-allocation",
    "force-periodic-job",
    "delete-service-registration",
];

/// A parsed policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub namespaces: Vec<NamespacePolicy>,
    pub operator: Option<OperatorPolicy>,
    pub agent: Option<String>,
    pub node: Option<String>,
    pub quota: Option<String>,
    pub plugin: Option<String>,
    /// `node_pool` and `host_volume` blocks were present (kept for "not empty").
    pub other_blocks: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespacePolicy {
    pub name: String,
    pub policy: String,
    /// Expanded: the policy's capabilities appended.
    pub capabilities: Vec<String>,
    pub variables: Option<Vec<PathPolicy>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathPolicy {
    pub path: String,
    /// Expanded: `deny` alone, or `read` implying `list`.
    pub capabilities: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatorPolicy {
    pub policy: String,
    /// Expanded: the policy's capabilities appended.
    pub capabilities: Vec<String>,
}

/// Parses `rules` as Nomad's `acl.Parse(rules, strict)` does; the error is Nomad's text.
pub fn parse(rules: &str) -> Result<Policy, String> {
    if rules.is_empty() {
        return Ok(Policy::default());
    }
    let value = if rules.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(rules).map_err(|e| format!("Failed to parse ACL Policy: {e}"))?
    } else {
        hcl1::parse(rules).map_err(|e| format!("Failed to parse ACL Policy: {e}"))?
    };
    let Value::Object(top) = value else {
        return Err("Failed to parse ACL Policy: root should be an object".into());
    };
    let mut p = Policy::default();
    let mut extra = Vec::new();
    for (key, v) in &top {
        match key.as_str() {
            "namespace" => {
                for (name, body) in labeled(v) {
                    p.namespaces.push(namespace(&name, body)?);
                }
            }
            "node_pool" | "host_volume" => p.other_blocks = true,
            "operator" => p.operator = Some(operator(v)?),
            "agent" | "node" | "quota" | "plugin" => {
                let policy = body(v).and_then(|b| b.get("policy")).and_then(Value::as_str).unwrap_or("").to_string();
                match key.as_str() {
                    "agent" => p.agent = Some(policy),
                    "node" => p.node = Some(policy),
                    "quota" => p.quota = Some(policy),
                    _ => p.plugin = Some(policy),
                }
            }
            other => extra.push(other.to_string()),
        }
    }
    if p.namespaces.is_empty()
        && !p.other_blocks
        && p.operator.is_none()
        && p.agent.is_none()
        && p.node.is_none()
        && p.quota.is_none()
        && p.plugin.is_none()
    {
        return Err(format!("Invalid policy: {rules}"));
    }
    if !extra.is_empty() {
        return Err(format!("Invalid or duplicate policy keys: {}", extra.join(", ")));
    }
    for (what, policy) in [("agent", &p.agent), ("node", &p.node), ("quota", &p.quota)] {
        if let Some(policy) = policy {
            if !is_policy_valid(policy) {
                let ty = format!("{}{}Policy", what[..1].to_uppercase(), &what[1..]);
                return Err(format!("Invalid {what} policy: &acl.{ty}{{Policy:{}}}", go_quote(policy)));
            }
        }
    }
    if let Some(op) = &p.operator {
        if !op.policy.is_empty() && !is_policy_valid(&op.policy) {
            return Err(format!(
                "Invalid operator policy: &acl.OperatorPolicy{{Policy:{}, Capabilities:{}}}",
                go_quote(&op.policy),
                go_strings(&op.capabilities)
            ));
        }
    }
    if let Some(plugin) = &p.plugin {
        if ![DENY, READ, LIST, WRITE].contains(&plugin.as_str()) {
            return Err(format!("Invalid plugin policy: &acl.PluginPolicy{{Policy:{}}}", go_quote(plugin)));
        }
    }
    if let Some(op) = &mut p.operator {
        if let Some(bad) = op.capabilities.iter().find(|c| !OPERATOR_CAPABILITIES.contains(&c.as_str())) {
            return Err(format!("Invalid operator capability '{bad}'"));
        }
        let extra = expand_operator_policy(&op.policy);
        op.capabilities.extend(extra.iter().map(|c| c.to_string()));
    }
    Ok(p)
}

/// Nomad's `ACLPolicy.Validate`: the name (1 to 128 of `[a-zA-Z0-9-]`), the rules (parsed
/// strictly) and the description (at most 256 bytes); every problem, in Nomad's words.
pub fn validate(name: &str, description: &str, rules: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let name_ok = (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok {
        errors.push(format!("invalid name '{name}'"));
    }
    if let Err(e) = parse(rules) {
        errors.push(format!("failed to parse rules: {e}"));
    }
    if description.len() > 256 {
        errors.push("description longer than 256".into());
    }
    errors
}

fn is_policy_valid(policy: &str) -> bool {
    [DENY, READ, WRITE, SCALE].contains(&policy)
}

/// `read` grants license-read and keyring-read; `write` every capability but deny.
fn expand_operator_policy(policy: &str) -> &'static [&'static str] {
    match policy {
        DENY => &["deny"],
        READ => &["license-read", "keyring-read"],
        WRITE => &["snapshot-save", "license-read", "keyring-rotate", "keyring-read", "keyring-delete"],
        _ => &[],
    }
}

fn expand_namespace_policy(policy: &str) -> Vec<&'static str> {
    let read = [
        "list-jobs",
        "parse-job",
        "read-job",
        "csi-list-volume",
        "csi-read-volume",
        "read-job-scaling",
        "list-scaling-policies",
        "read-scaling-policy",
        "host-volume-read",
    ];
    match policy {
        DENY => vec!["deny"],
        READ => read.to_vec(),
        WRITE => {
            let mut w = read.to_vec();
            w.extend([
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
            ]);
            w
        }
        SCALE => vec![
            "list-scaling-policies",
            "read-scaling-policy",
            "read-job-scaling",
            "scale-job",
            "read-job",
            "submit-recommendation",
        ],
        _ => Vec::new(),
    }
}

fn expand_variables_capabilities(caps: Vec<String>) -> Vec<String> {
    if caps.iter().any(|c| c == DENY) {
        return vec![DENY.into()];
    }
    let mut caps = caps;
    if caps.iter().any(|c| c == READ) && !caps.iter().any(|c| c == LIST) {
        caps.push(LIST.into());
    }
    caps
}

/// The body of a single block (`operator { ... }`), also when repeated (the last wins).
fn body(v: &Value) -> Option<&Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m),
        Value::Array(items) => items.iter().rev().find_map(Value::as_object),
        _ => None,
    }
}

/// The (label, body) pairs of a labeled block in HCL1's JSON form: `{"a": {...}}`, a list of
/// such objects (repeated blocks), or a label given several bodies.
fn labeled(v: &Value) -> Vec<(String, &Map<String, Value>)> {
    let mut out = Vec::new();
    match v {
        Value::Object(m) => push_labeled(m, &mut out),
        Value::Array(items) => {
            for item in items.iter().filter_map(Value::as_object) {
                push_labeled(item, &mut out);
            }
        }
        _ => {}
    }
    out
}

fn push_labeled<'a>(m: &'a Map<String, Value>, out: &mut Vec<(String, &'a Map<String, Value>)>) {
    for (label, body) in m {
        match body {
            Value::Array(bodies) => out.extend(bodies.iter().filter_map(Value::as_object).map(|b| (label.clone(), b))),
            Value::Object(b) => out.push((label.clone(), b)),
            _ => {}
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
}

fn namespace(name: &str, body: &Map<String, Value>) -> Result<NamespacePolicy, String> {
    let policy = body.get("policy").and_then(Value::as_str).unwrap_or("").to_string();
    let mut ns = NamespacePolicy {
        name: name.to_string(),
        policy: policy.clone(),
        capabilities: strings(body.get("capabilities")),
        variables: None,
    };
    let describe = |ns: &NamespacePolicy| {
        format!(
            "&acl.NamespacePolicy{{Name:{}, Policy:{}, Capabilities:{}, Variables:(*acl.VariablesPolicy)(nil)}}",
            go_quote(&ns.name),
            go_quote(&ns.policy),
            go_strings(&ns.capabilities)
        )
    };
    if !valid_name(name) {
        return Err(format!("Invalid namespace name: {}", describe(&ns)));
    }
    if !policy.is_empty() && !is_policy_valid(&policy) {
        return Err(format!("Invalid namespace policy: {}", describe(&ns)));
    }
    if let Some(bad) = ns.capabilities.iter().find(|c| !NAMESPACE_CAPABILITIES.contains(&c.as_str())) {
        return Err(format!("Invalid namespace capability '{bad}': {}", describe(&ns)));
    }
    ns.capabilities.extend(expand_namespace_policy(&policy).into_iter().map(str::to_string));
    // Nomad's expandNamespaceCapabilities: host volume capabilities imply the lesser ones
    // (duplicates kept, as Nomad keeps them).
    let implied: Vec<&str> = ns
        .capabilities
        .iter()
        .flat_map(|c| match c.as_str() {
            "host-volume-write" => {
                &["host-volume-register", "host-volume-create", "host-volume-delete", "host-volume-read"][..]
            }
            "host-volume-register" => &["host-volume-create", "host-volume-read"][..],
            "host-volume-create" => &["host-volume-read"][..],
            _ => &[][..],
        })
        .copied()
        .collect();
    ns.capabilities.extend(implied.into_iter().map(str::to_string));
    if let Some(vars) = body.get("variables") {
        let paths: Vec<(String, &Map<String, Value>)> =
            body_of(vars).and_then(|b| b.get("path")).map(labeled).unwrap_or_default();
        if paths.is_empty() {
            return Err(format!("Invalid variable policy: no variable paths in namespace {name}"));
        }
        let mut out = Vec::new();
        for (path, pbody) in paths {
            if path.is_empty() {
                return Err(format!("Invalid missing variable path in namespace {name}"));
            }
            if path.starts_with('/') {
                return Err(format!(
                    "Invalid variable path {} in namespace {name}: cannot start with a leading '/'`",
                    go_quote(&path)
                ));
            }
            let caps = strings(pbody.get("capabilities"));
            if let Some(bad) = caps.iter().find(|c| !VARIABLE_CAPABILITIES.contains(&c.as_str())) {
                return Err(format!("Invalid variable capability '{bad}' in namespace {name}"));
            }
            out.push(PathPolicy { path, capabilities: expand_variables_capabilities(caps) });
        }
        ns.variables = Some(out);
    }
    Ok(ns)
}

fn body_of(v: &Value) -> Option<&Map<String, Value>> {
    body(v)
}

fn operator(v: &Value) -> Result<OperatorPolicy, String> {
    let b = body(v);
    let policy = b.and_then(|b| b.get("policy")).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(OperatorPolicy { policy, capabilities: strings(b.and_then(|b| b.get("capabilities"))) })
}

/// Nomad's `RulesJSON` (`nomad/acl_endpoint.go` GetPolicy): `json.Marshal` of the
/// `*acl.Policy` that `acl.Parse` made of `raw` (no json tags, so Go's field names and order;
/// nil pointers and slices as `null`; `ExtraKeysHCL` is always cleared by `Parse`). The
/// `node_pool` and `host_volume` blocks are not kept by [`parse`], so they are `null` here.
pub fn rules_json(p: &Policy, raw: &str) -> Value {
    use serde_json::json;
    let strings = |items: &[String]| if items.is_empty() { Value::Null } else { json!(items) };
    let single = |policy: &Option<String>| policy.as_ref().map_or(Value::Null, |policy| json!({ "Policy": policy }));
    let namespaces: Vec<Value> = p
        .namespaces
        .iter()
        .map(|ns| {
            let variables = ns.variables.as_ref().map_or(Value::Null, |paths| {
                let paths: Vec<Value> = paths
                    .iter()
                    .map(|path| json!({ "PathSpec": path.path, "Capabilities": strings(&path.capabilities) }))
                    .collect();
                json!({ "Paths": paths })
            });
            json!({
                "Name": ns.name,
                "Policy": ns.policy,
                "Capabilities": strings(&ns.capabilities),
                "Variables": variables,
            })
        })
        .collect();
    let operator = p
        .operator
        .as_ref()
        .map_or(Value::Null, |op| json!({ "Policy": op.policy, "Capabilities": strings(&op.capabilities) }));
    json!({
        "Namespaces": if namespaces.is_empty() { Value::Null } else { Value::Array(namespaces) },
        "NodePools": null,
        "HostVolumes": null,
        "Agent": single(&p.agent),
        "Node": single(&p.node),
        "Operator": operator,
        "Sentinel": null,
        "Quota": single(&p.quota),
        "Plugin": single(&p.plugin),
        "Raw": raw,
        "ExtraKeysHCL": null,
    })
}

fn go_quote(s: &str) -> String {
    crate::go::quote_bytes(s.as_bytes())
}

/// Go's `%#v` of a `[]string`.
fn go_strings(items: &[String]) -> String {
    if items.is_empty() {
        return "[]string(nil)".into();
    }
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_json_is_the_parsed_policy_as_go_marshals_it() {
        let raw = "namespace \"default\" {\n  policy = \"read\"\n  variables {\n    path \"app/*\" { capabilities = [\"read\"] }\n  }\n}\noperator { policy = \"read\" }\nagent { policy = \"write\" }\n";
        let got = rules_json(&parse(raw).unwrap(), raw);
        let text = serde_json::to_string(&got).unwrap();
        assert_eq!(
            text,
            format!(
                concat!(
                    r#"{{"Namespaces":[{{"Name":"default","Policy":"read","Capabilities":["list-jobs","parse-job","#,
                    r#""read-job","csi-list-volume","csi-read-volume","read-job-scaling","list-scaling-policies","#,
                    r#""read-scaling-policy","host-volume-read"],"Variables":{{"Paths":[{{"PathSpec":"app/*","#,
                    r#""Capabilities":["read","list"]}}]}}}}],"NodePools":null,"HostVolumes":null,"#,
                    r#""Agent":{{"Policy":"write"}},"Node":null,"Operator":{{"Policy":"read","#,
                    r#""Capabilities":["license-read","keyring-read"]}},"Sentinel":null,"Quota":null,"#,
                    r#""Plugin":null,"Raw":{},"ExtraKeysHCL":null}}"#
                ),
                serde_json::to_string(raw).unwrap()
            )
        );
        assert_eq!(rules_json(&Policy::default(), "")["Namespaces"], Value::Null);
    }

    #[test]
    fn policy_validation_in_nomads_words() {
        assert!(validate("ops", "", r#"operator { policy = "read" }"#).is_empty());
        assert_eq!(validate("bad name", "", r#"operator { policy = "read" }"#), ["invalid name 'bad name'"]);
        assert_eq!(
            validate("ops", "", r#"operator { capabilities = ["x"] }"#),
            ["failed to parse rules: Invalid operator capability 'x'"]
        );
    }

    #[test]
    fn policies_parse_with_nomads_errors() {
        let ok = |rules: &str| parse(rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
        let err = |rules: &str| parse(rules).unwrap_err();

        let p = ok(r#"operator { policy = "read" }"#);
        assert_eq!(p.operator.unwrap().capabilities, ["license-read", "keyring-read"]);
        let p = ok(r#"operator { capabilities = ["snapshot-save"] }"#);
        assert_eq!(
            p.operator.unwrap(),
            OperatorPolicy { policy: "".into(), capabilities: vec!["snapshot-save".into()] }
        );
        let p = ok(r#"
namespace "default" {
  policy = "read"
  variables {
    path "app/*" { capabilities = ["read"] }
    path "secret" { capabilities = ["write", "deny"] }
  }
}
namespace "prod-*" { capabilities = ["list-jobs"] }
node { policy = "read" }
agent { policy = "write" }
node_pool "*" { policy = "read" }
host_volume "v" { policy = "write" }
"#);
        assert_eq!(p.namespaces.len(), 2);
        let vars = p.namespaces[0].variables.clone().unwrap();
        assert_eq!(vars[0], PathPolicy { path: "app/*".into(), capabilities: vec!["read".into(), "list".into()] });
        assert_eq!(vars[1].capabilities, ["deny"]);
        assert!(p.namespaces[0].capabilities.contains(&"read-job".to_string()));
        assert_eq!(p.agent.as_deref(), Some("write"));
        let json = ok(r#"{"operator": {"policy": "write"}}"#);
        assert_eq!(json.operator.unwrap().policy, "write");

        let cases = [
            (r#"operator { capabilities = ["fly"] }"#, "Invalid operator capability 'fly'"),
            (
                r#"operator { policy = "admin" }"#,
                r#"Invalid operator policy: &acl.OperatorPolicy{Policy:"admin", Capabilities:[]string(nil)}"#,
            ),
            ("bogus { policy = \"read\" }", "Invalid policy: bogus { policy = \"read\" }"),
            ("operator { policy = \"read\" }\nbogus = 1", "Invalid or duplicate policy keys: bogus"),
            (
                r#"namespace "default" { variables { } }"#,
                "Invalid variable policy: no variable paths in namespace default",
            ),
            (
                r#"namespace "default" { variables { path "/x" { capabilities = ["read"] } } }"#,
                "Invalid variable path \"/x\" in namespace default: cannot start with a leading '/'`",
            ),
            (
                r#"namespace "default" { variables { path "x" { capabilities = ["fly"] } } }"#,
                "Invalid variable capability 'fly' in namespace default",
            ),
            (r#"namespace "a b" { policy = "read" }"#, "Invalid namespace name: "),
            (r#"namespace "a" { policy = "own" }"#, "Invalid namespace policy: "),
            (r#"namespace "a" { capabilities = ["fly"] }"#, "Invalid namespace capability 'fly': "),
            ("operator {", "Failed to parse ACL Policy: "),
        ];
        for (rules, want) in cases {
            let got = err(rules);
            assert!(got.starts_with(want), "{rules}: got {got:?}, want {want:?}");
        }
    }
}
