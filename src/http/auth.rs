//! Who makes a request: its token (`X-Nomad-Token` or `Authorization: Bearer`) as the
//! `Caller` every operation carries (`Req::call`) to whichever server runs it. That server (the leader, or
//! this one for a `?stale` read) resolves the token against its own replicated tables and
//! checks what the operation requires, with the pure functions of [`crate::acl`]; a follower
//! forwards the operation with the token in one trip and never resolves it first. With ACLs
//! off nothing is resolved and everything is allowed, as in Nomad.
//!
//! What runs on this server without being an actor's operation (the agent endpoints) is
//! checked here, against this server's own tables, as Nomad's agent endpoints resolve tokens
//! locally.

use raftwarden_actors::Authority;
use raftwarden_actors::Caller;
use raftwarden_actors::OpError;

use super::request::ApiState;
use super::request::Req;
use super::respond::ApiError;
use crate::acl::Requirement;

/// Requires `req` of the caller of `r` for work that runs on this server: `403 Permission
/// denied` otherwise (also for an unknown or expired token).
pub fn authorize(r: &Req<'_>, req: Requirement<'_>) -> Result<Authority, ApiError> {
    require(r.state, &r.token(), req)
}

/// For embedders and the endpoints of other areas: requires `req` of the caller whose secret is
/// `secret`, by `state`'s server's own tables, with the same answers as every handler here.
pub fn require(state: &ApiState, secret: &str, req: Requirement<'_>) -> Result<Authority, ApiError> {
    state.server().authorize(&Caller::token(secret), &req).map_err(|e| match e {
        OpError::PermissionDenied | OpError::TokenNotFound | OpError::TokenExpired => denied(),
        other => ApiError::Op(other),
    })
}

pub fn denied() -> ApiError {
    ApiError::coded(403, "Permission denied")
}
