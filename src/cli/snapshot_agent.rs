//! `operator snapshot agent -config=FILE`: a long-running process that saves a snapshot on an
//! interval (Nomad keeps this for Enterprise), verifies each file offline, keeps the newest
//! `retain`, logs every round to stderr and records the last success and failure in
//! `<path>/agent-status.json`. SIGINT or SIGTERM stop it; `-max-rounds=N` stops it after N rounds.
//!
//! ```text
//! tick ─> save <path>/raftwarden-<unix>.snap (Digest checked) ─> archive::inspect ─> prune ─> status
//! ```
//!
//! The config file (HCL, or JSON when it ends in `.json`):
//!
//! ```hcl
//! address = "http://127.0.0.1:4646"   # else -address / NOMAD_ADDR
//! token   = "..."                     # else -token / NOMAD_TOKEN
//! nomad {                             # Nomad's snapshot agent spelling; wins over the above
//!   address         = "https://127.0.0.1:4646"
//!   token           = "..."           # with ACLs on: snapshot-save or management
//!   region          = "global"
//!   ca_file         = "nomad-agent-ca.pem"      # else -ca-cert / NOMAD_CACERT
//!   ca_path         = ""                        # else -ca-path / NOMAD_CAPATH
//!   cert_file       = "global-cli-nomad.pem"    # else -client-cert / NOMAD_CLIENT_CERT
//!   key_file        = "global-cli-nomad-key.pem"
//!   tls_server_name = ""                        # else -tls-server-name / NOMAD_TLS_SERVER_NAME
//! }
//! snapshot {
//!   interval = "1h"
//!   retain   = 24
//!   path     = "/var/backups/raftwarden"
//!   stale    = false
//! }
//! ```

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use clap::Args;
use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::client::ClientError;
use super::client_tls::TlsSettings;
use super::format::human_bytes;
use super::opts::GlobalOpts;
use super::snapshot_transfer;
use crate::go;

/// Nomad Enterprise's snapshot agent defaults.
const DEFAULT_INTERVAL: &str = "1h";
const DEFAULT_RETAIN: u64 = 30;
pub const STATUS_FILE: &str = "agent-status.json";
const PREFIX: &str = "raftwarden-";
const SUFFIX: &str = ".snap";

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The agent's configuration file (HCL, or JSON when it ends in .json)
    #[arg(long, value_name = "file")]
    pub config: Option<String>,
    /// Stop after this many rounds (0: run until SIGINT or SIGTERM)
    #[arg(long, value_name = "n", default_value_t = 0)]
    pub max_rounds: u64,
}

/// Why the agent could not start, or why its last bounded round failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("Missing -config=<file>\nFor additional help try 'raftwarden operator snapshot agent -help'")]
    MissingConfig,
    #[error("Error reading config file {}: {source}", go::quote(.path))]
    Read { path: String, source: std::io::Error },
    #[error("Error parsing config file {}: {message}", go::quote(.path))]
    Parse { path: String, message: String },
    #[error("Invalid snapshot agent config: {0}")]
    Invalid(String),
    #[error("Error initializing client: {0}")]
    Client(#[source] ClientError),
    #[error("Error creating snapshot directory {}: {source}", go::quote(.path))]
    CreateDir { path: String, source: std::io::Error },
    #[error("Error installing signal handlers: {0}")]
    Signal(#[source] std::io::Error),
    #[error("Last snapshot round failed: {0}")]
    LastRound(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    address: Option<String>,
    token: Option<String>,
    region: Option<String>,
    nomad: Option<NomadBlock>,
    snapshot: Option<SnapshotBlock>,
}

/// Nomad's snapshot agent config: how to reach the API, with which token and TLS files.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NomadBlock {
    address: Option<String>,
    token: Option<String>,
    region: Option<String>,
    ca_file: Option<String>,
    ca_path: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    tls_server_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotBlock {
    interval: Option<String>,
    retain: Option<u64>,
    path: Option<String>,
    stale: Option<bool>,
}

/// The agent's resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSettings {
    pub interval: Duration,
    /// Files kept; 0 keeps every file.
    pub retain: u64,
    pub path: PathBuf,
    pub stale: bool,
}

/// Reads the config file; the client options it sets win over `-address`/`NOMAD_ADDR` and the
/// others.
fn load(path: &str, global: &GlobalOpts) -> Result<(AgentSettings, GlobalOpts), AgentError> {
    let text = std::fs::read_to_string(path).map_err(|source| AgentError::Read { path: path.into(), source })?;
    let parse_error = |message: String| AgentError::Parse { path: path.into(), message };
    let value = if path.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| parse_error(e.to_string()))?
    } else {
        crate::agent::hcl1::parse(&text).map_err(|e| parse_error(e.to_string()))?
    };
    let file: ConfigFile = serde_path_to_error::deserialize(value).map_err(|e| parse_error(e.to_string()))?;
    let nomad = file.nomad.unwrap_or_default();
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let opts = GlobalOpts {
        address: nomad.address.or(file.address).or_else(|| global.address.clone()),
        token: nomad.token.or(file.token).or_else(|| global.token.clone()),
        region: nomad.region.or(file.region).or_else(|| global.region.clone()),
        ca_cert: non_empty(nomad.ca_file).or_else(|| global.ca_cert.clone()),
        ca_path: non_empty(nomad.ca_path).or_else(|| global.ca_path.clone()),
        client_cert: non_empty(nomad.cert_file).or_else(|| global.client_cert.clone()),
        client_key: non_empty(nomad.key_file).or_else(|| global.client_key.clone()),
        tls_server_name: non_empty(nomad.tls_server_name).or_else(|| global.tls_server_name.clone()),
        tls_skip_verify: global.tls_skip_verify,
        insecure: global.insecure,
        ..GlobalOpts::default()
    };
    Ok((resolve(file.snapshot.unwrap_or_default())?, opts))
}

