//! The internal RPC server on the rpc port: raft traffic and the calls servers make to each
//! other (forwarded operations, joins, leadership transfer). HTTP under `/v1/internal/`, the
//! bodies postcard or JSON as the actors crate's `wire::Codec` says; never part of the public
//! API. What each path means, and who may call it, is the actors crate's business
//! (`Server::handle_rpc`, paths in `wire::paths`); this module carries bytes, the caller's
//! token (`wire::CALLER_HEADER`) and what it knows of the connection (`Peer`: plain TCP
//! proves nothing, so `Peer::Unverified`).
//!
//! The same port takes raft frames (`wire::frames`: appends and votes, without HTTP): the
//! listener tells them by their first byte, and [`frames`] answers each request with the same
//! `Server::handle_rpc`, under the same `Peer` rule for the connection.

use std::net::TcpListener;

use actix_web::web;
use actix_web::App;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use raftwarden_actors::wire::frames;
use raftwarden_actors::wire::paths;
use raftwarden_actors::wire::CALLER_HEADER;
use raftwarden_actors::OpError;
use raftwarden_actors::Peer;
use raftwarden_actors::RpcError;
use raftwarden_actors::Server;

use super::listen::FrameHandler;
use super::listen::Listen;
use super::listen::PeerCertificates;
use super::listen::Refusal;
use super::listen::Running;
use super::respond;
use crate::tls::Tls;

/// Snapshot chunks travel whole (openraft's default chunk is 3 MiB); allow them generously.
const MAX_RPC_BODY: usize = 256 << 20;

/// The prefix every internal path shares.
pub const PREFIX: &str = "/v1/internal";

