//! The replicated state machine as plain data.
//!
//! Every write reaches the state only through [`apply`], which runs on every server in raft log
//! order. Compare-and-set is decided here, inside apply, so that two competing CAS writes are
//! linearised by the log and never by a read-check-write across messages.
//!
//! `apply` reads and writes only the rows a command touches, through the [`Tables`] trait: the
//! raft store implements it over one redb write transaction (one redb table per replicated
//! table), and [`State`] implements it in memory for models, tests and benches. The decision is
//! the same code in both.

pub mod acl;
mod config;
pub mod license;
mod restore;
pub mod variables;

pub use config::AutopilotConfig;
pub use config::PreemptionConfig;
pub use config::SchedulerAlgorithm;
pub use config::SchedulerConfig;
pub use license::InstalledLicense;
pub use restore::RestoreRowSet;
pub(crate) use restore::RowSetBuilder;

use std::collections::BTreeMap;
use std::convert::Infallible;

pub use acl::AclOutcome;
pub use acl::AclPolicy;
pub use acl::AclToken;
use serde::Deserialize;
use serde::Serialize;
pub use variables::VarInvalid;
pub use variables::VarOutcome;
pub use variables::Variable;
pub use variables::VariableMetadata;

/// A stored configuration row: the value plus the raft indexes of its creation and last change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row<T> {
    pub value: T,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Row access for [`apply`]: one getter and one setter per replicated table.
///
/// A new table (variables, ACL tokens and policies, license) is one method pair here, one
/// field in [`State`] and one redb table in the raft store. Keyed tables take the key as an
/// argument and a setter with `Option` to delete.
pub trait Tables {
    /// What a row access can fail with: nothing in memory, an I/O error in the store.
    type Error;

    fn autopilot(&self) -> Result<Option<Row<AutopilotConfig>>, Self::Error>;
    fn set_autopilot(&mut self, row: Row<AutopilotConfig>) -> Result<(), Self::Error>;

    fn scheduler(&self) -> Result<Option<Row<SchedulerConfig>>, Self::Error>;
    fn set_scheduler(&mut self, row: Row<SchedulerConfig>) -> Result<(), Self::Error>;

    fn variable(&self, namespace: &str, path: &str) -> Result<Option<Variable>, Self::Error>;
    fn set_variable(&mut self, var: &Variable) -> Result<(), Self::Error>;
    fn delete_variable(&mut self, namespace: &str, path: &str) -> Result<(), Self::Error>;
    /// The raft index of the last set or delete of any variable (Nomad's table index, the
    /// `X-Nomad-Index` of a list or of a read that finds nothing).
    fn set_variables_index(&mut self, index: u64) -> Result<(), Self::Error>;

    fn acl_policy(&self, name: &str) -> Result<Option<AclPolicy>, Self::Error>;
    fn set_acl_policy(&mut self, policy: &AclPolicy) -> Result<(), Self::Error>;
    fn delete_acl_policy(&mut self, name: &str) -> Result<(), Self::Error>;
    fn acl_token(&self, accessor: &str) -> Result<Option<AclToken>, Self::Error>;
    /// Stores the token and indexes its secret.
    fn set_acl_token(&mut self, token: &AclToken) -> Result<(), Self::Error>;
    /// Removes the token and its secret's index entry.
    fn delete_acl_token(&mut self, token: &AclToken) -> Result<(), Self::Error>;
    /// The raft index of the ACL bootstrap, if one happened.
    fn acl_bootstrap(&self) -> Result<Option<u64>, Self::Error>;
    fn set_acl_bootstrap(&mut self, index: u64) -> Result<(), Self::Error>;
    /// The raft index of the last change of the policies (`tokens = false`) or tokens table.
    fn set_acl_index(&mut self, tokens: bool, index: u64) -> Result<(), Self::Error>;
    fn license(&self) -> Result<Option<Row<InstalledLicense>>, Self::Error>;
    fn set_license(&mut self, row: Row<InstalledLicense>) -> Result<(), Self::Error>;
}

