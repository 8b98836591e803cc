//! `operator raft|autopilot|scheduler ...`: the grammar of these commands and their HTTP calls;
//! `operator gossip keyring ...` and `operator keygen` are in [`gossip`].
//! The read-modify-write decisions of the two `set-config` commands are pure functions in
//! [`set_config`]; `operator snapshot ...` has its own file ([`snapshot`]).

mod set_config;

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;
use serde_json::Value;

use self::set_config::AUTOPILOT_CONFIGURATION;
use self::set_config::SCHEDULER_CONFIGURATION;
use super::client::Client;
use super::error::CliError;
use super::format;
use super::gossip;
use super::opts::GlobalOpts;
use super::opts::Output;
use super::render;
use super::snapshot;
use crate::go::flag::go_bool;
use crate::go::flag::go_bool_value;
use crate::go::flag::go_duration;
use crate::go::flag::go_uint;
use crate::go::quote as go_quote;

#[derive(Debug, Subcommand)]
pub enum Operator {
    /// Raft peer set commands
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Raft(Raft),
    /// Autopilot configuration and health
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Autopilot(Autopilot),
    /// Scheduler configuration
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Scheduler(Scheduler),
    /// Snapshot archives: save, restore, inspect, and the scheduled snapshot agent
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Snapshot(snapshot::Snapshot),
    /// Gossip encryption keys: generate, list, install, use, remove
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Gossip(gossip::Gossip),
    /// Deprecated: `operator gossip keyring generate`
    #[command(hide = true)]
    Keygen(gossip::Words),
}

#[derive(Debug, Subcommand)]
pub enum Raft {
    /// Display the current Raft peer configuration
    ListPeers(ListPeers),
    /// Remove a server from the Raft configuration
    RemovePeer(RemovePeer),
    /// Transfer leadership to another server
    TransferLeadership(TransferLeadership),
}

#[derive(Debug, Subcommand)]
pub enum Autopilot {
    /// Display the current Autopilot configuration
    GetConfig(GetConfig),
    /// Modify the current Autopilot configuration
    SetConfig(AutopilotSetConfig),
    /// Display the current Autopilot health
    Health(Health),
}

#[derive(Debug, Subcommand)]
pub enum Scheduler {
    /// Display the current scheduler configuration
    GetConfig(GetConfig),
    /// Modify the current scheduler configuration
    SetConfig(SchedulerSetConfig),
}

