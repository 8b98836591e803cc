//! Durable raft storage: the log in append-only segment files (`log.rs`); one redb database
//! holds the vote, one table per replicated table and the applied meta; raft snapshots are
//! files in `snapshots/` beside it.
//!
//! ```text
//! <server dir>/raft.redb      meta (vote, purged, last applied, membership, current snapshot),
//!                             sm_autopilot, sm_scheduler, ...
//! <server dir>/raft.log/      <first index>.seg: the log; committed: the committed id (a hint)
//! <server dir>/snapshots/     <snapshot id>.snap: the current raft snapshot (older ones removed)
//! ```
//!
//! An append is written and fdatasynced before openraft is told that it is done, so an
//! acknowledged write survives `kill -9`; it costs the entry's bytes, not a B-tree commit. An
//! apply batch is one redb write transaction: the rows its commands change plus the last
//! applied log id and membership, so an apply costs what it changes, not what the state holds;
//! it is fsynced once the log has grown by `DURABLE_APPLY_LOG_BYTES` since the last durable
//! one (and before the log is purged), as raft replays the log from the last durably applied
//! id.
//!
//! Where the work runs: a small append or apply (up to 64 entries of single writes, see
//! `runs_in_place`) runs on the raft task itself, as openraft waits for it anyway. Group
//! commits, snapshot restore steps, longer runs of entries and durable applies run on the
//! blocking pool, as do the vote, truncation, purges, snapshots and log reads older than the
//! newest entries (those come from memory).
//!
//! This file holds that policy and [`open`]; the rest is one job per file: `schema.rs` (tables,
//! keys, row encoding), `log_store.rs` ([`LogStore`]), `state_machine.rs`
//! ([`StateMachineStore`]), `apply.rs` (a batch of entries in one transaction), `restore.rs` (a
//! snapshot archive restored through raft), `snapshot.rs` (raft snapshot files), `reader.rs`
//! ([`StateReader`]), `migrate.rs` (older layouts), `write_behind.rs` (redb's writes on a
//! thread of their own), `log.rs` (the log's segment files), `flusher.rs` (the log's syncs).

// openraft's StorageError is large by its design; boxing it here would only add a conversion.
#![allow(clippy::result_large_err)]

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use super::EntryPayload;
use redb::backends::FileBackend;
use redb::Database;
use redb::ReadableTable;
use schema::get_meta;
use schema::CurrentSnapshot;
use schema::FORMAT;
use schema::FORMAT_V2;
use schema::KEY_CURRENT_SNAPSHOT;
use schema::KEY_FORMAT;
use schema::KEY_LAST_APPLIED;
use schema::KEY_PURGED;
use schema::META;
use schema::SNAPSHOT_TABLES;
use snapshot::SnapshotDir;
use write_behind::WriteBehind;

use super::Entry;
use super::LogId;
use super::StorageError;
use crate::metrics::StoreCounters;
use crate::state::Command;
use flusher::Flusher;

mod apply;
mod flusher;
pub(crate) mod log;
mod log_store;
mod migrate;
mod reader;
pub mod restore;
mod schema;
mod snapshot;
mod state_machine;
#[cfg(test)]
mod tests;
mod write_behind;

pub use log_store::LogStore;
pub use reader::StateReader;
pub use snapshot::SnapshotBuilder;
pub use state_machine::StateMachineStore;

/// redb's own page cache. The operating system's page cache (not counted in the process's
/// memory) holds the hot pages anyway; a small redb cache keeps the server's resident memory
/// flat whatever the state's size (redb's default is 1 GiB), e.g. while a large restore is
/// applied.
const CACHE_BYTES: usize = 32 << 20;

/// Log bytes appended between durable state-machine commits. Applies are not fsynced on their
/// own (the log is); a durable one now and then bounds the log replay after a crash (at most
/// this much log, a second or two of applying) and lets redb reuse the pages that the commits
/// in between freed. Each durable commit writes every B-tree page changed since the last one,
/// so they follow the log's growth, not the clock: a page a busy table rewrites many times is
/// then written to the disk once per this many log bytes, not once a second (a durable commit
/// a second cost more disk writes than the log itself).
const DURABLE_APPLY_LOG_BYTES: u64 = 16 << 20;

