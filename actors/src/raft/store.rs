//! Durable raft storage: the log in append-only segment files ([`log`]); one redb database
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
//! it is fsynced once the log has grown by [`DURABLE_APPLY_LOG_BYTES`] since the last durable
//! one (and before the log is purged), as raft replays the log from the last durably applied
//! id. All redb and file work runs on the blocking pool, never on
//! the thread that drives raft (reads of the newest entries come from memory).

// openraft's StorageError is large by its design; boxing it here would only add a conversion.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::fs;
use std::io::BufReader;
use std::io::BufWriter;
use std::io::Seek;
use std::io::SeekFrom;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftStateMachine;
use openraft::EntryPayload;
use openraft::LogState;
use openraft::RaftLogReader;
use openraft::RaftSnapshotBuilder;
use openraft::StorageIOError;
use openraft::Vote;
use redb::backends::FileBackend;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;
use redb::TableHandle;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::snapfile as file;
use super::Entry;
use super::LogId;
use super::NodeId;
use super::Snapshot;
use super::SnapshotMeta;
use super::StorageError;
use super::StoredMembership;
use super::TypeConfig;
use crate::metrics::StoreCounters;
use crate::state;
use crate::state::variables::Paged;
use crate::state::variables::Pager;
use crate::state::AclPolicy;
use crate::state::AclToken;
use crate::state::Applied;
use crate::state::AutopilotConfig;
use crate::state::Command;
use crate::state::InstalledLicense;
use crate::state::Row;
use crate::state::SchedulerConfig;
use crate::state::Tables;
use crate::state::Variable;
use crate::state::VariableMetadata;
use write_behind::WriteBehind;

pub(crate) mod log;
pub mod restore;
mod write_behind;

const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_FORMAT: &str = "format";
const KEY_VOTE: &str = "vote";
const KEY_PURGED: &str = "last_purged";
const KEY_LAST_APPLIED: &str = "last_applied";
const KEY_MEMBERSHIP: &str = "membership";
const KEY_CURRENT_SNAPSHOT: &str = "current_snapshot";

/// redb's own page cache. The operating system's page cache (not counted in the process's
/// memory) holds the hot pages anyway; a small redb cache keeps the server's resident memory
/// flat whatever the state's size (redb's default is 1 GiB), e.g. while a large restore is
/// applied.
const CACHE_BYTES: usize = 32 << 20;

/// Written once into a new store; a store without it was not made by raftwarden.
const FORMAT: &[u8] = b"raftwarden-raft-v3";

/// The layout before the log moved out of redb: the log in the `logs` table.
const FORMAT_V2: &[u8] = b"raftwarden-raft-v2";

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
const IN_PLACE_ENTRIES: usize = 8;

/// Whether the log IO or apply for `entries` runs in place, on the task that asks for it.
///
/// openraft awaits each append (and the state machine each apply) before it goes on, so the
/// blocking pool buys no overlap for a small one; it only costs two thread wake-ups, the pool
/// thread's and the raft thread's again. A write takes two such trips (append, apply) on every
/// server, and on a busy two-core host a wake-up costs about as much as the fsync it waits for
/// (0.15 ms). A few entries of single writes take well under a millisecond.
///
/// The pool keeps the rest:
/// - group commits ([`Command::Batch`]): they mean writers are queueing, and while the pool
///   appends and applies one group the raft thread takes in the writes of the next. Run in
///   place, the writes that arrived meanwhile reached the write queue too late to join the next
///   group: with 64 clients, groups shrank to half or less and fsyncs per write doubled;
/// - a snapshot restore's steps (megabyte chunks of rows, whole tables cleared or dropped) and
///   longer runs of entries, so the raft thread never stalls on a long write.
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

/// One redb table per replicated table. Keys are the row key's bytes (ordered, so a keyed table
/// such as variables can scan a namespace prefix); values are postcard [`Row`]s.
type RowTable = TableDefinition<'static, &'static [u8], &'static [u8]>;

const AUTOPILOT: RowTable = TableDefinition::new("sm_autopilot");
const SCHEDULER: RowTable = TableDefinition::new("sm_scheduler");
/// Variables keyed by [`var_key`]: sorted by namespace, then path.
const VARIABLES: RowTable = TableDefinition::new("sm_variables");
/// The raft index of the last change of a keyed table, by table name (Nomad's `index` table).
const TABLE_INDEX: RowTable = TableDefinition::new("sm_table_index");
/// ACL policies by name.
const ACL_POLICIES: RowTable = TableDefinition::new("sm_acl_policies");
/// ACL tokens by accessor ID.
const ACL_TOKENS: RowTable = TableDefinition::new("sm_acl_tokens");
/// The accessor ID of each token by the SHA-256 of its secret: resolving a secret is one read
/// and the secret is never a key.
const ACL_SECRETS: RowTable = TableDefinition::new("sm_acl_secrets");

/// The installed license, one row.
const LICENSE: RowTable = TableDefinition::new("sm_license");

/// Every replicated table: what a snapshot holds and what installing one replaces.
const REPLICATED: [RowTable; 8] =
    [AUTOPILOT, SCHEDULER, VARIABLES, TABLE_INDEX, ACL_POLICIES, ACL_TOKENS, ACL_SECRETS, LICENSE];

/// Every table a raft snapshot carries: the replicated ones and a snapshot restore in progress
/// (a follower that installs a raft snapshot half-way through a restore must hold the rows
/// staged so far, or it could not commit the restore with the others).
const SNAPSHOT_TABLES: [RowTable; 17] = [
    AUTOPILOT,
    SCHEDULER,
    VARIABLES,
    TABLE_INDEX,
    ACL_POLICIES,
    ACL_TOKENS,
    ACL_SECRETS,
    LICENSE,
    restore::STAGING[0],
    restore::STAGING[1],
    restore::STAGING[2],
    restore::STAGING[3],
    restore::STAGING[4],
    restore::STAGING[5],
    restore::STAGING[6],
    restore::STAGING[7],
    restore::PROGRESS,
];

/// The key of the one row of a single-row (config) table.
const CONFIG_ROW: &[u8] = b"config";

/// The key of the variables row in [`TABLE_INDEX`].
const VARIABLES_INDEX_ROW: &[u8] = b"variables";
/// The rows of [`TABLE_INDEX`] for the ACL tables (Nomad's index names) and the bootstrap.
const ACL_POLICY_INDEX_ROW: &[u8] = b"acl_policy";
const ACL_TOKEN_INDEX_ROW: &[u8] = b"acl_token";
const ACL_BOOTSTRAP_ROW: &[u8] = b"acl_token_bootstrap";

/// Escapes a key part so that the encoded keys sort as (namespace, path) tuples: `0x00` becomes
/// `0x00 0xff` and the part ends with `0x00 0x01`, which sorts before any continuation.
fn push_part(key: &mut Vec<u8>, part: &str) {
    for &b in part.as_bytes() {
        key.push(b);
        if b == 0 {
            key.push(0xff);
        }
    }
    key.extend_from_slice(&[0, 1]);
}

/// The first key of every variable of `namespace`.
fn namespace_key(namespace: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(namespace.len() + 2);
    push_part(&mut key, namespace);
    key
}

/// The key of one variable: its namespace, then its path, so that a namespace and a path
/// prefix are each one contiguous key range.
fn var_key(namespace: &str, path: &str) -> Vec<u8> {
    let mut key = namespace_key(namespace);
    key.extend_from_slice(path.as_bytes());
    key
}

