//! raftwarden's history checker: records what concurrent clients did to the cluster and
//! decides whether it was linearizable, the way etcd's robustness suite uses porcupine.
//!
//! ```text
//! clients (threads) ──record──▶ Recorder ──history──▶ check()
//!                                                      ├─ per key (P-compositionality):
//!                                                      │    wgl::check over model::step  ──▶ Linearizable | NotLinearizable (+ smallest window) | Unknown
//!                                                      └─ invariants across the history:
//!                                                           acknowledged writes not lost, indices grow in real time,
//!                                                           no two writes of a key share an index (shared across keys: counted)
//! ```
//!
//! Keys are independent registers with a raft `ModifyIndex` ([`model`]); an operation without
//! a definite answer may or may not have taken effect ([`history::Outcome::Unknown`]).

pub mod history;
pub mod invariants;
pub mod model;
pub mod wgl;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;

pub use history::Op;
pub use history::Operation;
pub use history::Outcome;
pub use history::Recorder;
pub use history::Val;
pub use model::State;
pub use wgl::Verdict;

/// How to check a history.
#[derive(Clone, Debug)]
pub struct Options {
    /// Search time allowed per key before its verdict is `Unknown`.
    pub budget_per_key: Duration,
    /// Keys known to be absent when the history starts (fresh variables); every other key
    /// starts unknown (a configuration's default value is not a write of the history).
    pub initially_absent: BTreeSet<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { budget_per_key: Duration::from_secs(60), initially_absent: BTreeSet::new() }
    }
}

impl Options {
    pub fn absent_at_start<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.initially_absent.extend(keys.into_iter().map(Into::into));
        self
    }
}

/// A key whose history is not linearizable, with the smallest slice of it that still is not.
#[derive(Clone, Debug)]
pub struct Violation {
    pub key: String,
    pub window: Vec<Operation>,
}

/// Everything the checker found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub operations: usize,
    pub definite: usize,
    pub indeterminate: usize,
    pub keys: usize,
    pub violations: Vec<Violation>,
    /// Keys whose search ran out of budget.
    pub unknown_keys: Vec<String>,
    /// Broken invariants beyond the register model, one readable line each.
    pub invariant_violations: Vec<String>,
    /// Indices acknowledged for writes of more than one key (one group-commit entry): counted,
    /// not a violation.
    pub cross_key_shared_indices: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.violations.is_empty() && self.invariant_violations.is_empty() && self.unknown_keys.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} operations on {} keys ({} definite, {} indeterminate); {} linearizability violations, {} invariant violations, {} keys unknown; {} indices shared across keys",
            self.operations,
            self.keys,
            self.definite,
            self.indeterminate,
            self.violations.len(),
            self.invariant_violations.len(),
            self.unknown_keys.len(),
            self.cross_key_shared_indices
        )?;
        for v in &self.violations {
            writeln!(f, "not linearizable: {} (smallest failing window, {} operations):", v.key, v.window.len())?;
            for o in &v.window {
                writeln!(f, "  {o}")?;
            }
        }
        for line in &self.invariant_violations {
            writeln!(f, "invariant: {line}")?;
        }
        for k in &self.unknown_keys {
            writeln!(f, "unknown (search budget spent): {k}")?;
        }
        Ok(())
    }
}

/// Checks a whole history: each key's linearizability, then the invariants.
pub fn check(history: &[Operation], options: &Options) -> Report {
    let mut by_key: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    for o in history {
        by_key.entry(o.key.as_str()).or_default().push(o.clone());
    }
    let mut report = Report {
        operations: history.len(),
        definite: history.iter().filter(|o| o.outcome.is_definite()).count(),
        keys: by_key.len(),
        ..Report::default()
    };
    report.indeterminate = report.operations - report.definite;
    for (key, ops) in &by_key {
        let ops = searchable(ops);
        let init = if options.initially_absent.contains(*key) { State::absent() } else { State::any() };
        match wgl::check(&ops, init.clone(), options.budget_per_key) {
            Verdict::Linearizable => {}
            Verdict::Unknown => report.unknown_keys.push(key.to_string()),
            Verdict::NotLinearizable => {
                let window = smallest_window(&ops, init, options.budget_per_key);
                report.violations.push(Violation { key: key.to_string(), window });
            }
        }
    }
    let inv = invariants::check(history);
    report.invariant_violations = inv.violations;
    report.cross_key_shared_indices = inv.cross_key_shared_indices;
    report
}

/// The operations the search needs: a read without an answer tells nothing and changes
/// nothing, so it is left out; the rest in invoke order.
fn searchable(ops: &[Operation]) -> Vec<Operation> {
    let mut v: Vec<Operation> =
        ops.iter().filter(|o| o.outcome.is_definite() || !matches!(o.op, Op::Read)).cloned().collect();
    v.sort_by_key(|o| o.invoke);
    v
}

/// The history as it stood at instant `t`: what was invoked by then, with the answers that had
/// arrived by then (later answers become unknown, reads without one are left out). If this
/// prefix is not linearizable, neither is the history.
fn prefix(ops: &[Operation], t: Duration) -> Vec<Operation> {
    let cut = ops.iter().filter(|o| o.invoke <= t).map(|o| {
        let mut o = o.clone();
        if o.returns().is_some_and(|r| r > t) {
            o.outcome = Outcome::Unknown("answered after the window".into());
        }
        o
    });
    searchable(&cut.collect::<Vec<_>>())
}

/// The operations overlapping [s, t] of a prefix ending at t, checked from an unknown state.
fn window(ops: &[Operation], s: Duration, t: Duration) -> Vec<Operation> {
    prefix(ops, t).into_iter().filter(|o| o.returns().is_none_or(|r| r >= s)).collect()
}

/// The smallest failing window: first the earliest instant t whose prefix already fails
/// (binary search over the invoke instants), then the latest start s such that the operations
/// overlapping [s, t], from an unknown start state, still fail on their own.
fn smallest_window(ops: &[Operation], init: State, budget: Duration) -> Vec<Operation> {
    let fails = |h: &[Operation], init: State| wgl::check(h, init, budget) == Verdict::NotLinearizable;
    let instants: Vec<Duration> = ops.iter().map(|o| o.invoke).chain(ops.iter().filter_map(|o| o.returns())).collect();
    let mut instants: Vec<Duration> = instants.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
    instants.push(Duration::MAX);
    let (mut lo, mut hi) = (0, instants.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(&prefix(ops, instants[mid]), init.clone()) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let t = instants[hi];
    let starts: Vec<Duration> = instants.iter().copied().filter(|&s| s <= t).collect();
    let (mut lo, mut hi) = (0, starts.len().saturating_sub(1));
    // The earliest start fails (it is the whole prefix, from an unknown state or the real
    // one); find the latest start that still fails.
    if !fails(&window(ops, starts[lo], t), State::any()) {
        return prefix(ops, t);
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fails(&window(ops, starts[mid], t), State::any()) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    window(ops, starts[lo], t)
}

#[cfg(test)]
mod tests;
