//! Handlers of `/v1/agent/*` that apply to a server (Nomad's `command/agent/agent_endpoint.go`):
//! gossip members, join, force-leave, the gossip keyring, the agent's own description and its
//! health.

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::HttpResponse;
use raftwarden_actors::gossip;
use raftwarden_actors::gossip::Member;
use raftwarden_actors::keyring::InstallKey;
use raftwarden_actors::keyring::KeyResponse;
use raftwarden_actors::keyring::ListKeys;
use raftwarden_actors::keyring::RemoveKey;
use raftwarden_actors::keyring::UseKey;
use raftwarden_actors::membership::GetLeader;
use serde::Serialize;
use serde_json::Value;

use super::auth::authorize;
use super::decode::first_value;
use super::decode::go_field;
use super::decode::kind;
use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;
use crate::acl::Requirement;
use crate::go;

/// Nomad's `ErrInvalidMethod` text.
const INVALID_METHOD: &str = "Invalid method";

/// One serf member as Nomad's `/v1/agent/members` and `/v1/agent/self` show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemberWire {
    pub name: String,
    pub addr: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub status: String,
    pub protocol_min: u8,
    pub protocol_max: u8,
    pub protocol_cur: u8,
    pub delegate_min: u8,
    pub delegate_max: u8,
    pub delegate_cur: u8,
}

impl From<&Member> for MemberWire {
    fn from(m: &Member) -> Self {
        let (pmin, pmax, pcur) = gossip::PROTOCOL;
        let (dmin, dmax, dcur) = gossip::DELEGATE;
        Self {
            name: m.name().to_string(),
            addr: m.identity.serf_addr.ip().to_string(),
            port: m.identity.serf_addr.port(),
            tags: m.tags(),
            status: m.status.as_str().to_string(),
            protocol_min: pmin,
            protocol_max: pmax,
            protocol_cur: pcur,
            delegate_min: dmin,
            delegate_max: dmax,
            delegate_cur: dcur,
        }
    }
}

/// Nomad's `ServerMembersResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MembersResponse {
    pub server_name: String,
    pub server_region: String,
    #[serde(rename = "ServerDC")]
    pub server_dc: String,
    pub members: Vec<MemberWire>,
}

#[derive(Debug, Serialize)]
struct JoinResult {
    num_joined: usize,
    error: String,
}

#[derive(Debug, Serialize)]
struct HealthAgent {
    ok: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
}

#[derive(Debug, Default, Serialize)]
struct HealthResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<HealthAgent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<HealthAgent>,
}

fn gossip_error(e: gossip::GossipError) -> ApiError {
    ApiError::coded(500, e.to_string())
}

/// `GET /v1/agent/members`: every gossip member this server knows, with its status.
pub async fn members(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    r.read()?;
    // Nomad's Status.Members checks node read.
    authorize(&r, Requirement::NodeRead)?;
    let server = r.state.server();
    let members = server.gossip().members().await.map_err(gossip_error)?;
    let settings = server.settings();
    let body = MembersResponse {
        server_name: settings.name.clone(),
        server_region: settings.region.clone(),
        server_dc: settings.datacenter.clone(),
        members: members.iter().map(MemberWire::from).collect(),
    };
    Ok(respond::ok_json(&body, r.pretty))
}

/// `PUT|POST /v1/agent/join?address=...`: joins the gossip pool through each address.
pub async fn join(r: Req<'_>) -> Reply {
    if r.http.method() != Method::PUT && r.http.method() != Method::POST {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    // Nomad's AgentJoinRequest checks no capability.
    let addrs: Vec<String> = r.query.all("address").into_iter().map(str::to_string).collect();
    if addrs.is_empty() {
        return Err(ApiError::bad_request("missing address to join"));
    }
    let out = r.state.server().gossip().join(&addrs).await;
    Ok(respond::ok_json(&JoinResult { num_joined: out.num_joined, error: out.error }, r.pretty))
}

/// `PUT|POST /v1/agent/force-leave?node=...[&prune=true]`: a failed member becomes `left`.
pub async fn force_leave(r: Req<'_>) -> Reply {
    if r.http.method() != Method::PUT && r.http.method() != Method::POST {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    authorize(&r, Requirement::AgentWrite)?;
    let node = r.query.get("node").unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(ApiError::bad_request("missing node to force leave"));
    }
    let prune = match r.query.get("prune").unwrap_or_default() {
        "" => false,
        s => go::parse_bool(s).ok_or_else(|| ApiError::bad_request("invalid prune value"))?,
    };
    r.state.server().gossip().force_leave(&node, prune).await.map_err(gossip_error)?;
    Ok(HttpResponse::Ok().finish())
}

/// Nomad's `KeyringResponse`: each server's message, each key with how many servers have it
/// installed, and how many servers were asked.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyringResponse {
    messages: BTreeMap<String, String>,
    keys: BTreeMap<String, usize>,
    num_nodes: usize,
}