/// The first key after every variable of `namespace` (its terminator `0x00 0x01` bumped).
fn after_namespace(namespace: &str) -> Vec<u8> {
    let mut key = namespace_key(namespace);
    if let Some(last) = key.last_mut() {
        *last = 2;
    }
    key
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
    #[error("raft store {path} is corrupt: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// The snapshot openraft serves to lagging followers, recorded in meta beside its file name.
#[derive(Serialize, Deserialize)]
struct CurrentSnapshot {
    meta: SnapshotMeta,
    file: String,
}

/// Read access to the applied rows, shared with the actors and the HTTP layer for local reads.
///
/// Each read is its own redb read transaction and returns only the row asked for. It sees
/// every apply that has returned: redb makes a commit visible to later read transactions
/// whether or not it has been fsynced yet.
#[derive(Clone)]
pub struct StateReader {
    db: Arc<Database>,
}

impl StateReader {
    /// Writes every replicated table as of one read transaction (a consistent point in time
    /// that does not block writes) to `out`, in the snapshot file format, and returns the raft
    /// position of that point: the applied log id and membership. The `snapshot_id` is empty.
    pub fn export(&self, out: impl std::io::Write) -> Result<SnapshotMeta, StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let (last_applied, membership) = applied_meta(&txn.open_table(META).map_err(read_err)?)?;
        let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership, snapshot_id: String::new() };
        let mut w = file::Writer::new(out, &encode(&meta).map_err(write_err)?).map_err(write_err)?;
        write_tables(&txn, &mut w, &REPLICATED)?;
        w.finish().map_err(write_err)?;
        Ok(meta)
    }

    pub fn autopilot(&self) -> Result<Option<Row<AutopilotConfig>>, StorageError> {
        self.row(AUTOPILOT, CONFIG_ROW)
    }

    pub fn scheduler(&self) -> Result<Option<Row<SchedulerConfig>>, StorageError> {
        self.row(SCHEDULER, CONFIG_ROW)
    }

    /// The installed license, or `None` before the first leader wrote one.
    pub fn license(&self) -> Result<Option<Row<InstalledLicense>>, StorageError> {
        self.row(LICENSE, CONFIG_ROW)
    }

    /// One variable, or `None`.
    pub fn variable(&self, namespace: &str, path: &str) -> Result<Option<Variable>, StorageError> {
        self.row(VARIABLES, &var_key(namespace, path))
    }

    /// The raft index of the last change to any variable (0 before the first).
    pub fn variables_index(&self) -> Result<u64, StorageError> {
        Ok(self.row(TABLE_INDEX, VARIABLES_INDEX_ROW)?.unwrap_or(0))
    }

    /// One page of variables under `prefix`, in (namespace, path) order, with Nomad's paging
    /// ([`Pager`]); `namespace = None` lists every namespace. Reads only the rows of the page
    /// (plus one to know the next token): a seek per namespace, never a table scan. Returns the
    /// page, its next token, and the variables table index, all from one read transaction.
    pub fn list_variables(
        &self,
        namespace: Option<&str>,
        prefix: &str,
        per_page: i32,
        next_token: &str,
    ) -> Result<(Vec<VariableMetadata>, String, u64), StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(VARIABLES).map_err(read_err)?;
        let index = get_row(&txn.open_table(TABLE_INDEX).map_err(read_err)?, VARIABLES_INDEX_ROW)?.unwrap_or(0);
        let mut pager = Pager::new(per_page, next_token);
        // The namespaces to visit: the one asked for, or each stored one found by seeking past
        // the previous one.
        let mut next_namespace: Option<String> = match namespace {
            Some(ns) => Some(ns.to_string()),
            None => first_namespace(&table, &[])?,
        };
        while let Some(ns) = next_namespace.take() {
            if let Some(from) = pager.seek(&ns, prefix) {
                let lead = var_key(&ns, prefix);
                for row in table.range::<&[u8]>(var_key(&ns, &from).as_slice()..).map_err(read_err)? {
                    let (k, v) = row.map_err(read_err)?;
                    if !k.value().starts_with(&lead) {
                        break;
                    }
                    let var: Variable = decode(v.value()).map_err(read_err)?;
                    if pager.offer(var.metadata()) == Paged::Full {
                        return Ok((pager.entries, pager.next, index));
                    }
                }
            }
            if namespace.is_none() {
                next_namespace = first_namespace(&table, &after_namespace(&ns))?;
            }
        }
        Ok((pager.entries, String::new(), index))
    }

    /// One ACL policy, or `None`.
    pub fn acl_policy(&self, name: &str) -> Result<Option<AclPolicy>, StorageError> {
        self.row(ACL_POLICIES, name.as_bytes())
    }

    /// The policies whose name starts with `prefix`, by name, and the policies table index.
    pub fn list_acl_policies(&self, prefix: &str) -> Result<(Vec<AclPolicy>, u64), StorageError> {
        self.scan(ACL_POLICIES, prefix, ACL_POLICY_INDEX_ROW)
    }

    /// One ACL token by accessor ID, or `None`.
    pub fn acl_token(&self, accessor: &str) -> Result<Option<AclToken>, StorageError> {
        self.row(ACL_TOKENS, accessor.as_bytes())
    }

    /// The token whose secret is `secret`: one read of the secret index, one of the token, and a
    /// constant-time comparison of the secrets.
    pub fn acl_token_by_secret(&self, secret: &str) -> Result<Option<AclToken>, StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let secrets = txn.open_table(ACL_SECRETS).map_err(read_err)?;
        let Some(accessor) = get_row::<String>(&secrets, &state::acl::secret_key(secret))? else {
            return Ok(None);
        };
        let tokens = txn.open_table(ACL_TOKENS).map_err(read_err)?;
        let token: Option<AclToken> = get_row(&tokens, accessor.as_bytes())?;
        Ok(token.filter(|t| state::acl::secrets_equal(&t.secret_id, secret)))
    }

    /// The tokens whose accessor ID starts with `prefix`, by accessor, and the tokens table index.
    pub fn list_acl_tokens(&self, prefix: &str) -> Result<(Vec<AclToken>, u64), StorageError> {
        self.scan(ACL_TOKENS, prefix, ACL_TOKEN_INDEX_ROW)
    }

    /// The raft index of the last change to the policies (`tokens = false`) or tokens table.
    pub fn acl_index(&self, tokens: bool) -> Result<u64, StorageError> {
        let row = if tokens { ACL_TOKEN_INDEX_ROW } else { ACL_POLICY_INDEX_ROW };
        Ok(self.row(TABLE_INDEX, row)?.unwrap_or(0))
    }

    /// The raft index of the ACL bootstrap, if one happened.
    pub fn acl_bootstrap(&self) -> Result<Option<u64>, StorageError> {
        self.row(TABLE_INDEX, ACL_BOOTSTRAP_ROW)
    }

    /// Every row of `table` whose key starts with `prefix`, with the table's index row, from
    /// one read transaction.
    fn scan<T: DeserializeOwned>(
        &self,
        table: RowTable,
        prefix: &str,
        index_row: &[u8],
    ) -> Result<(Vec<T>, u64), StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let index = get_row(&txn.open_table(TABLE_INDEX).map_err(read_err)?, index_row)?.unwrap_or(0);
        let table = txn.open_table(table).map_err(read_err)?;
        let mut out = Vec::new();
        for row in table.range::<&[u8]>(prefix.as_bytes()..).map_err(read_err)? {
            let (k, v) = row.map_err(read_err)?;
            if !k.value().starts_with(prefix.as_bytes()) {
                break;
            }
            out.push(decode(v.value()).map_err(read_err)?);
        }
        Ok((out, index))
    }

    fn row<T: DeserializeOwned>(&self, table: RowTable, key: &[u8]) -> Result<Option<T>, StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let table = txn.open_table(table).map_err(read_err)?;
        get_row(&table, key)
    }
}

