//! Self-tests: hand-made bad histories the checker must catch, good ones (concurrency,
//! operations without an answer) it must pass, and random histories generated from a
//! sequential model, which are linearizable by construction.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn at(p: usize, key: &str, op: Op, invoke_ms: u64, complete_ms: u64, outcome: Outcome) -> Operation {
    Operation {
        process: p,
        key: key.into(),
        op,
        invoke: Duration::from_millis(invoke_ms),
        complete: Duration::from_millis(complete_ms),
        outcome,
    }
}

fn write(v: &str) -> Op {
    Op::Write { value: v.into(), cas: None }
}

fn cas(v: &str, n: u64) -> Op {
    Op::Write { value: v.into(), cas: Some(n) }
}

fn ok(i: u64) -> Outcome {
    Outcome::Written { index: Some(i) }
}

fn read(v: &str, i: u64) -> Outcome {
    Outcome::Read(Some(Val::new(v, i)))
}

fn lost() -> Outcome {
    Outcome::Unknown("timeout".into())
}

fn run(h: &[Operation]) -> Report {
    let keys: Vec<String> = h.iter().map(|o| o.key.clone()).filter(|k| k.starts_with("var/")).collect();
    check(h, &Options::default().absent_at_start(keys))
}

#[test]
fn stale_read_is_caught() {
    let h = vec![
        at(1, "var/a", write("a1"), 0, 10, ok(5)),
        at(2, "var/a", write("a2"), 20, 30, ok(7)),
        // After a2 was acknowledged, a read still answers a1 (a paused old leader).
        at(3, "var/a", Op::Read, 40, 50, read("a1", 5)),
    ];
    let r = run(&h);
    assert_eq!(r.violations.len(), 1, "{r}");
    assert_eq!(r.violations[0].window.len(), 2, "the stale read and the write it missed:\n{r}");
    assert!(r.to_string().contains("p3"), "{r}");
}

#[test]
fn lost_acknowledged_write_is_caught() {
    let h = vec![at(1, "var/a", write("a1"), 0, 10, ok(5)), at(2, "var/a", Op::Read, 20, 30, Outcome::Read(None))];
    let r = run(&h);
    assert_eq!(r.violations.len(), 1, "{r}");
    assert_eq!(r.invariant_violations.len(), 1, "{r}");
    assert!(r.invariant_violations[0].contains("acknowledged write lost"), "{r}");
    // Also when the last read shows an older value.
    let h = vec![
        at(1, "var/a", write("a1"), 0, 10, ok(5)),
        at(1, "var/a", write("a2"), 11, 20, ok(8)),
        at(2, "var/a", Op::Read, 30, 40, read("a1", 5)),
    ];
    assert!(run(&h).invariant_violations.iter().any(|v| v.contains("lost")), "{}", run(&h));
}

#[test]
fn duplicate_index_is_caught() {
    let h = vec![at(1, "var/a", write("a1"), 0, 10, ok(5)), at(2, "var/a", write("a2"), 20, 30, ok(5))];
    let r = run(&h);
    assert!(!r.ok());
    assert!(r.invariant_violations.iter().any(|v| v.contains("share index 5")), "{r}");
    assert_eq!(r.violations.len(), 1, "a later write must get a larger index: {r}");
}

#[test]
fn shared_index_across_keys_is_counted_not_a_violation() {
    let h = vec![at(1, "var/a", write("a1"), 0, 10, ok(5)), at(2, "var/b", write("b1"), 0, 10, ok(5))];
    let r = run(&h);
    assert!(r.ok(), "{r}");
    assert_eq!(r.cross_key_shared_indices, 1);
}

#[test]
fn cas_against_the_wrong_predecessor_is_caught() {
    let h = vec![
        at(1, "var/a", write("a1"), 0, 10, ok(5)),
        at(2, "var/a", write("a2"), 20, 30, ok(7)),
        // cas=5 accepted although the variable was at 7.
        at(3, "var/a", cas("a3", 5), 40, 50, ok(9)),
    ];
    let r = run(&h);
    assert_eq!(r.violations.len(), 1, "{r}");
    // And a conflict that names the index the client asked for.
    let h = vec![
        at(1, "var/a", write("a1"), 0, 10, ok(5)),
        at(3, "var/a", cas("a3", 5), 40, 50, Outcome::Refused { current: Some(Some(Val::new("a1", 5))) }),
    ];
    assert_eq!(run(&h).violations.len(), 1, "{}", run(&h));
}