#[derive(Debug, Args)]
pub struct ListPeers {
    /// Let any server answer, even without a leader
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub stale: bool,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemovePeer {
    /// Raft ID of the server to remove
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TransferLeadership {
    /// Raft ID of the server to transfer leadership to
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
    /// Raft address (ip:port) of the server to transfer leadership to
    #[arg(long, value_name = "ip:port", allow_hyphen_values = true)]
    pub peer_address: Option<String>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GetConfig {
    #[command(flatten)]
    pub output: Output,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Health {
    /// Output the autopilot health in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct AutopilotSetConfig {
    /// Remove dead servers automatically when new ones are added
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub cleanup_dead_servers: Option<bool>,
    /// Log entries a server may trail the leader by and still be healthy
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub max_trailing_logs: Option<u64>,
    /// Minimum number of servers before autopilot prunes dead servers
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub min_quorum: Option<u64>,
    /// Time without leader contact before a server is unhealthy, e.g. 200ms
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub last_contact_threshold: Option<i64>,
    /// Time a new server must be healthy before it is promoted, e.g. 10s
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub server_stabilization_time: Option<i64>,
    /// (Enterprise in Nomad) Enable redundancy zones
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub enable_redundancy_zones: Option<bool>,
    /// (Enterprise in Nomad) Disable upgrade migrations
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub disable_upgrade_migration: Option<bool>,
    /// (Enterprise in Nomad) Enable custom upgrades
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub enable_custom_upgrades: Option<bool>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct SchedulerSetConfig {
    /// Only update if the current ModifyIndex equals this value (0 = no check)
    #[arg(long, value_name = "n", allow_hyphen_values = true)]
    pub check_index: Option<String>,
    /// binpack or spread (the server checks the value)
    #[arg(long, value_name = "algorithm", allow_hyphen_values = true)]
    pub scheduler_algorithm: Option<String>,
    /// Let tasks exceed their reserved memory when the client has spare memory
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub memory_oversubscription: Option<bool>,
    /// Reject job registration, dispatch and scale for non-management tokens
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub reject_job_registration: Option<bool>,
    /// Pause the eval broker
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub pause_eval_broker: Option<bool>,
    /// Enable preemption for batch jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_batch_scheduler: Option<bool>,
    /// Enable preemption for service jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_service_scheduler: Option<bool>,
    /// Enable preemption for system batch jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_sysbatch_scheduler: Option<bool>,
    /// Enable preemption for system jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_system_scheduler: Option<bool>,
    /// Nodes to check for feasibility per placement (0 = default 100)
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub node_limit_for_feasibility_checks: Option<u64>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

const RAFT_CONFIGURATION: &str = "/v1/operator/raft/configuration";
const RAFT_PEER: &str = "/v1/operator/raft/peer";
const TRANSFER_LEADERSHIP: &str = "/v1/operator/raft/transfer-leadership";
const AUTOPILOT_HEALTH: &str = "/v1/operator/autopilot/health";

/// Runs one `operator` command; `Ok` is the text for stdout.
pub async fn execute(g: &GlobalOpts, command: Operator) -> Result<String, CliError> {
    match command {
        Operator::Raft(Raft::ListPeers(a)) => list_peers(g, a).await,
        Operator::Raft(Raft::RemovePeer(a)) => remove_peer(g, a).await,
        Operator::Raft(Raft::TransferLeadership(a)) => transfer_leadership(g, a).await,
        Operator::Autopilot(Autopilot::GetConfig(a)) => autopilot_get_config(g, a).await,
        Operator::Autopilot(Autopilot::SetConfig(a)) => autopilot_set_config(g, a).await,
        Operator::Autopilot(Autopilot::Health(a)) => autopilot_health(g, a).await,
        Operator::Scheduler(Scheduler::GetConfig(a)) => scheduler_get_config(g, a).await,
        Operator::Scheduler(Scheduler::SetConfig(a)) => scheduler_set_config(g, a).await,
        Operator::Snapshot(s) => Ok(snapshot::execute(g, s).await?),
        Operator::Gossip(c) => gossip::execute(g, c).await,
        Operator::Keygen(_) => gossip::keygen(),
    }
}

fn client(g: &GlobalOpts) -> Result<Client, CliError> {
    Client::new(g).map_err(CliError::Client)
}

async fn list_peers(g: &GlobalOpts, a: ListPeers) -> Result<String, CliError> {
    let query: &[(&str, &str)] = if a.stale { &[("stale", "")] } else { &[] };
    let config = client(g)?.get(RAFT_CONFIGURATION, query).await.map_err(CliError::RaftConfiguration)?;
    Ok(render::raft_peers(&config))
}

async fn remove_peer(g: &GlobalOpts, a: RemovePeer) -> Result<String, CliError> {
    let id = a.peer_id.filter(|id| !id.is_empty()).ok_or(CliError::MissingPeerId)?;
    client(g)?.write(Method::DELETE, RAFT_PEER, &[("id", &id)]).await.map_err(CliError::RemovePeer)?;
    Ok(format!("Removed peer with id {}\n", go_quote(&id)))
}

async fn transfer_leadership(g: &GlobalOpts, a: TransferLeadership) -> Result<String, CliError> {
    let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
    let (key, value) = match (non_empty(a.peer_id), non_empty(a.peer_address)) {
        (Some(_), Some(_)) => return Err(CliError::PeerIdAndAddress),
        (Some(id), None) => ("id", id),
        (None, Some(address)) => ("address", address),
        (None, None) => return Err(CliError::MissingPeerIdOrAddress),
    };
    client(g)?.write(Method::PUT, TRANSFER_LEADERSHIP, &[(key, &value)]).await.map_err(CliError::TransferLeadership)?;
    Ok(format!("Transferred leadership to peer with {key} {}\n", go_quote(&value)))
}

async fn autopilot_get_config(g: &GlobalOpts, a: GetConfig) -> Result<String, CliError> {
    let config = client(g)?.get(AUTOPILOT_CONFIGURATION, &[]).await.map_err(CliError::AutopilotQuery)?;
    if a.output.json && a.output.template.as_deref().unwrap_or("").is_empty() {
        // api.AutopilotConfiguration has its own MarshalJSON, whose compact bytes Nomad's
        // indenting encoder writes as they are: the body's JSON on one line.
        return Ok(format::go_marshal(&config)? + "\n");
    }
    match render::formatted(a.output.json, a.output.template.as_deref(), &config)? {
        Some(out) => Ok(out),
        None => Ok(render::autopilot_config(&config)),
    }
}

async fn autopilot_set_config(g: &GlobalOpts, a: AutopilotSetConfig) -> Result<String, CliError> {
    let client = client(g)?;
    let mut config = client.get(AUTOPILOT_CONFIGURATION, &[]).await.map_err(CliError::AutopilotQueryForUpdate)?;
    let cas = set_config::autopilot(&mut config, &a)?.to_string();
    let updated =
        client.put(AUTOPILOT_CONFIGURATION, &[("cas", &cas)], Some(&config)).await.map_err(CliError::AutopilotSet)?;
    match updated.as_bool() {
        Some(true) => Ok("Configuration updated!\n".into()),
        Some(false) => Err(CliError::AutopilotNotUpdated),
        None => Err(CliError::Malformed {
            endpoint: AUTOPILOT_CONFIGURATION,
            problem: format!("expected true or false, got {updated}"),
        }),
    }
}

async fn autopilot_health(g: &GlobalOpts, a: Health) -> Result<String, CliError> {
    let health = client(g)?.get(AUTOPILOT_HEALTH, &[]).await.map_err(CliError::AutopilotQuery)?;
    if a.json {
        // Nomad's command prints `json.Marshal` of the reply: compact, unlike `-json` elsewhere.
        return Ok(format::go_marshal(&health)? + "\n");
    }
    Ok(render::autopilot_health(&health))
}

async fn scheduler_get_config(g: &GlobalOpts, a: GetConfig) -> Result<String, CliError> {
    let response = client(g)?.get(SCHEDULER_CONFIGURATION, &[]).await.map_err(CliError::SchedulerQuery)?;
    match render::formatted(a.output.json, a.output.template.as_deref(), &scheduler_response_go(&response))? {
        Some(out) => Ok(out),
        None => Ok(render::scheduler_config(&response)),
    }
}

/// The body as the Go client's `api.SchedulerConfigurationResponse` holds it, which is what
/// Nomad's `-json` and `-t` format (`command/operator_scheduler_get_config.go`): the config's
/// fields in `api.SchedulerConfiguration`'s order (zero values for missing ones, unknown ones
/// dropped), then the embedded `QueryMeta` as decoded from the body alone: `LastIndex` and
/// `RequestTime` stay 0 (the client fills its separate `*QueryMeta` from the headers), the
/// server's `Index` has no field and is dropped.
fn scheduler_response_go(body: &Value) -> Value {
    let config = &body["SchedulerConfig"];
    let config = if config.is_object() {
        let preemption = &config["PreemptionConfig"];
        let flag = |v: &Value| Value::Bool(v.as_bool().unwrap_or(false));
        let number = |v: &Value| v.as_u64().map_or(json!(0), |n| json!(n));
        json!({
            "SchedulerAlgorithm": config["SchedulerAlgorithm"].as_str().unwrap_or(""),
            "PreemptionConfig": {
                "SystemSchedulerEnabled": flag(&preemption["SystemSchedulerEnabled"]),
                "SysBatchSchedulerEnabled": flag(&preemption["SysBatchSchedulerEnabled"]),
                "BatchSchedulerEnabled": flag(&preemption["BatchSchedulerEnabled"]),
                "ServiceSchedulerEnabled": flag(&preemption["ServiceSchedulerEnabled"]),
            },
            "MemoryOversubscriptionEnabled": flag(&config["MemoryOversubscriptionEnabled"]),
            "RejectJobRegistration": flag(&config["RejectJobRegistration"]),
            "PauseEvalBroker": flag(&config["PauseEvalBroker"]),
            "NodeLimitForFeasibilityChecks": number(&config["NodeLimitForFeasibilityChecks"]),
            "CreateIndex": number(&config["CreateIndex"]),
            "ModifyIndex": number(&config["ModifyIndex"]),
        })
    } else {
        Value::Null
    };
    json!({
        "SchedulerConfig": config,
        "LastIndex": 0,
        "LastContact": body["LastContact"].as_i64().unwrap_or(0),
        "KnownLeader": body["KnownLeader"].as_bool().unwrap_or(false),
        "RequestTime": 0,
        "NextToken": body["NextToken"].as_str().unwrap_or(""),
    })
}

async fn scheduler_set_config(g: &GlobalOpts, a: SchedulerSetConfig) -> Result<String, CliError> {
    let client = client(g)?;
    if !a.extra.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden operator scheduler set-config"));
    }
    set_config::check_index(a.check_index.as_deref())?;
    let response = client.get(SCHEDULER_CONFIGURATION, &[]).await.map_err(CliError::SchedulerQueryForUpdate)?;
    let (config, cas) = set_config::scheduler(&response, &a)?;
    let reply = client
        .put(SCHEDULER_CONFIGURATION, &[("cas", &cas.to_string())], Some(&config))
        .await
        .map_err(CliError::SchedulerSet)?;
    if reply["Updated"] == true {
        Ok("Scheduler configuration updated!\n".into())
    } else {
        Err(CliError::SchedulerNotUpdated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::parse_ok as ok;
    use crate::cli::args::parse_strs as p;
    use crate::cli::args::Command;
    use crate::cli::args::ParseFailure;

    #[test]
    fn scheduler_response_as_the_go_client_decodes_it() {
        let body = json!({
            "SchedulerConfig": {"ModifyIndex": 9, "SchedulerAlgorithm": "spread", "Extra": 1,
                                "PreemptionConfig": {"SystemSchedulerEnabled": true}},
            "Index": 9, "LastContact": 0, "KnownLeader": true, "NextToken": ""
        });
        assert_eq!(
            serde_json::to_string(&scheduler_response_go(&body)).unwrap(),
            concat!(
                r#"{"SchedulerConfig":{"SchedulerAlgorithm":"spread","PreemptionConfig":{"SystemSchedulerEnabled":true,"#,
                r#""SysBatchSchedulerEnabled":false,"BatchSchedulerEnabled":false,"ServiceSchedulerEnabled":false},"#,
                r#""MemoryOversubscriptionEnabled":false,"RejectJobRegistration":false,"PauseEvalBroker":false,"#,
                r#""NodeLimitForFeasibilityChecks":0,"CreateIndex":0,"ModifyIndex":9},"LastIndex":0,"LastContact":0,"#,
                r#""KnownLeader":true,"RequestTime":0,"NextToken":""}"#
            )
        );
        assert_eq!(scheduler_response_go(&json!({}))["SchedulerConfig"], Value::Null);
    }

    #[test]
    fn boolean_switches() {
        for (args, want) in [(&["-stale"][..], true), (&["-stale=false"], false), (&["-stale=T"], true), (&[], false)] {
            let cli = ok(&[&["operator", "raft", "list-peers"][..], args].concat());
            let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
            assert_eq!(lp.stale, want, "{args:?}");
        }
        assert!(p(&["operator", "raft", "list-peers", "-stale=maybe"]).is_err());
        // Go never lets a switch take the next word: `false` is the first argument.
        let cli = ok(&["operator", "raft", "list-peers", "-stale", "false"]);
        let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
        assert!(lp.stale && lp.extra == ["false"]);
    }

    #[test]
    fn template_flag_is_short() {
        for args in [&["-t", "{{.A}}"][..], &["-t={{.A}}"], &["--t", "{{.A}}"]] {
            let cli = ok(&[&["operator", "scheduler", "get-config"][..], args].concat());
            let Command::Operator(Operator::Scheduler(Scheduler::GetConfig(g))) = cli.command else { panic!() };
            assert_eq!(g.output.template.as_deref(), Some("{{.A}}"), "{args:?}");
            assert!(!g.output.json);
        }
        let cli = ok(&["operator", "autopilot", "get-config", "-json"]);
        let Command::Operator(Operator::Autopilot(Autopilot::GetConfig(g))) = cli.command else { panic!() };
        assert!(g.output.json);
    }

    #[test]
    fn autopilot_set_config_flags() {
        let cli = ok(&[
            "operator",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers=false",
            "-max-trailing-logs=99",
            "-min-quorum",
            "3",
            "-last-contact-threshold=123ms",
            "-server-stabilization-time=1m30s",
            "-enable-redundancy-zones",
            "true",
        ]);
        let Command::Operator(Operator::Autopilot(Autopilot::SetConfig(s))) = cli.command else { panic!() };
        assert_eq!(s.cleanup_dead_servers, Some(false));
        assert_eq!(s.max_trailing_logs, Some(99));
        assert_eq!(s.min_quorum, Some(3));
        assert_eq!(s.last_contact_threshold, Some(123_000_000));
        assert_eq!(s.server_stabilization_time, Some(90_000_000_000));
        assert_eq!(s.enable_redundancy_zones, Some(true));
        assert_eq!(s.disable_upgrade_migration, None);
        assert_eq!(s.enable_custom_upgrades, None);
        let err = p(&["operator", "autopilot", "set-config", "-last-contact-threshold=12x"]).unwrap_err();
        let ParseFailure::Flag { message, .. } = err else { panic!("{err:?}") };
        assert!(
            message.starts_with("invalid value \"12x\" for flag -last-contact-threshold: time: unknown unit"),
            "{message}"
        );
        // Nomad's set-config booleans take a value: alone they are an error, as in Go.
        let err = p(&["operator", "autopilot", "set-config", "-cleanup-dead-servers"]).unwrap_err();
        let ParseFailure::Flag { message, then, .. } = err else { panic!("{err:?}") };
        assert_eq!(message, "flag needs an argument: -cleanup-dead-servers");
        assert_eq!(then.as_deref(), Some("Failed to parse args: flag needs an argument: -cleanup-dead-servers"));
        let err = p(&["operator", "autopilot", "set-config", "-min-quorum=0x1_0", "-max-trailing-logs=x"]).unwrap_err();
        let ParseFailure::Flag { message, .. } = err else { panic!("{err:?}") };
        assert_eq!(
            message,
            "invalid value \"x\" for flag -max-trailing-logs: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert!(p(&["operator", "autopilot", "set-config", "-max-trailing-logs=-1"]).is_err());
    }

    #[test]
    fn scheduler_set_config_flags() {
        let cli = ok(&[
            "operator",
            "scheduler",
            "set-config",
            "-check-index=7",
            "-scheduler-algorithm=spread",
            "-preempt-system-scheduler=false",
            "-memory-oversubscription",
            "true",
            "-node-limit-for-feasibility-checks=200",
        ]);
        let Command::Operator(Operator::Scheduler(Scheduler::SetConfig(s))) = cli.command else { panic!() };
        assert_eq!(s.check_index.as_deref(), Some("7"));
        assert_eq!(s.scheduler_algorithm.as_deref(), Some("spread"));
        assert_eq!(s.preempt_system_scheduler, Some(false));
        assert_eq!(s.memory_oversubscription, Some(true));
        assert_eq!(s.pause_eval_broker, None);
        assert_eq!(s.node_limit_for_feasibility_checks, Some(200));
        // The server, not the CLI, checks the algorithm, as in Nomad.
        assert!(p(&["operator", "scheduler", "set-config", "-scheduler-algorithm=random"]).is_ok());
    }
}
