//! Handlers of Nomad's variables API (`command/agent/variable_endpoint.go`): `/v1/var/<path>`
//! (GET, PUT/POST, DELETE) and `/v1/vars` (list). Each turns one request into one typed message
//! with the request's caller to the variables actor, which checks the path's capability where
//! the operation runs; a check-and-set conflict is a 409 whose body is the current variable.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use actix_web::ResponseError;
use raftwarden_actors::state::variables::DEFAULT_NAMESPACE;
use raftwarden_actors::state::VarOutcome;
use raftwarden_actors::state::Variable;
use raftwarden_actors::state::VariableMetadata;
use raftwarden_actors::variables::DeleteVariable;
use raftwarden_actors::variables::GetVariable;
use raftwarden_actors::variables::ListVariables;
use raftwarden_actors::variables::PutVariable;
use serde::Serialize;
use serde_json::Value;

use super::decode::first_value;
use super::decode::go_field;
use super::decode::kind;
use super::query::percent_decode;
use super::query::ReadOptions;
use super::query::Unescape;
use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;
use crate::go;

/// Nomad's `VariableDecrypted` on the wire: metadata fields in Go declaration order, then
/// `Items`. Both `Lock` and `Items` are `json:",omitempty"` in Nomad (`nomad/structs/
/// variables.go`): locks are not implemented here, so `Lock` is never written, and `Items` is
/// left out when empty (the zero-value variable of a conflict with nothing stored).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariableWire<'a> {
    namespace: &'a str,
    path: &'a str,
    create_index: u64,
    create_time: i64,
    modify_index: u64,
    modify_time: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    items: &'a BTreeMap<String, String>,
}

impl<'a> VariableWire<'a> {
    fn new(v: &'a Variable) -> Self {
        Self {
            namespace: &v.namespace,
            path: &v.path,
            create_index: v.create_index,
            create_time: v.create_time,
            modify_index: v.modify_index,
            modify_time: v.modify_time,
            items: &v.items,
        }
    }
}

/// Nomad's `VariableMetadata`: a list entry (no `Lock`, as above).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariableMetadataWire<'a> {
    namespace: &'a str,
    path: &'a str,
    create_index: u64,
    create_time: i64,
    modify_index: u64,
    modify_time: i64,
}

impl<'a> From<&'a VariableMetadata> for VariableMetadataWire<'a> {
    fn from(m: &'a VariableMetadata) -> Self {
        Self {
            namespace: &m.namespace,
            path: &m.path,
            create_index: m.create_index,
            create_time: m.create_time,
            modify_index: m.modify_index,
            modify_time: m.modify_time,
        }
    }
}

/// The request's namespace (`?namespace=`, default `default`), as Nomad's `parseNamespace`.
fn namespace(r: &Req<'_>) -> String {
    match r.query.get("namespace") {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        _ => DEFAULT_NAMESPACE.to_string(),
    }
}

/// The variables endpoint's `?cas=`: set and non-empty turns CAS on (Nomad's `parseCAS` there,
/// which differs from the operator endpoints' in text and in ignoring an empty value).
pub fn parse_cas(value: Option<&str>) -> Result<Option<u64>, String> {
    let v = match value {
        None | Some("") => return Ok(None),
        Some(v) => v,
    };
    let err = |why: &str| format!("can not parse cas: strconv.ParseUint: parsing {}: {why}", go::quote(v));
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    v.parse::<u64>().map(Some).map_err(|_| err("value out of range"))
}

/// Go's `URL.Path` is the decoded path; actix hands over the raw one.
fn decode_path(raw: &str) -> String {
    // The lossy mode keeps a bad escape as it is, so it never answers `None`.
    percent_decode(raw, Unescape::PathLossy).unwrap_or_default()
}

