//! A redb storage backend that writes pages behind the writer, on a thread of its own.
//!
//! redb writes a page out whenever its write buffer is full (on every insert once a large
//! transaction or a run of non-durable commits filled it), one `pwrite` per 4 KiB page, on the
//! thread that applies raft entries. Applying a snapshot restore spent a third of its time
//! there. This backend queues each write and returns; a worker thread writes the queue out,
//! joining pages that follow one another into one `pwrite`, while the applying thread goes on.
//!
//! What redb sees does not change:
//! - a read returns the newest bytes written, whether or not the worker wrote them yet;
//! - `sync_data` and `set_len` first wait until every queued write is in the file, so the
//!   order that crash safety needs (pages, sync, header, sync) holds;
//! - a failed write fails every later write and sync (the bytes stay readable), as a failed
//!   `pwrite` did before;
//! - at most [`QUEUED_BYTES`] wait to be written: a writer beyond that waits for the worker.

use std::io;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::thread::JoinHandle;

use redb::backends::FileBackend;
use redb::BackendError;
use redb::StorageBackend;

/// Bytes queued before a write waits for the worker.
const QUEUED_BYTES: usize = 8 << 20;

/// Adjacent pages are joined into one `pwrite` of at most this many bytes.
const RUN_BYTES: usize = 1 << 20;

/// A backend whose writes reach the backend it wraps on a worker thread.
pub(crate) struct WriteBehind<B: StorageBackend = FileBackend> {
    inner: Arc<B>,
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Writes not yet taken by the worker, oldest first.
    queued: Vec<Write>,
    queued_bytes: usize,
    /// The writes the worker is writing (or failed to write), oldest first: reads see them.
    writing: Arc<Vec<Write>>,
    busy: bool,
    failed: Option<(io::ErrorKind, String)>,
    closing: bool,
}

struct Write {
    offset: u64,
    data: Vec<u8>,
}

impl Write {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

impl<B: StorageBackend> std::fmt::Debug for WriteBehind<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBehind").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<B: StorageBackend> WriteBehind<B> {
    pub(crate) fn new(inner: B) -> io::Result<Self> {
        let inner = Arc::new(inner);
        let shared = Arc::new(Shared { state: Mutex::default(), changed: Condvar::new() });
        let worker = {
            let (inner, shared) = (inner.clone(), shared.clone());
            std::thread::Builder::new().name("redb-writer".into()).spawn(move || write_out(&*inner, &shared))?
        };
        Ok(Self { inner, shared, worker: Mutex::new(Some(worker)) })
    }

    /// Waits until every write queued so far is in the file (or one failed).
    fn drain(&self) -> io::Result<()> {
        let mut state = self.shared.lock();
        while (!state.queued.is_empty() || state.busy) && state.failed.is_none() {
            state = self.shared.wait(state);
        }
        failure(&state)
    }

    fn stop(&self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        let worker = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(guard).unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn failure(state: &State) -> io::Result<()> {
    match &state.failed {
        Some((kind, msg)) => Err(io::Error::new(*kind, format!("an earlier write failed: {msg}"))),
        None => Ok(()),
    }
}

/// Marks the queue failed if the worker stops without being told to (a panic), so that nobody
/// waits for it forever.
struct Stopped<'a>(&'a Shared);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut state = self.0.lock();
            state.busy = false;
            state.failed = Some((io::ErrorKind::Other, "the page writer thread stopped".into()));
            drop(state);
            self.0.changed.notify_all();
        }
    }
}

/// The worker: takes everything queued and writes it, until closing with nothing queued.
fn write_out<B: StorageBackend>(inner: &B, shared: &Shared) {
    let _stopped = Stopped(shared);
    // Runs are joined in this buffer, kept for the thread's life: a fresh one for each batch
    // cost more (the kernel zeroing its pages) than copying the pages into it.
    let mut run = Vec::with_capacity(RUN_BYTES + 4096);
    loop {
        let batch = {
            let mut state = shared.lock();
            while state.queued.is_empty() && !state.closing {
                state = shared.wait(state);
            }
            if state.queued.is_empty() || state.failed.is_some() {
                return;
            }
            let batch = Arc::new(std::mem::take(&mut state.queued));
            state.queued_bytes = 0;
            state.writing = batch.clone();
            state.busy = true;
            batch
        };
        shared.changed.notify_all();
        let written = write_batch(inner, &batch, &mut run);
        let mut state = shared.lock();
        state.busy = false;
        match written {
            // A failed batch stays readable in `writing`.
            Err(e) => state.failed = Some((e.kind(), e.to_string())),
            Ok(()) => state.writing = Arc::default(),
        }
        drop(state);
        shared.changed.notify_all();
    }
}

