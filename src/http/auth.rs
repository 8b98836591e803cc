//! The authoriser: one call per handler resolves the caller's token (`X-Nomad-Token` or
//! `Authorization: Bearer`) and decides one [`Requirement`] with the pure functions of
//! [`crate::acl`].
//!
//! The token is resolved on the leader (a follower forwards the secret over internal RPC),
//! unless the request is `?stale`, so a token created a moment ago works through every
//! server; the operation itself is then sent as usual. With ACLs off nothing is resolved and
//! everything is allowed, as in Nomad.

use raftwarden_actors::acl::ResolveToken;
use raftwarden_actors::acl::Resolved;
use raftwarden_actors::OpError;

use super::request::ApiState;
use super::request::Req;
use super::respond::ApiError;
use crate::acl::Acl;
use crate::acl::Requirement;

/// Who made a request, once resolved.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `None` when ACLs are off (everything allowed).
    pub acl: Option<Acl>,
    /// The caller's token and policies (`None` when ACLs are off).
    pub resolved: Option<Resolved>,
}

impl Caller {
    /// Whether the caller may do `req`.
    pub fn allows(&self, req: &Requirement<'_>) -> bool {
        crate::acl::allows(self.acl.as_ref(), req)
    }

    pub fn is_management(&self) -> bool {
        self.acl.as_ref().is_none_or(Acl::is_management)
    }
}

/// Resolves `secret` (empty: anonymous). Errors are the resolution's own (`ACL token not
/// found`, `ACL token expired`, no leader, ...).
pub async fn resolve(state: &ApiState, secret: &str, stale: bool) -> Result<Caller, ApiError> {
    if !state.server().settings().acl.enabled {
        return Ok(Caller::default());
    }
    let msg = ResolveToken { secret: secret.to_string(), stale };
    let resolved = state.server().acl().send(msg).await??;
    let acl = if resolved.is_management() {
        Acl::management()
    } else {
        crate::acl::compile_rules(resolved.policies.iter().map(|p| p.rules.as_str()))
    };
    Ok(Caller { acl: Some(acl), resolved: Some(resolved) })
}

/// The caller of `r`, resolved. An unknown or expired token is `Permission denied`, as Nomad's
/// endpoints answer once authentication failed.
pub async fn caller(r: &Req<'_>) -> Result<Caller, ApiError> {
    let stale = r.query.has("stale");
    match resolve(r.state, &r.token(), stale).await {
        Err(ApiError::Op(OpError::TokenNotFound | OpError::TokenExpired)) => Err(denied()),
        Err(ApiError::Op(OpError::Forwarded(e))) if matches!(*e, OpError::TokenNotFound | OpError::TokenExpired) => {
            Err(denied())
        }
        other => other,
    }
}

/// Resolves the caller of `r` and requires `req`: `403 Permission denied` otherwise.
pub async fn authorize(r: &Req<'_>, req: Requirement<'_>) -> Result<Caller, ApiError> {
    if !r.state.server().settings().acl.enabled {
        return Ok(Caller::default());
    }
    let caller = caller(r).await?;
    if caller.allows(&req) {
        Ok(caller)
    } else {
        Err(denied())
    }
}

/// For embedders and the endpoints of other areas (license, agent): resolves `secret` on
/// `state`'s server and requires `req`, with the same answers as every handler here.
pub async fn require(state: &ApiState, secret: &str, stale: bool, req: Requirement<'_>) -> Result<Caller, ApiError> {
    let caller = match resolve(state, secret, stale).await {
        Err(ApiError::Op(OpError::TokenNotFound | OpError::TokenExpired)) => return Err(denied()),
        other => other?,
    };
    if caller.allows(&req) {
        Ok(caller)
    } else {
        Err(denied())
    }
}

pub fn denied() -> ApiError {
    ApiError::coded(403, "Permission denied")
}
