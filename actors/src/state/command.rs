//! The log schema: [`Command`], one replicated write per raft entry, and the rows each may
//! write ([`RowKey`]), which decide what can share one entry.

use serde::Deserialize;
use serde::Serialize;

use super::AclPolicy;
use super::AclToken;
use super::AutopilotConfig;
use super::InstalledLicense;
use super::RestoreRowSet;
use super::SchedulerConfig;
use super::Variable;

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
    /// Independent writes applied in order at one raft index. No two of them touch the same
    /// row ([`Command::rows`]), so a row still changes at most once per index and a
    /// `ModifyIndex` names exactly one write, as CAS needs. The defaults written at the first
    /// election are one; client writes are entries of their own since the raft engine shares
    /// fsyncs between entries (earlier builds packed concurrent client writes into one, and
    /// their logs still replay).
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
    /// ([`license::may_replace`](super::license::may_replace)). A refusal writes nothing and applies as `updated: false`.
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

/// What openraft prints for an entry in its logs: the kind of write only, never its contents
/// (tokens and variable items are secrets).
impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Command::InitDefaults { .. } => "InitDefaults",
            Command::SetAutopilot { .. } => "SetAutopilot",
            Command::SetScheduler { .. } => "SetScheduler",
            Command::VarSet { .. } => "VarSet",
            Command::VarDelete { .. } => "VarDelete",
            Command::Batch(commands) => return write!(f, "Batch({})", commands.len()),
            Command::RestoreBegin { .. } => "RestoreBegin",
            Command::RestoreRows { .. } => "RestoreRows",
            Command::RestoreCommit { .. } => "RestoreCommit",
            Command::AclBootstrap { .. } => "AclBootstrap",
            Command::AclPolicyUpsert { .. } => "AclPolicyUpsert",
            Command::AclPolicyDelete { .. } => "AclPolicyDelete",
            Command::AclTokenUpsert { .. } => "AclTokenUpsert",
            Command::AclTokenDelete { .. } => "AclTokenDelete",
            Command::LicenseInit { .. } => "LicenseInit",
            Command::LicenseSet { .. } => "LicenseSet",
            Command::RestoreRetire { .. } => "RestoreRetire",
        };
        f.write_str(kind)
    }
}