/// The namespace of the first variable at or after `from`.
fn first_namespace(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    from: &[u8],
) -> Result<Option<String>, StorageError> {
    let Some(row) = table.range::<&[u8]>(from..).map_err(read_err)?.next() else {
        return Ok(None);
    };
    let (_, v) = row.map_err(read_err)?;
    // The namespace is read from the row, not the key, so that the key encoding has one
    // direction only.
    let var: Variable = decode(v.value()).map_err(read_err)?;
    Ok(Some(var.namespace))
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

/// A meta value inside an open transaction (read or write).
fn meta_value<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StorageError> {
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(decode(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

fn put_meta_in<T: Serialize>(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<(), StorageError> {
    let bytes = encode(value).map_err(write_err)?;
    table.insert(key, bytes.as_slice()).map_err(write_err)?;
    Ok(())
}

/// One row of a replicated table inside an open transaction (read or write).
fn get_row<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<T>, StorageError> {
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(decode(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

/// What raft needs to resume: the last applied log id and the membership it applied last.
fn applied_meta(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<(Option<LogId>, StoredMembership), StorageError> {
    let last_applied = meta_value::<Option<LogId>>(meta, KEY_LAST_APPLIED)?.flatten();
    let membership = meta_value(meta, KEY_MEMBERSHIP)?.unwrap_or_default();
    Ok((last_applied, membership))
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
            Some(f) if f == v1::FORMAT => (true, true),
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
            v1::migrate(&txn, &snapshots).map_err(corrupt)?;
        }
        log_in_redb
    };
    txn.commit().map_err(|e| open_err(e.into()))?;

    let log_dir = path.with_extension("log");
    if log_in_redb {
        move_log_out_of_redb(&db, &log_dir).map_err(corrupt)?;
    }
    let last_purged = get_meta::<LogId>(&db, KEY_PURGED).map_err(corrupt)?;
    let log = log::LogFiles::open(&log_dir, last_purged.map(|p| p.index), log::SEGMENT_BYTES)
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
    };
    Ok((LogStore { db, log, counters: Arc::default() }, sm))
}

/// Copies a v2 store's log from the `logs` table into log files, then drops the table and
/// marks the store v3 in one durable commit. A crash before that commit leaves a v2 store,
/// which the next open migrates again from the start.
fn move_log_out_of_redb(db: &Database, log_dir: &Path) -> Result<(), StorageError> {
    let entries = {
        let txn = db.begin_read().map_err(read_err)?;
        match txn.open_table(LOGS) {
            Ok(table) => {
                let mut out = Vec::new();
                for item in table.iter().map_err(read_err)? {
                    let (_, v) = item.map_err(read_err)?;
                    out.push(decode::<Entry>(v.value()).map_err(read_err)?);
                }
                out
            }
            Err(redb::TableError::TableDoesNotExist(_)) => Vec::new(),
            Err(e) => return Err(read_err(e)),
        }
    };
    log::LogFiles::create(log_dir, &entries).map_err(write_err)?;
    let txn = begin_write(db, true)?;
    txn.delete_table(LOGS).map_err(write_err)?;
    txn.open_table(META).map_err(write_err)?.insert(KEY_FORMAT, FORMAT).map_err(write_err)?;
    txn.commit().map_err(write_err)
}

/// The raft log (files, see [`log`]) and the vote (redb).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    log: Arc<log::LogFiles>,
    counters: Arc<StoreCounters>,
}

impl LogStore {
    /// Log fsyncs and the committed index, for the server's metrics.
    pub fn counters(&self) -> Arc<StoreCounters> {
        self.counters.clone()
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
        // Recorded durably before any file goes: a crash in between leaves files that the next
        // open skips. The durable commit also makes every apply before it durable, so the state
        // never needs an entry that is purged.
        blocking(&self.db, move |db| put_meta(db, KEY_PURGED, &log_id, true)).await?;
        let log = self.log.clone();
        blocking_io(move || log.purge(log_id.index)).await
    }
}

/// The replicated tables inside one redb write transaction: what [`state::apply`] runs against
/// in production. It counts the rows it writes, so a test can check that an apply writes only
/// what it changes.
struct TxnTables<'t> {
    txn: &'t redb::WriteTransaction,
    rows_written: u64,
}

impl TxnTables<'_> {
    fn get<T: DeserializeOwned>(&self, table: RowTable, key: &[u8]) -> Result<Option<T>, StorageError> {
        let table = self.txn.open_table(table).map_err(read_err)?;
        get_row(&table, key)
    }

    fn put<T: Serialize>(&mut self, table: RowTable, key: &[u8], row: &T) -> Result<(), StorageError> {
        let bytes = encode(row).map_err(write_err)?;
        let mut table = self.txn.open_table(table).map_err(write_err)?;
        table.insert(key, bytes.as_slice()).map_err(write_err)?;
        self.rows_written += 1;
        Ok(())
    }

    fn remove(&mut self, table: RowTable, key: &[u8]) -> Result<(), StorageError> {
        let mut table = self.txn.open_table(table).map_err(write_err)?;
        table.remove(key).map_err(write_err)?;
        self.rows_written += 1;
        Ok(())
    }
}

impl Tables for TxnTables<'_> {
    type Error = StorageError;

    fn autopilot(&self) -> Result<Option<Row<AutopilotConfig>>, StorageError> {
        self.get(AUTOPILOT, CONFIG_ROW)
    }

    fn set_autopilot(&mut self, row: Row<AutopilotConfig>) -> Result<(), StorageError> {
        self.put(AUTOPILOT, CONFIG_ROW, &row)
    }

    fn scheduler(&self) -> Result<Option<Row<SchedulerConfig>>, StorageError> {
        self.get(SCHEDULER, CONFIG_ROW)
    }

    fn set_scheduler(&mut self, row: Row<SchedulerConfig>) -> Result<(), StorageError> {
        self.put(SCHEDULER, CONFIG_ROW, &row)
    }

    fn variable(&self, namespace: &str, path: &str) -> Result<Option<Variable>, StorageError> {
        self.get(VARIABLES, &var_key(namespace, path))
    }

    fn set_variable(&mut self, var: &Variable) -> Result<(), StorageError> {
        self.put(VARIABLES, &var_key(&var.namespace, &var.path), var)
    }

    fn delete_variable(&mut self, namespace: &str, path: &str) -> Result<(), StorageError> {
        self.remove(VARIABLES, &var_key(namespace, path))
    }

    fn set_variables_index(&mut self, index: u64) -> Result<(), StorageError> {
        self.put(TABLE_INDEX, VARIABLES_INDEX_ROW, &index)
    }

    fn acl_policy(&self, name: &str) -> Result<Option<AclPolicy>, StorageError> {
        self.get(ACL_POLICIES, name.as_bytes())
    }

    fn set_acl_policy(&mut self, policy: &AclPolicy) -> Result<(), StorageError> {
        self.put(ACL_POLICIES, policy.name.as_bytes(), policy)
    }

    fn delete_acl_policy(&mut self, name: &str) -> Result<(), StorageError> {
        self.remove(ACL_POLICIES, name.as_bytes())
    }

    fn acl_token(&self, accessor: &str) -> Result<Option<AclToken>, StorageError> {
        self.get(ACL_TOKENS, accessor.as_bytes())
    }

    fn set_acl_token(&mut self, token: &AclToken) -> Result<(), StorageError> {
        self.put(ACL_SECRETS, &state::acl::secret_key(&token.secret_id), &token.accessor_id)?;
        self.put(ACL_TOKENS, token.accessor_id.as_bytes(), token)
    }

    fn delete_acl_token(&mut self, token: &AclToken) -> Result<(), StorageError> {
        self.remove(ACL_SECRETS, &state::acl::secret_key(&token.secret_id))?;
        self.remove(ACL_TOKENS, token.accessor_id.as_bytes())
    }

    fn acl_bootstrap(&self) -> Result<Option<u64>, StorageError> {
        self.get(TABLE_INDEX, ACL_BOOTSTRAP_ROW)
    }

    fn set_acl_bootstrap(&mut self, index: u64) -> Result<(), StorageError> {
        self.put(TABLE_INDEX, ACL_BOOTSTRAP_ROW, &index)
    }

    fn set_acl_index(&mut self, tokens: bool, index: u64) -> Result<(), StorageError> {
        let row = if tokens { ACL_TOKEN_INDEX_ROW } else { ACL_POLICY_INDEX_ROW };
        self.put(TABLE_INDEX, row, &index)
    }

    fn license(&self) -> Result<Option<Row<InstalledLicense>>, StorageError> {
        self.get(LICENSE, CONFIG_ROW)
    }

    fn set_license(&mut self, row: Row<InstalledLicense>) -> Result<(), StorageError> {
        self.put(LICENSE, CONFIG_ROW, &row)
    }
}

/// Applies a batch of committed entries in one write transaction: the rows the commands change,
/// then the last applied log id and (if the batch has one) the membership. Returns the replies
/// and the number of table rows written.
///
/// Not fsynced unless `durable`: the entries are in the durable log, and raft replays the log
/// from the last durably applied id after a crash. A crash can roll the transaction back, never
/// tear it.
fn apply_batch(db: &Database, entries: Vec<Entry>, durable: bool) -> Result<(Vec<Applied>, u64), StorageError> {
    let Some(last) = entries.last().map(|e| e.log_id) else {
        return Ok((Vec::new(), 0));
    };
    let txn = begin_write(db, durable)?;
    let mut replies = Vec::with_capacity(entries.len());
    let mut membership = None;
    let mut tables = TxnTables { txn: &txn, rows_written: 0 };
    for entry in entries {
        let index = entry.log_id.index;
        let reply = match entry.payload {
            EntryPayload::Blank => Applied::at(index, false),
            EntryPayload::Normal(cmd) => match restore::apply(&txn, &cmd, index)? {
                Some(applied) => applied,
                None => state::apply(&mut tables, &cmd, index)?,
            },
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m));
                Applied::at(index, true)
            }
        };
        replies.push(reply);
    }
    let rows_written = tables.rows_written;
    {
        let mut meta = txn.open_table(META).map_err(write_err)?;
        put_meta_in(&mut meta, KEY_LAST_APPLIED, &Some(last))?;
        if let Some(m) = &membership {
            put_meta_in(&mut meta, KEY_MEMBERSHIP, m)?;
        }
    }
    txn.commit().map_err(write_err)?;
    Ok((replies, rows_written))
}

