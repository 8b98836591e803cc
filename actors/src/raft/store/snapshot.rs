//! Raft snapshot files in `snapshots/` beside the redb file: the directory and its lock, the
//! building of a snapshot from one read transaction, and the install of a received one in one
//! durable write transaction.

use std::fs;
use std::io::BufReader;
use std::io::BufWriter;
use std::io::Seek;
use std::io::SeekFrom;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use openraft::RaftSnapshotBuilder;
use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableHandle;

use super::blocking;
use super::read_err;
use super::schema::applied_meta;
use super::schema::begin_write;
use super::schema::decode;
use super::schema::encode;
use super::schema::meta_value;
use super::schema::put_meta_in;
use super::schema::CurrentSnapshot;
use super::schema::RowTable;
use super::schema::KEY_CURRENT_SNAPSHOT;
use super::schema::KEY_LAST_APPLIED;
use super::schema::KEY_MEMBERSHIP;
use super::schema::META;
use super::schema::SNAPSHOT_TABLES;
use super::write_err;
use crate::raft::snapfile as file;
use crate::raft::LogId;
use crate::raft::Snapshot;
use crate::raft::SnapshotData;
use crate::raft::SnapshotMeta;
use crate::raft::StorageError;
use crate::raft::TypeConfig;

/// The snapshot directory beside the redb file.
///
/// Its lock orders the steps that create, record, open and remove snapshot files, so a file is
/// never removed between being recorded as current and being opened for a follower.
pub(super) struct SnapshotDir {
    pub(super) path: PathBuf,
    lock: Mutex<()>,
}

impl SnapshotDir {
    pub(super) fn new(db_path: &Path) -> Self {
        let parent = db_path.parent().unwrap_or_else(|| Path::new("."));
        Self { path: parent.join("snapshots"), lock: Mutex::new(()) }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data, so a panic while holding it leaves nothing inconsistent.
        self.lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file name for a snapshot id. Ids come from the leader; one that is not a plain name
    /// gets a fresh one so that it can never point outside this directory.
    /// A new file name for a snapshot that covers the log up to `last`: the position it
    /// covers (term and index) and a random part, so two builds at one position never collide.
    pub(super) fn file_name(last: Option<&LogId>) -> String {
        let (term, index) = last.map_or((0, 0), |l| (l.leader_id.term, l.index));
        format!("{term}-{index}-{}.snap", uuid::Uuid::new_v4().simple())
    }

    /// Removes every snapshot file except `current`, and with `partial` every unfinished one
    /// too (only safe when nothing can be writing one, i.e. at open). Best effort: a file left
    /// behind is removed next time.
    pub(super) fn remove_stale(&self, current: Option<&str>, partial: bool) {
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
    pub(super) fn publish(&self, part: &Path, name: &str) -> std::io::Result<()> {
        fs::rename(part, self.path.join(name))?;
        fs::File::open(&self.path)?.sync_all()
    }
}

/// Writes every row of `tables`, as `txn` sees them, as table and row records.
pub(super) fn write_tables<W: std::io::Write>(
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
    let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership };
    let name = SnapshotDir::file_name(meta.last_log_id.as_ref());
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
    pub(super) db: Arc<Database>,
    pub(super) snapshots: Arc<SnapshotDir>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    type SnapshotData = SnapshotData;

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
        Ok(Snapshot { meta, snapshot: tokio::fs::File::from_std(file) })
    }
}

/// Installs a snapshot from `src` (read from its start): replaces every replicated table and the
/// applied meta in one durable write transaction, and keeps a copy of the file, written as it
/// is read, as the current snapshot. Nothing changes if the file is corrupt.
pub(super) fn install(
    db: &Database,
    dir: &SnapshotDir,
    meta: &SnapshotMeta,
    mut src: fs::File,
) -> Result<(), StorageError> {
    src.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let name = SnapshotDir::file_name(meta.last_log_id.as_ref());
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
                        crate::fault::crash_point("snapshot-install-rows");
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
        crate::fault::crash_point("snapshot-install-published");
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
