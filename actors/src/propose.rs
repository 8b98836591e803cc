//! Group commit of client writes on the leader.
//!
//! openraft 0.9 appends, fsyncs and waits for each `client_write` entry before it takes the
//! next one (`RaftCore::append_to_log` awaits the flush), so N concurrent writes would cost N
//! fsyncs one after the other. The proposer sits in front of it: writes queue here, and while
//! one entry is being committed the next ones gather; whatever has gathered then goes to raft
//! as ONE [`Command::Batch`] entry: one append, one fsync, one replication round.
//!
//! Under load the next entry also lingers a little for more writes ([`linger`]): each entry
//! costs one fsync and one partly filled log page written again, so at 64 clients the group's
//! size, not the entry's bytes, decides what a write costs the disk.
//!
//! A batch never holds two commands that write the same row ([`Command::rows`]): such a command
//! waits for the next entry, so a row changes at most once per raft index and each write gets a
//! `ModifyIndex` of its own (what CAS compares). Commands keep their arrival order.

use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::error::RaftError;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::OpError;
use crate::raft::Raft;
use crate::raft::TypeConfig;
use crate::state::Applied;
use crate::state::Command;
use crate::state::RowKey;
use crate::wire::Attempt;

/// The most commands in one entry: bounds the entry a follower receives and applies at once.
const MAX_BATCH: usize = 256;

/// Writes that must arrive while one entry commits for the next to linger: the sign of a
/// stream of writers beyond the ones waiting for that entry (one client never lingers; its
/// next write only comes after the reply).
const LINGER_FROM: usize = 2;

/// A lingering entry goes once this many writes wait...
const GROUP_TARGET: usize = 32;

/// ...or once no write came for this long (the stream has dried up; tokio's timer rounds it up
/// to the next millisecond)...
const ARRIVAL_GAP: Duration = Duration::from_millis(1);

/// ...and at the latest after this long.
const MAX_LINGER: Duration = Duration::from_millis(3);

/// The most encoded bytes of commands in one entry (a single larger command goes alone): keeps
/// one append-entries message well under the RPC body limit and one apply short.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The longest a leadership transfer holds writes and leadership confirmations: past it they go
/// on, whatever became of the transfer (its own deadline is shorter).
const HOLD_LIMIT: Duration = Duration::from_secs(10);

struct Pending {
    command: Command,
    size: usize,
    reply: oneshot::Sender<Attempt<Applied>>,
}

/// The leader's write queue (see the module docs). Stopping it (or dropping the last handle)
/// ends its task; writes still queued then fail as internal errors.
pub(crate) struct Proposer {
    queue: mpsc::UnboundedSender<Pending>,
    task: tokio::task::JoinHandle<()>,
    /// Set while a leadership transfer runs: every entry and every leadership confirmation
    /// sent to the followers renews their leader lease, and a follower whose lease holds
    /// refuses the transfer target's vote, so under load a transfer could never win.
    held: watch::Sender<bool>,
}

/// Holds the leader's writes and leadership confirmations until dropped (see
/// [`Proposer::hold`]).
pub(crate) struct Hold<'a>(&'a watch::Sender<bool>);

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl Proposer {
    /// Starts the proposer's task on the current runtime.
    pub(crate) fn start(raft: Raft) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        let (held, hold) = watch::channel(false);
        let task = tokio::spawn(run(raft, pending, hold));
        Self { queue, task, held }
    }

    /// Holds new entries and leadership confirmations (queued, not refused) until the returned
    /// guard is dropped, or for at most [`HOLD_LIMIT`]; then they go to raft, which refuses them
    /// if leadership has moved, and the caller routes them to the new leader.
    pub(crate) fn hold(&self) -> Hold<'_> {
        self.held.send_replace(true);
        Hold(&self.held)
    }

    /// Waits while a [`Proposer::hold`] lasts.
    pub(crate) async fn released(&self) {
        released(&mut self.held.subscribe()).await;
    }

    /// Writes `command` through raft, in a batch with whatever arrives together with it.
    pub(crate) async fn propose(&self, command: Command) -> Attempt<Applied> {
        let stopped = || Attempt::Done(Err(OpError::Internal("the write queue has stopped".into())));
        let size = postcard::to_stdvec(&command).map_or(0, |b| b.len());
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Pending { command, size, reply }).is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Proposer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn released(hold: &mut watch::Receiver<bool>) {
    let _ = tokio::time::timeout(HOLD_LIMIT, hold.wait_for(|held| !held)).await;
}

