//! Nomad variables: the row shape, Nomad's validation rules, and the decisions of a set or a
//! delete (check-and-set included), as plain functions over the one row they touch.
//!
//! Nomad decides CAS in its state store inside the FSM apply (`state_store_variables.go`); so
//! does [`super::apply()`] here, through these functions, so two competing CAS writes are ordered
//! by the raft log. A conflict is not an error: the outcome carries the current variable (or a
//! zero value naming the path when there is none), which Nomad answers with a 409.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

/// Nomad's `maxVariableSize`: the sum of the lengths of every item key and value.
pub const MAX_VARIABLE_SIZE: u64 = 65536;

/// Nomad's limit on a path's length (part of its path regex).
pub const MAX_PATH_LEN: usize = 128;

/// The namespace a variable lands in when neither the body nor the query names one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The namespace wildcard of list requests; never a variable's namespace.
pub const ALL_NAMESPACES: &str = "*";

/// A variable as stored and as Nomad's `VariableDecrypted` shows it. Times are unix
/// nanoseconds, stamped by the leader before the write enters the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub namespace: String,
    pub path: String,
    pub items: BTreeMap<String, String>,
    pub create_index: u64,
    pub create_time: i64,
    pub modify_index: u64,
    pub modify_time: i64,
}

impl Variable {
    /// Nomad's `VariableItems.Size`: key and value bytes of every item.
    pub fn size(&self) -> u64 {
        self.items.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
    }

    /// The list entry of this variable (Nomad's `VariableMetadata`, without items).
    pub fn metadata(&self) -> VariableMetadata {
        VariableMetadata {
            namespace: self.namespace.clone(),
            path: self.path.clone(),
            create_index: self.create_index,
            create_time: self.create_time,
            modify_index: self.modify_index,
            modify_time: self.modify_time,
        }
    }
}

/// A variable without its items: what a list returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableMetadata {
    pub namespace: String,
    pub path: String,
    pub create_index: u64,
    pub create_time: i64,
    pub modify_index: u64,
    pub modify_time: i64,
}

impl crate::bexpr::Datum for VariableMetadata {
    /// The fields a `?filter=` on a listing can name: Nomad's `VariableMetadata` (Go types).
    fn field(&self, name: &str) -> Option<crate::bexpr::Field<'_>> {
        use crate::bexpr::Field;
        Some(match name {
            "Namespace" => Field::Str(&self.namespace),
            "Path" => Field::Str(&self.path),
            "CreateIndex" => Field::Uint(self.create_index),
            "CreateTime" => Field::Int(self.create_time),
            "ModifyIndex" => Field::Uint(self.modify_index),
            "ModifyTime" => Field::Int(self.modify_time),
            _ => return None,
        })
    }
}

/// Why a variable write is refused (Nomad's `VariableDecrypted.Validate`, in its order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum VarInvalid {
    #[error("can not target wildcard (\"*\")namespace")]
    WildcardNamespace,
    #[error("empty variables are invalid")]
    Empty,
    #[error("variables are limited to 64KiB in total size")]
    TooLarge,
    #[error("variable requires path")]
    MissingPath,
    /// The path is not `^[a-zA-Z0-9-_~/]{1,128}$`; Nomad quotes it with Go's `%q`.
    #[error("invalid path {0:?}")]
    InvalidPath(String),
    #[error("\"nomad\" is a reserved top-level directory path, but you may write variables to \"nomad/jobs\", \"nomad/job-templates\", or below")]
    ReservedNomad,
    #[error("\"nomad/job-templates\" is a reserved directory path, but you may write variables at the level below it, for example, \"nomad/job-templates/template-name\"")]
    ReservedJobTemplates,
    #[error("only paths at \"nomad/jobs\" or \"nomad/job-templates\" and below are valid paths under the top-level \"nomad\" directory")]
    ReservedNomadSubpath,
    #[error("delete requires a Path")]
    DeleteWithoutPath,
}

