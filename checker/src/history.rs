//! What a client did and what it heard back: operations with their invoke and complete
//! instants, recorded by concurrent clients into one [`Recorder`].

use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

/// A value as a key holds it: the client-chosen `value` (unique per write, so a read names the
/// write it saw) and the raft `ModifyIndex` the server gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Val {
    pub value: String,
    pub index: u64,
}

impl Val {
    pub fn new(value: impl Into<String>, index: u64) -> Self {
        Self { value: value.into(), index }
    }
}

/// An operation on one key. Variables use all three; the scheduler and autopilot
/// configurations are registers that always exist (read, and write with or without `?cas=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    /// `PUT` of `value`; `cas: Some(n)` writes only if the key's `ModifyIndex` is `n`
    /// (`Some(0)`: only if absent).
    Write {
        value: String,
        cas: Option<u64>,
    },
    /// `DELETE`, with the same `cas` rule (`Some(0)` on an absent key answers 204).
    Delete {
        cas: Option<u64>,
    },
}

/// What the client heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A read's answer: the value, or not found (404).
    Read(Option<Val>),
    /// A write took effect. `index` is the new `ModifyIndex` (None when the answer does not
    /// carry it, as autopilot's `true`).
    Written { index: Option<u64> },
    /// A check-and-set refused: the key did not hold the expected index. `current` is the value
    /// the answer carried (a variable's 409 body: `Some(None)` when absent), or None when the
    /// answer says only "not applied" (the configurations' `false`).
    Refused { current: Option<Option<Val>> },
    /// A delete answered 204.
    Deleted,
    /// No definite answer (timeout, reset, a 5xx): the operation may or may not have taken
    /// effect, and its completion is "never".
    Unknown(String),
}

impl Outcome {
    pub fn is_definite(&self) -> bool {
        !matches!(self, Outcome::Unknown(_))
    }
}

/// One recorded operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub process: usize,
    pub key: String,
    pub op: Op,
    /// Since the recorder's start.
    pub invoke: Duration,
    /// Since the recorder's start; meaningless for an [`Outcome::Unknown`] (never completes).
    pub complete: Duration,
    pub outcome: Outcome,
}

impl Operation {
    /// The completion instant the search uses: never, for an operation without an answer.
    pub fn returns(&self) -> Option<Duration> {
        self.outcome.is_definite().then_some(self.complete)
    }
}

/// Collects operations from many client threads against one monotonic clock.
pub struct Recorder {
    start: Instant,
    ops: Mutex<Vec<Operation>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self { start: Instant::now(), ops: Mutex::new(Vec::new()) }
    }

    /// The instant to pass as an operation's invoke time (taken just before the request).
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Records an operation invoked at `invoke` that has just completed with `outcome`.
    pub fn record(&self, process: usize, key: &str, op: Op, invoke: Duration, outcome: Outcome) {
        let complete = self.now();
        let operation = Operation { process, key: key.to_string(), op, invoke, complete, outcome };
        match self.ops.lock() {
            Ok(mut ops) => ops.push(operation),
            Err(poisoned) => poisoned.into_inner().push(operation),
        }
    }

    /// Everything recorded so far, in invoke order.
    pub fn history(&self) -> Vec<Operation> {
        let mut ops = match self.ops.lock() {
            Ok(ops) => ops.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        ops.sort_by_key(|o| o.invoke);
        ops
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn show_val(v: &Option<Val>) -> String {
    match v {
        Some(v) => format!("{}@{}", v.value, v.index),
        None => "absent".into(),
    }
}

impl std::fmt::Display for Operation {
    /// One readable line: process, key, operation, invoke and complete in ms, outcome.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cas = |c: &Option<u64>| c.map(|n| format!(" cas={n}")).unwrap_or_default();
        let op = match &self.op {
            Op::Read => "read".to_string(),
            Op::Write { value, cas: c } => format!("write {value}{}", cas(c)),
            Op::Delete { cas: c } => format!("delete{}", cas(c)),
        };
        let done = match self.returns() {
            Some(t) => ms(t),
            None => "never".into(),
        };
        let outcome = match &self.outcome {
            Outcome::Read(v) => format!("ok {}", show_val(v)),
            Outcome::Written { index: Some(i) } => format!("ok index {i}"),
            Outcome::Written { index: None } => "ok".into(),
            Outcome::Refused { current: Some(v) } => format!("refused, current {}", show_val(v)),
            Outcome::Refused { current: None } => "refused".into(),
            Outcome::Deleted => "deleted".into(),
            Outcome::Unknown(why) => format!("unknown ({why})"),
        };
        write!(
            f,
            "p{:<3} {:<24} {:<28} {:>10} .. {:>10} ms  {}",
            self.process,
            self.key,
            op,
            ms(self.invoke),
            done,
            outcome
        )
    }
}
