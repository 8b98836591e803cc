//! The replicated state machine as plain data.
//!
//! Every write reaches the state only through [`apply()`], which runs on every server in raft log
//! order. Compare-and-set is decided here, inside apply, so that two competing CAS writes are
//! linearised by the log and never by a read-check-write across messages.
//!
//! `apply` reads and writes only the rows a command touches, through the [`Tables`] trait: the
//! raft store implements it over one redb write transaction (one redb table per replicated
//! table), and [`State`] implements it in memory for models, tests and benches. The decision is
//! the same code in both.
//!
//! The log schema ([`Command`]) is in `command.rs`, `apply` in `apply.rs`, [`State`] in
//! `memory.rs`, the rows a restore entry carries in `restore.rs`; the tables' row types in
//! `config.rs`, `variables.rs`, `acl.rs` and `license.rs`.

pub mod acl;
mod apply;
mod command;
mod config;
pub mod license;
mod memory;
mod restore;
pub mod variables;

pub use acl::AclOutcome;
pub use acl::AclPolicy;
pub use acl::AclToken;
pub use apply::apply;
pub use command::Command;
pub use command::RowKey;
pub use config::AutopilotConfig;
pub use config::PreemptionConfig;
pub use config::SchedulerAlgorithm;
pub use config::SchedulerConfig;
pub use license::InstalledLicense;
pub use memory::State;
pub use restore::RestoreRowSet;
pub(crate) use restore::RowSetBuilder;
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

/// Row access for [`apply()`]: one getter and one setter per replicated table.
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
