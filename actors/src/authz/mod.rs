//! ACL decisions as pure functions: a resolved set of policies compiles into an [`Acl`]
//! (Nomad's `acl.NewACL`), and [`allows`] answers one [`Requirement`] (Nomad's
//! `Allow*` methods). No I/O: the server that runs an operation resolves its [`Caller`] against
//! its own replicated tables into an [`Authority`], and the operation's [`Guarded::authorize`]
//! asks here.
//!
//! Precedence is Nomad's: across policies the operator (agent, node) level is the highest
//! granted with `deny` dominating; capabilities are a union in which `deny` clears the rest;
//! a namespace or variable path is matched exactly first, else by the closest glob (the
//! fewest characters the glob's `*`s stand for).

mod caller;
pub mod policy;

use std::collections::BTreeMap;
use std::collections::BTreeSet;

pub use self::caller::Authority;
pub use self::caller::Caller;
pub use self::caller::Denied;
pub use self::caller::Guarded;
pub use self::caller::Resolved;
pub use self::caller::Unresolved;
use self::policy::Policy;

type CapSet = BTreeSet<String>;

/// A compiled set of policies, or a management token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl {
    management: bool,
    namespaces: BTreeMap<String, CapSet>,
    wildcard_namespaces: BTreeMap<String, CapSet>,
    /// Keyed by `namespace \0 path`, as Nomad's radix trees.
    variables: BTreeMap<String, CapSet>,
    wildcard_variables: BTreeMap<String, CapSet>,
    operator: String,
    operator_caps: CapSet,
    agent: String,
    node: String,
}

/// What an endpoint requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement<'a> {
    /// A management token (raft configuration, peer removal, transfer, restore, ACL writes).
    Management,
    /// `operator { policy = "read" }` or more.
    OperatorRead,
    /// `operator { policy = "write" }`.
    OperatorWrite,
    /// Operator write, or this operator capability (`snapshot-save`, ...).
    OperatorCapability(&'a str),
    /// The license: operator read, or the `license-read` capability.
    LicenseRead,
    AgentRead,
    AgentWrite,
    NodeRead,
    /// A namespace capability (`read-job`, ...): Nomad's `AllowNamespaceOperation`.
    Namespace {
        namespace: &'a str,
        op: &'a str,
    },
    /// A variable operation (`read`, `write`, `list`, `destroy`) on one path.
    Variable {
        namespace: &'a str,
        path: &'a str,
        op: &'a str,
    },
    /// Any variables rule at all in the namespace (`*`: in any namespace): Nomad's
    /// `AllowVariableSearch`, the gate of a listing that is then filtered per path.
    VariableSearch {
        namespace: &'a str,
    },
}

/// Nomad's `maxPrivilege`: deny dominates, then write, read, list.
fn max_privilege(a: &str, b: &str) -> String {
    for level in [policy::DENY, policy::WRITE, policy::READ, policy::LIST] {
        if a == level || b == level {
            return level.to_string();
        }
    }
    String::new()
}

/// Adds `caps` to `set`, with Nomad's deny rule: a set holding deny takes nothing more; a
/// deny among `caps` replaces everything.
fn add_caps(set: &mut CapSet, caps: &[String]) {
    if set.contains(policy::DENY) {
        return;
    }
    for cap in caps {
        if cap == policy::DENY {
            set.clear();
            set.insert(cap.clone());
            return;
        }
        set.insert(cap.clone());
    }
}

impl Acl {
    /// The ACL of a management token: everything allowed.
    pub fn management() -> Self {
        Self { management: true, ..Self::default() }
    }

    pub fn is_management(&self) -> bool {
        self.management
    }

    /// Nomad's `NewACL` over parsed policies.
    pub fn compile(policies: &[Policy]) -> Self {
        let mut acl = Self::default();
        for p in policies {
            for ns in &p.namespaces {
                let glob = ns.name.contains('*');
                let target = if glob { &mut acl.wildcard_namespaces } else { &mut acl.namespaces };
                add_caps(target.entry(ns.name.clone()).or_default(), &ns.capabilities);
                for path in ns.variables.iter().flatten() {
                    let key = format!("{}\0{}", ns.name, path.path);
                    let target =
                        if glob || path.path.contains('*') { &mut acl.wildcard_variables } else { &mut acl.variables };
                    // Variable capabilities are a plain union (deny was expanded to stand alone).
                    target.entry(key).or_default().extend(path.capabilities.iter().cloned());
                }
            }
            if let Some(op) = &p.operator {
                acl.operator = max_privilege(&acl.operator, &op.policy);
                add_caps(&mut acl.operator_caps, &op.capabilities);
            }
            if let Some(agent) = &p.agent {
                acl.agent = max_privilege(&acl.agent, agent);
            }
            if let Some(node) = &p.node {
                acl.node = max_privilege(&acl.node, node);
            }
        }
        acl
    }

    fn operator_level(&self, levels: &[&str]) -> bool {
        levels.contains(&self.operator.as_str())
    }

