//! Handlers of `/v1/acl/*` (Nomad's `command/agent/acl_endpoint.go`): bootstrap, policies,
//! tokens, token self. The permission rules of `nomad/acl_endpoint.go` are the ACL actor's,
//! decided where each operation runs with the request's caller.

use actix_web::http::Method;
use actix_web::HttpResponse;
use base64::Engine;
use raftwarden_actors::acl::Bootstrap;
use raftwarden_actors::acl::DeletePolicies;
use raftwarden_actors::acl::DeleteTokens;
use raftwarden_actors::acl::GetPolicy;
use raftwarden_actors::acl::GetToken;
use raftwarden_actors::acl::ListPolicies;
use raftwarden_actors::acl::ListTokens;
use raftwarden_actors::acl::TokenSelf;
use raftwarden_actors::acl::UpsertPolicies;
use raftwarden_actors::acl::UpsertTokens;
use raftwarden_actors::authz::policy;
use raftwarden_actors::rfc3339::format_nanos;
use raftwarden_actors::rfc3339::parse_nanos;
use raftwarden_actors::state::acl::ANONYMOUS_POLICY;
use raftwarden_actors::state::AclPolicy;
use raftwarden_actors::state::AclToken;
use raftwarden_actors::OpError;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;

use super::query::percent_decode;
use super::query::Unescape;
use super::request::Reply;
use super::request::Req;
use super::respond;
use super::respond::ApiError;
use crate::go;

/// `/v1/acl/...` below the scope: routes one request.
pub async fn dispatch(r: Req<'_>, body: &[u8]) -> Reply {
    // Go's `URL.Path` is decoded: `bad%20name` names the policy `bad name`.
    let path = percent_decode(r.http.path(), Unescape::PathLossy).unwrap_or_default();
    if !r.state.server().settings().acl.enabled && path != "/v1/acl/bootstrap" {
        // Nomad checks the method first for the list routes, then answers every ACL RPC with
        // this when ACLs are off.
        if (path == "/v1/acl/policies" || path == "/v1/acl/tokens") && r.http.method() != Method::GET {
            return Err(ApiError::coded(405, "Invalid method"));
        }
        return Err(OpError::AclDisabled.into());
    }
    match path.as_str() {
        "/v1/acl/bootstrap" => bootstrap(r, body).await,
        "/v1/acl/policies" => list_policies(r).await,
        "/v1/acl/tokens" => list_tokens(r).await,
        "/v1/acl/token" => match *r.http.method() {
            Method::PUT | Method::POST => upsert_token(r, body, "").await,
            _ => Err(ApiError::coded(405, "Invalid method")),
        },
        "/v1/acl/token/self" => token_self(r).await,
        p => {
            if let Some(name) = p.strip_prefix("/v1/acl/policy/") {
                if name.is_empty() {
                    return Err(ApiError::bad_request("Missing Policy Name"));
                }
                let name = name.to_string();
                return match *r.http.method() {
                    Method::GET => get_policy(r, &name).await,
                    Method::PUT | Method::POST => upsert_policy(r, body, &name).await,
                    Method::DELETE => delete_policy(r, &name).await,
                    _ => Err(ApiError::coded(405, "Invalid method")),
                };
            }
            if let Some(accessor) = p.strip_prefix("/v1/acl/token/") {
                if accessor.is_empty() {
                    return Err(ApiError::bad_request("Missing Token Accessor"));
                }
                let accessor = accessor.to_string();
                return match *r.http.method() {
                    Method::GET => get_token(r, &accessor).await,
                    Method::PUT | Method::POST => upsert_token(r, body, &accessor).await,
                    Method::DELETE => delete_token(r, &accessor).await,
                    _ => Err(ApiError::coded(405, "Invalid method")),
                };
            }
            Ok(HttpResponse::NotFound().finish())
        }
    }
}

