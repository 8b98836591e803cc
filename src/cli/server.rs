//! `server members|join|force-leave`: the grammar of these commands and their HTTP calls to the
//! agent endpoints (Nomad's `command/server_*.go`).

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use reqwest::Method;

use super::client::Client;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;
use super::opts::Output;
use super::render;
use crate::go::flag::go_bool;
use crate::go::quote as go_quote;

#[derive(Debug, Subcommand)]
pub enum Server {
    /// Display a list of known servers and their status
    Members(Members),
    /// Join server nodes together
    Join(ServerJoin),
    /// Force a server into the 'left' state
    ForceLeave(ForceLeave),
}

#[derive(Debug, Args)]
pub struct Members {
    /// Show detailed information about each member (same as -verbose)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub detailed: bool,
    /// Show detailed information about each member, with its raw tags
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub verbose: bool,
    #[command(flatten)]
    pub output: Output,
    /// Nomad takes no arguments; any given is reported as an error
    #[arg(hide = true, allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServerJoin {
    /// Gossip addresses of servers to join, host[:port] (port 4648 by default)
    #[arg(value_name = "addr", allow_hyphen_values = true)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ForceLeave {
    /// Remove the server from the member list at once instead of leaving it `left`
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub prune: bool,
    /// The member name, `<name>.<region>`
    #[arg(value_name = "node", allow_hyphen_values = true)]
    pub node: Vec<String>,
}

const AGENT_MEMBERS: &str = "/v1/agent/members";
const AGENT_JOIN: &str = "/v1/agent/join";
const AGENT_FORCE_LEAVE: &str = "/v1/agent/force-leave";
const STATUS_LEADER: &str = "/v1/status/leader";

/// Runs one `server` command; `Ok` is the text for stdout.
pub async fn execute(g: &GlobalOpts, command: Server) -> Result<String, CliError> {
    match command {
        Server::Members(a) => server_members(g, a).await,
        Server::Join(a) => server_join(g, a).await,
        Server::ForceLeave(a) => server_force_leave(g, a).await,
    }
}

fn client(g: &GlobalOpts) -> Result<Client, CliError> {
    Client::new(g).map_err(CliError::Client)
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
    members.sort_by_cached_key(|m| format::cell(&m["Name"]));
    let regions: std::collections::BTreeSet<String> =
        members.iter().filter(|m| m["Status"] != "left").map(|m| format::cell(&m["Tags"]["region"])).collect();
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