/// `/v1/agent/keyring/list|install|use|remove` (Nomad's `KeyringOperationRequest`): lists or
/// changes the gossip keyring of every alive server, with `{"Key": "<base64>"}` for a change.
/// Like Nomad, any method; `agent:write` for every operation, the listing included. A server
/// that failed or did not answer makes it a 500 with serf's `<n>/<m> nodes reported failure`.
pub async fn keyring(r: Req<'_>, body: &[u8]) -> Reply {
    authorize(&r, Requirement::AgentWrite)?;
    let op = r.http.path().trim_start_matches("/v1/agent/keyring/");
    let keyring = r.state.server().keyring();
    let answer: KeyResponse = match op {
        "list" => keyring.send(r.call(ListKeys)).await??,
        "install" => keyring.send(r.call(InstallKey { key: key_of(body)? })).await??,
        "use" => keyring.send(r.call(UseKey { key: key_of(body)? })).await??,
        "remove" => keyring.send(r.call(RemoveKey { key: key_of(body)? })).await??,
        _ => return Err(ApiError::coded(404, "resource not found")),
    };
    if let Some(failure) = answer.failure() {
        return Err(ApiError::coded(500, failure));
    }
    let body = KeyringResponse { messages: answer.messages, keys: answer.keys, num_nodes: answer.num_nodes };
    Ok(respond::ok_json(&body, r.pretty))
}

/// A `KeyringRequest` body decoded as [`keyring`] decodes it. For the fuzz targets.
#[doc(hidden)]
pub fn fuzz_keyring_body(body: &[u8]) -> Result<Vec<u8>, String> {
    key_of(body).map_err(|e| e.to_string())
}

/// The key of a `KeyringRequest` body: a 400 with Go's decoding text when the body is not
/// one, a 500 with Go's base64 text when the key is not base64 (serf decodes it, Nomad answers
/// its error as is). Any length passes here: each server refuses a key of the wrong size.
fn key_of(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let value = first_value(body).map_err(ApiError::bad_request)?;
    let key = match &value {
        Value::Object(map) => match go_field(map, "Key") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "json: cannot unmarshal {} into Go struct field KeyringRequest.Key of type string",
                    kind(other)
                )))
            }
        },
        Value::Null => String::new(),
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type structs.KeyringRequest",
                kind(other)
            )))
        }
    };
    go::base64::std_decode(&key).map_err(|e| ApiError::coded(500, e))
}

/// `GET /v1/agent/snapshot-schedule` (raftwarden's own; Nomad Enterprise's snapshot agent has
/// no API): this server's `snapshot { }` schedule and what its last rounds did, as the
/// schedule writes them to `<path>/agent-status.json`. Only the leader saves; every server
/// reports its own file. `{"Enabled": false}` without a schedule; `Status` is `null` before
/// the first round.
pub async fn snapshot_schedule(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    authorize(&r, Requirement::AgentRead)?;
    let Some(schedule) = r.state.snapshot_schedule().cloned() else {
        return Ok(respond::ok_json(&serde_json::json!({ "Enabled": false }), r.pretty));
    };
    // The file the schedule writes after every round (the snapshot agent's STATUS_FILE).
    let file = schedule.path.join("agent-status.json");
    let read =
        actix_web::web::block(move || std::fs::read(&file)).await.map_err(|e| ApiError::coded(500, e.to_string()))?;
    let status = match read {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ApiError::coded(500, format!("failed to read the schedule's status: {e}"))),
    };
    let body = serde_json::json!({
        "Enabled": true,
        "Interval": crate::go::duration::format(i64::try_from(schedule.interval.as_nanos()).unwrap_or(i64::MAX)),
        "Retain": schedule.retain,
        "Path": schedule.path.display().to_string(),
        "Status": status,
    });
    Ok(respond::ok_json(&body, r.pretty))
}

