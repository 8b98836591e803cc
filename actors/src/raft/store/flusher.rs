//! Group fsync of the raft log: appends write their entries and return; one thread syncs the
//! log and tells raft, for every append that was written before that sync began, that its
//! entries are durable.
//!
//! openraft 0.10 does not wait for an append to be flushed before it takes the next one (nor
//! before it sends the entries to the followers): each append hands over a callback to call
//! once the entries are on disk. So appends that arrive while one sync runs queue here and
//! share the next sync, whatever rows their entries touch, and each entry keeps its own raft
//! index. One client still pays one sync per write (nothing else is queued); 64 clients pay one
//! for all the entries that came in meanwhile.
//!
//! A failed sync fails every append waiting for it and every later one: after a failed
//! `fdatasync` the kernel may have dropped the dirty pages, so a retry that succeeded would
//! claim durability for data that is gone. Raft then stops and the agent exits.

use std::fs;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;
use std::time::Instant;

use openraft::storage::IOFlushed;

use super::log::LogFiles;
use crate::metrics::StoreCounters;
use crate::raft::TypeConfig;

/// The longest a sync waits, under load, for more appends to join it (see [`gather`]).
const GATHER: Duration = Duration::from_millis(1);

/// Under load, a sync waits no longer than this for the next append: a quiet log means the
/// writers are all in the batch already.
const GATHER_QUIET: Duration = Duration::from_micros(250);

/// A written append waiting for its sync.
struct Pending {
    file: Arc<fs::File>,
    /// How many entries the append wrote.
    entries: usize,
    done: IOFlushed<TypeConfig>,
}

/// The sync thread's queue. Dropping the last handle ends the thread once the queue is empty.
pub(crate) struct Flusher {
    queue: Mutex<Option<mpsc::Sender<Pending>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Flusher {
    pub(crate) fn start(counters: Arc<StoreCounters>) -> io::Result<Flusher> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let thread = std::thread::Builder::new().name("raft-log-sync".into()).spawn(move || run(&rx, &counters))?;
        Ok(Flusher { queue: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)) })
    }

    /// Queues `done` to be called once `file` has been synced after this call.
    pub(crate) fn submit(&self, file: Arc<fs::File>, entries: usize, done: IOFlushed<TypeConfig>) {
        let queued = self.queue.lock().ok().and_then(|q| q.as_ref().map(|tx| tx.send(Pending { file, entries, done })));
        if let Some(Err(mpsc::SendError(p))) = queued {
            p.done.io_completed(Err(io::Error::other("raft log sync thread stopped")));
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if let Ok(mut q) = self.queue.lock() {
            q.take();
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

fn run(rx: &mpsc::Receiver<Pending>, counters: &StoreCounters) {
    let mut failed: Option<(io::ErrorKind, String)> = None;
    // Entries the last sync covered: more than one means writers are queueing.
    let mut last_entries = 0;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if last_entries > 1 {
            gather(rx, &mut batch);
        }
        last_entries = batch.iter().map(|p| p.entries).sum();
        let result = match &failed {
            Some((kind, text)) => Err(io::Error::new(*kind, text.clone())),
            None => sync_all(&batch, counters),
        };
        if let Err(e) = &result {
            failed.get_or_insert_with(|| (e.kind(), e.to_string()));
        }
        for p in batch {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            p.done.io_completed(r);
        }
    }
}

/// Under load, lets the appends that follow join this sync (as PostgreSQL's `commit_delay`):
/// it waits while they keep coming, at most [`GATHER_QUIET`] for each and [`GATHER`] in all.
/// One writer never waits: its next append only comes after the answer. A few writers wait
/// one quiet gap. With 64 writers on one server the syncs per write went from 0.16-0.24 (a
/// flat 0.2 ms wait) to 0.07-0.15, about etcd's (`benches/write_cost.sh`), for at most 1 ms
/// more latency.
fn gather(rx: &mpsc::Receiver<Pending>, batch: &mut Vec<Pending>) {
    let deadline = Instant::now() + GATHER;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left.min(GATHER_QUIET)) {
            Ok(p) => batch.push(p),
            Err(_) => return,
        }
        batch.extend(rx.try_iter());
    }
}

/// Syncs each distinct file of the batch once (almost always one: the newest segment).
fn sync_all(batch: &[Pending], counters: &StoreCounters) -> io::Result<()> {
    let mut synced: Vec<&Arc<fs::File>> = Vec::with_capacity(1);
    for p in batch {
        if synced.iter().any(|f| Arc::ptr_eq(f, &p.file)) {
            continue;
        }
        LogFiles::sync(&p.file)?;
        counters.fsyncs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        synced.push(&p.file);
    }
    Ok(())
}