#[test]
fn index_going_back_across_keys_is_caught() {
    let h = vec![at(1, "var/a", write("a1"), 0, 10, ok(9)), at(2, "var/b", write("b1"), 20, 30, ok(5))];
    let r = run(&h);
    assert!(r.invariant_violations.iter().any(|v| v.contains("index went back")), "{r}");
}

#[test]
fn concurrency_and_lost_answers_pass() {
    let h = vec![
        // Two overlapping writes; reads during them may see either order.
        at(1, "var/a", write("a1"), 0, 30, ok(5)),
        at(2, "var/a", write("a2"), 5, 25, ok(6)),
        at(3, "var/a", Op::Read, 1, 40, read("a1", 5)),
        at(4, "var/a", Op::Read, 35, 45, read("a2", 6)),
        // A write without an answer, seen later with an index nobody was told.
        at(1, "var/a", write("a3"), 50, 60, lost()),
        at(2, "var/a", Op::Read, 100, 110, read("a3", 12)),
        // A CAS on the index the read named; a competing one loses with the winner named.
        at(3, "var/a", cas("a4", 12), 120, 130, ok(14)),
        at(4, "var/a", cas("a5", 12), 121, 140, Outcome::Refused { current: Some(Some(Val::new("a4", 14))) }),
        // A write without an answer that never took effect.
        at(1, "var/a", write("a6"), 150, 160, lost()),
        at(2, "var/a", Op::Delete { cas: Some(14) }, 200, 210, Outcome::Deleted),
        at(3, "var/a", Op::Read, 220, 230, Outcome::Read(None)),
        at(4, "var/a", cas("a7", 0), 240, 250, ok(20)),
        at(1, "var/a", Op::Read, 260, 270, read("a7", 20)),
        // A configuration: unknown start, CAS answered only true/false.
        at(5, "scheduler", Op::Read, 0, 10, read("default", 3)),
        at(5, "scheduler", cas("s1", 3), 20, 30, ok(8)),
        at(6, "scheduler", cas("s2", 3), 21, 31, Outcome::Refused { current: None }),
        at(6, "scheduler", Op::Read, 40, 50, read("s1", 8)),
    ];
    let r = run(&h);
    assert!(r.ok(), "{r}");
    assert_eq!(r.indeterminate, 2);
}

#[test]
fn a_lost_write_seen_and_then_unseen_is_caught() {
    let h = vec![
        at(1, "var/a", write("a1"), 0, 10, ok(5)),
        at(2, "var/a", write("a2"), 20, 30, lost()),
        at(3, "var/a", Op::Read, 40, 50, read("a2", 9)),
        at(3, "var/a", Op::Read, 60, 70, read("a1", 5)),
    ];
    assert_eq!(run(&h).violations.len(), 1, "{}", run(&h));
}

#[test]
fn smallest_window_of_a_long_history() {
    let mut h = Vec::new();
    let mut t = 0;
    for i in 1..=200u64 {
        h.push(at(1, "var/a", write(&format!("a{i}")), t, t + 5, ok(i * 2)));
        h.push(at(2, "var/a", Op::Read, t + 6, t + 8, read(&format!("a{i}"), i * 2)));
        t += 10;
    }
    // At the end, a read answers the value before last.
    h.push(at(3, "var/a", Op::Read, t + 1, t + 2, read("a199", 398)));
    let r = run(&h);
    assert_eq!(r.violations.len(), 1, "{r}");
    let w = &r.violations[0].window;
    assert!(w.len() <= 4, "{r}");
    assert!(w.iter().any(|o| o.process == 3), "{r}");
}

/// A tiny deterministic generator (xorshift64*), so the crate needs no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Random histories of a sequential store: each operation takes effect at one instant inside
/// its interval (or, without an answer, maybe never): linearizable by construction.
#[test]
fn random_sequential_histories_pass() {
    for seed in 1..=40u64 {
        let h = random_history(seed, 5, 40, &["var/a", "var/b", "scheduler"], 10);
        let r = run(&h);
        assert!(r.ok(), "seed {seed}: {r}");
        assert!(r.definite > 150);
    }
}

