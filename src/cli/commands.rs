//! One async function per command: check its flags, make its HTTP calls, return the text for
//! stdout. Decisions and rendering live in [`update`](super::update) and
//! [`render`](super::render); this file only sequences the I/O.

use reqwest::Method;

use super::args::Autopilot;
use super::args::AutopilotSetConfig;
use super::args::Cli;
use super::args::Command;
use super::args::GetConfig;
use super::args::GlobalOpts;
use super::args::Health;
use super::args::ListPeers;
use super::args::Operator;
use super::args::Raft;
use super::args::RemovePeer;
use super::args::Scheduler;
use super::args::SchedulerSetConfig;
use super::args::Server;
use super::args::TransferLeadership;
use super::client::Client;
use super::error::CliError;
use super::render;
use super::update;
use super::update::AUTOPILOT_CONFIGURATION;
use super::update::SCHEDULER_CONFIGURATION;
use crate::go::quote as go_quote;

const RAFT_CONFIGURATION: &str = "/v1/operator/raft/configuration";
const RAFT_PEER: &str = "/v1/operator/raft/peer";
const TRANSFER_LEADERSHIP: &str = "/v1/operator/raft/transfer-leadership";
const AUTOPILOT_HEALTH: &str = "/v1/operator/autopilot/health";

/// Runs a parsed command line; `Ok` is the text for stdout.
pub async fn execute(cli: Cli) -> Result<String, CliError> {
    let g = &cli.global;
    match cli.command {
        Command::Operator(Operator::Raft(Raft::ListPeers(a))) => list_peers(g, a).await,
        Command::Operator(Operator::Raft(Raft::RemovePeer(a))) => remove_peer(g, a).await,
        Command::Operator(Operator::Raft(Raft::TransferLeadership(a))) => transfer_leadership(g, a).await,
        Command::Operator(Operator::Autopilot(Autopilot::GetConfig(a))) => autopilot_get_config(g, a).await,
        Command::Operator(Operator::Autopilot(Autopilot::SetConfig(a))) => autopilot_set_config(g, a).await,
        Command::Operator(Operator::Autopilot(Autopilot::Health(a))) => autopilot_health(g, a).await,
        Command::Operator(Operator::Scheduler(Scheduler::GetConfig(a))) => scheduler_get_config(g, a).await,
        Command::Operator(Operator::Scheduler(Scheduler::SetConfig(a))) => scheduler_set_config(g, a).await,
        Command::Operator(Operator::Snapshot(s)) => Ok(super::snapshot::execute(g, s).await?),
        Command::Server(Server::Members(_)) => server_members(g).await,
        Command::Var(v) => super::var::execute(g, v).await,
        Command::License(l) => super::license::execute(g, l).await,
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
    match render::formatted(a.output.json, a.output.template.as_deref(), &config)? {
        Some(out) => Ok(out),
        None => Ok(render::autopilot_config(&config)),
    }
}

async fn autopilot_set_config(g: &GlobalOpts, a: AutopilotSetConfig) -> Result<String, CliError> {
    let client = client(g)?;
    let mut config = client.get(AUTOPILOT_CONFIGURATION, &[]).await.map_err(CliError::AutopilotQueryForUpdate)?;
    let cas = update::autopilot(&mut config, &a)?.to_string();
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
    match render::formatted(a.json, None, &health)? {
        Some(out) => Ok(out),
        None => Ok(render::autopilot_health(&health)),
    }
}

async fn scheduler_get_config(g: &GlobalOpts, a: GetConfig) -> Result<String, CliError> {
    let response = client(g)?.get(SCHEDULER_CONFIGURATION, &[]).await.map_err(CliError::SchedulerQuery)?;
    match render::formatted(a.output.json, a.output.template.as_deref(), &response)? {
        Some(out) => Ok(out),
        None => Ok(render::scheduler_config(&response)),
    }
}

async fn scheduler_set_config(g: &GlobalOpts, a: SchedulerSetConfig) -> Result<String, CliError> {
    let client = client(g)?;
    let response = client.get(SCHEDULER_CONFIGURATION, &[]).await.map_err(CliError::SchedulerQueryForUpdate)?;
    let (config, cas) = update::scheduler(&response, &a)?;
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

async fn server_members(g: &GlobalOpts) -> Result<String, CliError> {
    let config = client(g)?.get(RAFT_CONFIGURATION, &[]).await.map_err(CliError::Members)?;
    Ok(render::server_members(&config, env!("CARGO_PKG_VERSION")))
}
