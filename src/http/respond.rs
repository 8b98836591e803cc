//! The one place that shapes responses: JSON encoding (compact or Nomad's 4-space pretty),
//! text/plain errors, the `X-Nomad-*` metadata headers, and the mapping of every error to
//! Nomad's status code and text.

use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use actix_web::HttpResponseBuilder;
use raftwarden_actors::error::OpError;
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

/// Nomad's mapping of an RPC error: its code if coded, else 500, except the suffix rules that
/// survive forwarding (`rpc error: ...Permission denied` is still a 403).
pub fn op_error(e: &OpError) -> HttpResponse {
    let text = e.to_string();
    let status = e.status();
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

    #[test]
    fn forwarded_permission_denied_is_403() {
        let r = op_error(&OpError::Forwarded("Permission denied".into()));
        assert_eq!(r.status().as_u16(), 403);
        let r = op_error(&OpError::coded(404, "not found"));
        assert_eq!(r.status().as_u16(), 404);
        let r = op_error(&OpError::coded(422, "bad"));
        assert_eq!(r.status().as_u16(), 422);
        assert_eq!(r.headers().get(CONTENT_TYPE).unwrap(), TEXT);
        assert_eq!(op_error(&OpError::NoLeader).status().as_u16(), 500);
        // Spec §10 item 106: a token that is not found is a 403 too, forwarded or not.
        assert_eq!(op_error(&OpError::Plain("ACL token not found".into())).status().as_u16(), 403);
        assert_eq!(op_error(&OpError::Forwarded("ACL token not found".into())).status().as_u16(), 403);
        assert_eq!(op_error(&OpError::Plain("rpc error: Permission denied".into())).status().as_u16(), 403);
    }
}