/// The snapshot directory beside the redb file.
///
/// Its lock orders the steps that create, record, open and remove snapshot files, so a file is
/// never removed between being recorded as current and being opened for a follower.
struct SnapshotDir {
    path: PathBuf,
    lock: Mutex<()>,
}

impl SnapshotDir {
    fn new(db_path: &Path) -> Self {
        let parent = db_path.parent().unwrap_or_else(|| Path::new("."));
        Self { path: parent.join("snapshots"), lock: Mutex::new(()) }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data, so a panic while holding it leaves nothing inconsistent.
        self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file name for a snapshot id. Ids come from the leader; one that is not a plain name
    /// gets a fresh one so that it can never point outside this directory.
    fn file_name(snapshot_id: &str) -> String {
        let plain = !snapshot_id.is_empty()
            && snapshot_id.len() <= 128
            && snapshot_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if plain {
            format!("{snapshot_id}.snap")
        } else {
            format!("snapshot-{}.snap", uuid::Uuid::new_v4().simple())
        }
    }

    /// Removes every snapshot file except `current`, and with `partial` every unfinished one
    /// too (only safe when nothing can be writing one, i.e. at open). Best effort: a file left
    /// behind is removed next time.
    fn remove_stale(&self, current: Option<&str>, partial: bool) {
        let Ok(entries) = fs::read_dir(&self.path) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = (name.ends_with(".snap") && Some(name) != current) || (partial && name.ends_with(".part"));
            if stale {
                if let Err(e) = fs::remove_file(entry.path()) {
                    tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove an old raft snapshot");
                }
            }
        }
    }

    /// Moves a finished `.part` file to its final name, durably.
    fn publish(&self, part: &Path, name: &str) -> std::io::Result<()> {
        fs::rename(part, self.path.join(name))?;
        fs::File::open(&self.path)?.sync_all()
    }
}

/// Writes every row of `tables`, as `txn` sees them, as table and row records.
fn write_tables<W: std::io::Write>(
    txn: &redb::ReadTransaction,
    w: &mut file::Writer<W>,
    tables: &[RowTable],
) -> Result<(), StorageError> {
    for table in tables {
        w.table(table.name()).map_err(write_err)?;
        for row in txn.open_table(*table).map_err(read_err)?.iter().map_err(read_err)? {
            let (k, v) = row.map_err(read_err)?;
            w.row(k.value(), v.value()).map_err(write_err)?;
        }
    }
    Ok(())
}

/// Writes the state of one read transaction to `<dir>/<name>.part`, fsynced. Returns the meta,
/// the file name and the open file.
fn write_snapshot(db: &Database, dir: &SnapshotDir) -> Result<(SnapshotMeta, String, fs::File), StorageError> {
    // One read transaction: a consistent point in time that does not block applies.
    let txn = db.begin_read().map_err(read_err)?;
    let (last_applied, membership) = applied_meta(&txn.open_table(META).map_err(read_err)?)?;
    let snapshot_id = match last_applied {
        Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, uuid::Uuid::new_v4().simple()),
        None => format!("0-0-{}", uuid::Uuid::new_v4().simple()),
    };
    let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership, snapshot_id };
    let name = SnapshotDir::file_name(&meta.snapshot_id);
    let part = dir.path.join(format!("{name}.part"));
    let file = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&part).map_err(write_err)?;
    let written = (|| {
        let header = encode(&meta).map_err(write_err)?;
        let mut w = file::Writer::new(BufWriter::new(&file), &header).map_err(write_err)?;
        write_tables(&txn, &mut w, &SNAPSHOT_TABLES)?;
        w.finish().map_err(write_err)?;
        file.sync_all().map_err(write_err)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    Ok((meta, name, file))
}

/// Builds a raft snapshot file from a redb read transaction and records it as the current one.
pub struct SnapshotBuilder {
    db: Arc<Database>,
    snapshots: Arc<SnapshotDir>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let dir = self.snapshots.clone();
        let (meta, file) = blocking(&self.db, move |db| {
            let (meta, name, mut file) = write_snapshot(db, &dir)?;
            let _guard = dir.lock();
            let part = dir.path.join(format!("{name}.part"));
            dir.publish(&part, &name).map_err(write_err)?;
            // Durable: the log is purged behind this snapshot, so it must survive a crash.
            let txn = begin_write(db, true)?;
            let current = {
                let mut table = txn.open_table(META).map_err(write_err)?;
                let recorded: Option<CurrentSnapshot> = meta_value(&table, KEY_CURRENT_SNAPSHOT)?;
                // An install may have recorded a newer snapshot while this one was written.
                match recorded {
                    Some(r) if r.meta.last_log_id > meta.last_log_id => r.file,
                    _ => {
                        let record = CurrentSnapshot { meta: meta.clone(), file: name.clone() };
                        put_meta_in(&mut table, KEY_CURRENT_SNAPSHOT, &record)?;
                        name
                    }
                }
            };
            txn.commit().map_err(write_err)?;
            dir.remove_stale(Some(&current), false);
            file.seek(SeekFrom::Start(0)).map_err(read_err)?;
            Ok((meta, file))
        })
        .await?;
        Ok(Snapshot { meta, snapshot: Box::new(tokio::fs::File::from_std(file)) })
    }
}