/// A token's policies as Go marshals its `[]string`: `null` when there are none.
fn policies_of(t: &AclToken) -> Option<Vec<String>> {
    (!t.policies.is_empty()).then(|| t.policies.clone())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Nomad's `ACLToken` JSON (its `MarshalJSON` puts `ExpirationTTL` first, as a duration text).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenWire {
    #[serde(rename = "ExpirationTTL")]
    expiration_ttl: String,
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    #[serde(rename = "SecretID")]
    secret_id: String,
    name: String,
    #[serde(rename = "Type")]
    token_type: String,
    /// `null` when the token has none (bootstrap and management tokens: Go's nil slice).
    policies: Option<Vec<String>>,
    roles: Option<Vec<Value>>,
    global: bool,
    hash: String,
    create_time: String,
    expiration_time: Option<String>,
    create_index: u64,
    modify_index: u64,
}

impl TokenWire {
    pub fn new(t: &AclToken) -> Self {
        Self {
            expiration_ttl: if t.expiration_ttl == 0 { String::new() } else { go::duration::format(t.expiration_ttl) },
            accessor_id: t.accessor_id.clone(),
            secret_id: t.secret_id.clone(),
            name: t.name.clone(),
            token_type: t.token_type.clone(),
            policies: policies_of(t),
            roles: None,
            global: t.global,
            hash: b64(&t.hash),
            create_time: format_nanos(t.create_time),
            expiration_time: t.expiration_time.map(format_nanos),
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }
}

/// Nomad's `ACLTokenListStub`: no secret.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TokenStub {
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    name: String,
    #[serde(rename = "Type")]
    token_type: String,
    /// `null` when the token has none (bootstrap and management tokens: Go's nil slice).
    policies: Option<Vec<String>>,
    roles: Option<Vec<Value>>,
    global: bool,
    hash: String,
    create_time: String,
    /// Always present (`null` when unset): Nomad's `ACLTokenListStub` has no `omitempty`.
    expiration_time: Option<String>,
    create_index: u64,
    modify_index: u64,
}

impl TokenStub {
    fn new(t: &AclToken) -> Self {
        Self {
            accessor_id: t.accessor_id.clone(),
            name: t.name.clone(),
            token_type: t.token_type.clone(),
            policies: policies_of(t),
            roles: None,
            global: t.global,
            hash: b64(&t.hash),
            create_time: format_nanos(t.create_time),
            expiration_time: t.expiration_time.map(format_nanos),
            create_index: t.create_index,
            modify_index: t.modify_index,
        }
    }
}

/// Nomad's `ACLPolicy` JSON.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyWire {
    name: String,
    description: String,
    rules: String,
    #[serde(rename = "RulesJSON")]
    rules_json: Option<Value>,
    #[serde(rename = "JobACL")]
    job_acl: Option<Value>,
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// Nomad's `ACLPolicyListStub`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyStub {
    name: String,
    description: String,
    #[serde(rename = "JobACL")]
    job_acl: Option<Value>,
    hash: String,
    create_index: u64,
    modify_index: u64,
}