fn resolve(block: SnapshotBlock) -> Result<AgentSettings, AgentError> {
    let interval = block.interval.as_deref().unwrap_or(DEFAULT_INTERVAL);
    let nanos = go::duration::parse(interval).map_err(|e| AgentError::Invalid(format!("snapshot.interval: {e}")))?;
    if nanos <= 0 {
        return Err(AgentError::Invalid(format!("snapshot.interval must be positive, got {}", go::quote(interval))));
    }
    let path =
        block.path.filter(|p| !p.is_empty()).ok_or_else(|| AgentError::Invalid("snapshot.path is required".into()))?;
    Ok(AgentSettings {
        interval: Duration::from_nanos(nanos.unsigned_abs()),
        retain: block.retain.unwrap_or(DEFAULT_RETAIN),
        path: PathBuf::from(path),
        stale: block.stale.unwrap_or(false),
    })
}

/// Runs the agent until a signal or `-max-rounds`. A bounded run whose last round failed
/// exits 1, so `-max-rounds=1` works as a cron job.
pub async fn run(global: &GlobalOpts, args: AgentArgs) -> Result<String, AgentError> {
    let config_path = args.config.filter(|c| !c.is_empty()).ok_or(AgentError::MissingConfig)?;
    let (config, opts) = load(&config_path, global)?;
    let client = Client::new(&opts).map_err(AgentError::Client)?;
    std::fs::create_dir_all(&config.path)
        .map_err(|source| AgentError::CreateDir { path: config.path.display().to_string(), source })?;

    use tokio::signal::unix::signal;
    use tokio::signal::unix::SignalKind;
    let mut term = signal(SignalKind::terminate()).map_err(AgentError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AgentError::Signal)?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    };
    tokio::pin!(shutdown);

    log(
        "INFO",
        &format!(
            "starting: every {}, keeping {}, in {}",
            go::duration::format(i64::try_from(config.interval.as_nanos()).unwrap_or(i64::MAX)),
            config.retain,
            config.path.display()
        ),
    );
    let mut status = Status::default();
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let last = loop {
        tokio::select! {
            signal = &mut shutdown => {
                log("INFO", &format!("{signal}: stopping"));
                return Ok(String::new());
            }
            _ = ticker.tick() => {}
        }
        let outcome = tokio::select! {
            signal = &mut shutdown => {
                // The save's temporary file is removed as the round is dropped.
                log("INFO", &format!("{signal}: stopping during a round"));
                return Ok(String::new());
            }
            outcome = round(&client, &config) => outcome,
        };
        status.rounds += 1;
        let now = unix_now();
        match &outcome {
            Ok(done) => {
                log(
                    "INFO",
                    &format!(
                        "saved {} (index {}, {}), verified{}",
                        done.file.display(),
                        done.index,
                        human_bytes(done.bytes),
                        pruned_text(&done.pruned)
                    ),
                );
                status.last_success = Some((now, done.file.display().to_string(), done.index));
            }
            Err(e) => {
                log("ERROR", &format!("snapshot failed: {e}"));
                status.failures += 1;
                status.last_failure = Some((now, e.clone()));
            }
        }
        if let Err(e) = status.write(&config.path) {
            log("ERROR", &format!("writing {}: {e}", config.path.join(STATUS_FILE).display()));
        }
        if args.max_rounds > 0 && status.rounds >= args.max_rounds {
            break outcome.map(drop);
        }
    };
    last.map(|()| String::new()).map_err(AgentError::LastRound)
}

