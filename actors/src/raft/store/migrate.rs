//! Bringing older stores up to the current layout on open: v1 kept the whole state as one
//! value and the snapshot inside redb ([`v1`]); v2 kept the log in a redb table
//! ([`move_log_out_of_redb`]).

use std::path::Path;

use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;

use super::log;
use super::read_err;
use super::schema::begin_write;
use super::schema::decode;
use super::schema::FORMAT;
use super::schema::KEY_FORMAT;
use super::schema::LOGS;
use super::schema::META;
use super::write_err;
use crate::raft::Entry;
use crate::raft::StorageError;

/// Copies a v2 store's log from the `logs` table into log files, then drops the table and
/// marks the store v3 in one durable commit. A crash before that commit leaves a v2 store,
/// which the next open migrates again from the start.
pub(super) fn move_log_out_of_redb(db: &Database, log_dir: &Path) -> Result<(), StorageError> {
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

/// The v1 layout (until this format): the whole applied state as one postcard value under
/// `state_machine`, the snapshot as one postcard value under `snapshot`.
pub(super) mod v1 {
    use std::fs;
    use std::io::BufWriter;

    use redb::TableHandle;
    use serde::Deserialize;

    use crate::raft::snapfile as file;
    use crate::raft::store::apply::TxnTables;
    use crate::raft::store::read_err;
    use crate::raft::store::schema::decode;
    use crate::raft::store::schema::encode;
    use crate::raft::store::schema::meta_value;
    use crate::raft::store::schema::put_meta_in;
    use crate::raft::store::schema::CurrentSnapshot;
    use crate::raft::store::schema::AUTOPILOT;
    use crate::raft::store::schema::CONFIG_ROW;
    use crate::raft::store::schema::KEY_CURRENT_SNAPSHOT;
    use crate::raft::store::schema::KEY_LAST_APPLIED;
    use crate::raft::store::schema::KEY_MEMBERSHIP;
    use crate::raft::store::schema::KEY_PURGED;
    use crate::raft::store::schema::META;
    use crate::raft::store::schema::SCHEDULER;
    use crate::raft::store::snapshot::SnapshotDir;
    use crate::raft::store::write_err;
    use crate::raft::LogId;
    use crate::raft::SnapshotMeta;
    use crate::raft::StorageError;
    use crate::raft::StoredMembership;
    use crate::state::AutopilotConfig;
    use crate::state::Row;
    use crate::state::SchedulerConfig;
    use crate::state::Tables;

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

        let mut tables = TxnTables::new(txn);
        if let Some(row) = applied.state.autopilot {
            tables.set_autopilot(row)?;
        }
        if let Some(row) = applied.state.scheduler {
            tables.set_scheduler(row)?;
        }
        put_meta_in(&mut meta, KEY_LAST_APPLIED, &applied.last_applied)?;
        put_meta_in(&mut meta, KEY_MEMBERSHIP, &applied.membership)?;

        if let Some(snapshot) = snapshot {
            let data: AppliedState = decode(&snapshot.data).map_err(read_err)?;
            let name = SnapshotDir::file_name(snapshot.meta.last_log_id.as_ref());
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
