//! Every way a CLI command can fail, with Nomad's texts. Each prints to stderr and exits 1.

use super::client::ClientError;
use super::format::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("Error initializing client: {0}")]
    Client(#[source] ClientError),

    /// An `acl` command's own message (Nomad's texts, decided in `cli::acl`).
    #[error("{0}")]
    Acl(String),

    /// A `var` command's own message (Nomad's texts, decided in `cli::var`).
    #[error("{0}")]
    Var(String),

    /// A `tls` command's own message (Nomad's texts, decided in `cli::tls`).
    #[error("{0}")]
    Tls(String),

    #[error("Failed to retrieve raft configuration: {0}")]
    RaftConfiguration(#[source] ClientError),
    #[error("Missing peer id required")]
    MissingPeerId,
    #[error("Error removing peer: {0}")]
    RemovePeer(#[source] ClientError),
    #[error("Error transferring leadership to peer: an address or id is required for the destination peer")]
    MissingPeerIdOrAddress,
    #[error("Error transferring leadership to peer: cannot give both an address and id")]
    PeerIdAndAddress,
    #[error("Error transferring leadership to peer: {0}")]
    TransferLeadership(#[source] ClientError),

    /// Also what `autopilot health` reports, 429 "unhealthy" included, as Nomad does.
    #[error("Error querying Autopilot configuration: {0}")]
    AutopilotQuery(#[source] ClientError),
    #[error("Error querying for Autopilot configuration: {0}")]
    AutopilotQueryForUpdate(#[source] ClientError),
    #[error("Error setting Autopilot configuration: {0}")]
    AutopilotSet(#[source] ClientError),
    #[error("Configuration could not be atomically updated, please try again")]
    AutopilotNotUpdated,

    #[error("Error querying scheduler configuration: {0}")]
    SchedulerQuery(#[source] ClientError),
    #[error("Error querying for scheduler configuration: {0}")]
    SchedulerQueryForUpdate(#[source] ClientError),
    #[error(
        "Error performing check index set: check-index {given} does not match does not match current state value {current}"
    )]
    CheckIndex { given: u64, current: u64 },
    #[error("Error parsing check-index value {}: {reason}", crate::go::quote(.value))]
    CheckIndexSyntax { value: String, reason: String },
    #[error("Error setting scheduler configuration: {0}")]
    SchedulerSet(#[source] ClientError),
    #[error("Scheduler configuration could not be atomically updated, please try again")]
    SchedulerNotUpdated,

    #[error("Error querying servers: {0}")]
    Members(#[source] ClientError),
    /// Wrong arguments: Nomad's sentence, then where to get help.
    #[error("{0}\nFor additional help try '{1} -help'")]
    Usage(&'static str, &'static str),
    #[error("Error determining leaders: {0}")]
    Leaders(String),
    #[error("Error joining: {0}")]
    Join(String),
    #[error("Error force-leaving server {node}: {source}")]
    ForceLeave {
        node: String,
        #[source]
        source: ClientError,
    },

    #[error("Both json and template formatting are not allowed")]
    JsonAndTemplate,
    #[error("Error formatting the data: {0}")]
    Template(#[from] TemplateError),
    #[error("Error formatting the data: {0}")]
    Json(#[from] serde_json::Error),

    /// The server answered 200 with a body this CLI can't work with.
    #[error("Unexpected response from {endpoint}: {problem}")]
    Malformed { endpoint: &'static str, problem: String },

    #[error(transparent)]
    Snapshot(#[from] super::snapshot::SnapshotError),

    /// A `license` command's own message (Nomad's texts where Nomad has the command).
    #[error("{0}")]
    License(String),
    /// The license text of `license get` for a license that has expired: printed to stdout
    /// like a valid one, but the command exits 1, as Nomad's does.
    #[error("{0}")]
    Expired(String),

    /// An `operator gossip keyring` command's own message (Nomad's `error: <reason>`).
    #[error("{0}")]
    Keyring(String),

    #[error("Failed to start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl CliError {
    /// Whether Nomad prints this failure on stdout (`Ui.Output`) rather than stderr.
    pub fn is_output(&self) -> bool {
        matches!(self, CliError::AutopilotNotUpdated | CliError::SchedulerNotUpdated)
    }
}