/// The body of a set: Nomad's `VariableDecrypted` decoded by Go's `encoding/json` (first value,
/// case-insensitive keys, unknown keys ignored). Only `Namespace` and `Items` matter: the path
/// comes from the URL and indexes and times from the server.
pub fn decode_variable(body: &[u8]) -> Result<(String, BTreeMap<String, String>), String> {
    let value = first_value(body)?;
    let map = match &value {
        Value::Null => return Ok((String::new(), BTreeMap::new())),
        Value::Object(map) => map,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type structs.VariableDecrypted",
                kind(other)
            ))
        }
    };
    let field = |name: &str| go_field(map, name);
    let namespace = match field("Namespace") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(type_error(other, "Namespace", "string")),
    };
    let mut items = BTreeMap::new();
    match field("Items") {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            for (k, v) in entries {
                match v {
                    Value::String(s) => {
                        items.insert(k.clone(), s.clone());
                    }
                    // Go leaves a null map value as the zero string.
                    Value::Null => {
                        items.insert(k.clone(), String::new());
                    }
                    other => return Err(type_error(other, &format!("Items.{k}"), "string")),
                }
            }
        }
        Some(other) => return Err(type_error(other, "Items", "structs.VariableItems")),
    }
    Ok((namespace, items))
}

fn type_error(v: &Value, field: &str, go_type: &str) -> String {
    format!("json: cannot unmarshal {} into Go struct field VariableDecrypted.{field} of type {go_type}", kind(v))
}

fn set_next_token(resp: &mut HttpResponse, token: &str) {
    if token.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(token) {
        resp.headers_mut().insert(HeaderName::from_static("x-nomad-nexttoken"), v);
    }
}

/// Nomad's `MaxBlockingRPCQueryTime` and `DefaultBlockingRPCQueryTime` (`nomad/structs/
/// structs.go`): a blocking query waits at most this long, and this long when `?wait=` is
/// absent or not positive.
const MAX_BLOCKING: Duration = Duration::from_secs(300);

/// Nomad's `JitterFraction`: up to wait/16 is added to a blocking query's wait.
const JITTER_FRACTION: u32 = 16;

/// A blocking query (`?index=&wait=`), as Nomad's `blockingRPC` (`nomad/rpc.go`) runs it: read;
/// while the answer's index is not past `index`, wait for the next change this server applies
/// (a watch of its state machine, not a poll) and read again, until the wait (capped at
/// [`MAX_BLOCKING`], plus jitter) is over. Without `index` (or `index=0`) a read never waits.
struct Blocking {
    min_index: u64,
    deadline: tokio::time::Instant,
    changes: tokio::sync::watch::Receiver<u64>,
}

impl Blocking {
    /// Marks the current state seen, so a change applied after this and missed by the first
    /// read wakes the wait. On a follower the leader answers the reads; the leader's change
    /// reaches this server after the leader applied it, so it still wakes the wait.
    fn new(r: &Req<'_>, opts: &ReadOptions) -> Option<Self> {
        let min_index = opts.index.filter(|&i| i > 0)?;
        let wait = max_query_time(opts.wait_ns);
        let deadline = tokio::time::Instant::now() + wait + jitter(wait / JITTER_FRACTION);
        Some(Self { min_index, deadline, changes: r.state.server().applied_changes() })
    }

    /// Whether to read again: the last answer's index is not past `index` and a change was
    /// applied before the deadline. False once the wait is over or the server is stopping.
    async fn again(&mut self, index: u64) -> bool {
        if index > self.min_index {
            return false;
        }
        matches!(tokio::time::timeout_at(self.deadline, self.changes.changed()).await, Ok(Ok(())))
    }
}

/// `?wait=` as Nomad's `blockingRPC` bounds it: at most [`MAX_BLOCKING`], and that when absent
/// or not positive.
fn max_query_time(wait_ns: Option<i64>) -> Duration {
    match wait_ns {
        Some(ns) if ns > 0 => Duration::from_nanos(ns.unsigned_abs()).min(MAX_BLOCKING),
        _ => MAX_BLOCKING,
    }
}

/// Nomad's `helper.RandomStagger`: a random duration below `max`.
fn jitter(max: Duration) -> Duration {
    use std::hash::BuildHasher;
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    Duration::from_nanos(random % nanos)
}

