//! The Wing–Gong search with Lowe's memoisation (the algorithm of porcupine's `checkSingle`, the linearized set kept as a Zobrist
//! hash):
//! walk the history's call and return events in time order; at a call, try to linearize that
//! operation now (the model accepts its answer), remove its events and start again from the
//! first event; at a return whose call is still pending, undo the last linearized operation
//! and try the next candidate. A (linearized set, model states) pair already explored is not
//! explored again. Operations without an answer return at "never", so they may take effect at
//! any point after their call, or stay pending: the search ends when every operation with an
//! answer is linearized.

use std::collections::HashSet;
use std::time::Duration;
use std::time::Instant;

use crate::history::Operation;
use crate::model::step;
use crate::model::State;

/// The verdict on one key's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable,
    /// The search ran past its budget.
    Unknown,
}

const NONE: usize = usize::MAX;

struct Event {
    op: usize,
    call: bool,
    /// The return event of a call (the call of a return is not needed).
    partner: usize,
}

/// The events as a doubly linked list over a vector (index 0 is the head sentinel), so that
/// lifting a linearized operation's two events and putting them back are O(1).
struct Events {
    ev: Vec<Event>,
    prev: Vec<usize>,
    next: Vec<usize>,
}

impl Events {
    fn new(ops: &[Operation]) -> Self {
        // (time, return-after-call at equal times, op, is_call). A call at the same instant as
        // a return counts as concurrent with it (the permissive reading).
        let mut order: Vec<(Duration, u8, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (i, o) in ops.iter().enumerate() {
            order.push((o.invoke, 0, i, true));
            order.push((o.returns().unwrap_or(Duration::MAX), 1, i, false));
        }
        order.sort();
        let mut ev = vec![Event { op: NONE, call: false, partner: NONE }];
        let mut ret_pos = vec![NONE; ops.len()];
        for &(_, _, op, call) in &order {
            if !call {
                ret_pos[op] = ev.len();
            }
            ev.push(Event { op, call, partner: NONE });
        }
        for e in ev.iter_mut().skip(1) {
            if e.call {
                e.partner = ret_pos[e.op];
            }
        }
        let n = ev.len();
        let prev = (0..n).map(|i| if i == 0 { NONE } else { i - 1 }).collect();
        let next = (0..n).map(|i| if i + 1 < n { i + 1 } else { NONE }).collect();
        Self { ev, prev, next }
    }

    fn unlink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = n;
        if n != NONE {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, i: usize) {
        let (p, n) = (self.prev[i], self.next[i]);
        self.next[p] = i;
        if n != NONE {
            self.prev[n] = i;
        }
    }

    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.ev[call].partner);
    }

    fn unlift(&mut self, call: usize) {
        self.relink(self.ev[call].partner);
        self.relink(call);
    }
}

/// One random 128-bit word per operation (splitmix64): the linearized set is remembered as
/// the XOR of its operations' words (Zobrist hashing), 16 bytes however long the history,
/// instead of a bitset that costs a copy and a hash of n bits at every step. Two different
/// sets share a word with probability 2^-128; if they did, the search would skip a branch and
/// could report a violation that is not one, never miss one.
fn zobrist(n: usize) -> Vec<u128> {
    let mut x: u64 = 0x005E_ED0F_C4EC_4E12;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n).map(|_| (u128::from(next()) << 64) | u128::from(next())).collect()
}

/// Every state reachable from `states` by `op`'s step (sorted, without repeats).
fn step_all(states: &[State], o: &Operation) -> Vec<State> {
    let mut out: Vec<State> = states.iter().flat_map(|s| step(s, &o.op, &o.outcome)).collect();
    out.sort();
    out.dedup();
    out
}

/// Decides whether `ops` (one key's operations) are linearizable from `init`, giving up as
/// `Unknown` after `budget` of search.
pub fn check(ops: &[Operation], init: State, budget: Duration) -> Verdict {
    let deadline = Instant::now() + budget;
    let mut events = Events::new(ops);
    let words = zobrist(ops.len());
    let mut linearized: u128 = 0;
    let mut seen: HashSet<(u128, Vec<State>)> = HashSet::new();
    let mut states = vec![init];
    let mut stack: Vec<(usize, Vec<State>)> = Vec::new();
    let mut entry = events.next[0];
    let mut steps: u64 = 0;
    // Done when every operation with an answer is linearized: one without may stay pending
    // for ever (it did not take effect).
    let definite = |op: usize| ops[op].returns().is_some();
    let mut definite_left = ops.iter().filter(|o| o.returns().is_some()).count();
    while definite_left > 0 {
        steps += 1;
        if steps.is_multiple_of(4096) && Instant::now() > deadline {
            return Verdict::Unknown;
        }
        if entry == NONE {
            // Only reachable if every remaining event was skipped: undo as at a return.
            let Some((call, before)) = stack.pop() else { return Verdict::NotLinearizable };
            states = before;
            linearized ^= words[events.ev[call].op];
            definite_left += usize::from(definite(events.ev[call].op));
            events.unlift(call);
            entry = events.next[call];
            continue;
        }
        let e = &events.ev[entry];
        if e.call {
            let op = e.op;
            let after = step_all(&states, &ops[op]);
            if !after.is_empty() && seen.insert((linearized ^ words[op], after.clone())) {
                linearized ^= words[op];
                definite_left -= usize::from(definite(op));
                stack.push((entry, std::mem::replace(&mut states, after)));
                events.lift(entry);
                entry = events.next[0];
                continue;
            }
            entry = events.next[entry];
        } else {
            let Some((call, before)) = stack.pop() else { return Verdict::NotLinearizable };
            states = before;
            linearized ^= words[events.ev[call].op];
            definite_left += usize::from(definite(events.ev[call].op));
            events.unlift(call);
            entry = events.next[call];
        }
    }
    Verdict::Linearizable
}
