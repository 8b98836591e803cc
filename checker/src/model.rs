//! The sequential model of one key: a register with a raft `ModifyIndex`, which a variable
//! (`/v1/var/<path>`: read, write, check-and-set, delete) and the scheduler and autopilot
//! configurations (read, write, check-and-set) both are. The rules follow the apply functions
//! (`actors/src/state/variables.rs`: `decide_set`, `decide_delete`).
//!
//! An operation without an answer leaves the model unsure, so a step maps one state to every
//! state the key may be in afterwards; the search carries the set (porcupine's power-set
//! model for nondeterminism). A write whose answer was lost has an index nobody saw: the model
//! knows only a lower bound until a later read or conflict names it.

use crate::history::Op;
use crate::history::Outcome;
use crate::history::Val;

/// How much is known of the current value's `ModifyIndex`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Idx {
    Exact(u64),
    /// At least this (a write whose answer was lost, or autopilot's `true` without an index).
    AtLeast(u64),
}

impl Idx {
    fn admits(&self, i: u64) -> bool {
        match self {
            Idx::Exact(e) => *e == i,
            Idx::AtLeast(m) => i >= *m,
        }
    }
}

/// The value a key holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cur {
    Absent,
    Present {
        value: String,
        index: Idx,
    },
    /// Not known at all (the start of a window cut out of a longer history, or a
    /// configuration's default): the first answer that names a value fixes it.
    Any,
}

/// One state of the model: the value and `floor`, an index every later write must exceed
/// (raft indices only grow).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    pub cur: Cur,
    pub floor: u64,
}

impl State {
    pub fn absent() -> Self {
        Self { cur: Cur::Absent, floor: 0 }
    }

    pub fn any() -> Self {
        Self { cur: Cur::Any, floor: 0 }
    }

    pub fn holding(v: &Val) -> Self {
        Self { cur: Cur::Present { value: v.value.clone(), index: Idx::Exact(v.index) }, floor: v.index }
    }

    /// This state, if the key may hold exactly `v` in it (learning the index).
    fn learn(&self, v: &Option<Val>) -> Option<State> {
        match (v, &self.cur) {
            (None, Cur::Absent) | (None, Cur::Any) => Some(State { cur: Cur::Absent, floor: self.floor }),
            (Some(v), Cur::Present { value, index }) if *value == v.value && index.admits(v.index) => {
                Some(State::learned(v, self.floor))
            }
            (Some(v), Cur::Any) => Some(State::learned(v, self.floor)),
            _ => None,
        }
    }

    fn learned(v: &Val, floor: u64) -> State {
        State { cur: Cur::Present { value: v.value.clone(), index: Idx::Exact(v.index) }, floor: floor.max(v.index) }
    }

    /// The states in which a check-and-set for `cas` succeeds (learning what the match says),
    /// and whether one in which it fails exists.
    fn split_cas(&self, cas: Option<u64>) -> (Option<State>, bool) {
        match (cas, &self.cur) {
            (None, _) => (Some(self.clone()), false),
            (Some(0), Cur::Absent) => (Some(self.clone()), false),
            (Some(0), Cur::Present { .. }) => (None, true),
            (Some(0), Cur::Any) => (Some(State { cur: Cur::Absent, floor: self.floor }), true),
            (Some(_), Cur::Absent) => (None, true),
            (Some(n), Cur::Present { value, index }) => {
                let fails = !matches!(index, Idx::Exact(e) if *e == n);
                let hit = index.admits(n).then(|| State::learned(&Val::new(value.clone(), n), self.floor));
                (hit, fails)
            }
            // The start of a window: whatever the key held may have matched.
            (Some(n), Cur::Any) => (Some(State { cur: Cur::Any, floor: self.floor.max(n) }), true),
        }
    }
}

