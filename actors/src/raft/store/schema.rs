//! What the redb file holds and how: the meta keys and format markers, one table per
//! replicated table, the key encoding that keeps variables in (namespace, path) order, and the
//! postcard encoding of rows and meta values with the helpers that read and write them.

use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;

use super::read_err;
use super::write_err;
use crate::raft::LogId;
use crate::raft::SnapshotMeta;
use crate::raft::StorageError;
use crate::raft::StoredMembership;

pub(super) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub(super) const KEY_FORMAT: &str = "format";
pub(super) const KEY_VOTE: &str = "vote";
pub(super) const KEY_PURGED: &str = "last_purged";
pub(super) const KEY_LAST_APPLIED: &str = "last_applied";
pub(super) const KEY_MEMBERSHIP: &str = "membership";
pub(super) const KEY_CURRENT_SNAPSHOT: &str = "current_snapshot";

/// Written once into a new store; a store without it was not made by raftwarden.
pub(super) const FORMAT: &[u8] = b"raftwarden-raft-v3";

/// The layout before the log moved out of redb: the log in the `logs` table.
pub(super) const FORMAT_V2: &[u8] = b"raftwarden-raft-v2";

/// One redb table per replicated table. Keys are the row key's bytes (ordered, so a keyed table
/// such as variables can scan a namespace prefix); values are postcard [`Row`](crate::state::Row)s.
pub(super) type RowTable = TableDefinition<'static, &'static [u8], &'static [u8]>;

pub(super) const AUTOPILOT: RowTable = TableDefinition::new("sm_autopilot");
pub(super) const SCHEDULER: RowTable = TableDefinition::new("sm_scheduler");
/// Variables keyed by [`var_key`]: sorted by namespace, then path.
pub(super) const VARIABLES: RowTable = TableDefinition::new("sm_variables");
/// The raft index of the last change of a keyed table, by table name (Nomad's `index` table).
pub(super) const TABLE_INDEX: RowTable = TableDefinition::new("sm_table_index");
/// ACL policies by name.
pub(super) const ACL_POLICIES: RowTable = TableDefinition::new("sm_acl_policies");
/// ACL tokens by accessor ID.
pub(super) const ACL_TOKENS: RowTable = TableDefinition::new("sm_acl_tokens");
/// The accessor ID of each token by the SHA-256 of its secret: resolving a secret is one read
/// and the secret is never a key.
pub(super) const ACL_SECRETS: RowTable = TableDefinition::new("sm_acl_secrets");

/// The installed license, one row.
pub(super) const LICENSE: RowTable = TableDefinition::new("sm_license");

/// Every replicated table: what a snapshot holds and what installing one replaces.
pub(super) const REPLICATED: [RowTable; 8] =
    [AUTOPILOT, SCHEDULER, VARIABLES, TABLE_INDEX, ACL_POLICIES, ACL_TOKENS, ACL_SECRETS, LICENSE];

/// The staging table of each replicated table, in the order of `REPLICATED`.
pub(super) const STAGING: [RowTable; 8] = [
    RowTable::new("staging_sm_autopilot"),
    RowTable::new("staging_sm_scheduler"),
    RowTable::new("staging_sm_variables"),
    RowTable::new("staging_sm_table_index"),
    RowTable::new("staging_sm_acl_policies"),
    RowTable::new("staging_sm_acl_tokens"),
    RowTable::new("staging_sm_acl_secrets"),
    RowTable::new("staging_sm_license"),
];

/// Where a commit puts each replicated table it replaces, in the order of `REPLICATED`, until
/// [`Command::RestoreRetire`](crate::state::Command::RestoreRetire) drops them: freeing a large table's pages reads every one of
/// them, which the commit (and the client waiting on it) need not wait for. Not replicated:
/// a raft snapshot does not carry them.
pub(super) const RETIRED: [RowTable; 8] = [
    RowTable::new("retired_sm_autopilot"),
    RowTable::new("retired_sm_scheduler"),
    RowTable::new("retired_sm_variables"),
    RowTable::new("retired_sm_table_index"),
    RowTable::new("retired_sm_acl_policies"),
    RowTable::new("retired_sm_acl_tokens"),
    RowTable::new("retired_sm_acl_secrets"),
    RowTable::new("retired_sm_license"),
];