/// How a server's scheduled snapshots reach the server's own HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnApi {
    address: String,
    tls: TlsSettings,
}

impl OwnApi {
    /// Plain HTTP at `http_addr` (`host:port`).
    pub fn http(http_addr: &str) -> Self {
        Self { address: format!("http://{http_addr}"), tls: TlsSettings::default() }
    }

    /// `tls { http = true }`: HTTPS at `http_addr`, presenting the agent's own certificate
    /// (which `verify_https_client` accepts) and trusting the agent's CA without checking the
    /// name, since the agent calls itself at its own address; without a CA, trusting exactly
    /// the agent's own certificate. The files are read again each round, so certificates
    /// reloaded on SIGHUP are used.
    pub fn https(http_addr: &str, ca_file: Option<&Path>, cert_file: &Path, key_file: &Path) -> Self {
        let text = |p: &Path| p.display().to_string();
        let tls = TlsSettings {
            ca_cert: ca_file.map(text),
            client_cert: Some(text(cert_file)),
            client_key: Some(text(key_file)),
            any_server_name: true,
            pinned_cert: ca_file.is_none().then(|| text(cert_file)),
            ..TlsSettings::default()
        };
        Self { address: format!("https://{http_addr}"), tls }
    }
}

/// The server's own scheduled snapshots (`snapshot { interval retain path }` in the server
/// config): the agent's rounds, run every `interval` by whichever server leads at that moment
/// (`leads`), against this server's own HTTP API (`api`), every request carrying `token`
/// (with ACLs on it needs `snapshot-save` or management). Ends with `shutdown`.
pub async fn run_in_server<L, F>(
    api: OwnApi,
    token: Option<String>,
    settings: AgentSettings,
    leads: L,
    shutdown: impl std::future::Future<Output = ()>,
) where
    L: Fn() -> F,
    F: std::future::Future<Output = bool>,
{
    let opts = GlobalOpts { address: Some(api.address.clone()), token, ..GlobalOpts::default() };
    if let Err(e) = Client::with_tls(&opts, &api.tls) {
        return log("ERROR", &format!("scheduled snapshots disabled: {e}"));
    }
    if let Err(e) = std::fs::create_dir_all(&settings.path) {
        return log("ERROR", &format!("scheduled snapshots disabled: {}: {e}", settings.path.display()));
    }
    tokio::pin!(shutdown);
    let mut status = Status::default();
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; a fresh server saves after one interval, not at start.
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        if !leads().await {
            continue;
        }
        // A client per round: it reads the TLS files as they are now.
        let outcome = match Client::with_tls(&opts, &api.tls) {
            Ok(client) => tokio::select! {
                _ = &mut shutdown => return,
                outcome = round(&client, &settings) => outcome,
            },
            Err(e) => Err(format!("Error initializing client: {e}")),
        };
        status.rounds += 1;
        match outcome {
            Ok(done) => {
                log(
                    "INFO",
                    &format!(
                        "saved {} (index {}), verified{}",
                        done.file.display(),
                        done.index,
                        pruned_text(&done.pruned)
                    ),
                );
                status.last_success = Some((unix_now(), done.file.display().to_string(), done.index));
            }
            Err(e) => {
                log("ERROR", &format!("snapshot failed: {e}"));
                status.failures += 1;
                status.last_failure = Some((unix_now(), e));
            }
        }
        if let Err(e) = status.write(&settings.path) {
            log("ERROR", &format!("writing {}: {e}", settings.path.join(STATUS_FILE).display()));
        }
    }
}

/// One round's result.
struct RoundDone {
    file: PathBuf,
    index: u64,
    bytes: u64,
    pruned: Vec<PathBuf>,
}

/// Save, verify offline, prune.
async fn round(client: &Client, config: &AgentSettings) -> Result<RoundDone, String> {
    let file = free_name(&config.path, unix_now());
    let saved = snapshot_transfer::save(client, config.stale, &file, false).await.map_err(|e| e.to_string())?;
    let verify_path = saved.path.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let f = File::open(&verify_path).map_err(|e| e.to_string())?;
        raftwarden_actors::snapshot::archive::inspect(BufReader::new(f)).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let inspection = match verified {
        Ok(i) => i,
        Err(e) => {
            // A file that does not verify is not a backup: it must not push a good one out.
            let _ = std::fs::remove_file(&saved.path);
            return Err(format!("verifying {}: {e}", saved.path.display()));
        }
    };
    let pruned = prune(&config.path, config.retain).map_err(|e| format!("pruning {}: {e}", config.path.display()))?;
    Ok(RoundDone { file: saved.path, index: inspection.meta.index, bytes: saved.bytes, pruned })
}