/// Every state the key may be in after `op` answered `outcome` in state `s` (empty: the answer
/// is impossible in `s`).
pub fn step(s: &State, op: &Op, outcome: &Outcome) -> Vec<State> {
    match (op, outcome) {
        (_, Outcome::Unknown(_)) => step_unknown(s, op),
        (Op::Read, Outcome::Read(v)) => s.learn(v).into_iter().collect(),
        (Op::Write { value, cas }, Outcome::Written { index }) => {
            let Some(hit) = s.split_cas(*cas).0 else { return Vec::new() };
            match index {
                Some(i)
                    if *i > hit.floor && !matches!(&hit.cur, Cur::Present { index: Idx::Exact(e), .. } if e >= i) =>
                {
                    vec![State { cur: Cur::Present { value: value.clone(), index: Idx::Exact(*i) }, floor: *i }]
                }
                Some(_) => Vec::new(),
                None => vec![written_unseen(&hit, value)],
            }
        }
        (Op::Write { cas: Some(n), .. } | Op::Delete { cas: Some(n) }, Outcome::Refused { current }) => {
            let (_, fails) = s.split_cas(Some(*n));
            if !fails {
                return Vec::new();
            }
            match current {
                // The answer names the value that did not match: it must not hold the index
                // the client expected, nor be absent when it asked for "absent".
                Some(cur) => {
                    let matches_cas = match cur {
                        None => *n == 0,
                        Some(v) => v.index == *n,
                    };
                    if matches_cas {
                        return Vec::new();
                    }
                    s.learn(cur).into_iter().collect()
                }
                None => vec![s.clone()],
            }
        }
        (Op::Delete { cas }, Outcome::Deleted) => match s.split_cas(*cas).0 {
            Some(hit) => vec![State { cur: Cur::Absent, floor: hit.floor }],
            // `cas = 0` on an absent key answers 204 without deleting anything.
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// After a write whose index nobody saw: a value newer than everything so far.
fn written_unseen(before: &State, value: &str) -> State {
    let floor = match &before.cur {
        Cur::Present { index: Idx::Exact(e), .. } => before.floor.max(*e),
        _ => before.floor,
    };
    State { cur: Cur::Present { value: value.to_string(), index: Idx::AtLeast(floor + 1) }, floor }
}

/// The states after an operation without an answer *took effect*. That it did not is not a
/// step: the search leaves such an operation pending for ever instead (`wgl`), which is the
/// same and spares it every subset of operations linearized as nothing.
fn step_unknown(s: &State, op: &Op) -> Vec<State> {
    let mut out = Vec::new();
    match op {
        Op::Read => {}
        Op::Write { value, cas } => {
            if let Some(hit) = s.split_cas(*cas).0 {
                out.push(written_unseen(&hit, value));
            }
        }
        Op::Delete { cas } => {
            if let Some(hit) = s.split_cas(*cas).0 {
                out.push(State { cur: Cur::Absent, floor: hit.floor });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &str, cas: Option<u64>) -> Op {
        Op::Write { value: v.into(), cas }
    }

    #[test]
    fn steps() {
        let a = State::absent();
        let one = State::holding(&Val::new("a", 5));
        // Reads.
        assert_eq!(step(&a, &Op::Read, &Outcome::Read(None)), vec![a.clone()]);
        assert!(step(&a, &Op::Read, &Outcome::Read(Some(Val::new("a", 5)))).is_empty());
        assert_eq!(step(&one, &Op::Read, &Outcome::Read(Some(Val::new("a", 5)))), vec![one.clone()]);
        assert!(step(&one, &Op::Read, &Outcome::Read(Some(Val::new("a", 6)))).is_empty());
        // Writes: the index grows.
        assert_eq!(
            step(&one, &w("b", None), &Outcome::Written { index: Some(7) }),
            vec![State::holding(&Val::new("b", 7))]
        );
        assert!(step(&one, &w("b", None), &Outcome::Written { index: Some(5) }).is_empty());
        assert!(step(&one, &w("b", Some(4)), &Outcome::Written { index: Some(7) }).is_empty());
        assert!(step(&one, &w("b", Some(0)), &Outcome::Written { index: Some(7) }).is_empty());
        assert_eq!(step(&a, &w("b", Some(0)), &Outcome::Written { index: Some(7) }).len(), 1);
        // Conflicts name the current value.
        let refused = Outcome::Refused { current: Some(Some(Val::new("a", 5))) };
        assert_eq!(step(&one, &w("b", Some(4)), &refused), vec![one.clone()]);
        assert!(step(&one, &w("b", Some(5)), &refused).is_empty());
        assert!(step(&a, &w("b", Some(4)), &refused).is_empty());
        assert_eq!(step(&a, &w("b", Some(4)), &Outcome::Refused { current: Some(None) }), vec![a.clone()]);
        // Deletes.
        assert_eq!(
            step(&one, &Op::Delete { cas: Some(5) }, &Outcome::Deleted),
            vec![State { cur: Cur::Absent, floor: 5 }]
        );
        assert!(step(&one, &Op::Delete { cas: Some(4) }, &Outcome::Deleted).is_empty());
        assert_eq!(step(&a, &Op::Delete { cas: Some(0) }, &Outcome::Deleted), vec![a.clone()]);
        // A lost write: then a read names it with any index past the floor.
        let mut after = step(&one, &w("b", None), &Outcome::Unknown("timeout".into()));
        assert_eq!(after.len(), 1, "took effect (not taking effect is no step)");
        after.push(one.clone());
        let seen: Vec<State> =
            after.iter().flat_map(|s| step(s, &Op::Read, &Outcome::Read(Some(Val::new("b", 9))))).collect();
        assert_eq!(seen, vec![State::holding(&Val::new("b", 9))]);
        let stale: Vec<State> =
            after.iter().flat_map(|s| step(s, &Op::Read, &Outcome::Read(Some(Val::new("b", 5))))).collect();
        assert!(stale.is_empty(), "a later write cannot carry an index at or below the one it replaced");
    }
}