/// Installs a snapshot from `src` (read from its start): replaces every replicated table and the
/// applied meta in one durable write transaction, and keeps a copy of the file, written as it
/// is read, as the current snapshot. Nothing changes if the file is corrupt.
fn install(db: &Database, dir: &SnapshotDir, meta: &SnapshotMeta, mut src: fs::File) -> Result<(), StorageError> {
    src.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let name = SnapshotDir::file_name(&meta.snapshot_id);
    let _guard = dir.lock();
    let part = dir.path.join(format!("{name}.part"));
    let copy = fs::OpenOptions::new().write(true).create(true).truncate(true).open(&part).map_err(write_err)?;
    let installed = (|| {
        let (mut r, header) = file::Reader::new(BufReader::new(&mut src), BufWriter::new(&copy)).map_err(read_err)?;
        let header: SnapshotMeta = decode(&header).map_err(read_err)?;
        if header.last_log_id != meta.last_log_id {
            let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "raft snapshot file does not match its meta");
            return Err(read_err(e));
        }
        let txn = begin_write(db, true)?;
        {
            for table in SNAPSHOT_TABLES {
                txn.delete_table(table).map_err(write_err)?;
            }
            let mut tables = Vec::with_capacity(SNAPSHOT_TABLES.len());
            for table in SNAPSHOT_TABLES {
                tables.push(txn.open_table(table).map_err(write_err)?);
            }
            let mut into = None;
            loop {
                match r.next().map_err(read_err)? {
                    file::Record::Table(name) => {
                        let Some(i) = SNAPSHOT_TABLES.iter().position(|t| t.name() == name) else {
                            let e = std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                format!("raft snapshot has unknown table {name:?} (written by a newer version?)"),
                            );
                            return Err(read_err(e));
                        };
                        into = Some(i);
                    }
                    file::Record::Row => {
                        let Some(table) = into.and_then(|i| tables.get_mut(i)) else {
                            let e = std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                "raft snapshot row outside a table",
                            );
                            return Err(read_err(e));
                        };
                        table.insert(r.key.as_slice(), r.value.as_slice()).map_err(write_err)?;
                    }
                    file::Record::End => break,
                }
            }
            let mut table = txn.open_table(META).map_err(write_err)?;
            put_meta_in(&mut table, KEY_LAST_APPLIED, &meta.last_log_id)?;
            put_meta_in(&mut table, KEY_MEMBERSHIP, &meta.last_membership)?;
            put_meta_in(&mut table, KEY_CURRENT_SNAPSHOT, &CurrentSnapshot { meta: meta.clone(), file: name.clone() })?;
        }
        let copy = r.into_copy().map_err(write_err)?;
        copy.get_ref().sync_all().map_err(write_err)?;
        dir.publish(&part, &name).map_err(write_err)?;
        // A crash after publishing and before this commit leaves an unrecorded file, which the
        // next open removes.
        txn.commit().map_err(write_err)
    })();
    if let Err(e) = installed {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    dir.remove_stale(Some(&name), false);
    Ok(())
}

/// The applied state machine and its snapshots.
pub struct StateMachineStore {
    db: Arc<Database>,
    snapshots: Arc<SnapshotDir>,
    /// The log, whose growth paces the durable commits.
    log: Arc<log::LogFiles>,
    /// The log's [`log::LogFiles::appended_bytes`] at the last durable apply.
    durable_at: u64,
    /// Bytes of snapshot-restore rows applied since the last durable apply.
    restored_since_durable: u64,
}

impl StateMachineStore {
    /// A handle for local reads of the applied rows.
    pub fn reader(&self) -> StateReader {
        StateReader { db: self.db.clone() }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        blocking(&self.db, |db| {
            let txn = db.begin_read().map_err(read_err)?;
            applied_meta(&txn.open_table(META).map_err(read_err)?)
        })
        .await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
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
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { db: self.db.clone(), snapshots: self.snapshots.clone() }
    }

    /// An anonymous file in the snapshot directory: it vanishes by itself if the transfer is
    /// abandoned or the process dies; `install_snapshot` keeps a named copy.
    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let dir = self.snapshots.clone();
        let file = blocking(&self.db, move |_| tempfile::tempfile_in(&dir.path).map_err(write_err)).await?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        mut snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        snapshot.flush().await.map_err(write_err)?;
        let src = snapshot.into_std().await;
        let dir = self.snapshots.clone();
        let meta = meta.clone();
        blocking(&self.db, move |db| install(db, &dir, &meta, src)).await
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
        Ok(found.map(|(meta, file)| Snapshot { meta, snapshot: Box::new(tokio::fs::File::from_std(file)) }))
    }
}

/// The v1 layout (until this format): the whole applied state as one postcard value under
/// `state_machine`, the snapshot as one postcard value under `snapshot`.
mod v1 {
    use serde::Deserialize;

    use super::*;

    pub const FORMAT: &[u8] = b"raftwarden-raft-v1";
    const KEY_SM: &str = "state_machine";
    const KEY_SNAPSHOT: &str = "snapshot";

    #[derive(Default, Deserialize)]
    struct State {
        autopilot: Option<Row<AutopilotConfig>>,
        scheduler: Option<Row<SchedulerConfig>>,
    }

    #[derive(Default, Deserialize)]
    struct AppliedState {
        last_applied: Option<LogId>,
        membership: StoredMembership,
        state: State,
    }

    #[derive(Deserialize)]
    struct StoredSnapshot {
        meta: SnapshotMeta,
        /// A postcard [`AppliedState`].
        data: Vec<u8>,
    }

