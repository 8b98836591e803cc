//! One async function per command: check its flags, make its HTTP calls, return the text for
//! stdout. Decisions and rendering live in [`update`](super::update) and
//! [`render`](super::render); this file only sequences the I/O.

use reqwest::Method;

use super::args::Autopilot;
use super::args::AutopilotSetConfig;
use super::args::Cli;
use super::args::Command;
use super::args::ForceLeave;
use super::args::GetConfig;
use super::args::GlobalOpts;
use super::args::Health;
use super::args::ListPeers;
use super::args::Members;
use super::args::Operator;
use super::args::Raft;
use super::args::RemovePeer;
use super::args::Scheduler;
use super::args::SchedulerSetConfig;
use super::args::Server;
use super::args::ServerJoin;
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
const AGENT_MEMBERS: &str = "/v1/agent/members";
const AGENT_JOIN: &str = "/v1/agent/join";
const AGENT_FORCE_LEAVE: &str = "/v1/agent/force-leave";
const STATUS_LEADER: &str = "/v1/status/leader";

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
        Command::Server(Server::Members(a)) => server_members(g, a).await,
        Command::Server(Server::Join(a)) => server_join(g, a).await,
        Command::Server(Server::ForceLeave(a)) => server_force_leave(g, a).await,
        Command::Var(v) => super::var::execute(g, v).await,
        Command::License(l) => super::license::execute(g, l).await,
        Command::Acl(a) => super::acl::execute(g, a).await,
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
    if a.json {
        // Nomad's command prints `json.Marshal` of the reply: compact, unlike `-json` elsewhere.
        return Ok(super::format::go_marshal(&health)? + "\n");
    }
    Ok(render::autopilot_health(&health))
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
    if !a.extra.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden operator scheduler set-config"));
    }
    update::check_index(a.check_index.as_deref())?;
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

/// `server members`: the gossip member list, with each region's leader marked (Nomad's
/// `command/server_members.go`).
async fn server_members(g: &GlobalOpts, a: Members) -> Result<String, CliError> {
    if !a.extra.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden server members"));
    }
    let client = client(g)?;
    let response = client.get(AGENT_MEMBERS, &[]).await.map_err(CliError::Members)?;
    let mut members: Vec<serde_json::Value> = response["Members"].as_array().cloned().unwrap_or_default();
    members.sort_by_cached_key(|m| super::format::cell(&m["Name"]));
    let regions: std::collections::BTreeSet<String> =
        members.iter().filter(|m| m["Status"] != "left").map(|m| super::format::cell(&m["Tags"]["region"])).collect();
    let mut leaders = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for region in regions {
        match client.get(STATUS_LEADER, &[("region", &region)]).await {
            Ok(v) => {
                leaders.insert(region, v.as_str().unwrap_or_default().to_string());
            }
            Err(e) => errors.push(format!("Region {}: {e}", go_quote(&region))),
        }
    }
    if a.output.json || a.output.template.as_deref().is_some_and(|t| !t.is_empty()) {
        for m in &mut members {
            let leader = render::is_leader(m, &leaders).to_string();
            if let Some(tags) = m["Tags"].as_object_mut() {
                tags.insert("Leader".into(), leader.into());
            }
        }
        let list = serde_json::Value::Array(members);
        return Ok(render::formatted(a.output.json, a.output.template.as_deref(), &list)?.unwrap_or_default());
    }
    let table = render::server_members(&members, &leaders, a.verbose || a.detailed);
    if errors.is_empty() {
        return Ok(table);
    }
    // Nomad prints the table and an empty line, then the warning, and exits 1.
    println!("{table}");
    Err(CliError::Leaders(format!(
        "{} error{} occurred:\n{}\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" },
        errors.iter().map(|e| format!("\t* {e}\n")).collect::<String>()
    )))
}

/// `server join <addr>...`: joins the agent's server to others through their gossip addresses.
async fn server_join(g: &GlobalOpts, a: ServerJoin) -> Result<String, CliError> {
    if a.addresses.is_empty() {
        return Err(CliError::Usage("One or more node addresses must be given as arguments", "raftwarden server join"));
    }
    let query: Vec<(&str, &str)> = a.addresses.iter().map(|addr| ("address", addr.as_str())).collect();
    let reply = client(g)?.put(AGENT_JOIN, &query, None).await.map_err(|e| CliError::Join(e.to_string()))?;
    let joined = reply["num_joined"].as_u64().unwrap_or(0);
    match reply["error"].as_str() {
        Some(e) if !e.is_empty() && joined == 0 => Err(CliError::Join(e.to_string())),
        // Some joined: Nomad warns on stderr and exits 0.
        Some(e) if !e.is_empty() => {
            eprintln!("Joined {joined} servers successfully but got warning: {e}");
            Ok(String::new())
        }
        _ => Ok(format!("Joined {joined} servers successfully\n")),
    }
}

/// `server force-leave [-prune] <node>`: a failed server becomes `left` (or is forgotten).
async fn server_force_leave(g: &GlobalOpts, a: ForceLeave) -> Result<String, CliError> {
    let [node] = a.node.as_slice() else {
        return Err(CliError::Usage("This command takes one argument: <node>", "raftwarden server force-leave"));
    };
    let mut query = vec![("node", node.as_str())];
    if a.prune {
        query.push(("prune", "1"));
    }
    client(g)?
        .write(Method::PUT, AGENT_FORCE_LEAVE, &query)
        .await
        .map_err(|source| CliError::ForceLeave { node: node.clone(), source })?;
    Ok(String::new())
}
