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
//! A follower syncs in place instead, on the thread that appended, while the sync thread has
//! nothing queued and the disk syncs quickly ([`Flusher::sync_in_place`]): its appends come one
//! at a time, so the thread would add two wake-ups to each and share nothing.
//!
//! A failed sync fails every append waiting for it and every later one, in place or on the
//! thread: after a failed `fdatasync` the kernel may have dropped the dirty pages, so a retry
//! that succeeded would claim durability for data that is gone. Raft then stops and the agent
//! exits.

use std::fs;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
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

/// A sync in place blocks the appending thread, which also serves requests on a small machine:
/// only while the last sync took at most this long. A slow disk (a network volume, a busy
/// spindle) sends the syncs to the sync thread, and one that becomes fast again brings them back.
const IN_PLACE_SYNC_MAX: Duration = Duration::from_micros(500);

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
    shared: Arc<Shared>,
}

/// What the sync thread and an in-place sync share.
struct Shared {
    counters: Arc<StoreCounters>,
    /// Appends handed to the thread whose callbacks have not all run yet.
    queued: AtomicUsize,
    /// Whether an append may sync in place (see [`Flusher::sync_in_place`]).
    in_place: AtomicBool,
    /// How long the last sync took, in microseconds.
    last_sync_micros: AtomicU64,
    /// The first failed sync: every later one fails with it.
    failed: Mutex<Option<(io::ErrorKind, String)>>,
}