async fn run(raft: Raft, mut pending: mpsc::UnboundedReceiver<Pending>, mut hold: watch::Receiver<bool>) {
    let mut waiting: VecDeque<Pending> = VecDeque::new();
    // Writes that arrived while the last entry was being committed.
    let mut arrived = 0;
    // Writes in the last entry.
    let mut last_group = 0;
    loop {
        if waiting.is_empty() {
            match pending.recv().await {
                Some(p) => waiting.push_back(p),
                None => return,
            }
        }
        while let Ok(p) = pending.try_recv() {
            waiting.push_back(p);
        }
        if arrived >= LINGER_FROM {
            // The writers the last entry answered usually write again at once: wait for them
            // (and no more), so a steady set of writers lands in one entry each round.
            let target = (last_group + arrived).min(GROUP_TARGET);
            linger(&mut pending, &mut waiting, target).await;
        }
        let n = batch_len(waiting.iter().map(|p| (p.command.rows(), p.size)));
        last_group = n;
        let batch: Vec<Pending> = waiting.drain(..n).collect();
        released(&mut hold).await;
        // One entry in flight at a time: while it commits, the next batch gathers.
        submit(&raft, batch).await;
        let left = waiting.len();
        while let Ok(p) = pending.try_recv() {
            waiting.push_back(p);
        }
        arrived = waiting.len() - left;
    }
}

/// Gathers more writes before the next entry goes, under load (see [`LINGER_FROM`]): until
/// `target` wait (at most [`GROUP_TARGET`]), no write came for [`ARRIVAL_GAP`], or
/// [`MAX_LINGER`] passed.
async fn linger(pending: &mut mpsc::UnboundedReceiver<Pending>, waiting: &mut VecDeque<Pending>, target: usize) {
    let deadline = Instant::now() + MAX_LINGER;
    while waiting.len() < target {
        let until = deadline.min(Instant::now() + ARRIVAL_GAP);
        match tokio::time::timeout_at(until, pending.recv()).await {
            Ok(Some(p)) => waiting.push_back(p),
            Ok(None) | Err(_) => return,
        }
        while let Ok(p) = pending.try_recv() {
            waiting.push_back(p);
        }
    }
}

/// How many of the waiting commands, from the front, go into the next entry: at least one;
/// stop before a command that writes a row already in the batch, or that would pass the count
/// or size limit.
fn batch_len(waiting: impl IntoIterator<Item = (Vec<RowKey>, usize)>) -> usize {
    let mut rows = BTreeSet::new();
    let (mut n, mut bytes) = (0, 0);
    for (command_rows, size) in waiting {
        let conflict = command_rows.iter().any(|r| rows.contains(r))
            || (!rows.is_empty() && command_rows.contains(&RowKey::All))
            || rows.contains(&RowKey::All);
        if n > 0 && (n == MAX_BATCH || conflict || bytes + size > MAX_BATCH_BYTES) {
            break;
        }
        rows.extend(command_rows);
        bytes += size;
        n += 1;
    }
    n
}

async fn submit(raft: &Raft, mut batch: Vec<Pending>) {
    if batch.len() == 1 {
        if let Some(p) = batch.pop() {
            let _ = p.reply.send(raft_outcome(raft.client_write(p.command).await.map(|r| r.data)));
        }
        return;
    }
    let (commands, replies): (Vec<Command>, Vec<_>) = batch.into_iter().map(|p| (p.command, p.reply)).unzip();
    let count = commands.len();
    match raft.client_write(Command::Batch(commands)).await {
        Ok(resp) if resp.data.batch.len() == count => {
            for (reply, applied) in replies.into_iter().zip(resp.data.batch) {
                let _ = reply.send(Attempt::Done(Ok(applied)));
            }
        }
        Ok(resp) => {
            let why = format!("a batch of {count} writes applied as {}", resp.data.batch.len());
            for reply in replies {
                let _ = reply.send(Attempt::Done(Err(OpError::Internal(why.clone()))));
            }
        }
        Err(e) => {
            let not_leader = matches!(e, RaftError::APIError(ClientWriteError::ForwardToLeader(_)));
            for reply in replies {
                let _ = reply.send(if not_leader {
                    Attempt::NotLeader
                } else {
                    Attempt::Done(Err(OpError::Raft(e.to_string())))
                });
            }
        }
    }
}