    /// Moves a v1 store's state into the tables and its snapshot into a snapshot file, and drops
    /// the old keys, inside `txn` (the caller commits it durably).
    pub fn migrate(txn: &redb::WriteTransaction, dir: &SnapshotDir) -> Result<(), StorageError> {
        let mut meta = txn.open_table(META).map_err(write_err)?;
        let applied: AppliedState = meta_value(&meta, KEY_SM)?.unwrap_or_default();
        let snapshot: Option<StoredSnapshot> = meta_value(&meta, KEY_SNAPSHOT)?;

        let mut tables = TxnTables { txn, rows_written: 0 };
        if let Some(row) = applied.state.autopilot {
            tables.set_autopilot(row)?;
        }
        if let Some(row) = applied.state.scheduler {
            tables.set_scheduler(row)?;
        }
        put_meta_in(&mut meta, KEY_LAST_APPLIED, &applied.last_applied)?;
        put_meta_in(&mut meta, KEY_MEMBERSHIP, &applied.membership)?;

        if let Some(snapshot) = snapshot {
            let data: AppliedState = super::decode(&snapshot.data).map_err(read_err)?;
            let name = SnapshotDir::file_name(&snapshot.meta.snapshot_id);
            let part = dir.path.join(format!("{name}.part"));
            let written = (|| {
                let file = fs::File::create(&part)?;
                let header = encode(&snapshot.meta).map_err(std::io::Error::other)?;
                let mut w = file::Writer::new(BufWriter::new(&file), &header)?;
                w.table(AUTOPILOT.name())?;
                if let Some(row) = &data.state.autopilot {
                    w.row(CONFIG_ROW, &encode(row).map_err(std::io::Error::other)?)?;
                }
                w.table(SCHEDULER.name())?;
                if let Some(row) = &data.state.scheduler {
                    w.row(CONFIG_ROW, &encode(row).map_err(std::io::Error::other)?)?;
                }
                w.finish()?;
                file.sync_all()?;
                dir.publish(&part, &name)
            })();
            written.map_err(write_err)?;
            put_meta_in(&mut meta, KEY_CURRENT_SNAPSHOT, &CurrentSnapshot { meta: snapshot.meta, file: name })?;
        }
        // v1 stored the last purged log id wrapped in an `Option` but read it back bare, which
        // misread it after a restart; store it bare, as it is read.
        match meta_value::<Option<LogId>>(&meta, KEY_PURGED)? {
            Some(Some(purged)) => put_meta_in(&mut meta, KEY_PURGED, &purged)?,
            Some(None) => {
                meta.remove(KEY_PURGED).map_err(write_err)?;
            }
            None => {}
        }
        meta.remove(KEY_SM).map_err(write_err)?;
        meta.remove(KEY_SNAPSHOT).map_err(write_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use openraft::testing::StoreBuilder;
    use openraft::testing::Suite;
    use openraft::CommittedLeaderId;
    use openraft::Membership;
    use tempfile::TempDir;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::raft::ServerNode;

    #[test]
    fn applies_commit_durably_as_the_log_grows() {
        let (normal, restore) = (DURABLE_APPLY_LOG_BYTES, DURABLE_RESTORE_LOG_BYTES);
        let cases = [
            (0, 0, false),
            (1 << 20, 0, false),
            (normal - 1, 0, false),
            (normal, 0, true),
            // Restore rows count toward the larger bound only.
            (normal + (1 << 20), 2 << 20, false),
            (normal + (2 << 20), 2 << 20, true),
            (restore - 1, restore - 1, false),
            (restore, restore, true),
            // A count of rows larger than the log's growth (a replay after a restart).
            (normal, restore, false),
        ];
        for (appended, restored, durable) in cases {
            assert_eq!(apply_durably(appended, restored), durable, "{appended} bytes, {restored} of restore rows");
        }
    }

    #[test]
    fn restore_rows_are_counted_by_their_bytes() {
        let entry = |index, cmd| Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Normal(cmd),
        };
        let rows = [(b"key".to_vec(), vec![7u8; 100]), (Vec::new(), b"v".to_vec())].into_iter().collect();
        let entries = vec![
            entry(1, Command::RestoreBegin { id: "r".into() }),
            entry(2, Command::RestoreRows { id: "r".into(), table: "sm_variables".into(), rows }),
            entry(3, Command::RestoreCommit { id: "r".into(), rows: 2 }),
        ];
        assert_eq!(restore_row_bytes(&entries), 104);
        assert_eq!(restore_row_bytes(&[]), 0);
    }

    #[test]
    fn only_short_runs_of_single_writes_skip_the_blocking_pool() {
        let writes: Vec<Entry> = (1..=9).map(|i| normal(i, set_scheduler(10, None))).collect();
        assert!(runs_in_place(&writes[..1]));
        assert!(runs_in_place(&writes[..IN_PLACE_ENTRIES]));
        assert!(!runs_in_place(&writes), "a long run of entries goes to the pool");
        assert!(runs_in_place(&[membership_entry(1)]));
        let group = Command::Batch(vec![set_var("default", "a", None), set_var("default", "b", None)]);
        assert!(!runs_in_place(&[writes[0].clone(), normal(2, group)]), "a group commit goes to the pool");
        let restore_steps = [
            Command::RestoreBegin { id: "r".into() },
            Command::RestoreRows { id: "r".into(), table: "sm_variables".into(), rows: Default::default() },
            Command::RestoreCommit { id: "r".into(), rows: 0 },
            Command::RestoreRetire { id: "r".into() },
        ];
        for step in restore_steps {
            let entries = [normal(1, set_scheduler(10, None)), normal(2, step)];
            assert!(!runs_in_place(&entries), "a restore step goes to the pool: {:?}", entries[1].payload);
        }
    }

    /// openraft's conformance suite builds each case on a fresh store in its own directory.
    struct RedbStoreBuilder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RedbStoreBuilder {
        async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
            let dir = TempDir::new().map_err(write_err)?;
            let (log, sm) = open(&dir.path().join("raft.redb")).map_err(write_err)?;
            Ok((dir, log, sm))
        }
    }

    /// openraft's own conformance cases (vote, log, purge, truncate, membership, apply,
    /// snapshot build and transfer) against this store.
    #[test]
    fn openraft_storage_suite() -> Result<(), StorageError> {
        Suite::test_all(RedbStoreBuilder)
    }

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn normal(index: u64, cmd: Command) -> Entry {
        Entry { log_id: log_id(1, index), payload: EntryPayload::Normal(cmd) }
    }

    fn membership_entry(index: u64) -> Entry {
        let nodes = BTreeMap::from([(1, ServerNode { id: "one".into(), ..Default::default() })]);
        let membership = Membership::new(vec![[1].into()], nodes);
        Entry { log_id: log_id(1, index), payload: EntryPayload::Membership(membership) }
    }

    fn init_defaults() -> Command {
        Command::InitDefaults { autopilot: AutopilotConfig::default(), scheduler: SchedulerConfig::default() }
    }

    fn set_scheduler(limit: u32, cas: Option<u64>) -> Command {
        let config = SchedulerConfig { node_limit_for_feasibility_checks: limit, ..Default::default() };
        Command::SetScheduler { config, cas }
    }

    fn temp_store() -> (TempDir, LogStore, StateMachineStore) {
        let dir = TempDir::new().unwrap();
        let (log, sm) = open(&dir.path().join("raft.redb")).unwrap();
        (dir, log, sm)
    }

    fn snapshot_files(dir: &TempDir) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn apply_writes_only_the_rows_it_changes() {
        let (_dir, _log, sm) = temp_store();
        let db = sm.db.clone();
        let batch = |entries: Vec<Entry>| {
            let db = db.clone();
            async move { blocking(&db, move |db| apply_batch(db, entries, false)).await.unwrap() }
        };

        let (replies, rows) = batch(vec![membership_entry(1), normal(2, init_defaults())]).await;
        assert_eq!(rows, 2, "both config rows are created");
        assert!(replies.iter().all(|r| r.updated));

        let (replies, rows) = batch(vec![normal(3, set_scheduler(7, Some(2)))]).await;
        assert_eq!((rows, replies[0].updated), (1, true), "a scheduler write touches the scheduler row only");
        let autopilot = sm.reader().autopilot().unwrap().unwrap();
        assert_eq!((autopilot.create_index, autopilot.modify_index), (2, 2), "the autopilot row is untouched");
        let scheduler = sm.reader().scheduler().unwrap().unwrap();
        assert_eq!(
            (scheduler.value.node_limit_for_feasibility_checks, scheduler.create_index, scheduler.modify_index),
            (7, 2, 3)
        );

        let (replies, rows) = batch(vec![normal(4, set_scheduler(8, Some(2)))]).await;
        assert_eq!((rows, replies[0].updated), (0, false), "a failed CAS writes no row");
        let (replies, rows) = batch(vec![normal(5, init_defaults())]).await;
        assert_eq!((rows, replies[0].updated), (0, false), "defaults never overwrite");
        let (_, rows) = batch(vec![Entry { log_id: log_id(2, 6), payload: EntryPayload::Blank }]).await;
        assert_eq!(rows, 0);

        let mut sm = sm;
        let (last, membership) = sm.applied_state().await.unwrap();
        assert_eq!(last, Some(log_id(2, 6)), "the applied meta moves with every batch, rows or not");
        assert_eq!(membership.log_id(), &Some(log_id(1, 1)));
        assert_eq!(sm.reader().scheduler().unwrap().unwrap().modify_index, 3);
    }