/// Everything the cluster replicates, held in memory: the model of the stored tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub autopilot: Option<Row<AutopilotConfig>>,
    pub scheduler: Option<Row<SchedulerConfig>>,
    /// Keyed by (namespace, path), the order the store keeps them in.
    pub variables: BTreeMap<(String, String), Variable>,
    pub variables_index: u64,
    pub acl_policies: BTreeMap<String, AclPolicy>,
    pub acl_tokens: BTreeMap<String, AclToken>,
    pub acl_bootstrap: Option<u64>,
    pub acl_policies_index: u64,
    pub acl_tokens_index: u64,
    #[serde(default)]
    pub license: Option<Row<InstalledLicense>>,
}

impl Tables for State {
    type Error = Infallible;

    fn autopilot(&self) -> Result<Option<Row<AutopilotConfig>>, Infallible> {
        Ok(self.autopilot.clone())
    }

    fn set_autopilot(&mut self, row: Row<AutopilotConfig>) -> Result<(), Infallible> {
        self.autopilot = Some(row);
        Ok(())
    }

    fn scheduler(&self) -> Result<Option<Row<SchedulerConfig>>, Infallible> {
        Ok(self.scheduler.clone())
    }

    fn set_scheduler(&mut self, row: Row<SchedulerConfig>) -> Result<(), Infallible> {
        self.scheduler = Some(row);
        Ok(())
    }

    fn variable(&self, namespace: &str, path: &str) -> Result<Option<Variable>, Infallible> {
        Ok(self.variables.get(&(namespace.to_string(), path.to_string())).cloned())
    }

    fn set_variable(&mut self, var: &Variable) -> Result<(), Infallible> {
        self.variables.insert((var.namespace.clone(), var.path.clone()), var.clone());
        Ok(())
    }

    fn delete_variable(&mut self, namespace: &str, path: &str) -> Result<(), Infallible> {
        self.variables.remove(&(namespace.to_string(), path.to_string()));
        Ok(())
    }

    fn set_variables_index(&mut self, index: u64) -> Result<(), Infallible> {
        self.variables_index = index;
        Ok(())
    }

    fn acl_policy(&self, name: &str) -> Result<Option<AclPolicy>, Infallible> {
        Ok(self.acl_policies.get(name).cloned())
    }

    fn set_acl_policy(&mut self, policy: &AclPolicy) -> Result<(), Infallible> {
        self.acl_policies.insert(policy.name.clone(), policy.clone());
        Ok(())
    }

    fn delete_acl_policy(&mut self, name: &str) -> Result<(), Infallible> {
        self.acl_policies.remove(name);
        Ok(())
    }

    fn acl_token(&self, accessor: &str) -> Result<Option<AclToken>, Infallible> {
        Ok(self.acl_tokens.get(accessor).cloned())
    }

    fn set_acl_token(&mut self, token: &AclToken) -> Result<(), Infallible> {
        self.acl_tokens.insert(token.accessor_id.clone(), token.clone());
        Ok(())
    }

    fn delete_acl_token(&mut self, token: &AclToken) -> Result<(), Infallible> {
        self.acl_tokens.remove(&token.accessor_id);
        Ok(())
    }

    fn acl_bootstrap(&self) -> Result<Option<u64>, Infallible> {
        Ok(self.acl_bootstrap)
    }

    fn set_acl_bootstrap(&mut self, index: u64) -> Result<(), Infallible> {
        self.acl_bootstrap = Some(index);
        Ok(())
    }

    fn set_acl_index(&mut self, tokens: bool, index: u64) -> Result<(), Infallible> {
        if tokens {
            self.acl_tokens_index = index;
        } else {
            self.acl_policies_index = index;
        }
        Ok(())
    }

    fn license(&self) -> Result<Option<Row<InstalledLicense>>, Infallible> {
        Ok(self.license.clone())
    }

