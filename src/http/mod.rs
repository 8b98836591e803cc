//! The HTTP layer: the public API (the [`SCOPES`]: operator, status, variables, ACL, agent,
//! metrics) and the internal server-to-server RPC.
//!
//! ```text
//! request ─> dispatch (Nomad's mux rules: prefix and exact routes, 301/307/404 fallthrough)
//!          ─> handler(request::Req): method check, query/token parsing, body decoding (400/404/405)
//!          ─> typed message to an actor Addr ─> reply ─> respond (one error mapping)
//! ```
//!
//! Routing is done by hand in [`dispatch`] rather than by actix's router because Nomad's Go
//! mux has prefix routes and per-route method errors that a test compares byte for byte.

pub mod acl;
pub mod agent;
pub mod auth;
pub mod decode;
pub mod license;
pub mod listen;
pub mod metrics;
pub mod operator;
pub mod query;
pub mod request;
pub mod respond;
pub mod rpc;
pub mod snapshot;
pub mod variables;
pub mod wire;

use std::collections::BTreeMap;
use std::net::TcpListener;

use actix_web::http::Method;
use actix_web::middleware;
use actix_web::web;
use actix_web::App;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use futures_util::StreamExt;

pub use self::request::ApiState;
use self::request::Reply;
use self::request::Req;
pub use self::request::SnapshotSchedule;
use self::respond::ApiError;

/// Largest request body accepted on the public API; config bodies are a few hundred bytes.
pub const MAX_BODY: usize = 1 << 20;

/// The path prefixes the public API answers under. Everything else belongs to the host.
pub const SCOPES: [&str; 7] =
    ["/v1/operator", "/v1/status", "/v1/var", "/v1/vars", "/v1/acl", "/v1/agent", "/v1/metrics"];

/// Mounts the public API (`/v1/operator/*`, `/v1/status/*`, `/v1/var/*`, `/v1/vars`, `/v1/acl/*`,
/// `/v1/agent/*`, `/v1/metrics`) into an
/// actix-web app, next to the host's own routes: only those scopes are claimed, the app's default service and `/` are
/// left alone.
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let data = web::Data::new(state);
        for scope in SCOPES {
            // Nomad's mux routes by hand (prefix routes, per-route method errors); each scope
            // hands every request under it to the same dispatcher.
            cfg.service(web::scope(scope).app_data(data.clone()).default_service(web::to(dispatch)));
        }
    }
}

/// The body as the handlers read it: the bytes, shaped by how the body ended so that each
/// handler's JSON decode fails as Nomad's does ([`decode::go_body`]).
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    let mut end = decode::BodyEnd::Complete;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            // The client closed before sending all of its Content-Length (or chunks).
            Err(actix_web::error::PayloadError::Incomplete(_)) => {
                end = decode::BodyEnd::Truncated;
                break;
            }
            Err(e) => return Err(ApiError::bad_request(format!("failed to read stream: {e}"))),
        };
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::coded(413, format!("Request body too large (limit {MAX_BODY} bytes)")));
        }
        body.extend_from_slice(&chunk);
    }
    if end == decode::BodyEnd::Complete && req.headers().contains_key(actix_web::http::header::TRANSFER_ENCODING) {
        end = decode::BodyEnd::Chunked;
    }
    Ok(decode::go_body(body, end))
}