/// `<dir>/raftwarden-<unix>.snap`, or `raftwarden-<unix>-<n>.snap` when rounds share a second.
fn free_name(dir: &Path, unix: u64) -> PathBuf {
    let mut n = 0u64;
    loop {
        let name = if n == 0 { format!("{PREFIX}{unix}{SUFFIX}") } else { format!("{PREFIX}{unix}-{n}{SUFFIX}") };
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_err()
            && std::fs::symlink_metadata(snapshot_transfer::tmp_path(&path)).is_err()
        {
            return path;
        }
        n += 1;
    }
}

/// The order of a file this agent wrote: `(unix, n)` from `raftwarden-<unix>[-<n>].snap`;
/// `None` for any other file, which the agent never touches.
fn snapshot_key(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (unix, n) = match stem.split_once('-') {
        Some((unix, n)) => (unix, n.parse().ok()?),
        None => (stem, 0),
    };
    Some((unix.parse().ok()?, n))
}

/// Which of `names` to delete to keep the newest `retain` (0 keeps all).
fn to_prune(names: &[String], retain: u64) -> Vec<String> {
    if retain == 0 {
        return Vec::new();
    }
    let mut ours: Vec<((u64, u64), &String)> = names.iter().filter_map(|n| Some((snapshot_key(n)?, n))).collect();
    ours.sort();
    let excess = ours.len().saturating_sub(usize::try_from(retain).unwrap_or(usize::MAX));
    ours.into_iter().take(excess).map(|(_, n)| n.clone()).collect()
}

fn prune(dir: &Path, retain: u64) -> std::io::Result<Vec<PathBuf>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    let mut removed = Vec::new();
    for name in to_prune(&names, retain) {
        let path = dir.join(name);
        std::fs::remove_file(&path)?;
        removed.push(path);
    }
    Ok(removed)
}

fn pruned_text(pruned: &[PathBuf]) -> String {
    if pruned.is_empty() {
        return String::new();
    }
    let names: Vec<String> = pruned.iter().map(|p| p.display().to_string()).collect();
    format!("; removed {}", names.join(", "))
}

/// What `agent-status.json` holds.
#[derive(Debug, Default)]
struct Status {
    rounds: u64,
    failures: u64,
    /// (unix time, file, raft index)
    last_success: Option<(u64, String, u64)>,
    /// (unix time, error)
    last_failure: Option<(u64, String)>,
}

