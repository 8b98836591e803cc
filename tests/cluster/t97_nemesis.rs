//! Nemeses on real clusters (127.97.x.y, see `nemesis.rs`): concurrent clients on three
//! variables and the scheduler configuration, recorded and checked for linearizability and
//! for acknowledged writes kept, while a fault is injected again and again: SIGKILL and
//! restart, SIGSTOP/SIGCONT, partitions, one-way drops, lossy links, stalls.
//!
//! Each runs `RAFTWARDEN_NEMESIS_SECS` (default 12 s) of faults, then heals, waits for the
//! cluster to converge, reads every key and runs the checker:
//! `RAFTWARDEN_NEMESIS_SECS=180 cargo test --release --test cluster t97 -- --test-threads=1 --nocapture`
//! runs the long versions.

use std::time::Duration;
use std::time::Instant;

use crate::nemesis::agreed_leader;
use crate::nemesis::converge;
use crate::nemesis::final_check;
use crate::nemesis::nemesis_secs;
use crate::nemesis::net;
use crate::nemesis::urls;
use crate::nemesis::Firewall;
use crate::nemesis::Paused;
use crate::nemesis::Rng;
use crate::nemesis::Workload;
use crate::support::poll;
use crate::support::Cluster;

/// Seconds of faults in a plain `cargo test`.
const SHORT_SECS: u64 = 12;
/// Clients of the workload.
const CLIENTS: usize = 6;

/// One nemesis run: a cluster, its workload, the fault schedule's clock and the faults count.
struct Run {
    c: Cluster,
    _dir: tempfile::TempDir,
    work: Workload,
    until: Instant,
    rounds: usize,
    faults: usize,
    rng: Rng,
}

impl Run {
    fn start(servers: usize, seed: u64) -> Run {
        let dir = tempfile::tempdir().expect("tempdir");
        let order: Vec<usize> = (0..servers).collect();
        let c = Cluster::start(&net(), &dir, servers, &order);
        let work = Workload::start(urls(&c), CLIENTS, seed);
        Run {
            c,
            _dir: dir,
            work,
            until: Instant::now() + nemesis_secs(SHORT_SECS),
            rounds: 0,
            faults: 0,
            rng: Rng::new(seed),
        }
    }

    /// Whether another fault round fits (bounded by time and count).
    fn more(&mut self) -> bool {
        self.rounds += 1;
        Instant::now() < self.until && self.rounds <= 10_000
    }

    /// The leader all running servers agree on (waiting for one, bounded).
    fn leader(&self) -> usize {
        let mut leader = None;
        let found = poll(Duration::from_secs(30), || {
            leader = agreed_leader(&self.c);
            leader.is_some()
        });
        assert!(found, "no agreed leader");
        leader.unwrap_or(0)
    }

    /// The leader on even rounds, a random follower on odd ones.
    fn victim(&mut self) -> usize {
        let leader = self.leader();
        if self.rounds.is_multiple_of(2) {
            return leader;
        }
        let n = self.c.agents.len() as u64;
        (leader + 1 + self.rng.below(n - 1) as usize) % n as usize
    }

    fn ips(&self, which: &[usize]) -> Vec<String> {
        which.iter().map(|&i| self.c.agents[i].spec.ip.clone()).collect()
    }

    /// Lets the workload run unharmed for a while between faults.
    fn calm(&mut self) {
        std::thread::sleep(Duration::from_millis(1000 + self.rng.below(1000)));
    }

    fn finish(self, name: &str, min_definite: usize) {
        converge(&self.c, Duration::from_secs(60));
        let rec = self.work.stop();
        final_check(&self.c, &rec, name, self.faults, min_definite, true);
    }
}

#[test]
fn nemesis_kill_leader_and_followers() {
    let mut run = Run::start(3, 1);
    while run.more() {
        run.calm();
        let v = run.victim();
        run.c.agents[v].kill9();
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(1500 + run.rng.below(1500)));
        run.c.agents[v].launch();
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("kill", 60);
}