/// `GET /v1/agent/self`: this agent's configuration, gossip member and stats.
pub async fn agent_self(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    authorize(&r, Requirement::AgentRead)?;
    let server = r.state.server();
    let members = server.gossip().members().await.map_err(gossip_error)?;
    let local = server.gossip().local();
    let me = members.iter().find(|m| m.identity.name == local.name);
    let leader = server.membership().send(GetLeader).await?;
    let is_leader = leader.as_ref().is_some_and(|l| l.id == server.identity().id);
    let count = |s: gossip::MemberStatus| members.iter().filter(|m| m.status == s).count().to_string();
    let encrypted = server.gossip().keyring().await.map_err(gossip_error)?.is_enabled();
    let stats = serde_json::json!({
        "nomad": {
            "server": "true",
            "leader": is_leader.to_string(),
            "leader_addr": leader.map(|l| l.rpc_addr).unwrap_or_default(),
            "bootstrap": (server.settings().bootstrap_expect == 1).to_string(),
            "known_regions": "1",
        },
        "serf": {
            "members": members.len().to_string(),
            "failed": count(gossip::MemberStatus::Failed),
            "left": count(gossip::MemberStatus::Left),
            "health_score": "0",
            "encrypted": encrypted.to_string(),
        },
        "raft": raft_stats(&server.raft_stats()),
        "runtime": {
            "arch": std::env::consts::ARCH,
            "kernel.name": std::env::consts::OS,
            "cpu_count": std::thread::available_parallelism().map_or(1, |n| n.get()).to_string(),
            "version": format!("rust{}", option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("")),
        },
    });
    let body = serde_json::json!({
        "config": r.state.agent_config().cloned().unwrap_or(Value::Null),
        "member": me.map(MemberWire::from),
        "stats": stats,
    });
    Ok(respond::ok_json(&body, r.pretty))
}

/// hashicorp/raft's `Stats()` map, every value a string, as Nomad puts it under
/// `stats.raft` (`latest_configuration` is Go's `%+v` of the servers; `last_contact` is `0` on
/// the leader, else Go's duration text).
pub fn raft_stats(s: &raftwarden_actors::raft::stats::RaftStats) -> BTreeMap<&'static str, String> {
    let configuration: Vec<String> = s
        .latest_configuration
        .iter()
        .map(|c| {
            let suffrage = if c.voter { "Voter" } else { "Nonvoter" };
            format!("{{Suffrage:{suffrage} ID:{} Address:{}}}", c.id, c.address)
        })
        .collect();
    let last_contact = match s.last_contact {
        None => "0".to_string(),
        Some(d) => go::duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
    };
    BTreeMap::from([
        ("applied_index", s.applied_index.to_string()),
        ("commit_index", s.commit_index.to_string()),
        ("fsm_pending", "0".to_string()),
        ("last_contact", last_contact),
        ("last_log_index", s.last_log_index.to_string()),
        ("last_log_term", s.last_log_term.to_string()),
        ("last_snapshot_index", s.last_snapshot_index.to_string()),
        ("last_snapshot_term", s.last_snapshot_term.to_string()),
        ("latest_configuration", format!("[{}]", configuration.join(" "))),
        ("latest_configuration_index", s.latest_configuration_index.to_string()),
        ("num_peers", s.num_peers().to_string()),
        ("protocol_version", "3".to_string()),
        ("protocol_version_max", "3".to_string()),
        ("protocol_version_min", "0".to_string()),
        ("snapshot_version_max", "1".to_string()),
        ("snapshot_version_min", "0".to_string()),
        ("state", s.role.as_str().to_string()),
        ("term", s.term.to_string()),
    ])
}

/// `GET /v1/agent/health[?type=server]`: 200 `{"server":{"ok":true,"message":"ok"}}` while a
/// leader is known; Nomad's 500 with the same JSON as text otherwise.
pub async fn health(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, INVALID_METHOD));
    }
    r.read()?;
    let mut health = HealthResponse::default();
    let mut get_server = true;
    if r.query.has("type") {
        get_server = false;
        for t in r.query.all("type") {
            match t {
                "client" => {
                    health.client = Some(HealthAgent { ok: false, message: "client not enabled".into() });
                }
                "server" => get_server = true,
                _ => {}
            }
        }
    }
    if get_server {
        let leader = r.state.server().membership().send(GetLeader).await;
        health.server = Some(match leader {
            Ok(Some(_)) => HealthAgent { ok: true, message: "ok".into() },
            Ok(None) => HealthAgent { ok: false, message: "no leader".into() },
            Err(e) => HealthAgent { ok: false, message: e.to_string() },
        });
    }
    let ok = health.client.as_ref().is_none_or(|c| c.ok) && health.server.as_ref().is_none_or(|s| s.ok);
    if ok {
        return Ok(respond::ok_json(&health, r.pretty));
    }
    let text = String::from_utf8_lossy(&respond::encode(&health, false)).into_owned();
    Err(ApiError::coded(500, text))
}