/// What a client sends for a token (unknown fields ignored, as Go's decoder does).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct TokenBody {
    #[serde(rename = "AccessorID")]
    accessor_id: String,
    #[serde(rename = "SecretID")]
    secret_id: String,
    name: String,
    #[serde(rename = "Type")]
    token_type: String,
    policies: Option<Vec<String>>,
    global: bool,
    expiration_time: Option<String>,
    #[serde(rename = "ExpirationTTL")]
    expiration_ttl: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PolicyBody {
    name: String,
    description: String,
    rules: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct BootstrapBody {
    bootstrap_secret: String,
}

fn decode<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Request body is empty"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn method_read(r: &Req<'_>) -> Result<bool, ApiError> {
    if r.http.method() != Method::GET {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    Ok(r.read()?.stale)
}

async fn bootstrap(r: Req<'_>, body: &[u8]) -> Reply {
    if r.http.method() != Method::PUT && r.http.method() != Method::POST {
        return Err(ApiError::coded(405, "Invalid method"));
    }
    let secret = if body.is_empty() {
        None
    } else {
        let b: BootstrapBody = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode request body: {e}")))?;
        Some(b.bootstrap_secret)
    };
    r.write()?;
    let written = r.state.server().acl().send(r.call(Bootstrap { secret })).await??;
    let mut resp = match written.tokens.first() {
        Some(t) => respond::ok_json_marshaler(&TokenWire::new(t), r.pretty),
        None => respond::ok_json(&Value::Null, r.pretty),
    };
    respond::set_index(&mut resp, written.index);
    Ok(resp)
}

async fn list_policies(r: Req<'_>) -> Reply {
    let stale = method_read(&r)?;
    let prefix = r.query.get("prefix").unwrap_or("").to_string();
    // The list holds only the policies the caller may see, filtered where it was read.
    let list = r.state.server().acl().send(r.call(ListPolicies { prefix, stale })).await??;
    let stubs: Vec<PolicyStub> = list
        .value
        .iter()
        .map(|p| PolicyStub {
            name: p.name.clone(),
            description: p.description.clone(),
            job_acl: None,
            hash: b64(&p.hash),
            create_index: p.create_index,
            modify_index: p.modify_index,
        })
        .collect();
    let mut resp = respond::ok_json(&stubs, r.pretty);
    respond::set_meta(&mut resp, list.index, list.last_contact_ms, list.known_leader);
    Ok(resp)
}

async fn get_policy(r: Req<'_>, name: &str) -> Reply {
    let stale = r.read()?.stale;
    let got = r.state.server().acl().send(r.call(GetPolicy { name: name.to_string(), stale })).await??;
    let Some(p) = got.value else {
        let mut resp = respond::error(404, "ACL policy not found");
        respond::set_meta(&mut resp, got.index, got.last_contact_ms, got.known_leader);
        return Ok(resp);
    };
    let body = PolicyWire {
        name: p.name.clone(),
        description: p.description.clone(),
        rules: p.rules.clone(),
        // Nomad parses the stored rules leniently on every read; they were validated strictly
        // when written, so a parse failure here cannot come from a client.
        rules_json: policy::parse(&p.rules).ok().map(|parsed| policy::rules_json(&parsed, &p.rules)),
        job_acl: None,
        hash: b64(&p.hash),
        create_index: p.create_index,
        modify_index: p.modify_index,
    };
    let mut resp = respond::ok_json(&body, r.pretty);
    respond::set_meta(&mut resp, got.index, got.last_contact_ms, got.known_leader);
    Ok(resp)
}

async fn upsert_policy(r: Req<'_>, body: &[u8], name: &str) -> Reply {
    let p: PolicyBody = decode(body)?;
    if p.name != name {
        return Err(ApiError::bad_request("ACL policy name does not match request path"));
    }
    r.write()?;
    // The leader validates it (Nomad's words) once the caller is allowed to write policies.
    let policy = AclPolicy { name: p.name, description: p.description, rules: p.rules, ..AclPolicy::default() };
    let index = r.state.server().acl().send(r.call(UpsertPolicies { policies: vec![policy] })).await??;
    let mut resp = respond::bare(200);
    respond::set_index(&mut resp, index);
    Ok(resp)
}

async fn delete_policy(r: Req<'_>, name: &str) -> Reply {
    r.write()?;
    let index = r.state.server().acl().send(r.call(DeletePolicies { names: vec![name.to_string()] })).await??;
    let mut resp = respond::bare(200);
    respond::set_index(&mut resp, index);
    Ok(resp)
}

async fn list_tokens(r: Req<'_>) -> Reply {
    let stale = method_read(&r)?;
    let prefix = r.query.get("prefix").unwrap_or("").to_string();
    let list = r.state.server().acl().send(r.call(ListTokens { prefix, stale })).await??;
    let stubs: Vec<TokenStub> = list.value.iter().map(TokenStub::new).collect();
    let mut resp = respond::ok_json(&stubs, r.pretty);
    respond::set_meta(&mut resp, list.index, list.last_contact_ms, list.known_leader);
    Ok(resp)
}

async fn get_token(r: Req<'_>, accessor: &str) -> Reply {
    let stale = r.read()?.stale;
    // Where it runs: a management token reads any token, anyone else only its own; an unknown
    // caller token is answered with the authentication error itself, as Nomad's.
    let got = r.state.server().acl().send(r.call(GetToken { accessor: accessor.to_string(), stale })).await??;
    let mut resp = match &got.value {
        Some(t) => respond::ok_json_marshaler(&TokenWire::new(t), r.pretty),
        None => respond::error(404, "ACL token not found"),
    };
    respond::set_meta(&mut resp, got.index, got.last_contact_ms, got.known_leader);
    Ok(resp)
}

/// Nomad's anonymous token, as `token/self` shows it to a caller without a token.
fn anonymous_token() -> AclToken {
    AclToken {
        accessor_id: "anonymous".into(),
        name: "Anonymous Token".into(),
        token_type: raftwarden_actors::state::acl::CLIENT.into(),
        policies: vec![ANONYMOUS_POLICY.into()],
        ..AclToken::default()
    }
}

async fn token_self(r: Req<'_>) -> Reply {
    let stale = method_read(&r)?;
    let token = r.state.server().acl().send(r.call(TokenSelf { stale })).await??.unwrap_or_else(anonymous_token);
    Ok(respond::ok_json_marshaler(&TokenWire::new(&token), r.pretty))
}

/// A TTL as a client sends it: a Go duration text or nanoseconds.
fn ttl(v: Option<&Value>) -> Result<i64, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => go::duration::parse(s).map_err(|e| ApiError::bad_request(e.to_string())),
        Some(Value::Number(n)) => Ok(n.as_f64().map_or(0, |f| f as i64)),
        Some(_) => Err(ApiError::bad_request("json: cannot unmarshal ExpirationTTL")),
    }
}

