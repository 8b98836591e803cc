//! openraft's log storage: the entries in the log files ([`log`]), the vote and the purge
//! point in redb meta.

use std::fmt::Debug;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::LogState;
use openraft::RaftLogReader;
use openraft::Vote;
use redb::Database;

use super::blocking;
use super::blocking_io;
use super::log;
use super::read_err;
use super::runs_in_place;
use super::schema::get_meta;
use super::schema::put_meta;
use super::schema::CurrentSnapshot;
use super::schema::KEY_CURRENT_SNAPSHOT;
use super::schema::KEY_PURGED;
use super::schema::KEY_VOTE;
use super::write_err;
use crate::metrics::StoreCounters;
use crate::raft::Entry;
use crate::raft::LogId;
use crate::raft::NodeId;
use crate::raft::StorageError;
use crate::raft::TypeConfig;

/// The raft log (files, see `log.rs`) and the vote (redb).
#[derive(Clone)]
pub struct LogStore {
    pub(super) db: Arc<Database>,
    pub(super) log: Arc<log::LogFiles>,
    pub(super) counters: Arc<StoreCounters>,
    /// Set while the state machine receives or installs a raft snapshot (see
    /// [`covered_by_snapshot`]).
    pub(super) installing: Arc<AtomicBool>,
}

impl LogStore {
    /// Log fsyncs and the committed index, for the server's metrics.
    pub fn counters(&self) -> Arc<StoreCounters> {
        self.counters.clone()
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

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let vote = *vote;
        blocking(&self.db, move |db| put_meta(db, KEY_VOTE, &vote, true)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        blocking(&self.db, |db| get_meta(db, KEY_VOTE)).await
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

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let res = if runs_in_place(&entries) {
            self.log.append(entries).map_err(write_err)
        } else {
            let log = self.log.clone();
            blocking_io(move || log.append(entries)).await
        };
        match res {
            Ok(()) => {
                self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let log = self.log.clone();
        blocking_io(move || log.truncate(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        if self.installing.load(Ordering::SeqCst) {
            covered_by_snapshot(&self.db, log_id).await?;
        }
        // Recorded durably before any file goes: a crash in between leaves files that the next
        // open skips. The durable commit also makes every apply before it durable, so the state
        // never needs an entry that is purged.
        blocking(&self.db, move |db| put_meta(db, KEY_PURGED, &log_id, true)).await?;
        let log = self.log.clone();
        blocking_io(move || log.purge(log_id.index)).await
    }
}

/// How long a purge waits for the snapshot that covers it: an install of a large snapshot
/// takes a while; one that never lands is an error (raft stops, the agent exits).
const PURGE_WAIT: Duration = Duration::from_secs(30 * 60);
const PURGE_POLL: Duration = Duration::from_millis(10);

/// Waits until the current raft snapshot covers `upto`, the purge point, while a snapshot is
/// being installed.
///
/// openraft 0.9 asks for the purge of the log that an installed snapshot covers as soon as it
/// hands the snapshot to the state machine, not once the install is done (its `PurgeLog`
/// command has no condition). Recorded before the install commits, a crash in between left
/// a store purged past its snapshot (purged 39, snapshot 1), which openraft refuses at every
/// start afterwards (a panic: `purge_upto <= snapshot_last_log_id`); the crash point
/// `snapshot-install-rows` found it (tests/cluster/t98_crash_points.rs). Any other purge is
/// behind a snapshot already recorded, and returns at once (and when none is being installed,
/// as in openraft's conformance suite, the purge does not ask).
async fn covered_by_snapshot(db: &Arc<Database>, upto: LogId) -> Result<(), StorageError> {
    let started = Instant::now();
    loop {
        let current = blocking(db, |db| get_meta::<CurrentSnapshot>(db, KEY_CURRENT_SNAPSHOT)).await?;
        if current.and_then(|c| c.meta.last_log_id).is_some_and(|l| l >= upto) {
            return Ok(());
        }
        if started.elapsed() > PURGE_WAIT {
            let e = std::io::Error::other(format!(
                "no raft snapshot covers the log purge up to {upto} after {PURGE_WAIT:?}"
            ));
            return Err(write_err(e));
        }
        tokio::time::sleep(PURGE_POLL).await;
    }
}
