//! Handlers of the `/v1/operator/*` and `/v1/status/*` routes. Each turns one HTTP request into
//! one typed actor message with the request's caller (the server that runs it checks what it
//! requires: a management token for raft, `operator` read or write for the rest) and the reply
//! into Nomad's response.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use raftwarden_actors::autopilot::GetHealth;
use raftwarden_actors::config_store::GetAutopilotConfig;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::config_store::SetAutopilotConfig;
use raftwarden_actors::config_store::SetSchedulerConfig;
use raftwarden_actors::membership::GetLeader;
use raftwarden_actors::membership::GetRaftConfiguration;
use raftwarden_actors::membership::RemovePeer;
use raftwarden_actors::membership::TransferLeadership;
use raftwarden_actors::state::SchedulerAlgorithm;
use raftwarden_actors::Call;
use raftwarden_actors::Caller;
use raftwarden_actors::PeerRef;

use super::decode;
use super::query::Query;
use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;
use super::wire;
use crate::go::check_addr_port;
use crate::go::check_uuid;

pub async fn raft_configuration(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::Bare(405));
    }
    let opts = r.read()?;
    let conf = r.state.server().membership().send(r.call(GetRaftConfiguration { stale: opts.stale })).await??;
    Ok(respond::ok_json(&wire::RaftConfigurationResponse::from(conf), r.pretty))
}

pub async fn raft_peer(r: Req<'_>) -> Reply {
    if r.http.method() != Method::DELETE {
        return Err(ApiError::coded(404, "Invalid method"));
    }
    if r.query.has("address") {
        return Err(ApiError::bad_request(
            "Removing a peer by address is not supported in the current raft protocol version",
        ));
    }
    let Some(id) = r.query.get("id").map(str::to_string) else {
        return Err(ApiError::bad_request("Must specify the peer's ID to remove"));
    };
    r.write()?;
    r.state.server().membership().send(r.call(RemovePeer { id })).await??;
    Ok(HttpResponse::Ok().finish())
}

pub async fn transfer_leadership(r: Req<'_>) -> Reply {
    if r.http.method() != Method::PUT && r.http.method() != Method::POST {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    let target = transfer_target(&r.query).map_err(ApiError::bad_request)?;
    r.write()?;
    let t = r.state.server().membership().send(r.call(TransferLeadership { target })).await??;
    Ok(respond::ok_json(&wire::TransferResponse::from(t), r.pretty))
}

/// Query validation of transfer-leadership, in Nomad's order.
pub fn transfer_target(q: &Query) -> Result<PeerRef, String> {
    let ids = q.all("id");
    let addrs = q.all("address");
    match (ids.is_empty(), addrs.is_empty()) {
        (true, true) => return Err("must specify id or address".into()),
        (false, false) => return Err("must specify either id or address".into()),
        _ => {}
    }
    if let Some(id) = ids.first() {
        if id.is_empty() {
            return Err("id must be non-empty".into());
        }
        if ids.len() > 1 {
            return Err("must specify only one id".into());
        }
        check_uuid(id).map_err(|e| format!("id must be a uuid: {e}"))?;
        return Ok(PeerRef::Id(id.to_string()));
    }
    let addr = addrs[0];
    if addr.is_empty() {
        return Err("address must be non-empty".into());
    }
    if addrs.len() > 1 {
        return Err("must specify only one address".into());
    }
    check_addr_port(addr).map_err(|e| format!("address must be in IP:port format: {e}"))?;
    Ok(PeerRef::Address(addr.to_string()))
}

pub async fn autopilot_configuration(r: Req<'_>, body: &[u8]) -> Reply {
    let store = r.state.server().config_store();
    match *r.http.method() {
        Method::GET => {
            let opts = r.read()?;
            let fetched = store.send(r.call(GetAutopilotConfig { stale: opts.stale })).await??;
            Ok(respond::ok_json_marshaler(&wire::AutopilotConfiguration::from(&fetched.row), r.pretty))
        }
        Method::PUT => {
            let config = decode::autopilot(body)
                .map_err(|e| ApiError::bad_request(format!("Error parsing autopilot config: {e}")))?;
            let cas = r.cas()?;
            r.write()?;
            let applied = store.send(r.call(SetAutopilotConfig { config, cas })).await??;
            Ok(respond::ok_json(&(cas.is_none() || applied.updated), r.pretty))
        }
        _ => Err(ApiError::coded(404, "Invalid method")),
    }
}

pub async fn autopilot_health(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(404, "Invalid method"));
    }
    // `stale` is parsed (and can fail) but ignored: health is always answered by the leader.
    r.read()?;
    let health = r.state.server().autopilot().send(r.call(GetHealth)).await??;
    let reply = wire::OperatorHealthReply::new(&health).map_err(|e| ApiError::coded(500, e.to_string()))?;
    if health.healthy {
        return Ok(respond::ok_json(&reply, r.pretty));
    }
    // Nomad writes the 429 before its JSON content type, so Go sniffs the body as text/plain.
    let mut resp = respond::json(StatusCode::TOO_MANY_REQUESTS, &reply, r.pretty);
    resp.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static(respond::TEXT),
    );
    Ok(resp)
}