/// A long history of one key with answers lost now and then (a soak's worth): the search must
/// stay fast, with nothing unknown.
#[test]
fn a_long_history_is_checked_within_its_budget() {
    let h = random_history(7, 6, 2000, &["var/a"], 100);
    let started = std::time::Instant::now();
    let r = run(&h);
    assert!(r.ok(), "{r}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

/// `procs` processes doing `per_proc` operations each on `keys`, one answer in `lost_one_in`
/// lost; every operation takes effect at one instant inside its interval, or, without an
/// answer, maybe never.
fn random_history(seed: u64, procs: usize, per_proc: usize, keys: &[&'static str], lost_one_in: u64) -> Vec<Operation> {
    {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // (lin point, process, key, invoke, complete, answer lost, applied if lost)
        let mut plan = Vec::new();
        for p in 0..procs {
            let mut t = rng.below(5);
            for _ in 0..per_proc {
                let invoke = t + rng.below(3);
                let lin = invoke + 1 + rng.below(6);
                let complete = lin + rng.below(6);
                let key = keys[rng.below(keys.len() as u64) as usize];
                let lost = rng.below(lost_one_in) == 0;
                let never = lost && rng.below(2) == 0;
                plan.push((lin * 16 + p as u64, p, key, invoke, complete, lost, never));
                t = complete + 1;
            }
        }
        plan.sort();
        let mut store: BTreeMap<&str, Option<Val>> = BTreeMap::new();
        store.insert("scheduler", Some(Val::new("default", 1)));
        let mut index = 1;
        let mut h = Vec::new();
        for (n, (_, p, key, invoke, complete, lost, never)) in plan.into_iter().enumerate() {
            let cur = store.get(key).cloned().flatten();
            let is_config = key == "scheduler";
            let pick_cas = |rng: &mut Rng| match (&cur, rng.below(3)) {
                (Some(v), 0 | 1) => v.index,
                (None, 0 | 1) => 0,
                _ => rng.below(index + 2),
            };
            let (op, outcome) = match rng.below(if is_config { 3 } else { 5 }) {
                0 => (Op::Read, Outcome::Read(cur.clone())),
                1 | 2 => {
                    let value = format!("v{n}");
                    let c = if rng.below(2) == 0 { None } else { Some(pick_cas(&mut rng)) };
                    let applies = match (c, &cur) {
                        (None, _) => true,
                        (Some(0), None) => true,
                        (Some(c), Some(v)) => v.index == c,
                        _ => false,
                    };
                    let outcome = if applies && !never {
                        index += 1;
                        store.insert(key, Some(Val::new(value.clone(), index)));
                        let shown = if is_config && rng.below(2) == 0 { None } else { Some(index) };
                        Outcome::Written { index: shown }
                    } else if applies {
                        Outcome::Written { index: None }
                    } else {
                        Outcome::Refused { current: if is_config { None } else { Some(cur.clone()) } }
                    };
                    (Op::Write { value, cas: c }, outcome)
                }
                _ => {
                    let c = if rng.below(2) == 0 { None } else { Some(pick_cas(&mut rng)) };
                    let outcome = match (c, &cur) {
                        (None, _) | (Some(0), None) => Outcome::Deleted,
                        (Some(c), Some(v)) if v.index == c => Outcome::Deleted,
                        _ => Outcome::Refused { current: Some(cur.clone()) },
                    };
                    if outcome == Outcome::Deleted && !never {
                        if cur.is_some() {
                            index += 1;
                        }
                        store.insert(key, None);
                    }
                    (Op::Delete { cas: c }, outcome)
                }
            };
            let outcome = if lost { Outcome::Unknown("lost".into()) } else { outcome };
            h.push(at(p, key, op, invoke, complete, outcome));
        }
        h
    }
}

/// A stale read after a long random history (answers lost among it) is caught, and its
/// window is the read and the write it missed, not the history before them.
#[test]
fn a_stale_read_after_a_long_history_is_caught_in_a_small_window() {
    for seed in 1..=5u64 {
        let mut h = random_history(seed, 5, 300, &["var/a"], 1000);
        let end = h.iter().map(|o| o.complete.max(o.invoke)).max().unwrap_or_default().as_millis() as u64 + 10;
        let old = h.iter().find_map(|o| match &o.outcome {
            Outcome::Read(Some(v)) => Some(v.clone()),
            _ => None,
        });
        let Some(old) = old else { continue };
        h.push(at(8, "var/a", write("late"), end, end + 5, ok(1_000_000)));
        h.push(at(9, "var/a", Op::Read, end + 10, end + 15, Outcome::Read(Some(old))));
        let r = run(&h);
        assert_eq!(r.violations.len(), 1, "seed {seed}: {r}");
        let w = &r.violations[0].window;
        assert!(w.iter().any(|o| o.process == 9) && w.iter().any(|o| o.process == 8), "seed {seed}: {r}");
        assert!(w.len() <= 20, "seed {seed}: a window of {} operations", w.len());
    }
}
