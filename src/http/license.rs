//! `/v1/operator/license`: the installed license (GET) and installing a signed one (PUT).
//!
//! A read answers from the contacted server's own state, as Nomad's license endpoint does (it
//! is not forwarded to the leader; `?stale` is accepted and changes nothing). An install is
//! verified and applied on the leader.

use actix_web::http::Method;
use raftwarden_actors::license::document::License;
use raftwarden_actors::license::GetLicense;
use raftwarden_actors::license::PutLicense;
use serde::Serialize;

use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;

/// Nomad Enterprise's `LicenseGetResponse`: the license, whether the agent configuration's
/// license is outdated, and the query meta, in that order.
#[derive(Serialize)]
struct LicenseReply<'a> {
    #[serde(rename = "License")]
    license: &'a License,
    #[serde(rename = "ConfigOutdated")]
    config_outdated: bool,
    #[serde(rename = "Index")]
    index: u64,
    /// Go `time.Duration`: integer nanoseconds.
    #[serde(rename = "LastContact")]
    last_contact: i64,
    #[serde(rename = "KnownLeader")]
    known_leader: bool,
    #[serde(rename = "NextToken")]
    next_token: &'static str,
}

/// `PUT`'s answer: the raft index of the install.
#[derive(Serialize)]
struct LicensePutReply {
    #[serde(rename = "Index")]
    index: u64,
}

pub async fn license(r: Req<'_>, body: &[u8]) -> Reply {
    let actor = r.state.server().license();
    match *r.http.method() {
        Method::GET => {
            r.read()?;
            // This server's own license, for a caller with operator read or `license-read`.
            let read = actor.send(r.call(GetLicense)).await??;
            let reply = LicenseReply {
                license: &read.license,
                config_outdated: read.config_outdated,
                index: read.index,
                last_contact: (read.last_contact_ms as i64).saturating_mul(1_000_000),
                known_leader: read.known_leader,
                next_token: "",
            };
            let mut resp = respond::ok_json(&reply, r.pretty);
            respond::set_meta(&mut resp, read.index, read.last_contact_ms, read.known_leader);
            Ok(resp)
        }
        Method::PUT => {
            r.write()?;
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("malformed license: the body is not UTF-8 text"))?
                .to_string();
            let force = force(&r)?;
            let written = actor.send(r.call(PutLicense { text, force })).await??;
            let mut resp = respond::ok_json(&LicensePutReply { index: written.index }, r.pretty);
            respond::set_index(&mut resp, written.index);
            Ok(resp)
        }
        _ => Err(ApiError::coded(405, "Invalid method")),
    }
}

/// `?force=<bool>`, read as Nomad's `parseBool` helper does: absent or empty is false.
fn force(r: &Req<'_>) -> Result<bool, ApiError> {
    match r.query.get("force") {
        None | Some("") => Ok(false),
        Some(v) => crate::go::parse_bool(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Failed to parse value of \"force\" ({v}) as a bool: strconv.ParseBool: parsing {}: invalid syntax",
                crate::go::quote(v)
            ))
        }),
    }
}