/// Log bytes between durable commits while a snapshot restore stages its rows. Staged rows
/// only add pages (no page is rewritten that a durable commit would save writing twice), and
/// each durable commit in the middle of a restore waits for the disk to take everything staged
/// so far: a 100 MB restore spent a quarter of its time in them. Replaying staged rows after a
/// crash costs about what staging them did, so a restore of up to this size commits durably
/// at most once, and a larger one still bounds the replay.
const DURABLE_RESTORE_LOG_BYTES: u64 = 256 << 20;

/// Whether an apply commits durably, the log having grown by `appended` bytes since the last
/// durable commit, `restored` of them rows that a snapshot restore staged (counted from the
/// rows' sizes, so slightly fewer than their log bytes).
fn apply_durably(appended: u64, restored: u64) -> bool {
    appended.saturating_sub(restored) >= DURABLE_APPLY_LOG_BYTES || appended >= DURABLE_RESTORE_LOG_BYTES
}

/// The most entries an append or apply may hold to run on the raft task itself rather than
/// the blocking pool (see [`runs_in_place`]).
///
/// 64: with 64 clients most batches held more than the 8 this was before, so they went to the
/// pool, and its thread took a fifth to a quarter of a server's CPU samples; in place, writes
/// at 64 clients cost 2-18% less CPU each and ran 3-21% faster on 1 and 3 servers
/// (`benches/ab.sh`, benches/README). The worst case, 64 variables at Nomad's 64 KiB limit,
/// stalls the raft task for a few milliseconds, far below an election timeout.
const IN_PLACE_ENTRIES: usize = 64;

/// Whether the log write or apply for `entries` runs in place, on the task that asks for it.
///
/// A log append now only writes (the sync makes it durable, `flusher.rs`), and an apply
/// that does not commit durably only changes redb's pages in memory: for up to a few dozen
/// single writes either takes well under a millisecond, less than the two thread wake-ups a
/// trip to the blocking pool costs (the pool thread's and the raft task's again; on a busy
/// two-core host a wake-up costs about as much as an fsync, 0.15 ms).
///
/// The pool keeps the rest, so the raft task never stalls on a long one: a snapshot restore's
/// steps (megabyte chunks of rows, whole tables cleared or dropped), a [`Command::Batch`] (the
/// defaults written at the first election), longer runs of entries.
fn runs_in_place(entries: &[Entry]) -> bool {
    entries.len() <= IN_PLACE_ENTRIES
        && entries.iter().all(|e| match &e.payload {
            EntryPayload::Normal(cmd) => !cmd.is_restore() && !matches!(cmd, Command::Batch(_)),
            EntryPayload::Blank | EntryPayload::Membership(_) => true,
        })
}

/// The bytes of the rows that `entries` stage for a snapshot restore.
fn restore_row_bytes(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match &e.payload {
            EntryPayload::Normal(Command::RestoreRows { rows, .. }) => rows.byte_len() as u64,
            _ => 0,
        })
        .sum()
}

/// Errors opening the store. Each names the file so an operator knows what to look at.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("raft store {path} is already in use by another raftwarden agent")]
    InUse { path: PathBuf },
    #[error("raft store {path} is not a raftwarden store (foreign or corrupt file; refusing to overwrite it)")]
    Foreign { path: PathBuf },
    #[error("raft store {path} cannot be opened: {source}")]
    Open { path: PathBuf, source: redb::Error },
    #[error("raft store {path}: cannot start the log sync thread: {source}")]
    Thread { path: PathBuf, source: std::io::Error },
    #[error("raft store {path} is corrupt: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// A failed read of the store, as openraft's storage traits return it; an I/O error keeps
/// its kind and text.
fn read_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StorageError {
    io_error(e.into())
}

/// A failed write of the store (see [`read_err`]).
fn write_err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StorageError {
    io_error(e.into())
}

fn io_error(e: Box<dyn std::error::Error + Send + Sync>) -> std::io::Error {
    match e.downcast::<std::io::Error>() {
        Ok(io) => *io,
        Err(other) => std::io::Error::other(other),
    }
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

/// Runs file work on the blocking pool.
async fn blocking_io<T, F>(f: F) -> Result<T, StorageError>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(write_err),
        Err(join) => Err(write_err(std::io::Error::other(join.to_string()))),
    }
}

