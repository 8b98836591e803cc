//! Durable raft storage: one redb database holds the log, the vote, the applied state machine
//! and the latest snapshot.
//!
//! Every write transaction commits with redb's immediate durability (fsync) before openraft is
//! told that it is done, so an acknowledged write survives `kill -9`. All redb work runs on the
//! blocking pool, never on the thread that drives raft.

// openraft's StorageError is large by its design; boxing it here would only add a conversion.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::io::Cursor;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::RwLock;

use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftStateMachine;
use openraft::EntryPayload;
use openraft::LogState;
use openraft::RaftLogReader;
use openraft::RaftSnapshotBuilder;
use openraft::StorageIOError;
use openraft::Vote;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;

use super::Entry;
use super::LogId;
use super::NodeId;
use super::Snapshot;
use super::SnapshotMeta;
use super::StorageError;
use super::StoredMembership;
use super::TypeConfig;
use crate::state::Applied;
use crate::state::State;

const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_FORMAT: &str = "format";
const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_PURGED: &str = "last_purged";
const KEY_SM: &str = "state_machine";
const KEY_SNAPSHOT: &str = "snapshot";

/// Written once into a new store; a store without it was not made by raftwarden.
const FORMAT: &[u8] = b"raftwarden-raft-v1";

/// Errors opening the store. Each names the file so an operator knows what to look at.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("raft store {path} is already in use by another raftwarden agent")]
    InUse { path: PathBuf },
    #[error("raft store {path} is not a raftwarden store (foreign or corrupt file; refusing to overwrite it)")]
    Foreign { path: PathBuf },
    #[error("raft store {path} cannot be opened: {source}")]
    Open { path: PathBuf, source: redb::Error },
    #[error("raft store {path} is corrupt: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// The applied state machine as it is persisted: the state, plus what raft needs to resume.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AppliedState {
    pub last_applied: Option<LogId>,
    pub membership: StoredMembership,
    pub state: State,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta,
    data: Vec<u8>,
}

/// Read access to the applied state, shared with the HTTP layer for local (stale) reads.
#[derive(Clone, Default)]
pub struct StateReader {
    inner: Arc<RwLock<AppliedState>>,
}