    fn variable_caps(&self, namespace: &str, path: &str) -> Option<&CapSet> {
        let key = format!("{namespace}\0{path}");
        self.variables.get(&key).or_else(|| closest_glob(&self.wildcard_variables, &key))
    }

    /// Whether this ACL allows `req`.
    pub fn allows(&self, req: &Requirement<'_>) -> bool {
        if self.management {
            return true;
        }
        match *req {
            Requirement::Management => false,
            Requirement::OperatorRead => self.operator_level(&[policy::READ, policy::WRITE]),
            Requirement::OperatorWrite => self.operator_level(&[policy::WRITE]),
            Requirement::OperatorCapability(cap) => {
                self.operator_level(&[policy::WRITE]) || self.operator_caps.contains(cap)
            }
            Requirement::LicenseRead => {
                self.operator_level(&[policy::READ, policy::WRITE]) || self.operator_caps.contains("license-read")
            }
            Requirement::AgentRead => [policy::READ, policy::WRITE].contains(&self.agent.as_str()),
            Requirement::AgentWrite => self.agent == policy::WRITE,
            Requirement::NodeRead => [policy::READ, policy::WRITE].contains(&self.node.as_str()),
            Requirement::Namespace { namespace, op } => self
                .namespaces
                .get(namespace)
                .or_else(|| closest_glob(&self.wildcard_namespaces, namespace))
                .is_some_and(|caps| caps.contains(op)),
            Requirement::Variable { namespace, path, op } => {
                self.variable_caps(namespace, path).is_some_and(|caps| caps.contains(op))
            }
            Requirement::VariableSearch { namespace } => {
                if namespace == "*" {
                    return !self.variables.is_empty() || !self.wildcard_variables.is_empty();
                }
                let prefix = namespace.as_bytes();
                self.variables.keys().chain(self.wildcard_variables.keys()).any(|k| k.as_bytes().starts_with(prefix))
            }
        }
    }
}

/// Whether ACLs allow `req`: `None` is "ACLs disabled", which allows everything.
pub fn allows(acl: Option<&Acl>, req: &Requirement<'_>) -> bool {
    acl.is_none_or(|acl| acl.allows(req))
}

/// The capability set of the glob closest to `name` (Nomad's `findClosestMatchingGlob`): the
/// smallest difference `len(name) - len(glob) + count('*')`; among equals, the last in key
/// order (what Nomad's stable sort with `<=` leaves first).
fn closest_glob<'a>(globs: &'a BTreeMap<String, CapSet>, name: &str) -> Option<&'a CapSet> {
    let mut best: Option<(i64, &CapSet)> = None;
    for (glob, caps) in globs {
        if !glob_match(glob, name) {
            continue;
        }
        let difference = name.len() as i64 - glob.len() as i64 + glob.matches('*').count() as i64;
        if best.is_none_or(|(d, _)| difference <= d) {
            best = Some((difference, caps));
        }
    }
    best.map(|(_, caps)| caps)
}

/// `ryanuber/go-glob`: `*` matches any run of characters (also `/` and the namespace
/// separator); everything else literally.
pub fn glob_match(pattern: &str, subject: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == subject;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !subject.starts_with(first) {
        return false;
    }
    let mut rest = &subject[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last) && rest.len() >= last.len()
}