/// `GET /v1/vars`: metadata of the variables under `?prefix=` that pass `?filter=`, paged;
/// a blocking query with `?index=`.
pub async fn list(r: Req<'_>) -> Reply {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    let opts = r.read()?;
    let per_page = r.query.get("per_page").and_then(|p| p.parse::<i32>().ok()).unwrap_or(0);
    let msg = ListVariables {
        namespace: namespace(&r),
        prefix: r.query.get("prefix").unwrap_or("").to_string(),
        per_page,
        next_token: r.query.get("next_token").unwrap_or("").to_string(),
        stale: opts.stale,
        filter: r.query.get("filter").unwrap_or("").to_string(),
    };
    let mut blocking = Blocking::new(&r, &opts);
    // The page holds only what passes the filter and the caller may list, selected where it
    // was read.
    let page = loop {
        let page = r.state.server().variables().send(r.call(msg.clone())).await??;
        if let Some(b) = blocking.as_mut() {
            if b.again(page.index).await {
                continue;
            }
        }
        break page;
    };
    let body: Vec<VariableMetadataWire<'_>> = page.variables.iter().map(VariableMetadataWire::from).collect();
    let mut resp = respond::ok_json(&body, r.pretty);
    respond::set_meta(&mut resp, page.index, page.last_contact_ms, page.known_leader);
    set_next_token(&mut resp, &page.next_token);
    Ok(resp)
}

/// `/v1/var/<path>`: read, set or delete one variable.
pub async fn specific(r: Req<'_>, body: &[u8]) -> Reply {
    let raw = r.http.path().strip_prefix("/v1/var/").unwrap_or("");
    let path = decode_path(raw);
    if path.is_empty() {
        return Err(ApiError::bad_request("missing variable path"));
    }
    match *r.http.method() {
        Method::GET => read(r, path).await,
        Method::PUT | Method::POST => with_error_index(upsert(r, path, body).await),
        Method::DELETE => with_error_index(delete(r, path).await),
        _ => Err(ApiError::bad_request("Invalid method")),
    }
}

/// Nomad sets `X-Nomad-Index` (0) before it writes an apply's error.
fn with_error_index(reply: Reply) -> Reply {
    reply.or_else(|e| {
        let mut resp = e.error_response();
        respond::set_index(&mut resp, 0);
        Ok(resp)
    })
}

async fn read(r: Req<'_>, path: String) -> Reply {
    let opts = r.read()?;
    let msg = GetVariable { namespace: namespace(&r), path, stale: opts.stale };
    let mut blocking = Blocking::new(&r, &opts);
    let got = loop {
        let got = r.state.server().variables().send(r.call(msg.clone())).await??;
        if let Some(b) = blocking.as_mut() {
            if b.again(got.index).await {
                continue;
            }
        }
        break got;
    };
    let mut resp = match &got.variable {
        Some(v) => respond::ok_json(&VariableWire::new(v), r.pretty),
        None => respond::error(404, "variable not found"),
    };
    respond::set_meta(&mut resp, got.index, got.last_contact_ms, got.known_leader);
    Ok(resp)
}

/// The answer to a write: the variable written (200), nothing (204 for a delete), or the
/// conflicting variable (409, `X-Nomad-Index` its `ModifyIndex`).
fn write_reply(r: &Req<'_>, outcome: &VarOutcome, index: u64) -> Reply {
    let (mut resp, index) = match outcome {
        VarOutcome::Written(v) => (respond::ok_json(&VariableWire::new(v), r.pretty), index),
        VarOutcome::Deleted => (HttpResponse::NoContent().finish(), index),
        VarOutcome::Conflict(v) => {
            // Nomad writes the 409 status before its JSON wrapper sets the Content-Type, so Go
            // sniffs the JSON body as text/plain (`command/agent/variable_endpoint.go`).
            let body = respond::encode(&VariableWire::new(v), r.pretty);
            let resp =
                HttpResponse::build(StatusCode::CONFLICT).insert_header((CONTENT_TYPE, respond::TEXT)).body(body);
            (resp, v.modify_index)
        }
        VarOutcome::Invalid(e) => return Err(ApiError::Op(raftwarden_actors::OpError::InvalidVariable(e.clone()))),
    };
    respond::set_index(&mut resp, index);
    Ok(resp)
}