impl StateReader {
    pub fn get(&self) -> AppliedState {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn autopilot(&self) -> Result<Option<crate::state::Row<crate::state::AutopilotConfig>>, StorageError> {
        Ok(self.get().state.autopilot)
    }

    pub fn scheduler(&self) -> Result<Option<crate::state::Row<crate::state::SchedulerConfig>>, StorageError> {
        Ok(self.get().state.scheduler)
    }

    fn set(&self, value: AppliedState) {
        match self.inner.write() {
            Ok(mut g) => *g = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(v)
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(b)
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read(&e).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write(&e).into()
}

/// Runs redb work on the blocking pool.
async fn blocking<T, F>(db: &Arc<Database>, f: F) -> Result<T, StorageError>
where
    F: FnOnce(&Database) -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    let db = db.clone();
    match tokio::task::spawn_blocking(move || f(&db)).await {
        Ok(r) => r,
        Err(join) => Err(write_err(std::io::Error::other(join.to_string()))),
    }
}

fn get_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, StorageError> {
    let txn = db.begin_read().map_err(read_err)?;
    let table = match txn.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(decode(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

fn put_meta<T: Serialize>(db: &Database, key: &str, value: &T, durable: bool) -> Result<(), StorageError> {
    let bytes = encode(value).map_err(write_err)?;
    let txn = begin_write(db, durable)?;
    {
        let mut table = txn.open_table(META).map_err(write_err)?;
        table.insert(key, bytes.as_slice()).map_err(write_err)?;
    }
    txn.commit().map_err(write_err)
}

/// A write transaction; `durable = false` skips the fsync. Such a commit becomes durable with
/// the next durable one (redb keeps commit order), and a crash can only roll it back, never
/// tear it. Used only for data that raft can rebuild from the durable log.
fn begin_write(db: &Database, durable: bool) -> Result<redb::WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(write_err)?;
    if !durable {
        txn.set_durability(redb::Durability::None).map_err(write_err)?;
    }
    Ok(txn)
}

/// Opens (or creates) the store at `path` and returns its two openraft halves.
pub fn open(path: &Path) -> Result<(LogStore, StateMachineStore), OpenError> {
    let open_err = |e: redb::Error| OpenError::Open { path: path.to_path_buf(), source: e };
    let db = match Database::create(path) {
        Ok(db) => db,
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Err(OpenError::InUse { path: path.to_path_buf() }),
        Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))) if e.kind() == std::io::ErrorKind::WouldBlock => {
            return Err(OpenError::InUse { path: path.to_path_buf() })
        }
        Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(_))) => {
            return Err(OpenError::Foreign { path: path.to_path_buf() })
        }
        Err(e) => return Err(open_err(e.into())),
    };

    let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
    {
        let mut meta = txn.open_table(META).map_err(|e| open_err(e.into()))?;
        let format = meta.get(KEY_FORMAT).map_err(|e| open_err(e.into()))?.map(|v| v.value().to_vec());
        match format {
            Some(f) if f == FORMAT => {}
            Some(_) => return Err(OpenError::Foreign { path: path.to_path_buf() }),
            None => {
                if meta.iter().map_err(|e| open_err(e.into()))?.next().is_some() {
                    return Err(OpenError::Foreign { path: path.to_path_buf() });
                }
                meta.insert(KEY_FORMAT, FORMAT).map_err(|e| open_err(e.into()))?;
            }
        }
        txn.open_table(LOGS).map_err(|e| open_err(e.into()))?;
    }
    txn.commit().map_err(|e| open_err(e.into()))?;

    let applied: AppliedState = get_meta(&db, KEY_SM)
        .map_err(|e| OpenError::Corrupt { path: path.to_path_buf(), what: e.to_string() })?
        .unwrap_or_default();
    let db = Arc::new(db);
    let reader = StateReader::default();
    reader.set(applied);
    Ok((LogStore { db: db.clone() }, StateMachineStore { db, reader }))
}

/// The raft log and vote.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let bounds: (Bound<u64>, Bound<u64>) = (range.start_bound().cloned(), range.end_bound().cloned());
        blocking(&self.db, move |db| {
            let txn = db.begin_read().map_err(read_err)?;
            let table = txn.open_table(LOGS).map_err(read_err)?;
            let mut out = Vec::new();
            for item in table.range::<u64>(bounds).map_err(read_err)? {
                let (_, v) = item.map_err(read_err)?;
                out.push(decode::<Entry>(v.value()).map_err(read_err)?);
            }
            Ok(out)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        blocking(&self.db, |db| {
            let last_purged: Option<LogId> = get_meta(db, KEY_PURGED)?;
            let txn = db.begin_read().map_err(read_err)?;
            let table = txn.open_table(LOGS).map_err(read_err)?;
            let last = match table.last().map_err(read_err)? {
                Some((_, v)) => Some(decode::<Entry>(v.value()).map_err(read_err)?.log_id),
                None => last_purged,
            };
            Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
        })
        .await
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
    /// re-learns it from the cluster, so it is not fsynced on its own.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        blocking(&self.db, move |db| put_meta(db, KEY_COMMITTED, &committed, false)).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        blocking(&self.db, |db| Ok(get_meta::<Option<LogId>>(db, KEY_COMMITTED)?.flatten())).await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        for e in entries {
            encoded.push((e.log_id.index, encode(&e).map_err(write_err)?));
        }
        let res = blocking(&self.db, move |db| {
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut table = txn.open_table(LOGS).map_err(write_err)?;
                for (index, bytes) in &encoded {
                    table.insert(*index, bytes.as_slice()).map_err(write_err)?;
                }
            }
            txn.commit().map_err(write_err)
        })
        .await;
        match res {
            Ok(()) => {
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
        blocking(&self.db, move |db| {
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut table = txn.open_table(LOGS).map_err(write_err)?;
                table.retain_in::<u64, _>(log_id.index.., |_, _| false).map_err(write_err)?;
            }
            txn.commit().map_err(write_err)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.db, move |db| {
            let bytes = encode(&Some(log_id)).map_err(write_err)?;
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut meta = txn.open_table(META).map_err(write_err)?;
                meta.insert(KEY_PURGED, bytes.as_slice()).map_err(write_err)?;
                let mut table = txn.open_table(LOGS).map_err(write_err)?;
                table.retain_in::<u64, _>(..=log_id.index, |_, _| false).map_err(write_err)?;
            }
            txn.commit().map_err(write_err)
        })
        .await
    }
}