    fn set_license(&mut self, row: Row<InstalledLicense>) -> Result<(), Infallible> {
        self.license = Some(row);
        Ok(())
    }
}

/// One replicated write. Each variant is one raft log entry; entries are stored by variant
/// position, so new variants go at the end and none is ever removed from the middle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Written by the first leader: sets each row only if it is still absent.
    InitDefaults { autopilot: AutopilotConfig, scheduler: SchedulerConfig },
    /// Full replacement of the autopilot row; with `cas`, only if `modify_index == cas`.
    SetAutopilot { config: AutopilotConfig, cas: Option<u64> },
    /// Full replacement of the scheduler row; with `cas`, only if `modify_index == cas`.
    SetScheduler { config: SchedulerConfig, cas: Option<u64> },
    /// Sets a variable; with `cas`, only if its `ModifyIndex` equals it (0: only if absent).
    /// The leader has stamped `var.modify_time` (and `create_time`) with its clock.
    VarSet { var: Variable, cas: Option<u64> },
    /// Deletes a variable; with `cas`, only if its `ModifyIndex` equals it (0: only if absent).
    VarDelete { namespace: String, path: String, cas: Option<u64> },
    /// Independent writes that arrived together, applied in order at one raft index: one log
    /// append, one fsync, one replication round for all of them (group commit). No two of them
    /// touch the same row ([`Command::rows`]), so a row still changes at most once per index
    /// and a `ModifyIndex` names exactly one write, as CAS needs.
    Batch(Vec<Command>),
    /// Starts restoring a snapshot archive (`id` names this restore): empties the staging
    /// tables. Restore commands replace whole tables; the raft store applies them.
    RestoreBegin { id: String },
    /// Raw rows (key, value) of replicated table `table` from the snapshot being restored,
    /// staged until the commit.
    RestoreRows { id: String, table: String, rows: RestoreRowSet },
    /// Replaces every replicated table with what restore `id` staged, if all `rows` arrived.
    RestoreCommit { id: String, rows: u64 },
    /// The one ACL bootstrap: stores the management `token` if no bootstrap happened yet, or
    /// if `reset_index` names the last one (the operator's `acl-bootstrap-reset` file).
    AclBootstrap { token: AclToken, reset_index: u64 },
    /// Creates or replaces policies (validated before they reach the log).
    AclPolicyUpsert { policies: Vec<AclPolicy> },
    /// Deletes policies by name; absent ones are skipped.
    AclPolicyDelete { names: Vec<String> },
    /// Creates or updates tokens (validated, secrets generated, before the log).
    AclTokenUpsert { tokens: Vec<AclToken> },
    /// Deletes tokens by accessor ID; absent ones are skipped.
    AclTokenDelete { accessors: Vec<String> },
    /// Installs the temporary license of a new cluster, only if no license is installed
    /// (written by the first leader; its times come from the leader's clock).
    LicenseInit { license: InstalledLicense },
    /// Installs a license the leader has verified: over none or the temporary one always, over
    /// a signed one only if it was not issued earlier, unless `force`
    /// ([`license::may_replace`]). A refusal writes nothing and applies as `updated: false`.
    LicenseSet { license: InstalledLicense, force: bool },
    /// Drops the tables that restore `id` replaced (kept aside by its commit, so that the
    /// commit does not wait for their pages to be freed).
    RestoreRetire { id: String },
}

/// A row a command may write, for deciding which commands can share one raft entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKey {
    Autopilot,
    Scheduler,
    /// A variable, by namespace and path.
    Variable(String, String),
    /// The ACL tables (ACL writes are rare: one per entry is plenty).
    Acl,
    License,
    /// Every row (a restore replaces whole tables).
    All,
}

impl Command {
    /// Whether this is a step of a snapshot restore: storage work on whole tables.
    pub fn is_restore(&self) -> bool {
        matches!(
            self,
            Command::RestoreBegin { .. }
                | Command::RestoreRows { .. }
                | Command::RestoreCommit { .. }
                | Command::RestoreRetire { .. }
        )
    }