async fn upsert(r: Req<'_>, path: String, body: &[u8]) -> Reply {
    let (body_namespace, items) = decode_variable(body).map_err(ApiError::bad_request)?;
    if items.is_empty() {
        return Err(ApiError::bad_request("variable missing required Items object"));
    }
    r.write()?;
    let cas = parse_cas(r.query.get("cas")).map_err(ApiError::bad_request)?;
    let namespace = if body_namespace.is_empty() { namespace(&r) } else { body_namespace };
    let var = Variable { namespace, path, items, ..Variable::default() };
    let written = r.state.server().variables().send(r.call(PutVariable { var, cas })).await??;
    write_reply(&r, &written.outcome, written.index)
}

async fn delete(r: Req<'_>, path: String) -> Reply {
    r.write()?;
    let cas = parse_cas(r.query.get("cas")).map_err(ApiError::bad_request)?;
    let msg = DeleteVariable { namespace: namespace(&r), path, cas };
    let deleted = r.state.server().variables().send(r.call(msg)).await??;
    write_reply(&r, &deleted.outcome, deleted.index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_texts() {
        assert_eq!(parse_cas(None), Ok(None));
        assert_eq!(parse_cas(Some("")), Ok(None));
        assert_eq!(parse_cas(Some("0")), Ok(Some(0)));
        assert_eq!(
            parse_cas(Some("x")).unwrap_err(),
            "can not parse cas: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_cas(Some("99999999999999999999")).unwrap_err(),
            "can not parse cas: strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
        );
    }

    #[test]
    fn bodies_decode_like_go() {
        let (ns, items) = decode_variable(br#"{"namespace":"x","ITEMS":{"a":"1","b":null}} trailing"#).unwrap();
        assert_eq!(ns, "x");
        assert_eq!(items, BTreeMap::from([("a".into(), "1".into()), ("b".into(), String::new())]));
        assert_eq!(decode_variable(b"null").unwrap(), (String::new(), BTreeMap::new()));
        assert_eq!(decode_variable(b"").unwrap_err(), "Request body is empty");
        assert_eq!(
            decode_variable(br#"{"Items":{"a":1}}"#).unwrap_err(),
            "json: cannot unmarshal number into Go struct field VariableDecrypted.Items.a of type string"
        );
    }

    #[test]
    fn blocking_wait_is_capped_as_nomads() {
        assert_eq!(max_query_time(None), Duration::from_secs(300));
        assert_eq!(max_query_time(Some(0)), Duration::from_secs(300));
        assert_eq!(max_query_time(Some(-5)), Duration::from_secs(300));
        assert_eq!(max_query_time(Some(1_500_000_000)), Duration::from_millis(1500));
        assert_eq!(max_query_time(Some(600_000_000_000)), Duration::from_secs(300));
        for _ in 0..20 {
            assert!(jitter(Duration::from_secs(16)) < Duration::from_secs(16));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn paths_are_decoded() {
        assert_eq!(decode_path("a%20b/c"), "a b/c");
        assert_eq!(decode_path("a%2"), "a%2");
        assert_eq!(decode_path("plain/path"), "plain/path");
    }

    #[test]
    fn wire_field_order_is_nomads() {
        let v = Variable {
            namespace: "default".into(),
            path: "a".into(),
            items: BTreeMap::from([("k".into(), "v".into())]),
            create_index: 1,
            create_time: 2,
            modify_index: 3,
            modify_time: 4,
        };
        assert_eq!(
            String::from_utf8(respond::encode(&VariableWire::new(&v), false)).unwrap(),
            r#"{"Namespace":"default","Path":"a","CreateIndex":1,"CreateTime":2,"ModifyIndex":3,"ModifyTime":4,"Items":{"k":"v"}}"#
        );
        let zero = Variable { namespace: "default".into(), path: "a".into(), ..Variable::default() };
        assert_eq!(
            String::from_utf8(respond::encode(&VariableWire::new(&zero), false)).unwrap(),
            r#"{"Namespace":"default","Path":"a","CreateIndex":0,"CreateTime":0,"ModifyIndex":0,"ModifyTime":0}"#
        );
    }
}