/// Opens (or creates) the redb file at `path`, its writes going out on a thread of their own.
fn create_db(path: &Path) -> Result<Database, redb::DatabaseError> {
    let file = fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let backend = WriteBehind::new(FileBackend::new(file)?)?;
    Database::builder().set_cache_size(CACHE_BYTES).create_with_backend(backend)
}

/// Opens (or creates) the store at `path` and returns its two openraft halves. Snapshot files
/// live in `snapshots/` beside `path`. A store in the v1 layout is migrated on open.
pub fn open(path: &Path) -> Result<(LogStore, StateMachineStore), OpenError> {
    let open_err = |e: redb::Error| OpenError::Open { path: path.to_path_buf(), source: e };
    let corrupt = |e: StorageError| OpenError::Corrupt { path: path.to_path_buf(), what: e.to_string() };
    let db = match create_db(path) {
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
    let snapshots = SnapshotDir::new(path);
    fs::create_dir_all(&snapshots.path).map_err(|e| open_err(e.into()))?;

    // Durable: a migration must never be half seen after a crash.
    let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
    let log_in_redb = {
        let mut meta = txn.open_table(META).map_err(|e| open_err(e.into()))?;
        let format = meta.get(KEY_FORMAT).map_err(|e| open_err(e.into()))?.map(|v| v.value().to_vec());
        let (from_v1, log_in_redb) = match format {
            Some(f) if f == FORMAT => (false, false),
            Some(f) if f == FORMAT_V2 => (false, true),
            Some(f) if f == migrate::v1::FORMAT => (true, true),
            Some(_) => return Err(OpenError::Foreign { path: path.to_path_buf() }),
            None => {
                if meta.iter().map_err(|e| open_err(e.into()))?.next().is_some() {
                    return Err(OpenError::Foreign { path: path.to_path_buf() });
                }
                (false, false)
            }
        };
        // A store whose log is still in redb says so until the log files are complete.
        meta.insert(KEY_FORMAT, if log_in_redb { FORMAT_V2 } else { FORMAT }).map_err(|e| open_err(e.into()))?;
        drop(meta);
        for table in SNAPSHOT_TABLES {
            txn.open_table(table).map_err(|e| open_err(e.into()))?;
        }
        if from_v1 {
            migrate::v1::migrate(&txn, &snapshots).map_err(corrupt)?;
        }
        log_in_redb
    };
    txn.commit().map_err(|e| open_err(e.into()))?;

    let log_dir = path.with_extension("log");
    if log_in_redb {
        migrate::move_log_out_of_redb(&db, &log_dir).map_err(corrupt)?;
    }
    let last_purged = get_meta::<LogId>(&db, KEY_PURGED).map_err(corrupt)?;
    let log =
        log::LogFiles::open(&log_dir, last_purged.map(|p| p.index), crate::fault::segment_bytes(log::SEGMENT_BYTES))
            .map_err(|e| corrupt(read_err(e)))?;

    let current = get_meta::<CurrentSnapshot>(&db, KEY_CURRENT_SNAPSHOT).map_err(corrupt)?.map(|c| c.file);
    snapshots.remove_stale(current.as_deref(), true);

    let db = Arc::new(db);
    // Where the state machine was durable: a crash right after open, and every crash after
    // that, replays at most DURABLE_APPLY_LOG_BYTES of log, restarts or not.
    let last_applied = get_meta::<Option<LogId>>(&db, KEY_LAST_APPLIED).map_err(corrupt)?.flatten();
    let pending = log.bytes_after(last_applied.map(|l| l.index)).map_err(|e| corrupt(read_err(e)))?;
    let durable_at = log.appended_bytes().saturating_sub(pending);
    let log = Arc::new(log);
    let sm = StateMachineStore {
        db: db.clone(),
        snapshots: Arc::new(snapshots),
        log: log.clone(),
        durable_at,
        restored_since_durable: 0,
        applied: tokio::sync::watch::channel(0).0,
    };
    let counters: Arc<StoreCounters> = Arc::default();
    let flusher =
        Flusher::start(counters.clone()).map_err(|source| OpenError::Thread { path: path.to_owned(), source })?;
    Ok((LogStore { db, log, counters, flusher: Arc::new(flusher) }, sm))
}