pub async fn scheduler_configuration(r: Req<'_>, body: &[u8]) -> Reply {
    let store = r.state.server().config_store();
    match *r.http.method() {
        Method::GET => {
            let opts = r.read()?;
            let fetched = store.send(r.call(GetSchedulerConfig { stale: opts.stale })).await??;
            let index = fetched.row.modify_index;
            let body = wire::SchedulerConfigurationResponse {
                scheduler_config: wire::SchedulerConfiguration::from(&fetched.row),
                index,
                last_contact: (fetched.last_contact_ms as i64).saturating_mul(1_000_000),
                known_leader: fetched.known_leader,
                next_token: "",
            };
            let mut resp = respond::ok_json(&body, r.pretty);
            respond::set_meta(&mut resp, index, fetched.last_contact_ms, fetched.known_leader);
            Ok(resp)
        }
        Method::PUT | Method::POST => {
            let (config, algorithm) = decode::scheduler(body)
                .map_err(|e| ApiError::bad_request(format!("Error parsing scheduler config: {e}")))?;
            if SchedulerAlgorithm::parse(&algorithm).is_none() {
                return Err(ApiError::bad_request(format!("invalid scheduler algorithm: {algorithm}")));
            }
            let cas = r.cas()?;
            r.write()?;
            let applied = store.send(r.call(SetSchedulerConfig { config, cas })).await??;
            let body = wire::SchedulerSetConfigurationResponse { updated: applied.updated, index: applied.index };
            let mut resp = respond::ok_json(&body, r.pretty);
            respond::set_index(&mut resp, applied.index);
            Ok(resp)
        }
        _ => Err(ApiError::coded(405, "Invalid method")),
    }
}

pub fn utilization(r: &HttpRequest) -> Reply {
    match *r.method() {
        Method::POST => Err(ApiError::coded(501, "Nomad Enterprise only endpoint")),
        _ => Err(ApiError::coded(405, "Invalid method")),
    }
}

/// `GET /v1/status/leader`: the leader's RPC address as this server knows it, `""` if none.
pub async fn status_leader(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    r.read()?;
    let leader = r.state.server().membership().send(GetLeader).await?;
    Ok(respond::ok_json(&leader.map(|n| n.rpc_addr).unwrap_or_default(), r.pretty))
}

/// `GET /v1/status/peers`: RPC addresses of the voters in this server's raft configuration.
pub async fn status_peers(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    r.read()?;
    // Open by design, as Nomad's: the server reads its own view of the configuration on its own
    // authority and shows only the voters' addresses.
    let local = Call::new(Caller::Trusted, GetRaftConfiguration { stale: true });
    let conf = r.state.server().membership().send(local).await??;
    let peers: Vec<String> = conf.servers.into_iter().filter(|s| s.voter).map(|s| s.address).collect();
    Ok(respond::ok_json(&peers, r.pretty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(qs: &str) -> Result<PeerRef, String> {
        transfer_target(&Query::parse(qs))
    }

    #[test]
    fn transfer_validation_order() {
        assert_eq!(target("").unwrap_err(), "must specify id or address");
        assert_eq!(target("id=foo&address=bar").unwrap_err(), "must specify either id or address");
        assert_eq!(target("id=foo&id=bar").unwrap_err(), "must specify only one id");
        assert_eq!(target("address=foo&address=bar").unwrap_err(), "must specify only one address");
        assert_eq!(target("id").unwrap_err(), "id must be non-empty");
        assert_eq!(target("address").unwrap_err(), "address must be non-empty");
        assert!(target("id=foo").unwrap_err().starts_with("id must be a uuid"));
        assert!(target("address=bar").unwrap_err().starts_with("address must be in IP:port format"));
        assert!(target("address=1.2.3.4:x").unwrap_err().starts_with("address must be in IP:port format"));
        assert!(matches!(target("id=6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11"), Ok(PeerRef::Id(_))));
        assert!(matches!(target("address=9.9.9.9:8000"), Ok(PeerRef::Address(_))));
        assert!(matches!(target("address=[::1]:8000"), Ok(PeerRef::Address(_))));
    }
}