/// Writes a batch, joining runs of adjacent writes. Of a region written more than once in the
/// batch only the newest write goes out; writes that overlap otherwise go one by one, oldest
/// first, so the newest bytes win.
fn write_batch<B: StorageBackend>(inner: &B, batch: &[Write], run: &mut Vec<u8>) -> io::Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(batch.len());
    let mut order: Vec<&Write> = batch.iter().rev().filter(|w| seen.insert((w.offset, w.data.len()))).collect();
    order.sort_by_key(|w| w.offset);
    if order.windows(2).any(|pair| pair[1].offset < pair[0].end()) {
        return batch.iter().try_for_each(|w| inner.write(w.offset, &w.data));
    }
    run.clear();
    let mut run_start = 0;
    for w in order {
        let joins = !run.is_empty() && run_start + run.len() as u64 == w.offset && run.len() < RUN_BYTES;
        if !joins {
            if !run.is_empty() {
                inner.write(run_start, run)?;
            }
            run.clear();
            run_start = w.offset;
        }
        run.extend_from_slice(&w.data);
    }
    if !run.is_empty() {
        inner.write(run_start, run)?;
    }
    Ok(())
}

/// Copies the parts of `writes` that fall in `[offset, offset + out.len())` into `out`, in order.
fn overlay(writes: &[Write], offset: u64, out: &mut [u8]) {
    let end = offset + out.len() as u64;
    for w in writes {
        if w.offset >= end || w.end() <= offset {
            continue;
        }
        let from = w.offset.max(offset);
        let to = w.end().min(end);
        let src = &w.data[(from - w.offset) as usize..(to - w.offset) as usize];
        out[(from - offset) as usize..(to - offset) as usize].copy_from_slice(src);
    }
}

