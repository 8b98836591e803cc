//! `operator snapshot ...` commands. `save` and `restore` are clients of the server's snapshot
//! endpoint ([`snapshot_transfer`](super::snapshot_transfer)); `agent` saves on a schedule
//! ([`snapshot_agent`](super::snapshot_agent)). `inspect` runs offline: it verifies the archive
//! as it reads it and prints Nomad's tables (`command/operator_snapshot_inspect.go`), with our
//! tables as the types.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use raftwarden_actors::snapshot::archive;
use raftwarden_actors::snapshot::archive::Inspection;
use serde_json::json;
use serde_json::Value;

use super::client::Client;
use super::client::ClientError;
use super::format;
use super::opts::GlobalOpts;
use super::snapshot_agent;
use super::snapshot_transfer;
use super::snapshot_transfer::RestoreError;
use super::snapshot_transfer::SaveError;
use crate::go::flag::go_bool;
use crate::go::quote as go_quote;

#[derive(Debug, Subcommand)]
pub enum Snapshot {
    /// Saves snapshot of Nomad server state
    Save(Save),
    /// Restore snapshot of Nomad server state
    Restore(Restore),
    /// Displays information about a snapshot file on disk
    Inspect(Inspect),
    /// Saves snapshots on an interval, verifies them and keeps the newest (runs until stopped)
    Agent(snapshot_agent::AgentArgs),
}

#[derive(Debug, Args)]
pub struct Save {
    /// Let any server answer (a possibly stale snapshot), even without a leader
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub stale: bool,
    /// The file to write [default: nomad-state-<date>-<unix>.snap]
    #[arg(value_name = "file")]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Restore {
    /// The snapshot file
    #[arg(value_name = "file")]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Inspect {
    /// Output the snapshot inspect in its JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// The snapshot file
    #[arg(value_name = "file")]
    pub files: Vec<String>,
}

