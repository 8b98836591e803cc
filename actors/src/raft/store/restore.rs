//! Restoring a snapshot archive through raft, so that it is ordered with every other write and
//! reaches every server, including one that is down and catches up later from the log or from
//! a raft snapshot.
//!
//! The leader turns the verified `state.bin` into log entries: [`Command::RestoreBegin`], then
//! [`Command::RestoreRows`] of at most about a megabyte each, then [`Command::RestoreCommit`].
//! Rows go to staging tables, one per replicated table; the commit replaces every replicated
//! table with its staged rows in one apply, if the restore it names is the one in progress and
//! every row arrived. Until then the live tables serve reads and writes as usual; a restore cut
//! short (the leader died) changes nothing, and the next restore starts over. Raft snapshots
//! carry the staging tables, so a follower that installs one half-way through still commits.
//!
//! The leader proposes rows before the archive's last hash has verified (the archive streams
//! through), and the commit only after: an archive that fails verification leaves its rows in
//! the staging tables, never in the live ones, until the next restore clears them. The commit
//! sets the tables it replaces aside (`RETIRED`); [`Command::RestoreRetire`], proposed after
//! the client has its answer, drops them.

use redb::ReadableTable;
use redb::TableHandle;
use redb::WriteTransaction;
use serde::Deserialize;
use serde::Serialize;

use super::read_err;
use super::schema::decode;
use super::schema::encode;
use super::schema::PROGRESS;
use super::schema::PROGRESS_KEY;
use super::schema::REPLICATED;
use super::schema::RETIRED;
use super::schema::STAGING;
use super::write_err;
use crate::raft::StorageError;
use crate::state::Applied;
use crate::state::Command;
/// At its old path, where the snapshot restore code takes it.
pub(crate) use crate::state::RowSetBuilder;

/// Which restore is in progress and how many rows it has staged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub id: String,
    pub rows: u64,
}

/// What a restore command does, given the restore in progress.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Forget any restore in progress and start this one.
    Begin,
    /// Stage these rows into the staging table at this position.
    Stage(usize),
    /// Replace every replicated table with the staged rows.
    Commit,
    /// Drop the tables that commits replaced.
    Retire,
    /// Not the restore in progress (a newer one began, or this one was cut short), or a table
    /// this version does not have: nothing changes.
    Ignore,
}

/// The decision, pure: `None` for a command that is not part of a restore.
pub(crate) fn decide(progress: Option<&Progress>, cmd: &Command) -> Option<Step> {
    let current = |id: &str| progress.is_some_and(|p| p.id == id);
    Some(match cmd {
        Command::RestoreBegin { .. } => Step::Begin,
        Command::RestoreRows { id, table, .. } => match REPLICATED.iter().position(|t| t.name() == table) {
            Some(i) if current(id) => Step::Stage(i),
            _ => Step::Ignore,
        },
        Command::RestoreCommit { id, rows } => {
            if progress == Some(&Progress { id: id.clone(), rows: *rows }) {
                Step::Commit
            } else {
                Step::Ignore
            }
        }
        Command::RestoreRetire { .. } => Step::Retire,
        _ => return None,
    })
}

/// Applies a restore command inside the apply transaction; `None` when `cmd` is not one. The
/// caller sends only restore commands here (`Command::is_restore`): only they read the restore
/// in progress.
pub(crate) fn apply(txn: &WriteTransaction, cmd: &Command, index: u64) -> Result<Option<Applied>, StorageError> {
    let progress: Option<Progress> = {
        let table = txn.open_table(PROGRESS).map_err(write_err)?;
        let value = table.get(PROGRESS_KEY).map_err(read_err)?;
        match value {
            Some(v) => Some(decode(v.value()).map_err(read_err)?),
            None => None,
        }
    };
    let Some(step) = decide(progress.as_ref(), cmd) else { return Ok(None) };
    let updated = match (step, cmd) {
        (Step::Begin, Command::RestoreBegin { id }) => {
            clear_staging(txn)?;
            set_progress(txn, Some(&Progress { id: id.clone(), rows: 0 }))?;
            true
        }
        (Step::Stage(i), Command::RestoreRows { rows, .. }) => {
            {
                let mut table = txn.open_table(STAGING[i]).map_err(write_err)?;
                for (k, v) in rows.iter() {
                    table.insert(k, v).map_err(write_err)?;
                }
            }
            let mut p = progress.unwrap_or(Progress { id: String::new(), rows: 0 });
            p.rows += rows.len() as u64;
            set_progress(txn, Some(&p))?;
            crate::fault::crash_point("restore-staged");
            true
        }
        (Step::Commit, _) => {
            // Each staging table becomes its live table by name and the live one is set aside:
            // no row is copied and no page freed, so the commit costs the same whatever the
            // state's size.
            crate::fault::crash_point("restore-commit");
            drop_retired(txn)?;
            for ((live, staging), retired) in REPLICATED.iter().zip(STAGING.iter()).zip(RETIRED.iter()) {
                txn.open_table(*live).map_err(write_err)?;
                txn.rename_table(*live, *retired).map_err(write_err)?;
                txn.rename_table(*staging, *live).map_err(write_err)?;
            }
            clear_staging(txn)?;
            set_progress(txn, None)?;
            true
        }
        (Step::Retire, _) => {
            drop_retired(txn)?;
            true
        }
        _ => false,
    };
    Ok(Some(Applied::at(index, updated)))
}

fn drop_retired(txn: &WriteTransaction) -> Result<(), StorageError> {
    for table in RETIRED {
        txn.delete_table(table).map_err(write_err)?;
    }
    Ok(())
}