/// The token a body asks for, its times read as Nomad reads them.
fn token_of(b: TokenBody) -> Result<AclToken, ApiError> {
    let expiration_time = match b.expiration_time.as_deref() {
        None | Some("") => None,
        Some(t) => Some(parse_nanos(t).ok_or_else(|| ApiError::bad_request(format!("invalid ExpirationTime {t}")))?),
    };
    // Go's zero time (`0001-01-01T00:00:00Z`) is "no expiration".
    let expiration_time = expiration_time.filter(|t| *t > 0);
    Ok(AclToken {
        accessor_id: b.accessor_id,
        secret_id: b.secret_id,
        name: b.name,
        token_type: b.token_type,
        policies: b.policies.unwrap_or_default(),
        global: b.global,
        expiration_time,
        expiration_ttl: ttl(b.expiration_ttl.as_ref())?,
        ..AclToken::default()
    })
}

/// The ACL bodies a client sends (token upsert, policy upsert, bootstrap), decoded as their
/// handlers decode them; the error texts the client would hear. For the fuzz targets.
#[doc(hidden)]
pub fn fuzz_bodies(body: &[u8]) -> Vec<Result<(), String>> {
    let token = decode::<TokenBody>(body).and_then(token_of).map(drop);
    let policy = decode::<PolicyBody>(body).map(drop);
    let bootstrap =
        serde_json::from_slice::<BootstrapBody>(body).map(drop).map_err(|e| ApiError::bad_request(e.to_string()));
    [token, policy, bootstrap].into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
}

async fn upsert_token(r: Req<'_>, body: &[u8], accessor: &str) -> Reply {
    let b: TokenBody = decode(body)?;
    if !accessor.is_empty() && b.accessor_id != accessor {
        return Err(ApiError::bad_request("ACL token accessor does not match request path"));
    }
    r.write()?;
    let token = token_of(b)?;
    let written = r.state.server().acl().send(r.call(UpsertTokens { tokens: vec![token] })).await??;
    let mut resp = match written.tokens.first() {
        Some(t) => respond::ok_json_marshaler(&TokenWire::new(t), r.pretty),
        None => respond::ok_json(&Value::Null, r.pretty),
    };
    respond::set_index(&mut resp, written.index);
    Ok(resp)
}

async fn delete_token(r: Req<'_>, accessor: &str) -> Reply {
    r.write()?;
    let index = r.state.server().acl().send(r.call(DeleteTokens { accessors: vec![accessor.to_string()] })).await??;
    let mut resp = respond::bare(200);
    respond::set_index(&mut resp, index);
    Ok(resp)
}
