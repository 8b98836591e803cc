//! openraft's log storage: the entries in the log files ([`log`]), the vote and the purge
//! point in redb meta.

use std::fmt::Debug;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use openraft::async_runtime::watch::WatchReceiver;
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use openraft::LogState;
use openraft::RaftLogReader;
use openraft::ServerState;
use redb::Database;

use super::blocking;
use super::blocking_io;
use super::flusher::Flusher;
use super::log;
use super::read_err;
use super::runs_in_place;
use super::schema::get_meta;
use super::schema::put_meta;
use super::schema::KEY_PURGED;
use super::schema::KEY_VOTE;
use super::write_err;
use crate::metrics::StoreCounters;
use crate::raft::Entry;
use crate::raft::LogId;
use crate::raft::Raft;
use crate::raft::StorageError;
use crate::raft::TypeConfig;
use crate::raft::Vote;

/// The raft log (files, see `log.rs`) and the vote (redb).
#[derive(Clone)]
pub struct LogStore {
    pub(super) db: Arc<Database>,
    pub(super) log: Arc<log::LogFiles>,
    pub(super) counters: Arc<StoreCounters>,
    /// Syncs the appends (see [`super::flusher`]).
    pub(super) flusher: Arc<Flusher>,
}

impl LogStore {
    /// Log fsyncs and the committed index, for the server's metrics.
    pub fn counters(&self) -> Arc<StoreCounters> {
        self.counters.clone()
    }

    /// For the life of `raft`: appends sync in place while this server does not lead (see
    /// [`Flusher::sync_in_place`]), on the sync thread while it leads.
    pub(crate) async fn sync_in_place_unless_leading(self, raft: Raft) {
        let mut server = raft.server_metrics();
        loop {
            let leading = server.borrow_watched().state == ServerState::Leader;
            self.flusher.sync_in_place(!leading);
            if server.changed().await.is_err() {
                return;
            }
        }
    }
}

/// `[start, end)` of a range of log indexes.
fn index_span(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        blocking(&self.db, |db| get_meta(db, KEY_VOTE)).await
    }

    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = index_span(&range);
        // The entries just appended are in memory: no trip to the blocking pool for them.
        if let Some(entries) = self.log.cached(start, end).map_err(read_err)? {
            return Ok(entries);
        }
        let log = self.log.clone();
        blocking_io(move || log.read(start, end)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = blocking(&self.db, |db| get_meta(db, KEY_PURGED)).await?;
        let last = self.log.last_log_id().map_err(read_err)?.or(last_purged);
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        blocking(&self.db, move |db| put_meta(db, KEY_VOTE, &vote, true)).await
    }

    /// The committed index is a hint for replay at start-up; a stale value only means raft
    /// re-learns it from the cluster, so it is kept in memory here and written, without an
    /// fsync of its own, with the next append.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.counters.committed.store(committed.map_or(0, |c| c.index), Ordering::Relaxed);
        self.log.set_committed(committed).map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        self.log.committed().map_err(read_err)
    }

    /// Writes the entries and returns; the sync thread calls `callback` once they are durable,
    /// sharing one sync with every append written meanwhile (see [`super::flusher`]).
    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let count = entries.len();
        let res = if runs_in_place(&entries) {
            self.log.write(entries).map_err(write_err)
        } else {
            let log = self.log.clone();
            blocking_io(move || log.write(entries)).await
        };
        match res {
            Ok(Some(file)) => {
                self.flusher.submit(file, count, callback);
                Ok(())
            }
            Ok(None) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.io_completed(Err(std::io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    /// Removes every entry after `last` (all of them for `None`), durably.
    async fn truncate_after(&mut self, last: Option<LogId>) -> Result<(), StorageError> {
        let from = last.map_or(0, |l| l.index + 1);
        let log = self.log.clone();
        blocking_io(move || log.truncate(from)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // Recorded durably before any file goes: a crash in between leaves files that the next
        // open skips. The durable commit also makes every apply before it durable, so the state
        // never needs an entry that is purged.
        let started = std::time::Instant::now();
        blocking(&self.db, move |db| put_meta(db, KEY_PURGED, &log_id, true)).await?;
        let log = self.log.clone();
        blocking_io(move || log.purge(log_id.index)).await?;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.counters.compaction_micros.fetch_add(micros, Ordering::Relaxed);
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