impl<B: StorageBackend> StorageBackend for WriteBehind<B> {
    fn len(&self) -> Result<u64, io::Error> {
        let pending_end = {
            let state = self.shared.lock();
            state.writing.iter().chain(state.queued.iter()).map(Write::end).max().unwrap_or(0)
        };
        Ok(self.inner.len()?.max(pending_end))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let end = offset + out.len() as u64;
        // What the file may not hold yet. redb never reads a region while writing it, so what is
        // collected here is still the newest once the file is read.
        let (writing, queued): (Arc<Vec<Write>>, Vec<Write>) = {
            let state = self.shared.lock();
            let hits = |w: &&Write| w.offset < end && w.end() > offset;
            let writing = if state.writing.iter().any(|w| hits(&w)) { state.writing.clone() } else { Arc::default() };
            let queued =
                state.queued.iter().filter(hits).map(|w| Write { offset: w.offset, data: w.data.clone() }).collect();
            (writing, queued)
        };
        let covered = |writes: &[Write]| writes.iter().any(|w| w.offset <= offset && w.end() >= end);
        if !covered(&queued) && !covered(&writing) {
            self.inner.read(offset, out)?;
        }
        overlay(&writing, offset, out);
        overlay(&queued, offset, out);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.drain()?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.drain()?;
        crate::fault::fsync()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut state = self.shared.lock();
        while state.queued_bytes >= QUEUED_BYTES && state.failed.is_none() {
            state = self.shared.wait(state);
        }
        failure(&state)?;
        state.queued.push(Write { offset, data: data.to_vec() });
        state.queued_bytes += data.len();
        drop(state);
        self.shared.changed.notify_all();
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        let drained = self.drain();
        self.stop();
        drained?;
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

impl<B: StorageBackend> Drop for WriteBehind<B> {
    fn drop(&mut self) {
        let _ = self.drain();
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering;

    use redb::backends::InMemoryBackend;
    use redb::ReadableDatabase;
    use redb::ReadableTable;
    use redb::ReadableTableMetadata;
    use redb::TableDefinition;

    use super::*;

    /// An in-memory backend that counts its writes and can be made to fail them.
    #[derive(Debug, Default)]
    struct Probe {
        mem: InMemoryBackend,
        writes: AtomicUsize,
        fail: AtomicBool,
    }

    /// The test's handle on the backend it gives away.
    #[derive(Debug, Clone, Default)]
    struct Shared(Arc<Probe>);

    impl std::ops::Deref for Shared {
        type Target = Probe;
        fn deref(&self) -> &Probe {
            &self.0
        }
    }

    impl StorageBackend for Shared {
        fn len(&self) -> Result<u64, io::Error> {
            self.mem.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
            self.mem.read(offset, out)
        }
        fn set_len(&self, len: u64) -> Result<(), io::Error> {
            self.mem.set_len(len)
        }
        fn sync_data(&self) -> Result<(), io::Error> {
            Ok(())
        }
        fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no space left on device"));
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.mem.write(offset, data)
        }
    }

    fn read(b: &impl StorageBackend, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        b.read(offset, &mut out).unwrap();
        out
    }

    #[test]
    fn reads_see_the_newest_writes_and_the_file_gets_them_joined() {
        let probe = Shared::default();
        let b = WriteBehind::new(probe.clone()).unwrap();
        b.set_len(64 << 10).unwrap();
        // 16 adjacent pages, then rewrites that overlap them and each other.
        for page in 0..16u8 {
            b.write(u64::from(page) * 4096, &[page; 4096]).unwrap();
        }
        b.write(4096, &[0xaa; 4096]).unwrap();
        b.write(6144, &[0xbb; 4096]).unwrap();
        let mut want: Vec<u8> = (0..16u8).flat_map(|p| [p; 4096]).collect();
        want[4096..8192].fill(0xaa);
        want[6144..10240].fill(0xbb);
        assert_eq!(read(&b, 0, want.len()), want, "before the worker wrote anything or after");
        assert_eq!(read(&b, 5000, 3000), want[5000..8000].to_vec(), "a read inside a page");
        b.sync_data().unwrap();
        assert_eq!(read(&probe, 0, want.len()), want, "the file holds the newest bytes");
        assert_eq!(b.len().unwrap(), 64 << 10);

        // Adjacent pages queued together reach the file as one write.
        b.drain().unwrap();
        let before = probe.writes.load(Ordering::SeqCst);
        let pages: Vec<Vec<u8>> = (0..8u8).map(|p| vec![p + 100; 4096]).collect();
        {
            // Queued under one lock, so that the worker takes them as one batch.
            let mut state = b.shared.lock();
            for (i, page) in pages.iter().enumerate() {
                state.queued.push(Write { offset: 32768 + i as u64 * 4096, data: page.clone() });
                state.queued_bytes += 4096;
            }
        }
        b.shared.changed.notify_all();
        b.sync_data().unwrap();
        assert_eq!(probe.writes.load(Ordering::SeqCst) - before, 1, "8 adjacent pages, one write");
        assert_eq!(read(&probe, 32768, 4096), vec![100u8; 4096]);
        b.close().unwrap();
    }

    #[test]
    fn a_failed_write_fails_what_follows_and_its_bytes_stay_readable() {
        let probe = Shared::default();
        let b = WriteBehind::new(probe.clone()).unwrap();
        b.set_len(8192).unwrap();
        probe.fail.store(true, Ordering::SeqCst);
        b.write(0, &[7; 4096]).unwrap();
        let err = b.sync_data().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("no space left on device"), "{err}");
        assert_eq!(read(&b, 0, 4096), vec![7u8; 4096], "the bytes redb wrote are still what it reads");
        assert!(b.write(4096, &[8; 4096]).is_err(), "later writes fail too");
        assert!(b.set_len(16384).is_err());
    }

    #[test]
    fn a_database_written_behind_reopens_with_every_durable_row() {
        const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let file =
                std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).unwrap();
            let backend = WriteBehind::new(FileBackend::new(file).unwrap()).unwrap();
            // A small cache, so that pages are written out during the transactions too.
            let db = redb::Database::builder().set_cache_size(1 << 20).create_with_backend(backend).unwrap();
            for batch in 0..20u64 {
                let mut txn = db.begin_write().unwrap();
                let durable = batch == 19;
                if !durable {
                    txn.set_durability(redb::Durability::None).unwrap();
                }
                {
                    let mut t = txn.open_table(T).unwrap();
                    for i in 0..500u64 {
                        t.insert(batch * 500 + i, vec![(i % 251) as u8; 1000].as_slice()).unwrap();
                    }
                }
                txn.commit().unwrap();
                // Reads in between see every commit, written out or not.
                let read = db.begin_read().unwrap();
                let t = read.open_table(T).unwrap();
                assert_eq!(t.len().unwrap(), (batch + 1) * 500);
            }
        }
        let db = redb::Database::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        let t = read.open_table(T).unwrap();
        assert_eq!(t.len().unwrap(), 10_000);
        for (k, v) in t.iter().unwrap().map(|r| r.unwrap()) {
            assert_eq!(v.value(), vec![(k.value() % 500 % 251) as u8; 1000].as_slice());
        }
    }
}