/// The secret of the caller a forwarded operation runs for (empty: anonymous).
fn caller_token(req: &HttpRequest) -> &str {
    req.headers().get(CALLER_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// What the connection proves about the caller. A client certificate is on the connection only
/// after the RPC port's TLS config verified it against `ca_file` (the listener's
/// [`PeerCertificates`]); it proves a server when it names `server.<region>.nomad` under
/// `verify_server_hostname`, or at all without it (Nomad's raft check is off then too). Plain
/// TCP, as without TLS or in `rpc_upgrade_mode`, proves nothing.
fn peer_of(tls: Option<&Tls>, certs: Option<&PeerCertificates>) -> Peer {
    match (tls, certs.and_then(PeerCertificates::end_entity)) {
        (Some(tls), Some(cert)) if tls.is_server(cert) => Peer::Server,
        _ => Peer::Unverified,
    }
}

fn peer(req: &HttpRequest) -> Peer {
    let tls = req.app_data::<web::Data<Tls>>();
    peer_of(tls.map(|t| &***t), req.conn_data::<PeerCertificates>())
}

/// Serves a connection of raft frames: each request as [`call`] answers it over HTTP.
fn frames(server: Server, tls: Option<Tls>) -> FrameHandler {
    std::sync::Arc::new(move |io, certs, stop| {
        let peer = peer_of(tls.as_ref(), certs.as_ref());
        let server = server.clone();
        Box::pin(async move {
            let answer = |req: frames::Request| {
                let server = server.clone();
                async move { server.handle_rpc(peer, &req.path, &req.token, &req.body).await }
            };
            if let Err(e) = frames::serve(io, stop, answer).await {
                tracing::debug!(error = %e, "raft frames connection ended");
            }
        })
    })
}

async fn call(req: HttpRequest, body: web::Bytes, server: web::Data<Server>) -> HttpResponse {
    match server.handle_rpc(peer(&req), req.path(), caller_token(&req), &body).await {
        Ok(reply) => HttpResponse::Ok().content_type(reply.content_type).body(reply.body),
        Err(e @ RpcError::UnknownPath(_)) => respond::error(404, e.to_string()),
        Err(e @ RpcError::NotAServer(_)) => respond::error(403, e.to_string()),
        Err(e) => respond::error(400, e.to_string()),
    }
}

/// An operation's error as a snapshot path answers it: JSON like any call.
fn json_error(status: actix_web::http::StatusCode, e: OpError) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(respond::JSON)
        .body(serde_json::to_vec(&Err::<(), _>(e)).unwrap_or_default())
}

/// An internal path relative to [`PREFIX`], as the scope mounts it.
fn in_scope(path: &'static str) -> &'static str {
    path.strip_prefix(PREFIX).unwrap_or(path)
}

/// The leader's archive for a follower that forwarded its client's save; an error is JSON
/// like any call.
async fn snapshot_save(req: HttpRequest, server: web::Data<Server>) -> HttpResponse {
    match server.save_snapshot_here(caller_token(&req)).await {
        Ok(saved) => super::snapshot::archive_response(saved),
        Err(e) => json_error(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// An archive a follower forwarded for its client: the caller is checked before the upload is
/// spooled to disk, then the archive is restored here (this server leads).
async fn snapshot_restore(req: HttpRequest, server: web::Data<Server>, payload: web::Payload) -> HttpResponse {
    let token = caller_token(&req);
    let caller = raftwarden_actors::Caller::token(token);
    if let Err(e) = server.authorize(&caller, &raftwarden_actors::snapshot::RESTORE) {
        return json_error(actix_web::http::StatusCode::OK, e);
    }
    let result = match super::snapshot::spool(&server, payload).await {
        Ok(archive) => server.restore_snapshot_here(token, archive).await,
        Err(e) => Err(OpError::Rpc(e.to_string())),
    };
    HttpResponse::Ok().content_type(respond::JSON).body(serde_json::to_vec(&result).unwrap_or_default())
}

/// Mounts the internal RPC routes (`/v1/internal/*`, POST) into an actix-web app: a host can
/// serve them on its own server or on a separate port. Other servers reach this one at its
/// advertised RPC address, so whatever listener serves these routes must be that address.
pub fn configure(server: Server) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(
            web::scope(PREFIX)
                .app_data(web::Data::new(server))
                .app_data(web::PayloadConfig::new(MAX_RPC_BODY))
                // The snapshot paths carry raw archive bytes rather than JSON.
                .route(in_scope(paths::SNAPSHOT_SAVE), web::post().to(snapshot_save))
                .route(in_scope(paths::SNAPSHOT_RESTORE), web::post().to(snapshot_restore))
                .default_service(web::to(call)),
        );
    }
}

/// On shutdown, internal calls in flight get this long: raft retries anything cut off, so
/// waiting longer only delays the stop.
const RPC_SHUTDOWN_GRACE: u64 = 2;

/// Starts the RPC server on `listener` with `workers` threads, Nomad's default connection
/// limits and no TLS; [`serve_rpc_on`] takes a configured [`Listen`].
pub fn serve_rpc(listener: TcpListener, server: Server, workers: usize) -> std::io::Result<Running> {
    serve_rpc_on(Listen::new("RPC", listener, workers), server, None)
}

/// Starts the RPC server on `listen`; a client over its connection limit is closed without an
/// answer, as Nomad's RPC listener does. `tls` (the agent's certificates, when
/// `tls { rpc = true }`; `listen` then serves [`Tls::rpc_server`]) decides which client
/// certificates prove a server ([`Peer::Server`]).
pub fn serve_rpc_on(listen: Listen, server: Server, tls: Option<Tls>) -> std::io::Result<Running> {
    let listen =
        listen.refusal(Refusal::Close).shutdown_grace(RPC_SHUTDOWN_GRACE).frames(frames(server.clone(), tls.clone()));
    let tls = tls.map(web::Data::new);
    super::listen::serve(listen, move || {
        let app = App::new();
        let app = match &tls {
            Some(tls) => app.app_data(tls.clone()),
            None => app,
        };
        app.configure(configure(server.clone()))
    })
}