#[test]
fn nemesis_pause_leader_and_followers() {
    let mut run = Run::start(3, 2);
    while run.more() {
        run.calm();
        let v = run.victim();
        // Longer than an election: a paused leader wakes up deposed, with requests queued on it.
        let paused = Paused::new(&run.c.agents[v]);
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(2000 + run.rng.below(3000)));
        drop(paused);
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("pause", 60);
}

#[test]
fn nemesis_stall_one_server() {
    // No tc qdiscs on this kernel (no netem), so a slow link is made by stalling one server
    // again and again: 50-300 ms stopped, 100-200 ms running, for about three seconds.
    let mut run = Run::start(3, 3);
    while run.more() {
        run.calm();
        let v = run.victim();
        let end = Instant::now() + Duration::from_secs(3);
        for _ in 0..40 {
            if Instant::now() >= end {
                break;
            }
            let paused = Paused::new(&run.c.agents[v]);
            std::thread::sleep(Duration::from_millis(50 + run.rng.below(250)));
            drop(paused);
            run.faults += 1;
            std::thread::sleep(Duration::from_millis(100 + run.rng.below(100)));
        }
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("stall", 60);
}

#[test]
fn nemesis_partition_isolates_the_leader() {
    let Some(fw) = Firewall::new("t97_isolate") else { return };
    let mut run = Run::start(3, 4);
    while run.more() {
        run.calm();
        let leader = run.leader();
        let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        // Clients still reach the isolated leader: it must not answer for the cluster.
        fw.partition(&run.ips(&[leader]), &run.ips(&others));
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(3000 + run.rng.below(2000)));
        fw.heal();
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("isolate-leader", 60);
}

#[test]
fn nemesis_one_way_drops() {
    let Some(fw) = Firewall::new("t97_one_way") else { return };
    let mut run = Run::start(3, 5);
    while run.more() {
        run.calm();
        // Every packet from one server to another is lost, the way back works.
        let from = run.victim();
        let to = (from + 1 + run.rng.below(2) as usize) % 3;
        fw.drop_from(&run.ips(&[from])[0], &run.ips(&[to])[0], 100);
        if run.rng.below(2) == 0 {
            // And from the same server to the third: it hears everyone, nobody hears it.
            let third = 3 - from - to;
            fw.drop_from(&run.ips(&[from])[0], &run.ips(&[third])[0], 100);
        }
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(3000 + run.rng.below(2000)));
        fw.heal();
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("one-way", 60);
}

#[test]
fn nemesis_lossy_links() {
    let Some(fw) = Firewall::new("t97_lossy") else { return };
    let mut run = Run::start(3, 6);
    while run.more() {
        run.calm();
        // Every link between servers loses 20-50% of its packets, both ways.
        let percent = 20 + run.rng.below(31) as u32;
        let ips = run.ips(&[0, 1, 2]);
        for a in &ips {
            for b in &ips {
                if a != b {
                    fw.drop_from(a, b, percent);
                }
            }
        }
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(3000 + run.rng.below(2000)));
        fw.heal();
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("lossy", 60);
}

#[test]
fn nemesis_majority_minority_split_of_five() {
    let Some(fw) = Firewall::new("t97_split5") else { return };
    let mut run = Run::start(5, 7);
    while run.more() {
        run.calm();
        // Two against three; the leader on the minority side every other round.
        let leader = run.leader();
        let mut rest: Vec<usize> = (0..5).filter(|&i| i != leader).collect();
        let pick = run.rng.below(4) as usize;
        let partner = rest.remove(pick);
        let (minority, majority) = if run.rounds.is_multiple_of(2) {
            (vec![leader, partner], rest)
        } else {
            let mut majority = rest;
            majority.push(leader);
            (vec![partner, majority.remove(0)], majority)
        };
        fw.partition(&run.ips(&minority), &run.ips(&majority));
        run.faults += 1;
        std::thread::sleep(Duration::from_millis(3000 + run.rng.below(2000)));
        fw.heal();
        converge(&run.c, Duration::from_secs(60));
    }
    run.finish("split-5", 60);
}