/// The restore in progress, under [`PROGRESS_KEY`].
pub(super) const PROGRESS: RowTable = RowTable::new("staging_restore");
pub(super) const PROGRESS_KEY: &[u8] = b"restore";

/// Every table a raft snapshot carries: the replicated ones and a snapshot restore in progress
/// (a follower that installs a raft snapshot half-way through a restore must hold the rows
/// staged so far, or it could not commit the restore with the others).
pub(super) const SNAPSHOT_TABLES: [RowTable; 17] = [
    AUTOPILOT,
    SCHEDULER,
    VARIABLES,
    TABLE_INDEX,
    ACL_POLICIES,
    ACL_TOKENS,
    ACL_SECRETS,
    LICENSE,
    STAGING[0],
    STAGING[1],
    STAGING[2],
    STAGING[3],
    STAGING[4],
    STAGING[5],
    STAGING[6],
    STAGING[7],
    PROGRESS,
];

/// The key of the one row of a single-row (config) table.
pub(super) const CONFIG_ROW: &[u8] = b"config";

/// The key of the variables row in [`TABLE_INDEX`].
pub(super) const VARIABLES_INDEX_ROW: &[u8] = b"variables";
/// The rows of [`TABLE_INDEX`] for the ACL tables (Nomad's index names) and the bootstrap.
pub(super) const ACL_POLICY_INDEX_ROW: &[u8] = b"acl_policy";
pub(super) const ACL_TOKEN_INDEX_ROW: &[u8] = b"acl_token";
pub(super) const ACL_BOOTSTRAP_ROW: &[u8] = b"acl_token_bootstrap";

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
pub(super) fn var_key(namespace: &str, path: &str) -> Vec<u8> {
    let mut key = namespace_key(namespace);
    key.extend_from_slice(path.as_bytes());
    key
}

/// The first key after every variable of `namespace` (its terminator `0x00 0x01` bumped).
pub(super) fn after_namespace(namespace: &str) -> Vec<u8> {
    let mut key = namespace_key(namespace);
    if let Some(last) = key.last_mut() {
        *last = 2;
    }
    key
}

/// The snapshot openraft serves to lagging followers, recorded in meta beside its file name.
#[derive(Serialize, Deserialize)]
pub(super) struct CurrentSnapshot {
    pub(super) meta: SnapshotMeta,
    pub(super) file: String,
}

pub(super) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(v)
}

pub(super) fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(b)
}

pub(super) fn get_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, StorageError> {
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

pub(super) fn put_meta<T: Serialize>(db: &Database, key: &str, value: &T, durable: bool) -> Result<(), StorageError> {
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
pub(super) fn begin_write(db: &Database, durable: bool) -> Result<redb::WriteTransaction, StorageError> {
    let mut txn = db.begin_write().map_err(write_err)?;
    if !durable {
        txn.set_durability(redb::Durability::None).map_err(write_err)?;
    }
    Ok(txn)
}

/// A meta value inside an open transaction (read or write).
pub(super) fn meta_value<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, StorageError> {
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(decode(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

pub(super) fn put_meta_in<T: Serialize>(
    table: &mut redb::Table<&'static str, &'static [u8]>,
    key: &str,
    value: &T,
) -> Result<(), StorageError> {
    let bytes = encode(value).map_err(write_err)?;
    table.insert(key, bytes.as_slice()).map_err(write_err)?;
    Ok(())
}

/// One row of a replicated table inside an open transaction (read or write).
pub(super) fn get_row<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> Result<Option<T>, StorageError> {
    match table.get(key).map_err(read_err)? {
        Some(v) => Ok(Some(decode(v.value()).map_err(read_err)?)),
        None => Ok(None),
    }
}

/// What raft needs to resume: the last applied log id and the membership it applied last.
pub(super) fn applied_meta(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<(Option<LogId>, StoredMembership), StorageError> {
    let last_applied = meta_value::<Option<LogId>>(meta, KEY_LAST_APPLIED)?.flatten();
    let membership = meta_value(meta, KEY_MEMBERSHIP)?.unwrap_or_default();
    Ok((last_applied, membership))
}