/// Nomad's `validatePath`.
pub fn validate_path(path: &str) -> Result<(), VarInvalid> {
    if path.is_empty() {
        return Err(VarInvalid::MissingPath);
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'/');
    if path.len() > MAX_PATH_LEN || !path.bytes().all(allowed) {
        return Err(VarInvalid::InvalidPath(path.to_string()));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts[0] != "nomad" {
        return Ok(());
    }
    match parts.get(1) {
        None => Err(VarInvalid::ReservedNomad),
        Some(&"jobs") => Ok(()),
        Some(&"job-templates") if parts.len() == 3 => Ok(()),
        Some(&"job-templates") => Err(VarInvalid::ReservedJobTemplates),
        Some(_) => Err(VarInvalid::ReservedNomadSubpath),
    }
}

/// Nomad's `VariableDecrypted.Validate` for a set, in its order: namespace, items, size, path.
pub fn validate(var: &Variable) -> Result<(), VarInvalid> {
    if var.namespace == ALL_NAMESPACES {
        return Err(VarInvalid::WildcardNamespace);
    }
    if var.items.is_empty() {
        return Err(VarInvalid::Empty);
    }
    if var.size() > MAX_VARIABLE_SIZE {
        return Err(VarInvalid::TooLarge);
    }
    validate_path(&var.path)
}

/// What a variable command did: the reply of its raft entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VarOutcome {
    /// The variable as written (its indexes and times as stored).
    Written(Variable),
    /// The variable is gone (or was never there and that was allowed).
    Deleted,
    /// The check-and-set index did not match: the current variable, or a zero value with only
    /// namespace and path when there is none.
    Conflict(Variable),
    /// The command broke a rule; nothing was written.
    Invalid(VarInvalid),
}

/// The zero value Nomad answers as the conflict when a CAS expected a variable that is absent.
fn absent(namespace: &str, path: &str) -> Variable {
    Variable { namespace: namespace.into(), path: path.into(), ..Variable::default() }
}

/// Decides a set at raft `index`: `cas = Some(0)` means "must not exist", `Some(n)` "its
/// `ModifyIndex` must be n". Returns the row to store (if any) and the outcome. The creation
/// index and time of an existing variable are kept; `var`'s times are the leader's clock.
pub fn decide_set(
    existing: Option<Variable>,
    var: &Variable,
    cas: Option<u64>,
    index: u64,
) -> (Option<Variable>, VarOutcome) {
    if let Err(e) = validate(var) {
        return (None, VarOutcome::Invalid(e));
    }
    match (cas, &existing) {
        (Some(0), Some(current)) => return (None, VarOutcome::Conflict(current.clone())),
        (Some(n), None) if n != 0 => return (None, VarOutcome::Conflict(absent(&var.namespace, &var.path))),
        (Some(n), Some(current)) if current.modify_index != n => return (None, VarOutcome::Conflict(current.clone())),
        _ => {}
    }
    let mut row = var.clone();
    row.modify_index = index;
    match existing {
        Some(current) => {
            row.create_index = current.create_index;
            row.create_time = current.create_time;
        }
        None => {
            row.create_index = index;
            row.create_time = var.modify_time;
        }
    }
    (Some(row.clone()), VarOutcome::Written(row))
}

/// Decides a delete: without `cas` always (absent is fine); `cas = Some(0)` succeeds only when
/// absent; `Some(n)` only when the variable exists with `ModifyIndex` n. Returns whether to
/// delete the row and the outcome.
pub fn decide_delete(existing: Option<Variable>, namespace: &str, path: &str, cas: Option<u64>) -> (bool, VarOutcome) {
    if path.is_empty() {
        return (false, VarOutcome::Invalid(VarInvalid::DeleteWithoutPath));
    }
    match (cas, existing) {
        (None, existing) => (existing.is_some(), VarOutcome::Deleted),
        (Some(0), None) => (false, VarOutcome::Deleted),
        (Some(_), None) => (false, VarOutcome::Conflict(absent(namespace, path))),
        (Some(n), Some(current)) if current.modify_index == n && n != 0 => (true, VarOutcome::Deleted),
        (Some(_), Some(current)) => (false, VarOutcome::Conflict(current)),
    }
}

/// One page of a variable listing, with Nomad's paginator rules: tokens are `namespace.path`;
/// entries whose token sorts before `next_token` are skipped until the first one is taken;
/// a page holds `per_page` entries (0: no limit) and the token of the first entry left out is
/// the next token ("" when the listing is complete).
#[derive(Debug)]
pub struct Pager {
    per_page: i32,
    next_token: String,
    found: bool,
    taken: i32,
    pub entries: Vec<VariableMetadata>,
    pub next: String,
}

/// Whether a listing goes on after an entry.
#[derive(Debug, PartialEq, Eq)]
pub enum Paged {
    More,
    Full,
}

/// What a listing's selection (filter, ACL) says of an entry past the next token: Nomad's
/// paginator counts only kept entries toward the page, and stops at the first filter error.
#[derive(Debug, PartialEq, Eq)]
pub enum Keep {
    Yes,
    No,
    /// The selection failed (the caller holds the error): end the listing here.
    Stop,
}