impl Flusher {
    pub(crate) fn start(counters: Arc<StoreCounters>) -> io::Result<Flusher> {
        let (tx, rx) = mpsc::channel::<Pending>();
        let shared = Arc::new(Shared {
            counters,
            queued: AtomicUsize::new(0),
            in_place: AtomicBool::new(false),
            last_sync_micros: AtomicU64::new(0),
            failed: Mutex::new(None),
        });
        let on_thread = shared.clone();
        let thread = std::thread::Builder::new().name("raft-log-sync".into()).spawn(move || run(&rx, &on_thread))?;
        Ok(Flusher { queue: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), shared })
    }

    /// Whether an append written while the sync thread has nothing queued syncs on the
    /// appending thread itself rather than on the sync thread. A follower's appends come one at
    /// a time (the leader sends the next after the answer), so the thread would only add two
    /// wake-ups to each: one to start the sync, one to tell raft. On the leader the append must
    /// return at once, as raft sends the entries to the followers only after it returns.
    pub(crate) fn sync_in_place(&self, yes: bool) {
        self.shared.in_place.store(yes, Ordering::Relaxed);
    }

    /// Whether the next append syncs in place: allowed, nothing queued (so every earlier
    /// append's callback has run, and the callbacks stay in order), and the last sync was quick.
    fn syncs_in_place(&self) -> bool {
        let s = &self.shared;
        s.in_place.load(Ordering::Relaxed)
            && s.queued.load(Ordering::Acquire) == 0
            && s.last_sync_micros.load(Ordering::Relaxed) <= IN_PLACE_SYNC_MAX.as_micros() as u64
    }

    /// Calls `done` once `file` has been synced after this call: here and now when the append
    /// syncs in place ([`Flusher::sync_in_place`]), else on the sync thread.
    pub(crate) fn submit(&self, file: Arc<fs::File>, entries: usize, done: IOFlushed<TypeConfig>) {
        if self.syncs_in_place() {
            done.io_completed(self.shared.sync_all(&[&file]));
            return;
        }
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        let queued = self.queue.lock().ok().and_then(|q| q.as_ref().map(|tx| tx.send(Pending { file, entries, done })));
        if let Some(Err(mpsc::SendError(p))) = queued {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
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

fn run(rx: &mpsc::Receiver<Pending>, shared: &Shared) {
    // Entries the last sync covered: more than one means writers are queueing.
    let mut last_entries = 0;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if last_entries > 1 {
            gather(rx, &mut batch);
        }
        last_entries = batch.iter().map(|p| p.entries).sum();
        let files: Vec<&Arc<fs::File>> = batch.iter().map(|p| &p.file).collect();
        let result = shared.sync_all(&files);
        let count = batch.len();
        for p in batch {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            p.done.io_completed(r);
        }
        shared.queued.fetch_sub(count, Ordering::AcqRel);
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

impl Shared {
    /// Syncs each distinct file once (almost always one: the newest segment), or fails with the
    /// first failed sync; a failure is kept for every later call.
    fn sync_all(&self, files: &[&Arc<fs::File>]) -> io::Result<()> {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((kind, text)) = &*failed {
            return Err(io::Error::new(*kind, text.clone()));
        }
        let started = Instant::now();
        let mut synced: Vec<&Arc<fs::File>> = Vec::with_capacity(1);
        for file in files {
            if synced.iter().any(|f| Arc::ptr_eq(f, file)) {
                continue;
            }
            if let Err(e) = LogFiles::sync(file) {
                *failed = Some((e.kind(), e.to_string()));
                return Err(e);
            }
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            synced.push(file);
        }
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_sync_micros.store(micros, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flusher allowed to sync in place, an open log file, and a callback with its receiver.
    fn setup() -> (Flusher, Arc<fs::File>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let file = Arc::new(fs::File::create(dir.path().join("seg")).unwrap());
        let flusher = Flusher::start(Arc::default()).unwrap();
        flusher.sync_in_place(true);
        (flusher, file, dir)
    }

    type Done = tokio::sync::oneshot::Receiver<io::Result<()>>;

    fn callback() -> (IOFlushed<TypeConfig>, Done) {
        use openraft::type_config::TypeConfigExt;
        let (tx, rx) = TypeConfig::oneshot();
        (IOFlushed::signal(tx), rx)
    }

    fn wait(mut rx: Done) -> io::Result<()> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("no answer from the flusher: {e}"),
            }
        }
    }

    #[test]
    fn a_lone_append_syncs_in_place_before_submit_returns() {
        let (flusher, file, _dir) = setup();
        let (done, mut rx) = callback();
        flusher.submit(file, 1, done);
        assert!(matches!(rx.try_recv(), Ok(Ok(()))), "answered before submit returned");
        assert_eq!(flusher.shared.counters.fsyncs.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn an_append_behind_a_queued_one_waits_for_the_sync_thread() {
        let (flusher, file, _dir) = setup();
        // Hold the sync thread inside its next sync.
        let held = flusher.shared.failed.lock().unwrap();
        flusher.sync_in_place(false);
        let (first, first_rx) = callback();
        flusher.submit(file.clone(), 1, first);
        flusher.sync_in_place(true);
        assert!(!flusher.syncs_in_place(), "an append is queued");
        let (second, mut second_rx) = callback();
        flusher.submit(file.clone(), 1, second);
        assert!(second_rx.try_recv().is_err(), "not answered while the earlier sync is held");
        drop(held);
        assert!(wait(first_rx).is_ok() && wait(second_rx).is_ok());
        // The thread counts its appends done after their callbacks ran.
        let until = Instant::now() + Duration::from_secs(10);
        while flusher.shared.queued.load(Ordering::Acquire) != 0 {
            assert!(Instant::now() < until, "the queue never drained");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_leader_and_a_slow_disk_sync_on_the_sync_thread() {
        let (flusher, _file, _dir) = setup();
        assert!(flusher.syncs_in_place());
        flusher.sync_in_place(false);
        assert!(!flusher.syncs_in_place(), "leading");
        flusher.sync_in_place(true);
        flusher.shared.last_sync_micros.store(IN_PLACE_SYNC_MAX.as_micros() as u64 + 1, Ordering::Relaxed);
        assert!(!flusher.syncs_in_place(), "the last sync was slow");
    }

    #[test]
    fn a_failed_sync_fails_every_later_one_in_place_or_not() {
        let (flusher, file, _dir) = setup();
        *flusher.shared.failed.lock().unwrap() = Some((io::ErrorKind::Other, "Input/output error".into()));
        let (done, rx) = callback();
        flusher.submit(file.clone(), 1, done);
        assert!(wait(rx).unwrap_err().to_string().contains("Input/output error"));
        flusher.sync_in_place(false);
        let (done, rx) = callback();
        flusher.submit(file, 1, done);
        assert!(wait(rx).unwrap_err().to_string().contains("Input/output error"));
        assert_eq!(flusher.shared.counters.fsyncs.load(Ordering::Relaxed), 0);
    }
}