impl Status {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "Rounds": self.rounds,
            "Failures": self.failures,
            "LastSuccess": self.last_success.as_ref().map(|(t, _, _)| go::rfc3339(*t)),
            "LastSuccessFile": self.last_success.as_ref().map(|(_, f, _)| f),
            "LastSuccessIndex": self.last_success.as_ref().map(|(_, _, i)| i),
            "LastFailure": self.last_failure.as_ref().map(|(t, _)| go::rfc3339(*t)),
            "LastError": self.last_failure.as_ref().map(|(_, e)| e),
        })
    }

    /// Written to a temporary file and renamed, so a reader never sees half of it.
    fn write(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(STATUS_FILE);
        let tmp = snapshot_transfer::tmp_path(&path);
        let mut text = serde_json::to_string_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn log(level: &str, message: &str) {
    eprintln!("{} [{level}] snapshot agent: {message}", go::rfc3339(unix_now()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_our_files_only() {
        assert_eq!(snapshot_key("raftwarden-100.snap"), Some((100, 0)));
        assert_eq!(snapshot_key("raftwarden-100-2.snap"), Some((100, 2)));
        for other in [
            "raftwarden-100.snap.tmp",
            "agent-status.json",
            "raftwarden-x.snap",
            "backup.snap",
            "raftwarden-1-2-3.snap",
        ] {
            assert_eq!(snapshot_key(other), None, "{other}");
        }
    }

    #[test]
    fn prune_keeps_newest() {
        let names: Vec<String> = [
            "raftwarden-100-1.snap",
            "raftwarden-99.snap",
            "mine.snap",
            "raftwarden-100.snap",
            "raftwarden-101.snap",
            "agent-status.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(to_prune(&names, 2), ["raftwarden-99.snap", "raftwarden-100.snap"]);
        assert_eq!(to_prune(&names, 4), Vec::<String>::new());
        assert_eq!(to_prune(&names, 0), Vec::<String>::new());
        assert_eq!(to_prune(&names, 1).len(), 3);
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = resolve(SnapshotBlock { path: Some("/b".into()), ..Default::default() }).unwrap();
        assert_eq!(
            c,
            AgentSettings { interval: Duration::from_secs(3600), retain: 30, path: "/b".into(), stale: false }
        );
        let err = |b: SnapshotBlock| resolve(b).unwrap_err().to_string();
        assert_eq!(err(SnapshotBlock::default()), "Invalid snapshot agent config: snapshot.path is required");
        let bad = SnapshotBlock { path: Some("/b".into()), interval: Some("5".into()), ..Default::default() };
        assert!(err(bad).contains("snapshot.interval: time: missing unit"));
        let zero = SnapshotBlock { path: Some("/b".into()), interval: Some("0s".into()), ..Default::default() };
        assert!(err(zero).contains("must be positive"));
    }

    #[test]
    fn hcl_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.hcl");
        std::fs::write(
            &path,
            "address = \"http://127.0.0.1:9\"\nsnapshot {\n interval = \"250ms\"\n retain = 2\n path = \"/x\"\n stale = true\n}\n",
        )
        .unwrap();
        let global =
            GlobalOpts { address: Some("http://other:1".into()), token: Some("t".into()), ..GlobalOpts::default() };
        let (c, opts) = load(path.to_str().unwrap(), &global).unwrap();
        assert_eq!(
            c,
            AgentSettings { interval: Duration::from_millis(250), retain: 2, path: "/x".into(), stale: true }
        );
        assert_eq!(opts.address.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(opts.token.as_deref(), Some("t"));
        std::fs::write(&path, "snapshot { bogus = 1 }\n").unwrap();
        let e = load(path.to_str().unwrap(), &global).unwrap_err().to_string();
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }

    #[test]
    fn nomad_block_tls_files_win_over_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.hcl");
        std::fs::write(
            &path,
            "nomad {\n address = \"https://127.0.0.1:8\"\n ca_file = \"ca.pem\"\n cert_file = \"cli.pem\"\n key_file = \"cli-key.pem\"\n tls_server_name = \"server.global.nomad\"\n}\nsnapshot { path = \"/x\" }\n",
        )
        .unwrap();
        let global = GlobalOpts {
            ca_cert: Some("flag-ca.pem".into()),
            ca_path: Some("flag-dir".into()),
            tls_skip_verify: true,
            ..GlobalOpts::default()
        };
        let (_, opts) = load(path.to_str().unwrap(), &global).unwrap();
        assert_eq!(opts.ca_cert.as_deref(), Some("ca.pem"));
        assert_eq!(opts.ca_path.as_deref(), Some("flag-dir"));
        assert_eq!(opts.client_cert.as_deref(), Some("cli.pem"));
        assert_eq!(opts.client_key.as_deref(), Some("cli-key.pem"));
        assert_eq!(opts.tls_server_name.as_deref(), Some("server.global.nomad"));
        assert!(opts.tls_skip_verify);
    }

    #[test]
    fn own_api_is_https_with_the_agents_files() {
        assert_eq!(OwnApi::http("127.0.0.1:4646").address, "http://127.0.0.1:4646");
        let with_ca =
            OwnApi::https("127.0.0.1:4646", Some(Path::new("ca.pem")), Path::new("s.pem"), Path::new("s-key.pem"));
        assert_eq!(with_ca.address, "https://127.0.0.1:4646");
        assert_eq!(with_ca.tls.ca_cert.as_deref(), Some("ca.pem"));
        assert_eq!(with_ca.tls.client_cert.as_deref(), Some("s.pem"));
        assert!(with_ca.tls.any_server_name && with_ca.tls.pinned_cert.is_none());
        let without = OwnApi::https("127.0.0.1:4646", None, Path::new("s.pem"), Path::new("s-key.pem"));
        assert_eq!(without.tls.pinned_cert.as_deref(), Some("s.pem"));
    }

    #[test]
    fn nomad_block_wins_over_top_level_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.hcl");
        std::fs::write(
            &path,
            "token = \"top\"\nnomad {\n address = \"http://127.0.0.1:8\"\n token = \"inner\"\n}\nsnapshot { path = \"/x\" }\n",
        )
        .unwrap();
        let global =
            GlobalOpts { address: None, token: Some("flag".into()), region: Some("r".into()), ..GlobalOpts::default() };
        let (_, opts) = load(path.to_str().unwrap(), &global).unwrap();
        assert_eq!(opts.address.as_deref(), Some("http://127.0.0.1:8"));
        assert_eq!(opts.token.as_deref(), Some("inner"));
        assert_eq!(opts.region.as_deref(), Some("r"));
    }
}