impl Pager {
    pub fn new(per_page: i32, next_token: &str) -> Self {
        Self {
            per_page,
            next_token: next_token.into(),
            found: next_token.is_empty(),
            taken: 0,
            entries: Vec::new(),
            next: String::new(),
        }
    }

    /// Where a scan of `namespace` under `prefix` may start: `None` when every entry of the
    /// namespace sorts before the next token (skip the namespace), else the path to seek to.
    /// Seeking gives the same page as Nomad's skip-one-by-one, without reading skipped rows.
    pub fn seek(&self, namespace: &str, prefix: &str) -> Option<String> {
        if self.found {
            return Some(prefix.into());
        }
        let lead = format!("{namespace}.");
        if let Some(rest) = self.next_token.strip_prefix(&lead) {
            return Some(rest.max(prefix).to_string());
        }
        if self.next_token.as_str() < lead.as_str() {
            Some(prefix.into())
        } else {
            None
        }
    }

    /// Offers the next entry in (namespace, path) order.
    pub fn offer(&mut self, meta: VariableMetadata) -> Paged {
        self.offer_where(meta, &mut |_| Keep::Yes)
    }

    /// Offers the next entry, kept only if `keep` says so once it is past the next token
    /// (Nomad's `paginator.next`: token, then filter and selector, then the count).
    pub fn offer_where(&mut self, meta: VariableMetadata, keep: &mut dyn FnMut(&VariableMetadata) -> Keep) -> Paged {
        let token = format!("{}.{}", meta.namespace, meta.path);
        if !self.found && token < self.next_token {
            return Paged::More;
        }
        match keep(&meta) {
            Keep::Yes => {}
            Keep::No => return Paged::More,
            Keep::Stop => return Paged::Full,
        }
        self.found = true;
        self.taken = self.taken.saturating_add(1);
        if self.per_page != 0 && self.taken > self.per_page {
            self.next = token;
            return Paged::Full;
        }
        self.entries.push(meta);
        Paged::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(path: &str, items: &[(&str, &str)]) -> Variable {
        Variable {
            namespace: "default".into(),
            path: path.into(),
            items: items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            create_time: 7,
            modify_time: 7,
            ..Default::default()
        }
    }

    #[test]
    fn paths_follow_nomads_rules() {
        let cases: &[(&str, Result<(), VarInvalid>)] = &[
            ("a", Ok(())),
            ("a/b-c_d~e/F9", Ok(())),
            (&"x".repeat(128), Ok(())),
            ("", Err(VarInvalid::MissingPath)),
            ("a.b", Err(VarInvalid::InvalidPath("a.b".into()))),
            ("a b", Err(VarInvalid::InvalidPath("a b".into()))),
            ("a@b", Err(VarInvalid::InvalidPath("a@b".into()))),
            ("nomad", Err(VarInvalid::ReservedNomad)),
            ("nomad/jobs", Ok(())),
            ("nomad/jobs/x/y/z", Ok(())),
            ("nomad/job-templates", Err(VarInvalid::ReservedJobTemplates)),
            ("nomad/job-templates/t", Ok(())),
            ("nomad/job-templates/t/u", Err(VarInvalid::ReservedJobTemplates)),
            ("nomad/other", Err(VarInvalid::ReservedNomadSubpath)),
            ("nomad/", Err(VarInvalid::ReservedNomadSubpath)),
            ("nomadx", Ok(())),
        ];
        for (path, want) in cases {
            assert_eq!(&validate_path(path), want, "{path}");
        }
        let long = "x".repeat(129);
        assert_eq!(validate_path(&long), Err(VarInvalid::InvalidPath(long.clone())));
        assert_eq!(VarInvalid::InvalidPath("a b".into()).to_string(), "invalid path \"a b\"");
    }

    #[test]
    fn size_limit_counts_keys_and_values() {
        let exactly = var("p", &[("k", &"v".repeat(65535))]);
        assert_eq!(exactly.size(), 65536);
        assert_eq!(validate(&exactly), Ok(()));
        let over = var("p", &[("kk", &"v".repeat(65535))]);
        assert_eq!(validate(&over), Err(VarInvalid::TooLarge));
        assert_eq!(validate(&var("p", &[])), Err(VarInvalid::Empty));
        let mut wild = var("p", &[("a", "b")]);
        wild.namespace = "*".into();
        assert_eq!(validate(&wild), Err(VarInvalid::WildcardNamespace));
        // Nomad checks the size before the path.
        assert_eq!(validate(&var("a b", &[("kk", &"v".repeat(65535))])), Err(VarInvalid::TooLarge));
    }

    #[test]
    fn set_keeps_creation_and_checks_cas() {
        let v = var("p", &[("a", "1")]);
        let (row, out) = decide_set(None, &v, Some(0), 5);
        let row = row.unwrap();
        assert_eq!((row.create_index, row.modify_index, row.create_time), (5, 5, 7));
        assert_eq!(out, VarOutcome::Written(row.clone()));

        let mut later = var("p", &[("a", "2")]);
        later.modify_time = 9;
        assert_eq!(decide_set(Some(row.clone()), &later, Some(0), 6), (None, VarOutcome::Conflict(row.clone())));
        assert_eq!(decide_set(Some(row.clone()), &later, Some(4), 6), (None, VarOutcome::Conflict(row.clone())));
        let (written, _) = decide_set(Some(row.clone()), &later, Some(5), 6);
        let written = written.unwrap();
        assert_eq!(
            (written.create_index, written.create_time, written.modify_index, written.modify_time),
            (5, 7, 6, 9)
        );

        let (none, out) = decide_set(None, &later, Some(3), 6);
        assert!(none.is_none());
        assert_eq!(
            out,
            VarOutcome::Conflict(Variable { namespace: "default".into(), path: "p".into(), ..Default::default() })
        );
        assert_eq!(decide_set(None, &var("p", &[]), None, 6), (None, VarOutcome::Invalid(VarInvalid::Empty)));
    }

    #[test]
    fn delete_rules() {
        let mut cur = var("p", &[("a", "1")]);
        cur.modify_index = 4;
        assert_eq!(decide_delete(None, "default", "p", None), (false, VarOutcome::Deleted));
        assert_eq!(decide_delete(Some(cur.clone()), "default", "p", None), (true, VarOutcome::Deleted));
        assert_eq!(decide_delete(None, "default", "p", Some(0)), (false, VarOutcome::Deleted));
        assert_eq!(
            decide_delete(Some(cur.clone()), "default", "p", Some(0)),
            (false, VarOutcome::Conflict(cur.clone()))
        );
        assert_eq!(
            decide_delete(Some(cur.clone()), "default", "p", Some(3)),
            (false, VarOutcome::Conflict(cur.clone()))
        );
        assert_eq!(decide_delete(Some(cur.clone()), "default", "p", Some(4)), (true, VarOutcome::Deleted));
        let (gone, out) = decide_delete(None, "default", "p", Some(4));
        assert!(!gone);
        assert!(matches!(out, VarOutcome::Conflict(v) if v.modify_index == 0 && v.path == "p"));
    }

    fn meta(ns: &str, path: &str) -> VariableMetadata {
        VariableMetadata { namespace: ns.into(), path: path.into(), ..Default::default() }
    }

    #[test]
    fn pager_matches_nomads_paginator() {
        let all = ["a", "b", "c", "d", "e"];
        let page = |per_page: i32, token: &str| {
            let mut p = Pager::new(per_page, token);
            for path in all {
                if p.offer(meta("default", path)) == Paged::Full {
                    break;
                }
            }
            (p.entries.iter().map(|m| m.path.clone()).collect::<Vec<_>>().join(""), p.next)
        };
        assert_eq!(page(0, ""), ("abcde".into(), "".into()));
        assert_eq!(page(2, ""), ("ab".into(), "default.c".into()));
        assert_eq!(page(2, "default.c"), ("cd".into(), "default.e".into()));
        assert_eq!(page(2, "default.e"), ("e".into(), "".into()));
        assert_eq!(page(5, ""), ("abcde".into(), "".into()));
        assert_eq!(page(2, "default.bb"), ("cd".into(), "default.e".into()));
        assert_eq!(page(2, "zzz"), ("".into(), "".into()));

        // Entries left out by the selection do not count toward the page, nor give the token.
        let mut p = Pager::new(2, "");
        for path in all {
            if p.offer_where(meta("default", path), &mut |m| if m.path == "b" { Keep::No } else { Keep::Yes })
                == Paged::Full
            {
                break;
            }
        }
        assert_eq!((p.entries.len(), p.entries[1].path.as_str(), p.next.as_str()), (2, "c", "default.d"));
        let mut p = Pager::new(0, "");
        assert_eq!(p.offer_where(meta("default", "a"), &mut |_| Keep::Stop), Paged::Full);
        assert!(p.entries.is_empty());

        let p = Pager::new(2, "default.c");
        assert_eq!(p.seek("default", ""), Some("c".into()));
        assert_eq!(p.seek("default", "d"), Some("d".into()));
        assert_eq!(p.seek("aaa", ""), None, "every token of aaa sorts before default.c");
        assert_eq!(p.seek("zed", ""), Some("".into()));
    }
}
