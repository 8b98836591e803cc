//! Applying committed entries: [`TxnTables`], the replicated tables of one redb write
//! transaction behind [`Tables`], and [`apply_batch`], which runs a batch of entries through the
//! restore steps ([`restore`]) or [`state::apply()`] and records the applied meta with them.

use std::cell::RefCell;

use openraft::EntryPayload;
use redb::Database;
use redb::TableHandle;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::restore;
use super::schema::begin_write;
use super::schema::encode;
use super::schema::get_row;
use super::schema::put_meta_in;
use super::schema::var_key;
use super::schema::RowTable;
use super::schema::ACL_BOOTSTRAP_ROW;
use super::schema::ACL_POLICIES;
use super::schema::ACL_POLICY_INDEX_ROW;
use super::schema::ACL_SECRETS;
use super::schema::ACL_TOKENS;
use super::schema::ACL_TOKEN_INDEX_ROW;
use super::schema::AUTOPILOT;
use super::schema::CONFIG_ROW;
use super::schema::KEY_LAST_APPLIED;
use super::schema::KEY_MEMBERSHIP;
use super::schema::LICENSE;
use super::schema::META;
use super::schema::SCHEDULER;
use super::schema::TABLE_INDEX;
use super::schema::VARIABLES;
use super::schema::VARIABLES_INDEX_ROW;
use super::write_err;
use crate::raft::Entry;
use crate::raft::StorageError;
use crate::raft::StoredMembership;
use crate::state;
use crate::state::AclPolicy;
use crate::state::AclToken;
use crate::state::Applied;
use crate::state::AutopilotConfig;
use crate::state::InstalledLicense;
use crate::state::Row;
use crate::state::SchedulerConfig;
use crate::state::Tables;
use crate::state::Variable;

/// One replicated table, open in an apply transaction.
type OpenTable<'t> = redb::Table<'t, &'static [u8], &'static [u8]>;

/// The replicated tables inside one redb write transaction: what [`state::apply()`] runs against
/// in production. Each table is opened once, at its first use, and stays open until this is
/// dropped (a batch of entries mostly writes the same two or three tables). It counts the rows
/// it writes, so a test can check that an apply writes only what it changes.
pub(super) struct TxnTables<'t> {
    txn: &'t redb::WriteTransaction,
    open: RefCell<Vec<(RowTable, OpenTable<'t>)>>,
    pub(super) rows_written: u64,
}

impl<'t> TxnTables<'t> {
    pub(super) fn new(txn: &'t redb::WriteTransaction) -> Self {
        Self { txn, open: RefCell::new(Vec::new()), rows_written: 0 }
    }

    /// Closes every table it opened, so that the transaction can open them itself.
    pub(super) fn close(&mut self) {
        self.open.get_mut().clear();
    }

    fn with<R>(
        &self,
        def: RowTable,
        f: impl FnOnce(&mut OpenTable<'t>) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let mut open = self.open.borrow_mut();
        let at = match open.iter().position(|(d, _)| d.name() == def.name()) {
            Some(at) => at,
            None => {
                open.push((def, self.txn.open_table(def).map_err(write_err)?));
                open.len() - 1
            }
        };
        f(&mut open[at].1)
    }

    fn get<T: DeserializeOwned>(&self, table: RowTable, key: &[u8]) -> Result<Option<T>, StorageError> {
        self.with(table, |t| get_row(t, key))
    }

    fn put<T: Serialize>(&mut self, table: RowTable, key: &[u8], row: &T) -> Result<(), StorageError> {
        let bytes = encode(row).map_err(write_err)?;
        self.with(table, |t| t.insert(key, bytes.as_slice()).map(drop).map_err(write_err))?;
        self.rows_written += 1;
        Ok(())
    }

    fn remove(&mut self, table: RowTable, key: &[u8]) -> Result<(), StorageError> {
        self.with(table, |t| t.remove(key).map(drop).map_err(write_err))?;
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
pub(super) fn apply_batch(
    db: &Database,
    entries: Vec<Entry>,
    durable: bool,
) -> Result<(Vec<Applied>, u64), StorageError> {
    let Some(last) = entries.last().map(|e| e.log_id) else {
        return Ok((Vec::new(), 0));
    };
    let txn = begin_write(db, durable)?;
    let mut replies = Vec::with_capacity(entries.len());
    let mut membership = None;
    let mut tables = TxnTables::new(&txn);
    for entry in entries {
        let index = entry.log_id.index;
        let reply = match entry.payload {
            EntryPayload::Blank => Applied::at(index, false),
            EntryPayload::Normal(cmd) if cmd.is_restore() => {
                // A restore's steps open the replicated tables (and their staging ones) itself.
                tables.close();
                match restore::apply(&txn, &cmd, index)? {
                    Some(applied) => applied,
                    None => state::apply(&mut tables, &cmd, index)?,
                }
            }
            EntryPayload::Normal(cmd) => state::apply(&mut tables, &cmd, index)?,
            EntryPayload::Membership(m) => {
                membership = Some(StoredMembership::new(Some(entry.log_id), m));
                Applied::at(index, true)
            }
        };
        replies.push(reply);
    }
    let rows_written = tables.rows_written;
    drop(tables);
    {
        let mut meta = txn.open_table(META).map_err(write_err)?;
        put_meta_in(&mut meta, KEY_LAST_APPLIED, &Some(last))?;
        if let Some(m) = &membership {
            put_meta_in(&mut meta, KEY_MEMBERSHIP, m)?;
        }
    }
    crate::fault::crash_point("apply-staged");
    txn.commit().map_err(write_err)?;
    if !durable {
        crate::fault::crash_point("apply-committed");
    }
    Ok((replies, rows_written))
}