    /// Every row this command may write.
    pub fn rows(&self) -> Vec<RowKey> {
        match self {
            Command::InitDefaults { .. } => vec![RowKey::Autopilot, RowKey::Scheduler],
            Command::SetAutopilot { .. } => vec![RowKey::Autopilot],
            Command::SetScheduler { .. } => vec![RowKey::Scheduler],
            Command::VarSet { var, .. } => vec![RowKey::Variable(var.namespace.clone(), var.path.clone())],
            Command::VarDelete { namespace, path, .. } => vec![RowKey::Variable(namespace.clone(), path.clone())],
            Command::Batch(cmds) => cmds.iter().flat_map(Command::rows).collect(),
            Command::RestoreBegin { .. }
            | Command::RestoreRows { .. }
            | Command::RestoreCommit { .. }
            | Command::RestoreRetire { .. } => {
                vec![RowKey::All]
            }
            Command::AclBootstrap { .. }
            | Command::AclPolicyUpsert { .. }
            | Command::AclPolicyDelete { .. }
            | Command::AclTokenUpsert { .. }
            | Command::AclTokenDelete { .. } => vec![RowKey::Acl],
            Command::LicenseInit { .. } | Command::LicenseSet { .. } => vec![RowKey::License],
        }
    }
}

/// What applying one command did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Whether the state changed (false for a failed CAS).
    pub updated: bool,
    /// The raft log index of the entry.
    pub index: u64,
    /// What a variable command did; `None` for every other command.
    pub variable: Option<VarOutcome>,
    /// What an ACL command did; `None` for every other command.
    pub acl: Option<AclOutcome>,
    /// For a [`Command::Batch`]: what each of its commands did, in order.
    pub batch: Vec<Applied>,
}

impl Applied {
    pub fn at(index: u64, updated: bool) -> Self {
        Self { updated, index, variable: None, acl: None, batch: Vec::new() }
    }
}

impl State {
    /// Applies `cmd`, which sits at raft log `index`, to the in-memory tables.
    pub fn apply(&mut self, cmd: &Command, index: u64) -> Applied {
        match apply(self, cmd, index) {
            Ok(applied) => applied,
            Err(never) => match never {},
        }
    }
}