/// Parses the rules of resolved policies, leniently: a stored policy that no longer parses
/// grants nothing rather than failing every request.
pub fn compile_rules<'a>(rules: impl IntoIterator<Item = &'a str>) -> Acl {
    let parsed: Vec<Policy> = rules.into_iter().filter_map(|r| policy::parse(r).ok()).collect();
    Acl::compile(&parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(rules: &[&str]) -> Acl {
        let parsed: Vec<Policy> = rules.iter().map(|r| policy::parse(r).unwrap()).collect();
        Acl::compile(&parsed)
    }

    fn op_cap(cap: &str) -> Requirement<'_> {
        Requirement::OperatorCapability(cap)
    }

    /// Spec §10 items 80-86.
    #[test]
    fn operator_capabilities_as_nomad_tests_them() {
        let caps = ["snapshot-save", "license-read", "keyring-rotate", "keyring-read", "keyring-delete"];
        let write = acl(&[r#"operator { policy = "write" }"#]);
        for cap in caps {
            assert!(write.allows(&op_cap(cap)), "80: write allows {cap}");
        }
        let read = acl(&[r#"operator { policy = "read" }"#]);
        for (cap, want) in [
            ("license-read", true),
            ("keyring-read", true),
            ("snapshot-save", false),
            ("keyring-rotate", false),
            ("keyring-delete", false),
        ] {
            assert_eq!(read.allows(&op_cap(cap)), want, "81: read and {cap}");
        }
        let deny_plus = acl(&[r#"operator { policy = "deny" capabilities = ["license-read"] }"#]);
        assert!(!deny_plus.allows(&op_cap("license-read")), "82");
        let read_plus = acl(&[r#"operator { policy = "read" capabilities = ["snapshot-save"] }"#]);
        assert!(read_plus.allows(&op_cap("snapshot-save")), "83");
        for cap in ["license-read", "keyring-rotate", "keyring-read", "keyring-delete"] {
            let rules = format!(r#"operator {{ capabilities = ["{cap}"] }}"#);
            assert!(acl(&[&rules]).allows(&op_cap(cap)), "84: {cap} allows itself");
        }
        let two = acl(&[r#"operator { capabilities = ["snapshot-save", "license-read"] }"#]);
        assert!(two.allows(&op_cap("snapshot-save")), "84");
        let save = acl(&[r#"operator { capabilities = ["snapshot-save"] }"#]);
        assert!(!save.allows(&op_cap("keyring-rotate")), "84");
        assert!(!save.allows(&Requirement::OperatorRead), "a capability is not a level");
        for rules in
            [r#"operator { capabilities = ["deny"] }"#, r#"operator { capabilities = ["snapshot-save", "deny"] }"#]
        {
            assert!(!acl(&[rules]).allows(&op_cap("snapshot-save")), "85: {rules}");
        }
        assert!(!acl(&[r#"node { policy = "write" }"#]).allows(&op_cap("snapshot-save")), "85: no operator block");
        assert!(!Acl::default().allows(&op_cap("snapshot-save")), "86: nil ACL denies");
        assert!(Acl::management().allows(&op_cap("snapshot-save")), "86: management allows");
        assert!(allows(None, &op_cap("snapshot-save")), "86: ACLs disabled allow");
    }

    #[test]
    fn levels_merge_with_deny_dominating() {
        let cases: Vec<(Vec<&str>, Requirement<'static>, bool)> = vec![
            (vec![r#"operator { policy = "read" }"#], Requirement::OperatorRead, true),
            (vec![r#"operator { policy = "read" }"#], Requirement::OperatorWrite, false),
            (
                vec![r#"operator { policy = "read" }"#, r#"operator { policy = "write" }"#],
                Requirement::OperatorWrite,
                true,
            ),
            (
                vec![r#"operator { policy = "write" }"#, r#"operator { policy = "deny" }"#],
                Requirement::OperatorRead,
                false,
            ),
            (vec![r#"operator { policy = "write" }"#], Requirement::Management, false),
            (vec![r#"operator { capabilities = ["license-read"] }"#], Requirement::LicenseRead, true),
            (vec![r#"operator { policy = "read" }"#], Requirement::LicenseRead, true),
            (vec![r#"agent { policy = "read" }"#], Requirement::AgentRead, true),
            (vec![r#"agent { policy = "read" }"#], Requirement::AgentWrite, false),
            (vec![r#"node { policy = "write" }"#], Requirement::OperatorRead, false),
        ];
        for (rules, req, want) in cases {
            assert_eq!(acl(&rules).allows(&req), want, "{rules:?} {req:?}");
        }
    }

    #[test]
    fn variables_match_exactly_then_by_closest_glob() {
        let rules = r#"
namespace "default" {
  variables {
    path "app/*" { capabilities = ["read"] }
    path "app/secret" { capabilities = ["deny"] }
    path "app/db/*" { capabilities = ["write", "destroy"] }
  }
}
namespace "prod-*" {
  variables { path "*" { capabilities = ["list"] } }
}
"#;
        let a = acl(&[rules]);
        let var = |namespace, path, op| Requirement::Variable { namespace, path, op };
        let cases = [
            ("default", "app/x", "read", true),
            ("default", "app/x", "list", true),
            ("default", "app/x", "write", false),
            ("default", "app/secret", "read", false),
            ("default", "app/db/pass", "write", true),
            ("default", "app/db/pass", "read", false),
            ("default", "other", "read", false),
            ("prod-eu", "anything/at/all", "list", true),
            ("prod-eu", "anything", "read", false),
            ("staging", "app/x", "read", false),
        ];
        for (ns, path, op, want) in cases {
            assert_eq!(a.allows(&var(ns, path, op)), want, "{ns} {path} {op}");
        }
        assert!(a.allows(&Requirement::VariableSearch { namespace: "default" }));
        let ns = acl(&[r#"namespace "prod-*" { policy = "read" }"#, r#"namespace "prod-eu" { policy = "deny" }"#]);
        assert!(ns.allows(&Requirement::Namespace { namespace: "prod-us", op: "read-job" }));
        assert!(!ns.allows(&Requirement::Namespace { namespace: "prod-eu", op: "read-job" }), "exact beats glob");
        assert!(a.allows(&Requirement::VariableSearch { namespace: "*" }));
        assert!(!a.allows(&Requirement::VariableSearch { namespace: "staging" }));
        assert!(!acl(&[r#"operator { policy = "write" }"#]).allows(&Requirement::VariableSearch { namespace: "*" }));
    }

    #[test]
    fn glob_matching_as_go_glob() {
        let cases = [
            ("*", "", true),
            ("a*", "abc", true),
            ("*c", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "ab", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("ab*ba", "aba", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(glob_match(p, s), want, "{p} ~ {s}");
        }
    }
}
