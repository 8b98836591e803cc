//! The one place that shapes responses: JSON encoding (compact or Nomad's 4-space pretty),
//! text/plain errors, the `X-Nomad-*` metadata headers, and the mapping of every error to
//! Nomad's status code and text.

use crate::go::quote as go_quote;
use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use actix_web::HttpResponseBuilder;
use actix_web::ResponseError;
use raftwarden_actors::state::VarInvalid;
use raftwarden_actors::OpError;
use raftwarden_actors::PeerRef;
use serde::Serialize;

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";

/// Encodes `v` as Nomad does: compact without a trailing newline, or pretty with a 4-space
/// indent and a trailing newline.
pub fn encode<T: Serialize>(v: &T, pretty: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let result = if pretty {
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        v.serialize(&mut ser)
    } else {
        serde_json::to_writer(&mut out, v)
    };
    if result.is_err() {
        // Our wire types are plain structs; failing here would be a bug, answered as JSON null.
        out = b"null".to_vec();
    }
    if pretty {
        out.push(b'\n');
    }
    out
}

pub fn json<T: Serialize>(status: StatusCode, v: &T, pretty: bool) -> HttpResponse {
    HttpResponse::build(status).insert_header((CONTENT_TYPE, JSON)).body(encode(v, pretty))
}

pub fn ok_json<T: Serialize>(v: &T, pretty: bool) -> HttpResponse {
    json(StatusCode::OK, v, pretty)
}

/// A type with its own `MarshalJSON` in Nomad: its bytes are written verbatim, so it stays
/// compact even with `?pretty` (which still adds the trailing newline).
pub fn ok_json_marshaler<T: Serialize>(v: &T, pretty: bool) -> HttpResponse {
    let mut body = encode(v, false);
    if pretty {
        body.push(b'\n');
    }
    HttpResponse::Ok().insert_header((CONTENT_TYPE, JSON)).body(body)
}

/// A coded error from the HTTP layer: its status and its text as text/plain.
pub fn error(status: u16, text: impl Into<String>) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).insert_header((CONTENT_TYPE, TEXT)).body(text.into())
}

/// An error with no body and no Content-Type (Nomad's handlers that only write a status).
pub fn bare(status: u16) -> HttpResponse {
    HttpResponseBuilder::new(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).finish()
}

/// Nomad's status code and text for an operation's error. Nomad's RPC layer keeps a coded
/// error's code across forwarding and prefixes a plain (500) error with `rpc error: ` for each
/// hop; the suffix rules of its HTTP layer (`Permission denied` is still a 403 after any number
/// of prefixes) are applied last, in [`op_error`].
pub fn op_status_text(e: &OpError) -> (u16, String) {
    let peer = |p: &PeerRef| match p {
        PeerRef::Id(id) => format!("id {} was not found in the Raft configuration", go_quote(id)),
        PeerRef::Address(a) => format!("address {} was not found in the Raft configuration", go_quote(a)),
    };
    match e {
        OpError::NoLeader => (500, "No cluster leader".into()),
        OpError::NoLeaderForTransfer => (503, "No cluster leader".into()),
        OpError::NotLeader => (500, "not the leader".into()),
        OpError::NotInitialized(table) => (500, format!("{table} config not initialized yet")),
        OpError::PeerNotFound(p) => (500, peer(p)),
        OpError::TransferTargetNotFound(p) => (400, peer(p)),
        OpError::TransferToNonVoter => (400, "cannot transfer leadership to a non-voter".into()),
        OpError::TransferTimedOut => (500, "timed out waiting for leadership transfer".into()),
        OpError::InvalidServerId(id) => (400, format!("invalid server id {}", go_quote(id))),
        // Nomad's validation errors are plain errors: 500 with their text (Go `%q` for a path).
        OpError::InvalidVariable(VarInvalid::InvalidPath(path)) => (500, format!("invalid path {}", go_quote(path))),
        OpError::InvalidVariable(invalid) => (500, invalid.to_string()),
        OpError::AclDisabled
        | OpError::BadListing(_)
        | OpError::AclBootstrapDone(_)
        | OpError::AclBadResetIndex { .. }
        | OpError::AclInvalid(_) => (400, e.to_string()),
        OpError::PermissionDenied | OpError::TokenNotFound | OpError::TokenExpired => (403, e.to_string()),
        // A refused license is the request's fault, and nothing changed.
        OpError::InvalidLicense(invalid) => (400, invalid.to_string()),
        OpError::Forwarded(inner) => match op_status_text(inner) {
            (500, text) => (500, format!("rpc error: {text}")),
            coded => coded,
        },
        // Raft, storage, RPC and internal failures are plain errors with their own text.
        other => (500, other.to_string()),
    }
}

