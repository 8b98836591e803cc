//! Invariants beyond one key's register model, checked over the whole history:
//! - nothing acknowledged is lost: the last read of a key shows its last acknowledged write or
//!   something newer (or absent, when a delete may have come after);
//! - indices grow in real time: a write invoked after another operation's answer named an index
//!   gets a larger one (raft indices are global, so this holds across keys);
//! - no two acknowledged writes of one key share an index. Writes of different keys may share
//!   one (one group-commit entry today): counted, not a violation.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::history::Op;
use crate::history::Operation;
use crate::history::Outcome;

pub struct Found {
    pub violations: Vec<String>,
    pub cross_key_shared_indices: usize,
}

/// The index an answer names, if any.
fn named_index(o: &Operation) -> Option<u64> {
    match &o.outcome {
        Outcome::Written { index } => *index,
        Outcome::Read(Some(v)) => Some(v.index),
        Outcome::Refused { current: Some(Some(v)) } => Some(v.index),
        _ => None,
    }
}

fn acked_write(o: &Operation) -> Option<u64> {
    match (&o.op, &o.outcome) {
        (Op::Write { .. }, Outcome::Written { index: Some(i) }) => Some(*i),
        _ => None,
    }
}

pub fn check(history: &[Operation]) -> Found {
    let mut violations = Vec::new();

    // No two acknowledged writes of one key share an index; count those shared across keys.
    let mut by_index: BTreeMap<u64, Vec<&Operation>> = BTreeMap::new();
    for o in history {
        if let Some(i) = acked_write(o) {
            by_index.entry(i).or_default().push(o);
        }
    }
    let mut cross_key_shared_indices = 0;
    for (i, ws) in &by_index {
        let mut keys: Vec<&str> = ws.iter().map(|o| o.key.as_str()).collect();
        keys.sort();
        let distinct = {
            let mut k = keys.clone();
            k.dedup();
            k.len()
        };
        if distinct < keys.len() {
            let lines: Vec<String> = ws.iter().map(|o| format!("    {o}")).collect();
            violations.push(format!("two acknowledged writes of one key share index {i}:\n{}", lines.join("\n")));
        }
        if distinct > 1 {
            cross_key_shared_indices += 1;
        }
    }

    // Indices grow in real time: sweep the writes by invoke time over the answers by
    // completion time, keeping the largest index named so far.
    let mut answers: Vec<(Duration, u64, &Operation)> =
        history.iter().filter_map(|o| Some((o.returns()?, named_index(o)?, o))).collect();
    answers.sort_by_key(|a| a.0);
    let mut writes: Vec<&Operation> = history.iter().filter(|o| acked_write(o).is_some()).collect();
    writes.sort_by_key(|o| o.invoke);
    let mut seen: Option<(u64, &Operation)> = None;
    let mut a = 0;
    for w in writes {
        while a < answers.len() && answers[a].0 < w.invoke {
            if seen.is_none_or(|(m, _)| answers[a].1 > m) {
                seen = Some((answers[a].1, answers[a].2));
            }
            a += 1;
        }
        let i = acked_write(w).unwrap_or(0);
        if let Some((m, before)) = seen {
            if i <= m {
                violations.push(format!(
                    "index went back: a write got index {i} after an earlier answer named {m}:\n    {before}\n    {w}"
                ));
            }
        }
    }

    // Nothing acknowledged lost: each key's last definite read against its writes.
    let mut last_read: BTreeMap<&str, &Operation> = BTreeMap::new();
    for o in history {
        if matches!((&o.op, &o.outcome), (Op::Read, Outcome::Read(_))) {
            let e = last_read.entry(o.key.as_str()).or_insert(o);
            if o.invoke > e.invoke {
                *e = o;
            }
        }
    }
    for (key, fin) in &last_read {
        let Outcome::Read(seen) = &fin.outcome else { continue };
        for w in history.iter().filter(|o| o.key == *key && o.returns().is_some_and(|r| r < fin.invoke)) {
            let Some(i) = acked_write(w) else { continue };
            let lost = match seen {
                Some(v) => v.index < i,
                None => !history.iter().any(|d| {
                    d.key == *key
                        && matches!(d.op, Op::Delete { .. })
                        && !matches!(d.outcome, Outcome::Refused { .. })
                        && d.invoke < fin.returns().unwrap_or(Duration::MAX)
                        && d.returns().is_none_or(|r| r > w.invoke)
                }),
            };
            if lost {
                violations.push(format!("acknowledged write lost: the last read of {key} does not show it or anything newer:\n    {w}\n    {fin}"));
            }
        }
    }

    Found { violations, cross_key_shared_indices }
}
