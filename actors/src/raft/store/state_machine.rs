//! openraft's state machine storage: applies batches of committed entries (durably as the log
//! grows, see [`apply_durably`]), serves the applied meta and hands out snapshots and readers.

use std::fs;
use std::sync::Arc;

use futures_util::Stream;
use futures_util::TryStreamExt;
use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;
use redb::Database;
use redb::ReadableDatabase;
use tokio::io::AsyncWriteExt;

use super::apply::apply_batch;
use super::apply_durably;
use super::blocking;
use super::log;
use super::read_err;
use super::restore_row_bytes;
use super::runs_in_place;
use super::schema::applied_meta;
use super::schema::get_meta;
use super::schema::CurrentSnapshot;
use super::schema::KEY_CURRENT_SNAPSHOT;
use super::schema::META;
use super::snapshot::install;
use super::snapshot::SnapshotBuilder;
use super::snapshot::SnapshotDir;
use super::write_err;
use super::StateReader;
use crate::raft::Entry;
use crate::raft::LogId;
use crate::raft::Snapshot;
use crate::raft::SnapshotData;
use crate::raft::SnapshotMeta;
use crate::raft::StorageError;
use crate::raft::StoredMembership;
use crate::raft::TypeConfig;
use crate::state::Applied;

/// The applied state machine and its snapshots.
pub struct StateMachineStore {
    pub(super) db: Arc<Database>,
    pub(super) snapshots: Arc<SnapshotDir>,
    /// The log, whose growth paces the durable commits.
    pub(super) log: Arc<log::LogFiles>,
    /// The log's [`log::LogFiles::appended_bytes`] at the last durable apply.
    pub(super) durable_at: u64,
    /// Bytes of snapshot-restore rows applied since the last durable apply.
    pub(super) restored_since_durable: u64,
    /// The last applied log index, sent after every applied batch and installed snapshot:
    /// what a blocking query waits on instead of polling the tables.
    pub(super) applied: tokio::sync::watch::Sender<u64>,
}

impl StateMachineStore {
    /// A handle for local reads of the applied rows.
    pub fn reader(&self) -> StateReader {
        StateReader { db: self.db.clone(), applied: self.applied.subscribe() }
    }
}

impl StateMachineStore {
    /// Applies committed entries in one redb transaction (durably as the log grows, see
    /// [`apply_durably`]) and returns each entry's reply, in order.
    pub async fn apply_entries(&mut self, entries: Vec<Entry>) -> Result<Vec<Applied>, StorageError> {
        let last_index = entries.last().map(|e| e.log_id.index);
        let appended = self.log.appended_bytes();
        self.restored_since_durable += restore_row_bytes(&entries);
        let durable = apply_durably(appended.saturating_sub(self.durable_at), self.restored_since_durable);
        // A durable commit waits for the disk to take every page changed since the last one:
        // always on the pool.
        let (replies, _rows_written) = if !durable && runs_in_place(&entries) {
            apply_batch(&self.db, entries, false)?
        } else {
            blocking(&self.db, move |db| apply_batch(db, entries, durable)).await?
        };
        if durable {
            self.durable_at = appended;
            self.restored_since_durable = 0;
        }
        if let Some(index) = last_index {
            // The batch is committed: a read started from now on sees it.
            self.applied.send_replace(index);
        }
        Ok(replies)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        blocking(&self.db, |db| {
            let txn = db.begin_read().map_err(read_err)?;
            applied_meta(&txn.open_table(META).map_err(read_err)?)
        })
        .await
    }

    /// Applies what openraft hands over in one batch (one redb transaction), then answers
    /// each entry's responder with its reply, in order.
    async fn apply<Strm>(&mut self, entries: Strm) -> Result<(), StorageError>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, StorageError>> + Unpin + Send,
    {
        let (entries, responders): (Vec<Entry>, Vec<_>) = entries.try_collect::<Vec<_>>().await?.into_iter().unzip();
        // Nobody waits for these replies (a follower's apply): let the raft thread first answer
        // the leader's append, which came with the commit index that asked for this apply, so
        // the apply is not on the leader's path to its next commit. A follower syncs its log in
        // place (`flusher.rs`), so without this the apply ran between its sync and its answer.
        if responders.iter().all(Option::is_none) {
            tokio::task::yield_now().await;
        }
        let replies = self.apply_entries(entries).await?;
        for (responder, reply) in responders.into_iter().zip(replies) {
            if let Some(r) = responder {
                r.send(reply);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { db: self.db.clone(), snapshots: self.snapshots.clone() }
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, mut snapshot: SnapshotData) -> Result<(), StorageError> {
        snapshot.flush().await.map_err(write_err)?;
        let src = snapshot.into_std().await;
        let dir = self.snapshots.clone();
        let meta = meta.clone();
        let index = meta.last_log_id.map_or(0, |l| l.index);
        let installed = blocking(&self.db, move |db| install(db, &dir, &meta, src)).await;
        installed?;
        self.applied.send_replace(index);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let dir = self.snapshots.clone();
        let found = blocking(&self.db, move |db| {
            let _guard = dir.lock();
            let Some(current) = get_meta::<CurrentSnapshot>(db, KEY_CURRENT_SNAPSHOT)? else {
                return Ok(None);
            };
            let path = dir.path.join(&current.file);
            match fs::File::open(&path) {
                Ok(file) => Ok(Some((current.meta, file))),
                // Raft builds a new snapshot when it needs one and has none.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(file = %path.display(), "the current raft snapshot file is missing");
                    Ok(None)
                }
                Err(e) => Err(read_err(e)),
            }
        })
        .await?;
        Ok(found.map(|(meta, file)| Snapshot { meta, snapshot: tokio::fs::File::from_std(file) }))
    }
}