/// Nomad's response for an operation's error: its code and text, with the suffix rules that
/// survive forwarding (`rpc error: ...Permission denied` is still a 403).
pub fn op_error(e: &OpError) -> HttpResponse {
    let (status, text) = op_status_text(e);
    if status == 500 {
        for (suffix, code) in [
            ("Permission denied", 403),
            ("ACL token not found", 403),
            ("Job registration, dispatch, and scale are disabled by the scheduler configuration", 403),
            ("Filter expression cannot be used with other filter parameters", 400),
        ] {
            if text.ends_with(suffix) {
                return error(code, suffix);
            }
        }
    }
    error(status, text)
}

/// Every way a request can fail, as a handler returns it; [`ResponseError`] turns it into
/// Nomad's response (actix-web calls it for a handler's `Err`).
#[derive(Debug)]
pub enum ApiError {
    /// An error the HTTP layer decided itself: status and text/plain body.
    Coded(u16, String),
    /// A status without a body or Content-Type (Nomad handlers that only write a status).
    Bare(u16),
    /// An operation failed.
    Op(OpError),
}

impl ApiError {
    pub fn coded(status: u16, text: impl Into<String>) -> Self {
        ApiError::Coded(status, text.into())
    }

    /// A 400 with this text: the request itself is wrong.
    pub fn bad_request(text: impl Into<String>) -> Self {
        ApiError::Coded(400, text.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Coded(status, text) => write!(f, "{status}: {text}"),
            ApiError::Bare(status) => write!(f, "{status}"),
            ApiError::Op(e) => write!(f, "{e}"),
        }
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        ApiError::Op(e)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Op(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let status = match self {
            ApiError::Coded(s, _) | ApiError::Bare(s) => *s,
            ApiError::Op(e) => op_status_text(e).0,
        };
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Coded(status, text) => error(*status, text.clone()),
            ApiError::Bare(status) => bare(*status),
            ApiError::Op(e) => op_error(e),
        }
    }
}

/// `X-Nomad-Index`, `X-Nomad-LastContact`, `X-Nomad-KnownLeader` (Nomad's `setMeta`).
pub fn set_meta(resp: &mut HttpResponse, index: u64, last_contact_ms: u64, known_leader: bool) {
    set_index(resp, index);
    let h = resp.headers_mut();
    h.insert(HeaderName::from_static("x-nomad-lastcontact"), HeaderValue::from(last_contact_ms));
    h.insert(
        HeaderName::from_static("x-nomad-knownleader"),
        HeaderValue::from_static(if known_leader { "true" } else { "false" }),
    );
}

pub fn set_index(resp: &mut HttpResponse, index: u64) {
    resp.headers_mut().insert(HeaderName::from_static("x-nomad-index"), HeaderValue::from(index));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct S {
        #[serde(rename = "A")]
        a: u32,
        #[serde(rename = "B")]
        b: Vec<u32>,
    }

    #[test]
    fn pretty_is_four_spaces_with_newline() {
        let s = S { a: 1, b: vec![2] };
        assert_eq!(encode(&s, false), br#"{"A":1,"B":[2]}"#);
        assert_eq!(
            String::from_utf8(encode(&s, true)).unwrap(),
            "{\n    \"A\": 1,\n    \"B\": [\n        2\n    ]\n}\n"
        );
    }

    fn status(e: OpError) -> u16 {
        op_error(&e).status().as_u16()
    }

    #[test]
    fn forwarded_errors_keep_codes_and_gain_the_rpc_prefix() {
        let fwd = |e: OpError| e.forwarded();
        assert_eq!(op_status_text(&fwd(OpError::InvalidServerId("x".into()))), (400, "invalid server id \"x\"".into()));
        assert_eq!(op_status_text(&fwd(OpError::NoLeaderForTransfer)), (503, "No cluster leader".into()));
        assert_eq!(
            op_status_text(&fwd(OpError::PeerNotFound(PeerRef::Id("a".into())))),
            (500, "rpc error: id \"a\" was not found in the Raft configuration".into())
        );
        assert_eq!(
            op_status_text(&fwd(OpError::TransferTargetNotFound(PeerRef::Address("1.2.3.4:5".into())))),
            (400, "address \"1.2.3.4:5\" was not found in the Raft configuration".into())
        );
        assert_eq!(op_status_text(&fwd(fwd(OpError::NoLeader))), (500, "rpc error: No cluster leader".into()));
        assert_eq!(status(OpError::NoLeader), 500);
        let r = op_error(&OpError::TransferToNonVoter);
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.headers().get(CONTENT_TYPE).unwrap(), TEXT);
    }

    #[test]
    fn permission_suffixes_are_403_forwarded_or_not() {
        // Spec §10 item 106: a token that is not found is a 403 too, forwarded or not.
        assert_eq!(status(OpError::Raft("ACL token not found".into())), 403);
        assert_eq!(status(OpError::Raft("ACL token not found".into()).forwarded()), 403);
        assert_eq!(status(OpError::Rpc("Permission denied".into()).forwarded()), 403);
        assert_eq!(status(OpError::Raft("rpc error: Permission denied".into())), 403);
    }
}