async fn dispatch(req: HttpRequest, payload: web::Payload, state: web::Data<ApiState>) -> Reply {
    let path = req.path().to_string();
    if path == "/v1/operator/snapshot" {
        // An archive to restore has no size limit: it streams to disk, never into memory.
        return snapshot::snapshot(Req::new(&req, &state), payload).await;
    }
    let needs_body = matches!(*req.method(), Method::PUT | Method::POST);
    let body = if needs_body { read_body(&req, payload).await? } else { Vec::new() };
    let r = Req::new(&req, &state);
    if let Some(rest) = path.strip_prefix("/v1/operator/raft/") {
        return if rest.starts_with("configuration") {
            operator::raft_configuration(r).await
        } else if rest.starts_with("peer") {
            operator::raft_peer(r).await
        } else if rest.starts_with("transfer-leadership") {
            operator::transfer_leadership(r).await
        } else {
            Err(ApiError::coded(404, "Invalid method"))
        };
    }
    if path.starts_with("/v1/acl/") {
        return acl::dispatch(r, &body).await;
    }
    if path.starts_with("/v1/var/") {
        return variables::specific(r, &body).await;
    }
    if path.starts_with("/v1/agent/keyring/") {
        return agent::keyring(r, &body).await;
    }
    match path.as_str() {
        "/v1/var" => Ok(redirect(301, &format!("/v1/var/{}", query_suffix(&req)))),
        "/v1/vars" => variables::list(r).await,
        "/v1/operator/raft" => Ok(redirect(301, &format!("/v1/operator/raft/{}", query_suffix(&req)))),
        "/v1/operator/autopilot/configuration" => operator::autopilot_configuration(r, &body).await,
        "/v1/operator/autopilot/health" => operator::autopilot_health(r).await,
        "/v1/operator/scheduler/configuration" => operator::scheduler_configuration(r, &body).await,
        "/v1/operator/license" => license::license(r, &body).await,
        "/v1/operator/utilization" => operator::utilization(&req),
        "/v1/status/leader" => operator::status_leader(r).await,
        "/v1/status/peers" => operator::status_peers(r).await,
        "/v1/agent/members" => agent::members(r).await,
        "/v1/agent/join" => agent::join(r).await,
        "/v1/agent/force-leave" => agent::force_leave(r).await,
        "/v1/agent/self" => agent::agent_self(r).await,
        "/v1/agent/health" => agent::health(r).await,
        "/v1/agent/snapshot-schedule" => agent::snapshot_schedule(r).await,
        "/v1/metrics" => metrics::metrics(r).await,
        _ => Ok(HttpResponse::NotFound().finish()),
    }
}

fn query_suffix(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => String::new(),
        q => format!("?{q}"),
    }
}

fn redirect(status: u16, location: &str) -> HttpResponse {
    let mut resp = respond::bare(status);
    if let Ok(v) = location.parse() {
        resp.headers_mut().insert(actix_web::http::header::LOCATION, v);
    }
    resp
}

/// What Nomad's own server answers outside its API routes: `/` redirects to `/ui/` (keeping
/// the query), `/ui/` serves the web UI ([`crate::ui`]) or, with `ui { enabled = false }`,
/// Nomad's stub page, and anything else is a bare 404.
async fn fallthrough(req: HttpRequest, state: Option<web::Data<ApiState>>) -> HttpResponse {
    match req.path() {
        "/" => redirect(307, &format!("/ui/{}", query_suffix(&req))),
        p if p.starts_with("/ui/") => {
            if state.is_none_or(|s| s.ui_enabled()) {
                crate::ui::serve(&req)
            } else {
                HttpResponse::Ok()
                    .insert_header((actix_web::http::header::CONTENT_TYPE, "text/html; charset=utf-8"))
                    .body(UI_DISABLED_PAGE)
            }
        }
        "/ui" => redirect(301, &format!("/ui/{}", query_suffix(&req))),
        _ => HttpResponse::NotFound().finish(),
    }
}

/// Nomad's `stubHTML` (`command/agent/http.go`), served for every `/ui/` path when the agent
/// config says `ui { enabled = false }`.
const UI_DISABLED_PAGE: &str = "<html><p>Nomad UI is disabled</p></html>";

/// On shutdown, requests in flight get this long to finish: a forwarded request waits at most
/// the 5 s hold for a leader.
const API_SHUTDOWN_GRACE: u64 = 5;

/// Starts the public API server on `listener` with `workers` threads, Nomad's default
/// connection limits and no TLS; [`serve_api_on`] takes a configured [`listen::Listen`].
pub fn serve_api(
    listener: TcpListener,
    state: ApiState,
    headers: BTreeMap<String, String>,
    workers: usize,
) -> std::io::Result<listen::Running> {
    serve_api_on(listen::Listen::new("HTTP", listener, workers), state, headers)
}

/// Starts the public API server on `listen` (gzip when asked, configured extra headers, every
/// request counted and timed per route); a client over its connection limit hears Nomad's 429.
pub fn serve_api_on(
    listen: listen::Listen,
    state: ApiState,
    headers: BTreeMap<String, String>,
) -> std::io::Result<listen::Running> {
    let metrics_data = web::Data::new(state.server().metrics().clone());
    let ui_state = web::Data::new(state.clone());
    let listen = listen.refusal(listen::Refusal::TooManyRequests).shutdown_grace(API_SHUTDOWN_GRACE);
    listen::serve(listen, move || {
        let mut default_headers = middleware::DefaultHeaders::new();
        for (k, v) in &headers {
            default_headers = default_headers.add((k.as_str(), v.as_str()));
        }
        App::new()
            .app_data(metrics_data.clone())
            .app_data(ui_state.clone())
            .wrap(middleware::Compress::default())
            .wrap(default_headers)
            .wrap(middleware::from_fn(metrics::track))
            .configure(configure(state.clone()))
            .default_service(web::to(fallthrough))
    })
}