/// Why a snapshot command failed, with Nomad's texts.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "This command takes one argument: <filename>\nFor additional help try 'raftwarden operator snapshot inspect -help'"
    )]
    InspectArgs,
    #[error("Error opening snapshot file: open {path}: {}", crate::go::os_error(.source))]
    Open { path: String, source: std::io::Error },
    #[error("Error inspecting snapshot: failed to read snapshot: {0}")]
    Inspect(#[source] archive::InspectError),
    #[error("Error formatting the data: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Error inspecting snapshot: {0}")]
    Blocking(String),
    #[error(
        "This command takes either no arguments or one: <filename>\nFor additional help try 'raftwarden operator snapshot save -help'"
    )]
    SaveArgs,
    #[error(
        "This command takes one argument: <filename>\nFor additional help try 'raftwarden operator snapshot restore -help'"
    )]
    RestoreArgs,
    #[error(
        "Destination file already exists: {}\nFor additional help try 'raftwarden operator snapshot save -help'",
        go_quote(.0)
    )]
    Exists(String),
    #[error("Unexpected failure checking {}: {source}", go_quote(.path))]
    Check { path: String, source: std::io::Error },
    #[error("Error initializing client: {0}")]
    Client(#[source] ClientError),
    #[error(transparent)]
    Save(#[from] SaveError),
    #[error(transparent)]
    Restore(#[from] RestoreError),
    #[error(transparent)]
    Agent(#[from] snapshot_agent::AgentError),
}

/// Runs a snapshot command; `Ok` is the text for stdout.
pub async fn execute(g: &GlobalOpts, command: Snapshot) -> Result<String, SnapshotError> {
    match command {
        Snapshot::Save(a) => save(g, a).await,
        Snapshot::Restore(a) => restore(g, a).await,
        Snapshot::Inspect(a) => inspect(a).await,
        Snapshot::Agent(a) => Ok(snapshot_agent::run(g, a).await?),
    }
}

async fn save(g: &GlobalOpts, a: Save) -> Result<String, SnapshotError> {
    if a.files.len() > 1 {
        return Err(SnapshotError::SaveArgs);
    }
    let file = match a.files.into_iter().next() {
        Some(file) => file,
        None => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            snapshot_transfer::default_file_name(now)
        }
    };
    refuse_existing(Path::new(&file))?;
    let client = Client::new(g).map_err(SnapshotError::Client)?;
    let progress = snapshot_transfer::stderr_is_terminal();
    snapshot_transfer::save(&client, a.stale, Path::new(&file), progress).await?;
    Ok(format!("State file written to {file}\n"))
}

/// A save never overwrites: Nomad's `Lstat` check, so a dangling symlink counts as existing.
pub(super) fn refuse_existing(path: &Path) -> Result<(), SnapshotError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Err(SnapshotError::Exists(path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SnapshotError::Check { path: path.display().to_string(), source }),
    }
}

async fn restore(g: &GlobalOpts, a: Restore) -> Result<String, SnapshotError> {
    let [file] = <[String; 1]>::try_from(a.files).map_err(|_| SnapshotError::RestoreArgs)?;
    let client = Client::new(g).map_err(SnapshotError::Client)?;
    let progress = snapshot_transfer::stderr_is_terminal();
    snapshot_transfer::restore(&client, Path::new(&file), progress).await?;
    Ok("Snapshot Restored\n".into())
}

async fn inspect(a: Inspect) -> Result<String, SnapshotError> {
    let [path] = <[String; 1]>::try_from(a.files).map_err(|_| SnapshotError::InspectArgs)?;
    // Verifying hashes and inflating is CPU and disk work: off the async thread.
    let inspection = tokio::task::spawn_blocking(move || {
        let file = File::open(&path).map_err(|source| SnapshotError::Open { path: path.clone(), source })?;
        archive::inspect(BufReader::new(file)).map_err(SnapshotError::Inspect)
    })
    .await
    .map_err(|e| SnapshotError::Blocking(e.to_string()))??;
    if a.json {
        return Ok(format::json(&inspection_json(&inspection))?);
    }
    Ok(render_inspection(&inspection))
}

/// A table as `inspect` names it: the store's table name without its `sm_` prefix.
fn type_name(table: &str) -> &str {
    table.strip_prefix("sm_").unwrap_or(table)
}

/// The tables sorted as Nomad sorts its types: by size, largest first, then by name.
fn sorted_stats(i: &Inspection) -> Vec<(&str, u64, u64)> {
    let mut stats: Vec<(&str, u64, u64)> = i.tables.iter().map(|t| (type_name(&t.name), t.count, t.size)).collect();
    stats.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    stats
}

/// `-json`: Nomad's `{"Meta": <raft SnapshotMeta>, "Stats": [{"Name", "Sum", "Count"}]}`.
pub fn inspection_json(i: &Inspection) -> Value {
    let meta: Value = serde_json::from_str(&i.meta.to_go_json()).unwrap_or(Value::Null);
    let stats: Vec<Value> = sorted_stats(i)
        .into_iter()
        .map(|(name, count, size)| json!({"Name": name, "Sum": size, "Count": count}))
        .collect();
    json!({ "Meta": meta, "Stats": stats })
}

/// The human form, as Nomad prints it: a `k = v` list (Created, ID, Size, Index, Term,
/// Version), an empty line, then `Type Count Size` per table, a blank spacer row and the
/// `Total` of records and bytes.
pub fn render_inspection(i: &Inspection) -> String {
    let created = i.meta.created_unix_ms().map(iso8601_utc).unwrap_or_default();
    let head = format::key_values(&[
        ("Created", created),
        ("ID", i.meta.id.clone()),
        ("Size", format::human_bytes(i.meta.size)),
        ("Index", i.meta.index.to_string()),
        ("Term", i.meta.term.to_string()),
        ("Version", i.meta.version.to_string()),
    ]);
    let row = |cells: [String; 3]| cells.to_vec();
    let mut table = vec![row(["Type".into(), "Count".into(), "Size".into()])];
    for (name, count, size) in sorted_stats(i) {
        table.push(row([name.to_string(), count.to_string(), format::human_bytes(size)]));
    }
    let total_count: u64 = i.tables.iter().map(|t| t.count).sum();
    table.push(row([String::new(), String::new(), String::new()]));
    table.push(row(["Total".into(), total_count.to_string(), format::human_bytes(i.state_size)]));
    format!("{head}\n{}", format::columnize(&table, "  ", ""))
}

/// Nomad's `formatTime` (`2006-01-02T15:04:05Z07:00`) of unix milliseconds, in UTC.
fn iso8601_utc(ms: i64) -> String {
    if ms < 1000 {
        return String::new();
    }
    crate::go::rfc3339((ms / 1000) as u64)
}