/// The applied state machine and its snapshots.
pub struct StateMachineStore {
    db: Arc<Database>,
    reader: StateReader,
}

impl StateMachineStore {
    /// A handle for local reads of the applied state.
    pub fn reader(&self) -> StateReader {
        self.reader.clone()
    }

    async fn persist(&self, applied: AppliedState, snapshot: Option<StoredSnapshot>) -> Result<(), StorageError> {
        let sm = encode(&applied).map_err(write_err)?;
        let snap = match &snapshot {
            Some(s) => Some(encode(s).map_err(write_err)?),
            None => None,
        };
        // Applied state without a snapshot can be rebuilt by replaying the durable log, so it
        // rides on the log's next fsync; installing a snapshot replaces the log and is durable.
        let durable = snap.is_some();
        blocking(&self.db, move |db| {
            let txn = begin_write(db, durable)?;
            {
                let mut meta = txn.open_table(META).map_err(write_err)?;
                meta.insert(KEY_SM, sm.as_slice()).map_err(write_err)?;
                if let Some(snap) = &snap {
                    meta.insert(KEY_SNAPSHOT, snap.as_slice()).map_err(write_err)?;
                }
            }
            txn.commit().map_err(write_err)
        })
        .await?;
        self.reader.set(applied);
        Ok(())
    }
}

/// Builds a snapshot from a point-in-time copy of the applied state.
pub struct SnapshotBuilder {
    db: Arc<Database>,
    applied: AppliedState,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let data = encode(&self.applied).map_err(write_err)?;
        let last = self.applied.last_applied;
        let snapshot_id = match last {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, uuid::Uuid::new_v4().simple()),
            None => format!("0-0-{}", uuid::Uuid::new_v4().simple()),
        };
        let meta = SnapshotMeta { last_log_id: last, last_membership: self.applied.membership.clone(), snapshot_id };
        let stored = StoredSnapshot { meta: meta.clone(), data: data.clone() };
        let bytes = encode(&stored).map_err(write_err)?;
        blocking(&self.db, move |db| {
            let txn = db.begin_write().map_err(write_err)?;
            {
                let mut table = txn.open_table(META).map_err(write_err)?;
                table.insert(KEY_SNAPSHOT, bytes.as_slice()).map_err(write_err)?;
            }
            txn.commit().map_err(write_err)
        })
        .await?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let a = self.reader.get();
        Ok((a.last_applied, a.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut applied = self.reader.get();
        let mut replies = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            applied.last_applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Applied { updated: false, index },
                EntryPayload::Normal(cmd) => applied.state.apply(&cmd, index),
                EntryPayload::Membership(m) => {
                    applied.membership = StoredMembership::new(Some(entry.log_id), m);
                    Applied { updated: true, index }
                }
            };
            replies.push(reply);
        }
        self.persist(applied, None).await?;
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { db: self.db.clone(), applied: self.reader.get() }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mut applied: AppliedState = decode(&data).map_err(read_err)?;
        applied.last_applied = meta.last_log_id;
        applied.membership = meta.last_membership.clone();
        self.persist(applied, Some(StoredSnapshot { meta: meta.clone(), data })).await
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let stored: Option<StoredSnapshot> = blocking(&self.db, |db| get_meta(db, KEY_SNAPSHOT)).await?;
        Ok(stored.map(|s| Snapshot { meta: s.meta, snapshot: Box::new(Cursor::new(s.data)) }))
    }
}
