//! Local reads of the applied rows, for the actors and the HTTP layer: one redb read
//! transaction per read, and the export of every replicated table for a snapshot archive.

use std::sync::Arc;

use redb::Database;
use redb::ReadableDatabase;
use redb::ReadableTable;
use serde::de::DeserializeOwned;

use super::read_err;
use super::schema::after_namespace;
use super::schema::applied_meta;
use super::schema::decode;
use super::schema::encode;
use super::schema::get_row;
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
use super::schema::LICENSE;
use super::schema::META;
use super::schema::REPLICATED;
use super::schema::SCHEDULER;
use super::schema::TABLE_INDEX;
use super::schema::VARIABLES;
use super::schema::VARIABLES_INDEX_ROW;
use super::snapshot::write_tables;
use super::write_err;
use crate::raft::snapfile as file;
use crate::raft::SnapshotMeta;
use crate::raft::StorageError;
use crate::state;
use crate::state::variables::Keep;
use crate::state::variables::Paged;
use crate::state::variables::Pager;
use crate::state::AclPolicy;
use crate::state::AclToken;
use crate::state::AutopilotConfig;
use crate::state::InstalledLicense;
use crate::state::Row;
use crate::state::SchedulerConfig;
use crate::state::Variable;
use crate::state::VariableMetadata;

/// Read access to the applied rows, shared with the actors and the HTTP layer for local reads.
///
/// Each read is its own redb read transaction and returns only the row asked for. It sees
/// every apply that has returned: redb makes a commit visible to later read transactions
/// whether or not it has been fsynced yet.
#[derive(Clone)]
pub struct StateReader {
    pub(super) db: Arc<Database>,
    /// The state machine's last applied index ([`StateReader::applied_changes`]).
    pub(super) applied: tokio::sync::watch::Receiver<u64>,
}

impl StateReader {
    /// A receiver that wakes after every applied batch of entries or installed snapshot (its
    /// value is the last applied log index): a blocking query marks it seen, reads, and waits
    /// on it for the next change instead of polling. It ends when the state machine stops.
    pub fn applied_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        let mut rx = self.applied.clone();
        rx.mark_unchanged();
        rx
    }

    /// Writes every replicated table as of one read transaction (a consistent point in time
    /// that does not block writes) to `out`, in the snapshot file format, and returns the raft
    /// position of that point: the applied log id and membership.
    pub fn export(&self, out: impl std::io::Write) -> Result<SnapshotMeta, StorageError> {
        let txn = self.db.begin_read().map_err(read_err)?;
        let (last_applied, membership) = applied_meta(&txn.open_table(META).map_err(read_err)?)?;
        let meta = SnapshotMeta { last_log_id: last_applied, last_membership: membership };
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
        self.list_variables_where(namespace, prefix, per_page, next_token, &mut |_| Keep::Yes)
    }

    /// [`StateReader::list_variables`] keeping only the entries `keep` selects (a filter, the
    /// caller's ACL); the page counts kept entries only. A [`Keep::Stop`] ends the listing.
    pub fn list_variables_where(
        &self,
        namespace: Option<&str>,
        prefix: &str,
        per_page: i32,
        next_token: &str,
        keep: &mut dyn FnMut(&VariableMetadata) -> Keep,
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
                    if pager.offer_where(var.metadata(), keep) == Paged::Full {
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