fn clear_staging(txn: &WriteTransaction) -> Result<(), StorageError> {
    for table in STAGING {
        txn.delete_table(table).map_err(write_err)?;
        txn.open_table(table).map_err(write_err)?;
    }
    Ok(())
}

fn set_progress(txn: &WriteTransaction, progress: Option<&Progress>) -> Result<(), StorageError> {
    let mut table = txn.open_table(PROGRESS).map_err(write_err)?;
    match progress {
        Some(p) => {
            table.insert(PROGRESS_KEY, encode(p).map_err(write_err)?.as_slice()).map_err(write_err)?;
        }
        None => {
            table.remove(PROGRESS_KEY).map_err(write_err)?;
        }
    }
    Ok(())
}

/// The name of each replicated table, as `state.bin` names its sections.
pub(crate) fn replicated_names() -> impl Iterator<Item = &'static str> {
    REPLICATED.iter().map(|t| t.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::store::schema::RowTable;

    fn rows(id: &str, table: &str) -> Command {
        Command::RestoreRows { id: id.into(), table: table.into(), rows: [(b"k", b"v")].into_iter().collect() }
    }

    /// Applies each command in its own write transaction, as the store does.
    fn apply_all(db: &redb::Database, cmds: Vec<Command>) -> Vec<bool> {
        cmds.iter()
            .enumerate()
            .map(|(i, cmd)| {
                let txn = db.begin_write().unwrap();
                let applied = apply(&txn, cmd, i as u64 + 1).unwrap().unwrap();
                txn.commit().unwrap();
                applied.updated
            })
            .collect()
    }

    fn rows_of(db: &redb::Database, table: RowTable) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let txn = redb::ReadableDatabase::begin_read(db).unwrap();
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return None,
            Err(e) => panic!("{e}"),
        };
        Some(table.iter().unwrap().map(|r| r.unwrap()).map(|(k, v)| (k.value().to_vec(), v.value().to_vec())).collect())
    }

    #[test]
    fn a_commit_sets_the_replaced_tables_aside_and_retire_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let variables = REPLICATED.iter().position(|t| t.name() == "sm_variables").unwrap();
        let old = vec![(b"old".to_vec(), b"1".to_vec())];
        {
            let txn = db.begin_write().unwrap();
            txn.open_table(REPLICATED[variables]).unwrap().insert(b"old".as_slice(), b"1".as_slice()).unwrap();
            txn.commit().unwrap();
        }
        let new = vec![(b"new".to_vec(), b"2".to_vec())];
        let updated = apply_all(
            &db,
            vec![
                Command::RestoreBegin { id: "r".into() },
                Command::RestoreRows {
                    id: "r".into(),
                    table: "sm_variables".into(),
                    rows: new.iter().cloned().collect(),
                },
                Command::RestoreCommit { id: "r".into(), rows: 1 },
            ],
        );
        assert_eq!(updated, vec![true; 3]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(new.clone()));
        assert_eq!(rows_of(&db, RETIRED[variables]), Some(old));

        // A second restore before the first one's retire: its commit drops what is set aside.
        let newer = vec![(b"newer".to_vec(), b"3".to_vec())];
        let updated = apply_all(
            &db,
            vec![
                Command::RestoreBegin { id: "r2".into() },
                Command::RestoreRows {
                    id: "r2".into(),
                    table: "sm_variables".into(),
                    rows: newer.iter().cloned().collect(),
                },
                Command::RestoreCommit { id: "r2".into(), rows: 1 },
            ],
        );
        assert_eq!(updated, vec![true; 3]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(newer.clone()));
        assert_eq!(rows_of(&db, RETIRED[variables]), Some(new));

        assert_eq!(apply_all(&db, vec![Command::RestoreRetire { id: "r".into() }]), vec![true]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(newer));
        for table in RETIRED {
            assert_eq!(rows_of(&db, table), None, "{} dropped", table.name());
        }
    }

    #[test]
    fn only_the_restore_in_progress_stages_and_commits_and_only_when_complete() {
        let p = Progress { id: "r2".into(), rows: 5 };
        let commit = |id: &str, rows| Command::RestoreCommit { id: id.into(), rows };
        let cases: Vec<(&str, Option<&Progress>, Command, Option<Step>)> = vec![
            ("not a restore command", Some(&p), Command::Batch(vec![]), None),
            ("begin always starts over", Some(&p), Command::RestoreBegin { id: "r3".into() }, Some(Step::Begin)),
            ("rows of the restore in progress", Some(&p), rows("r2", "sm_variables"), Some(Step::Stage(2))),
            ("rows of an older restore", Some(&p), rows("r1", "sm_variables"), Some(Step::Ignore)),
            ("rows with no restore in progress", None, rows("r2", "sm_variables"), Some(Step::Ignore)),
            ("rows of an unknown table", Some(&p), rows("r2", "sm_jobs"), Some(Step::Ignore)),
            ("commit with every row staged", Some(&p), commit("r2", 5), Some(Step::Commit)),
            ("commit with rows missing", Some(&p), commit("r2", 6), Some(Step::Ignore)),
            ("commit of another restore", Some(&p), commit("r1", 5), Some(Step::Ignore)),
            ("commit with nothing in progress", None, commit("r2", 5), Some(Step::Ignore)),
            (
                "retire whatever is in progress",
                Some(&p),
                Command::RestoreRetire { id: "r1".into() },
                Some(Step::Retire),
            ),
            ("retire with nothing in progress", None, Command::RestoreRetire { id: "r1".into() }, Some(Step::Retire)),
        ];
        for (why, progress, cmd, want) in cases {
            assert_eq!(decide(progress, &cmd), want, "{why}");
        }
    }
}