    /// Streams `snapshot` into a store the way the chunked install RPC does: small writes at
    /// increasing offsets into the file from `begin_receiving_snapshot`.
    async fn transfer(snapshot: Snapshot, to: &mut StateMachineStore) {
        let Snapshot { meta, snapshot: mut src } = snapshot;
        let mut dst = to.begin_receiving_snapshot().await.unwrap();
        tokio::io::AsyncSeekExt::seek(&mut *src, SeekFrom::Start(0)).await.unwrap();
        let mut chunk = vec![0u8; 7];
        loop {
            let n = src.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            dst.write_all(&chunk[..n]).await.unwrap();
        }
        dst.shutdown().await.unwrap();
        to.install_snapshot(&meta, dst).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn snapshot_round_trip_gives_identical_rows() {
        let (dir_a, _log_a, mut a) = temp_store();
        a.apply(vec![membership_entry(1), normal(2, init_defaults()), normal(3, set_scheduler(42, None))])
            .await
            .unwrap();
        let first = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
        a.apply(vec![normal(4, set_scheduler(43, Some(3)))]).await.unwrap();
        let built = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
        assert_eq!(built.meta.last_log_id, Some(log_id(1, 4)));
        assert_eq!(snapshot_files(&dir_a), vec![format!("{}.snap", built.meta.snapshot_id)], "older files removed");
        drop(first);

        let current = a.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, built.meta);

        let (dir_b, _log_b, mut b) = temp_store();
        b.apply(vec![normal(1, set_scheduler(1, None))]).await.unwrap();
        transfer(current, &mut b).await;

        assert_eq!(b.reader().autopilot().unwrap(), a.reader().autopilot().unwrap());
        assert_eq!(b.reader().scheduler().unwrap(), a.reader().scheduler().unwrap());
        assert_eq!(b.applied_state().await.unwrap(), a.applied_state().await.unwrap());
        assert_eq!(b.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
        assert_eq!(snapshot_files(&dir_b), vec![format!("{}.snap", built.meta.snapshot_id)]);

        // The installed snapshot and rows survive a restart.
        drop((_log_b, b));
        let (_log_b, mut b) = open(&dir_b.path().join("raft.redb")).unwrap();
        assert_eq!(b.reader().scheduler().unwrap(), a.reader().scheduler().unwrap());
        assert_eq!(b.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn corrupt_snapshot_changes_nothing() {
        let (_dir_a, _log_a, mut a) = temp_store();
        a.apply(vec![membership_entry(1), normal(2, init_defaults())]).await.unwrap();
        let built = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let mut bytes = Vec::new();
        let mut src = built.snapshot;
        tokio::io::AsyncSeekExt::seek(&mut *src, SeekFrom::Start(0)).await.unwrap();
        src.read_to_end(&mut bytes).await.unwrap();

        let (dir_b, _log_b, mut b) = temp_store();
        b.apply(vec![normal(1, set_scheduler(5, None))]).await.unwrap();
        let before = (b.reader().scheduler().unwrap(), b.applied_state().await.unwrap());
        for corrupt in [
            {
                let mut c = bytes.clone();
                let at = c.len() - 20;
                c[at] ^= 0x40;
                c
            },
            bytes[..bytes.len() - 3].to_vec(),
        ] {
            let mut dst = b.begin_receiving_snapshot().await.unwrap();
            dst.write_all(&corrupt).await.unwrap();
            dst.shutdown().await.unwrap();
            assert!(b.install_snapshot(&built.meta, dst).await.is_err());
            assert_eq!((b.reader().scheduler().unwrap(), b.applied_state().await.unwrap()), before);
            assert!(b.get_current_snapshot().await.unwrap().is_none());
            assert!(snapshot_files(&dir_b).is_empty(), "no file kept from a bad snapshot");
        }
    }

    /// Builds snapshots while another task keeps applying scheduler writes. Each apply sets the
    /// row's `modify_index` and the last applied id in one transaction, so a consistent point in
    /// time has them equal.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_during_writes_is_a_point_in_time() {
        let (_dir, _log, mut sm) = temp_store();
        sm.apply(vec![membership_entry(1), normal(2, set_scheduler(2, None))]).await.unwrap();
        let db = sm.db.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut index = 3;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let entries = vec![normal(index, set_scheduler(index as u32, None))];
                    blocking(&db, move |db| apply_batch(db, entries, false)).await.unwrap();
                    index += 1;
                }
                index
            })
        };

        let mut seen = std::collections::BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while seen.len() < 5 && tokio::time::Instant::now() < deadline {
            let snap = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
            let last = snap.meta.last_log_id.unwrap().index;
            let (_d, _l, mut other) = temp_store();
            transfer(snap, &mut other).await;
            let row = other.reader().scheduler().unwrap().unwrap();
            assert_eq!(row.modify_index, last, "rows and meta come from one point in time");
            assert_eq!(u64::from(row.value.node_limit_for_feasibility_checks), last);
            seen.insert(last);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written = writer.await.unwrap();
        assert!(seen.len() >= 5, "snapshots at {seen:?} while writing up to {written}");
    }

    fn set_var(namespace: &str, path: &str, cas: Option<u64>) -> Command {
        let var = crate::state::Variable {
            namespace: namespace.into(),
            path: path.into(),
            items: [("k".to_string(), path.to_string())].into(),
            ..Default::default()
        };
        Command::VarSet { var, cas }
    }

    /// Variables sort by namespace then path, list by seeks (also across namespaces whose names
    /// prefix each other), count in the table index, and travel in snapshots.
    #[tokio::test(flavor = "multi_thread")]
    async fn variables_list_and_snapshot() {
        let (_dir, _log, mut a) = temp_store();
        let writes = [("a", "x/1"), ("a-b", "x/1"), ("a", "x/2"), ("a", "y/1"), ("b", "x/1")];
        let mut entries = vec![membership_entry(1)];
        for (i, (ns, path)) in writes.iter().enumerate() {
            entries.push(normal(i as u64 + 2, set_var(ns, path, Some(0))));
        }
        a.apply(entries).await.unwrap();
        let r = a.reader();
        let names = |page: &[crate::state::VariableMetadata]| {
            page.iter().map(|m| format!("{}.{}", m.namespace, m.path)).collect::<Vec<_>>()
        };
        let (page, next, index) = r.list_variables(None, "x/", 0, "").unwrap();
        assert_eq!(names(&page), ["a.x/1", "a.x/2", "a-b.x/1", "b.x/1"]);
        assert_eq!((next.as_str(), index), ("", 6));
        let (page, next, _) = r.list_variables(None, "", 2, "").unwrap();
        assert_eq!((names(&page), next.as_str()), (vec!["a.x/1".to_string(), "a.x/2".into()], "a.y/1"));
        let (page, _, _) = r.list_variables(Some("a"), "", 0, "a.x/2").unwrap();
        assert_eq!(names(&page), ["a.x/2", "a.y/1"]);
        assert!(r.list_variables(Some("c"), "", 0, "").unwrap().0.is_empty());

        let applied = a
            .apply(vec![normal(7, Command::VarDelete { namespace: "a".into(), path: "x/1".into(), cas: Some(2) })])
            .await
            .unwrap();
        assert!(applied[0].updated);
        assert_eq!(r.variables_index().unwrap(), 7);

        let snap = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let (_d, _l, mut b) = temp_store();
        transfer(snap, &mut b).await;
        let (all_a, _, ia) = r.list_variables(None, "", 0, "").unwrap();
        let (all_b, _, ib) = b.reader().list_variables(None, "", 0, "").unwrap();
        assert_eq!((all_a, ia), (all_b, ib));
        assert_eq!(b.reader().variable("a-b", "x/1").unwrap(), r.variable("a-b", "x/1").unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn acl_tokens_resolve_by_secret_and_travel_in_snapshots() {
        let (_dir, _log, mut a) = temp_store();
        let token = |accessor: &str, secret: &str| crate::state::AclToken {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            token_type: "client".into(),
            policies: vec!["p".into()],
            ..Default::default()
        };
        let policy =
            AclPolicy { name: "p".into(), rules: "operator { policy = \"read\" }".into(), ..Default::default() };
        a.apply(vec![
            membership_entry(1),
            normal(2, Command::AclTokenUpsert { tokens: vec![token("acc-1", "sec-1"), token("acc-2", "sec-2")] }),
            normal(3, Command::AclPolicyUpsert { policies: vec![policy] }),
            normal(4, Command::AclBootstrap { token: token("acc-3", "sec-3"), reset_index: 0 }),
        ])
        .await
        .unwrap();
        let r = a.reader();
        assert_eq!(r.acl_token_by_secret("sec-2").unwrap().map(|t| t.accessor_id), Some("acc-2".into()));
        assert!(r.acl_token_by_secret("sec-9").unwrap().is_none());
        assert_eq!(r.list_acl_tokens("acc-").unwrap().0.len(), 3);
        assert_eq!(
            (r.acl_index(true).unwrap(), r.acl_index(false).unwrap(), r.acl_bootstrap().unwrap()),
            (4, 3, Some(4))
        );

        a.apply(vec![normal(5, Command::AclTokenDelete { accessors: vec!["acc-2".into()] })]).await.unwrap();
        assert!(r.acl_token_by_secret("sec-2").unwrap().is_none(), "a deleted token's secret no longer resolves");

        let snap = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let (_d, _l, mut b) = temp_store();
        transfer(snap, &mut b).await;
        let rb = b.reader();
        assert_eq!(rb.list_acl_tokens("").unwrap(), r.list_acl_tokens("").unwrap());
        assert_eq!(rb.list_acl_policies("").unwrap(), r.list_acl_policies("").unwrap());
        assert_eq!(rb.acl_token_by_secret("sec-1").unwrap().map(|t| t.accessor_id), Some("acc-1".into()));
        assert_eq!(rb.acl_bootstrap().unwrap(), Some(4));
    }

    /// The v1 layout, copied from the last release that wrote it.
    mod v1_layout {
        use serde::Serialize;

        use super::*;

        #[derive(Serialize)]
        pub struct State {
            pub autopilot: Option<Row<AutopilotConfig>>,
            pub scheduler: Option<Row<SchedulerConfig>>,
        }

        #[derive(Serialize)]
        pub struct AppliedState {
            pub last_applied: Option<LogId>,
            pub membership: StoredMembership,
            pub state: State,
        }

        #[derive(Serialize)]
        pub struct StoredSnapshot {
            pub meta: SnapshotMeta,
            pub data: Vec<u8>,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn v1_store_is_migrated_on_open() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("raft.redb");
        let membership = StoredMembership::new(
            Some(log_id(1, 1)),
            match membership_entry(1).payload {
                EntryPayload::Membership(m) => m,
                _ => unreachable!(),
            },
        );
        let row = |limit: u32, create_index, modify_index| Row {
            value: SchedulerConfig { node_limit_for_feasibility_checks: limit, ..Default::default() },
            create_index,
            modify_index,
        };
        let autopilot = Row { value: AutopilotConfig::default(), create_index: 2, modify_index: 2 };
        let applied = v1_layout::AppliedState {
            last_applied: Some(log_id(1, 5)),
            membership: membership.clone(),
            state: v1_layout::State { autopilot: Some(autopilot.clone()), scheduler: Some(row(9, 2, 5)) },
        };
        let snapshot_meta = SnapshotMeta {
            last_log_id: Some(log_id(1, 3)),
            last_membership: membership.clone(),
            snapshot_id: "1-3-abc".into(),
        };
        let snapshot_state = v1_layout::AppliedState {
            last_applied: Some(log_id(1, 3)),
            membership: membership.clone(),
            state: v1_layout::State { autopilot: Some(autopilot.clone()), scheduler: Some(row(8, 2, 3)) },
        };
        let stored_snapshot = v1_layout::StoredSnapshot {
            meta: snapshot_meta.clone(),
            data: postcard::to_stdvec(&snapshot_state).unwrap(),
        };
        let vote = Vote::new_committed(1, 1);
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut meta = txn.open_table(META).unwrap();
                meta.insert(KEY_FORMAT, b"raftwarden-raft-v1".as_slice()).unwrap();
                meta.insert("vote", postcard::to_stdvec(&vote).unwrap().as_slice()).unwrap();
                meta.insert("state_machine", postcard::to_stdvec(&applied).unwrap().as_slice()).unwrap();
                meta.insert("snapshot", postcard::to_stdvec(&stored_snapshot).unwrap().as_slice()).unwrap();
                let mut logs = txn.open_table(LOGS).unwrap();
                let entry = normal(6, set_scheduler(10, None));
                logs.insert(6, postcard::to_stdvec(&entry).unwrap().as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }

        let (mut log, mut sm) = open(&path).unwrap();
        assert_eq!(sm.reader().autopilot().unwrap(), Some(autopilot.clone()));
        assert_eq!(sm.reader().scheduler().unwrap(), Some(row(9, 2, 5)));
        assert_eq!(sm.applied_state().await.unwrap(), (Some(log_id(1, 5)), membership.clone()));
        assert_eq!(log.read_vote().await.unwrap(), Some(vote));
        assert_eq!(log.try_get_log_entries(6..7).await.unwrap().len(), 1, "the log is kept");
        let current = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snapshot_meta);
        {
            let db = &sm.db;
            let txn = db.begin_read().unwrap();
            let meta = txn.open_table(META).unwrap();
            assert_eq!(meta.get(KEY_FORMAT).unwrap().unwrap().value(), FORMAT);
            assert!(meta.get("state_machine").unwrap().is_none(), "old keys are dropped");
            assert!(meta.get("snapshot").unwrap().is_none());
        }

        let (_d, _l, mut other) = temp_store();
        transfer(current, &mut other).await;
        assert_eq!(other.reader().scheduler().unwrap(), Some(row(8, 2, 3)), "the v1 snapshot became a snapshot file");
        assert_eq!(other.reader().autopilot().unwrap(), Some(autopilot));

        drop((log, sm));
        let (_log, sm) = open(&path).unwrap();
        assert_eq!(sm.reader().scheduler().unwrap(), Some(row(9, 2, 5)), "opening a migrated store again is a no-op");
    }

    /// A v2 store kept its log in redb: the log moves into files, once, and nothing else changes.
    #[tokio::test(flavor = "multi_thread")]
    async fn v2_store_log_moves_into_files() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("raft.redb");
        let vote = Vote::new_committed(2, 1);
        let purged = log_id(1, 3);
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut meta = txn.open_table(META).unwrap();
                meta.insert(KEY_FORMAT, FORMAT_V2).unwrap();
                meta.insert(KEY_VOTE, postcard::to_stdvec(&vote).unwrap().as_slice()).unwrap();
                meta.insert(KEY_PURGED, postcard::to_stdvec(&purged).unwrap().as_slice()).unwrap();
                let mut logs = txn.open_table(LOGS).unwrap();
                for i in 4..=6 {
                    logs.insert(i, postcard::to_stdvec(&normal(i, set_scheduler(i as u32, None))).unwrap().as_slice())
                        .unwrap();
                }
            }
            txn.commit().unwrap();
        }
        for round in 0..2 {
            let (mut log, _sm) = open(&path).unwrap();
            let state = log.get_log_state().await.unwrap();
            assert_eq!(state.last_purged_log_id, Some(purged), "round {round}");
            assert_eq!(state.last_log_id, Some(log_id(1, 6)), "round {round}");
            let got: Vec<u64> = log.try_get_log_entries(0..100).await.unwrap().iter().map(|e| e.log_id.index).collect();
            assert_eq!(got, vec![4, 5, 6], "round {round}");
            assert_eq!(log.read_vote().await.unwrap(), Some(vote));
            let txn = log.db.begin_read().unwrap();
            assert!(matches!(txn.open_table(LOGS), Err(redb::TableError::TableDoesNotExist(_))), "the table is gone");
            assert_eq!(txn.open_table(META).unwrap().get(KEY_FORMAT).unwrap().unwrap().value(), FORMAT);
        }
    }

    #[test]
    fn foreign_and_unplain_names_are_refused() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("raft.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert("something", b"else".as_slice()).unwrap();
            txn.commit().unwrap();
        }
        assert!(matches!(open(&path), Err(OpenError::Foreign { .. })));
        assert_eq!(SnapshotDir::file_name("1-2-ab_c"), "1-2-ab_c.snap");
        assert!(SnapshotDir::file_name("../../etc/passwd").starts_with("snapshot-"));
    }
}