/// Maps an openraft write outcome: a lost leadership is retried elsewhere, anything else is final.
pub(crate) fn raft_outcome<T>(r: Result<T, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>) -> Attempt<T> {
    match r {
        Ok(v) => Attempt::Done(Ok(v)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(OpError::Raft(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(i: usize) -> Pending {
        let (reply, _) = oneshot::channel();
        let command = Command::VarDelete { namespace: "default".into(), path: format!("p{i}"), cas: None };
        Pending { command, size: 10, reply }
    }

    #[tokio::test]
    async fn linger_gathers_until_the_target_or_a_gap() {
        let (queue, mut pending) = mpsc::unbounded_channel();
        let mut waiting: VecDeque<Pending> = (0..GROUP_TARGET).map(write).collect();
        let started = Instant::now();
        linger(&mut pending, &mut waiting, GROUP_TARGET).await;
        assert!(started.elapsed() < ARRIVAL_GAP, "enough writes wait: no lingering");

        waiting.clear();
        for i in 0..5 {
            queue.send(write(i)).map_err(|_| "closed").unwrap();
        }
        let started = Instant::now();
        linger(&mut pending, &mut waiting, GROUP_TARGET).await;
        assert_eq!(waiting.len(), 5, "what had arrived joins");
        assert!(started.elapsed() >= ARRIVAL_GAP, "then it waits for a gap");

        // The writers the last entry answered are all back: no wait for more.
        let started = Instant::now();
        linger(&mut pending, &mut waiting, 5).await;
        assert!(started.elapsed() < ARRIVAL_GAP, "the target is met: no lingering");

        drop(queue);
        let started = Instant::now();
        linger(&mut pending, &mut waiting, GROUP_TARGET).await;
        assert!(started.elapsed() < ARRIVAL_GAP, "a closed queue ends it");
    }

    /// What [`batch_len`] sees of one waiting write: the rows it writes and its size.
    type Waiting = (Vec<RowKey>, usize);

    #[test]
    fn batches_stop_before_a_second_write_of_a_row_or_a_limit() {
        use RowKey::Autopilot as A;
        use RowKey::Scheduler as S;
        let small = |rows: &[RowKey]| (rows.to_vec(), 100);
        let cases: Vec<(&str, Vec<Waiting>, usize)> = vec![
            ("nothing waiting", vec![], 0),
            ("one write", vec![small(&[S])], 1),
            ("two rows together", vec![small(&[S]), small(&[A])], 2),
            ("same row twice: the second waits", vec![small(&[S]), small(&[S])], 1),
            ("order kept: stop at the first conflict", vec![small(&[S]), small(&[A]), small(&[S]), small(&[])], 2),
            ("a write of both rows conflicts with either", vec![small(&[A]), small(&[A, S])], 1),
            ("a write of every row goes alone", vec![small(&[A]), small(&[RowKey::All])], 1),
            ("nothing joins a write of every row", vec![small(&[RowKey::All]), small(&[S])], 1),
            ("size limit", vec![(vec![A], MAX_BATCH_BYTES), (vec![S], 1)], 1),
            ("an oversized write still goes, alone", vec![(vec![A], MAX_BATCH_BYTES * 2), (vec![S], 1)], 1),
            ("count limit", (0..MAX_BATCH + 5).map(|_| small(&[])).collect(), MAX_BATCH),
        ];
        for (why, waiting, want) in cases {
            assert_eq!(batch_len(waiting), want, "{why}");
        }
    }
}