/// Applies `cmd`, which sits at raft log `index`. Pure over the rows it reads: the same rows,
/// command and index give the same writes and result on every server. It writes only the rows
/// that change; a failed CAS writes nothing.
pub fn apply<T: Tables + ?Sized>(tables: &mut T, cmd: &Command, index: u64) -> Result<Applied, T::Error> {
    let mut variable = None;
    let mut acl = None;
    let updated = match cmd {
        Command::Batch(cmds) => {
            let mut batch = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                batch.push(apply(tables, cmd, index)?);
            }
            return Ok(Applied { updated: batch.iter().any(|a| a.updated), index, variable: None, acl: None, batch });
        }
        Command::InitDefaults { autopilot, scheduler } => {
            let mut changed = false;
            if tables.autopilot()?.is_none() {
                tables.set_autopilot(Row { value: autopilot.clone(), create_index: index, modify_index: index })?;
                changed = true;
            }
            if tables.scheduler()?.is_none() {
                let value = scheduler.clone().canonical();
                tables.set_scheduler(Row { value, create_index: index, modify_index: index })?;
                changed = true;
            }
            changed
        }
        Command::SetAutopilot { config, cas } => match set_row(tables.autopilot()?, config.clone(), *cas, index) {
            Some(row) => {
                tables.set_autopilot(row)?;
                true
            }
            None => false,
        },
        // Whole-table replacement is storage work: the raft store applies restores before
        // they get here; the in-memory model keeps its rows.
        Command::RestoreBegin { .. }
        | Command::RestoreRows { .. }
        | Command::RestoreCommit { .. }
        | Command::RestoreRetire { .. } => false,
        Command::SetScheduler { config, cas } => {
            match set_row(tables.scheduler()?, config.clone().canonical(), *cas, index) {
                Some(row) => {
                    tables.set_scheduler(row)?;
                    true
                }
                None => false,
            }
        }
        Command::VarSet { var, cas } => {
            let (row, outcome) = variables::decide_set(tables.variable(&var.namespace, &var.path)?, var, *cas, index);
            let updated = row.is_some();
            if let Some(row) = row {
                tables.set_variable(&row)?;
                tables.set_variables_index(index)?;
            }
            variable = Some(outcome);
            updated
        }
        Command::VarDelete { namespace, path, cas } => {
            let (delete, outcome) = variables::decide_delete(tables.variable(namespace, path)?, namespace, path, *cas);
            if delete {
                tables.delete_variable(namespace, path)?;
                tables.set_variables_index(index)?;
            }
            variable = Some(outcome);
            delete
        }
        Command::AclBootstrap { token, reset_index } => {
            match acl::decide_bootstrap(tables.acl_bootstrap()?, *reset_index) {
                Ok(()) => {
                    let stored = acl::stored_token(None, token, index);
                    tables.set_acl_token(&stored)?;
                    tables.set_acl_bootstrap(index)?;
                    tables.set_acl_index(true, index)?;
                    acl = Some(AclOutcome::Tokens(vec![stored]));
                    true
                }
                Err(reset_index) => {
                    acl = Some(AclOutcome::BootstrapDone { reset_index });
                    false
                }
            }
        }
        Command::AclPolicyUpsert { policies } => {
            for p in policies {
                let stored = acl::stored_policy(tables.acl_policy(&p.name)?.as_ref(), p, index);
                tables.set_acl_policy(&stored)?;
            }
            tables.set_acl_index(false, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::AclPolicyDelete { names } => {
            for name in names {
                tables.delete_acl_policy(name)?;
            }
            tables.set_acl_index(false, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::AclTokenUpsert { tokens } => {
            let mut stored_all = Vec::with_capacity(tokens.len());
            for t in tokens {
                let existing = tables.acl_token(&t.accessor_id)?;
                let stored = acl::stored_token(existing.as_ref(), t, index);
                tables.set_acl_token(&stored)?;
                stored_all.push(stored);
            }
            tables.set_acl_index(true, index)?;
            acl = Some(AclOutcome::Tokens(stored_all));
            true
        }
        Command::AclTokenDelete { accessors } => {
            for accessor in accessors {
                if let Some(t) = tables.acl_token(accessor)? {
                    tables.delete_acl_token(&t)?;
                }
            }
            tables.set_acl_index(true, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::LicenseInit { license } => {
            let absent = tables.license()?.is_none();
            if absent {
                tables.set_license(Row { value: license.clone(), create_index: index, modify_index: index })?;
            }
            absent
        }
        Command::LicenseSet { license, force } => {
            let current = tables.license()?;
            let replace = license::may_replace(current.as_ref(), license, *force);
            if replace {
                let create_index = current.as_ref().map_or(index, |r| r.create_index);
                tables.set_license(Row { value: license.clone(), create_index, modify_index: index })?;
            }
            replace
        }
    };
    Ok(Applied { updated, index, variable, acl, batch: Vec::new() })
}

/// The CAS rule of both config tables: without `cas` always write; with it, write only if a row
/// exists and its `modify_index` equals `cas` (so `cas=0` never succeeds on a live cluster).
/// Returns the row to store, or `None` when the write is refused.
fn set_row<T>(row: Option<Row<T>>, value: T, cas: Option<u64>, index: u64) -> Option<Row<T>> {
    if let Some(expected) = cas {
        match &row {
            Some(existing) if existing.modify_index == expected => {}
            _ => return None,
        }
    }
    let create_index = row.as_ref().map_or(index, |r| r.create_index);
    Some(Row { value, create_index, modify_index: index })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One client operation against a config table.
    #[derive(Clone, Debug)]
    enum Op {
        Put { autopilot: bool, value: u64 },
        Cas { autopilot: bool, value: u64, cas: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), 0u64..1000).prop_map(|(autopilot, value)| Op::Put { autopilot, value }),
            (any::<bool>(), 0u64..1000, 0u64..40).prop_map(|(autopilot, value, cas)| Op::Cas { autopilot, value, cas }),
        ]
    }

    /// The model: a register per table holding (value, create, modify).
    #[derive(Default)]
    struct Model {
        tables: [Option<(u64, u64, u64)>; 2],
    }

    impl Model {
        fn apply(&mut self, op: &Op, index: u64) -> bool {
            let (t, value, cas) = match op {
                Op::Put { autopilot, value } => (usize::from(*autopilot), *value, None),
                Op::Cas { autopilot, value, cas } => (usize::from(*autopilot), *value, Some(*cas)),
            };
            let row = &mut self.tables[t];
            if let Some(c) = cas {
                if row.map(|r| r.2) != Some(c) {
                    return false;
                }
            }
            let create = row.map_or(index, |r| r.1);
            *row = Some((value, create, index));
            true
        }
    }

    fn command(op: &Op) -> Command {
        let (autopilot, value, cas) = match op {
            Op::Put { autopilot, value } => (*autopilot, *value, None),
            Op::Cas { autopilot, value, cas } => (*autopilot, *value, Some(*cas)),
        };
        if autopilot {
            let config = AutopilotConfig { max_trailing_logs: value, ..AutopilotConfig::default() };
            Command::SetAutopilot { config, cas }
        } else {
            let config = SchedulerConfig { node_limit_for_feasibility_checks: value as u32, ..Default::default() };
            Command::SetScheduler { config, cas }
        }
    }

    proptest! {
        /// For any sequence of PUT/CAS operations at increasing raft indexes (with gaps, as
        /// blank and membership entries take indexes too), every result and the final state
        /// equal the model: CAS succeeds iff the index matches; ModifyIndex is the write's index.
        #[test]
        fn cas_matches_model(ops in proptest::collection::vec((op(), 1u64..3), 0..60), start_with_rows in any::<bool>()) {
            let mut state = State::default();
            let mut model = Model::default();
            let mut index = 1;
            if start_with_rows {
                state.apply(&Command::InitDefaults { autopilot: AutopilotConfig::default(), scheduler: SchedulerConfig::default() }, index);
                model.tables = [Some((0, index, index)), Some((250, index, index))];
            }
            for (op, gap) in &ops {
                index += gap;
                let applied = state.apply(&command(op), index);
                prop_assert_eq!(applied.index, index);
                prop_assert_eq!(applied.updated, model.apply(op, index));
            }
            let sched = state.scheduler.as_ref().map(|r| (r.value.node_limit_for_feasibility_checks as u64, r.create_index, r.modify_index));
            let auto = state.autopilot.as_ref().map(|r| (r.value.max_trailing_logs, r.create_index, r.modify_index));
            prop_assert_eq!(sched, model.tables[0]);
            prop_assert_eq!(auto, model.tables[1]);
        }
    }

    /// One client operation on a variable among three paths.
    #[derive(Clone, Debug)]
    enum VarOp {
        Set { path: usize, value: u64, cas: Option<u64> },
        Delete { path: usize, cas: Option<u64> },
    }

    fn var_op() -> impl Strategy<Value = VarOp> {
        let cas = proptest::option::of(0u64..30);
        prop_oneof![
            3 => (0usize..3, 0u64..1000, cas.clone()).prop_map(|(path, value, cas)| VarOp::Set { path, value, cas }),
            1 => (0usize..3, cas).prop_map(|(path, cas)| VarOp::Delete { path, cas }),
        ]
    }

    /// The variable model: per path (value, create index, modify index, create time).
    #[derive(Default)]
    struct VarModel {
        rows: [Option<(u64, u64, u64, i64)>; 3],
    }

    impl VarModel {
        /// Returns (written or deleted, conflict).
        fn apply(&mut self, op: &VarOp, index: u64) -> (bool, bool) {
            match *op {
                VarOp::Set { path, value, cas } => {
                    let row = &mut self.rows[path];
                    let ok = match (cas, *row) {
                        (None, _) | (Some(0), None) => true,
                        (Some(c), Some(r)) => c != 0 && r.2 == c,
                        (Some(_), None) => false,
                    };
                    if ok {
                        let (create, time) = row.map_or((index, index as i64), |r| (r.1, r.3));
                        *row = Some((value, create, index, time));
                    }
                    (ok, !ok)
                }
                VarOp::Delete { path, cas } => {
                    let row = &mut self.rows[path];
                    let (ok, conflict) = match (cas, *row) {
                        (None, r) => (r.is_some(), false),
                        (Some(0), None) => (false, false),
                        (Some(_), None) => (false, true),
                        (Some(c), Some(r)) => (c != 0 && r.2 == c, !(c != 0 && r.2 == c)),
                    };
                    if ok {
                        *row = None;
                    }
                    (ok, conflict)
                }
            }
        }
    }

    fn var_command(op: &VarOp, index: u64) -> Command {
        let path = |p: usize| format!("app/{p}");
        match *op {
            VarOp::Set { path: p, value, cas } => Command::VarSet {
                var: Variable {
                    namespace: "default".into(),
                    path: path(p),
                    items: [("v".to_string(), value.to_string())].into(),
                    create_time: index as i64,
                    modify_time: index as i64,
                    ..Default::default()
                },
                cas,
            },
            VarOp::Delete { path: p, cas } => Command::VarDelete { namespace: "default".into(), path: path(p), cas },
        }
    }

    proptest! {
        /// Variable sets and deletes, with and without CAS, against the model: a CAS write or
        /// delete succeeds iff the index matches (0: iff absent); a conflict changes nothing and
        /// carries the current variable; creation index and time survive updates.
        #[test]
        fn variable_cas_matches_model(ops in proptest::collection::vec((var_op(), 1u64..3), 0..80)) {
            let mut state = State::default();
            let mut model = VarModel::default();
            let mut index = 1;
            for (op, gap) in &ops {
                index += gap;
                let before = state.variables.clone();
                let applied = state.apply(&var_command(op, index), index);
                let (ok, conflict) = model.apply(op, index);
                prop_assert_eq!(applied.updated, ok);
                match applied.variable {
                    Some(VarOutcome::Conflict(current)) => {
                        prop_assert!(conflict);
                        prop_assert_eq!(&state.variables, &before, "a conflict writes nothing");
                        let key = (current.namespace.clone(), current.path.clone());
                        match before.get(&key) {
                            Some(v) => prop_assert_eq!(v, &current),
                            None => prop_assert_eq!(current.modify_index, 0),
                        }
                    }
                    Some(VarOutcome::Written(_)) | Some(VarOutcome::Deleted) => prop_assert!(!conflict),
                    other => prop_assert!(false, "unexpected outcome {:?}", other),
                }
            }
            for (p, want) in model.rows.iter().enumerate() {
                let got = state.variables.get(&("default".to_string(), format!("app/{p}")))
                    .map(|v| (v.items["v"].parse::<u64>().unwrap(), v.create_index, v.modify_index, v.create_time));
                prop_assert_eq!(got, *want);
            }
        }
    }

    #[test]
    fn init_defaults_never_overwrites() {
        let mut s = State::default();
        assert!(
            s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 3).updated
        );
        let custom = SchedulerConfig { pause_eval_broker: true, ..Default::default() };
        s.apply(&Command::SetScheduler { config: custom.clone(), cas: None }, 4);
        assert!(
            !s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 5)
                .updated
        );
        assert_eq!(s.scheduler.as_ref().unwrap().value, custom);
        assert_eq!(s.scheduler.as_ref().unwrap().create_index, 3);
        assert_eq!(s.scheduler.as_ref().unwrap().modify_index, 4);
    }

    #[test]
    fn a_batch_applies_each_command_at_its_index_and_reports_each() {
        let mut s = State::default();
        s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 1);
        let batch = Command::Batch(vec![
            Command::SetScheduler {
                config: SchedulerConfig { pause_eval_broker: true, ..Default::default() },
                cas: Some(1),
            },
            Command::SetAutopilot { config: Default::default(), cas: Some(7) },
        ]);
        let applied = s.apply(&batch, 5);
        assert_eq!(applied.index, 5);
        assert!(applied.updated, "one of them changed the state");
        assert_eq!(applied.batch, vec![Applied::at(5, true), Applied::at(5, false)]);
        assert_eq!(s.scheduler.as_ref().map(|r| (r.create_index, r.modify_index)), Some((1, 5)));
        assert_eq!(s.autopilot.as_ref().map(|r| r.modify_index), Some(1), "a failed CAS inside a batch writes nothing");
        assert_eq!(batch.rows(), vec![RowKey::Scheduler, RowKey::Autopilot]);
    }

    #[test]
    fn acl_bootstrap_is_once_and_tokens_keep_their_identity() {
        let mut s = State::default();
        let token = |accessor: &str, secret: &str| AclToken {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            token_type: acl::MANAGEMENT.into(),
            ..Default::default()
        };
        let first = s.apply(&Command::AclBootstrap { token: token("a1", "s1"), reset_index: 0 }, 4);
        assert!(first.updated);
        assert!(matches!(&first.acl, Some(AclOutcome::Tokens(t)) if t[0].create_index == 4));
        let again = s.apply(&Command::AclBootstrap { token: token("a2", "s2"), reset_index: 0 }, 5);
        assert_eq!(again.acl, Some(AclOutcome::BootstrapDone { reset_index: 4 }));
        assert!(!again.updated && !s.acl_tokens.contains_key("a2"), "a refused bootstrap writes nothing");
        let reset = s.apply(&Command::AclBootstrap { token: token("a3", "s3"), reset_index: 4 }, 6);
        assert!(reset.updated);
        assert_eq!(s.acl_bootstrap, Some(6), "the next reset needs the new index");

        let update = AclToken { name: "renamed".into(), secret_id: "ignored".into(), ..token("a1", "") };
        s.apply(&Command::AclTokenUpsert { tokens: vec![update] }, 7);
        let stored = &s.acl_tokens["a1"];
        assert_eq!((stored.name.as_str(), stored.secret_id.as_str()), ("renamed", "s1"));
        assert_eq!((stored.create_index, stored.modify_index, s.acl_tokens_index), (4, 7, 7));
        s.apply(&Command::AclTokenDelete { accessors: vec!["a1".into(), "nope".into()] }, 8);
        assert!(!s.acl_tokens.contains_key("a1"));

        let policy =
            AclPolicy { name: "p".into(), rules: "operator { policy = \"read\" }".into(), ..Default::default() };
        s.apply(&Command::AclPolicyUpsert { policies: vec![policy.clone()] }, 9);
        s.apply(&Command::AclPolicyUpsert { policies: vec![policy] }, 10);
        assert_eq!((s.acl_policies["p"].create_index, s.acl_policies["p"].modify_index), (9, 10));
        s.apply(&Command::AclPolicyDelete { names: vec!["p".into()] }, 11);
        assert!(s.acl_policies.is_empty());
        assert_eq!(s.acl_policies_index, 11);
    }

    #[test]
    fn cas_zero_never_succeeds_on_live_rows() {
        let mut s = State::default();
        assert!(!s.apply(&Command::SetAutopilot { config: Default::default(), cas: Some(0) }, 1).updated);
        assert!(s.autopilot.is_none(), "CAS on an absent row is a no-op, not a create");
    }
}
