//! The internal RPC server on the rpc port: raft traffic and the calls servers make to each
//! other (forwarded operations, joins, leadership transfer). HTTP under `/v1/internal/`, the
//! bodies postcard or JSON as the actors crate's `wire::Codec` says; never part of the public
//! API. What each path means is the actors crate's business (`Server::handle_rpc`, paths in
//! `wire::paths`); this module only carries bytes.

use std::net::TcpListener;

use actix_web::dev::Server as HttpServerHandle;
use actix_web::web;
use actix_web::App;
use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::HttpServer;
use raftwarden_actors::wire::paths;
use raftwarden_actors::RpcError;
use raftwarden_actors::Server;

use super::respond;

/// Snapshot chunks travel whole (openraft's default chunk is 3 MiB); allow them generously.
const MAX_RPC_BODY: usize = 256 << 20;

/// The prefix every internal path shares.
pub const PREFIX: &str = "/v1/internal";

async fn call(req: HttpRequest, body: web::Bytes, server: web::Data<Server>) -> HttpResponse {
    match server.handle_rpc(req.path(), &body).await {
        Ok(reply) => HttpResponse::Ok().content_type(reply.content_type).body(reply.body),
        Err(e @ RpcError::UnknownPath(_)) => respond::error(404, e.to_string()),
        Err(e) => respond::error(400, e.to_string()),
    }
}

/// An internal path relative to [`PREFIX`], as the scope mounts it.
fn in_scope(path: &'static str) -> &'static str {
    path.strip_prefix(PREFIX).unwrap_or(path)
}

/// The leader's archive for a follower that forwarded a save; an error is JSON like any call.
async fn snapshot_save(server: web::Data<Server>) -> HttpResponse {
    match server.save_snapshot_here().await {
        Ok(saved) => super::snapshot::archive_response(saved),
        Err(e) => HttpResponse::InternalServerError()
            .content_type(respond::JSON)
            .body(serde_json::to_vec(&Err::<(), _>(e)).unwrap_or_default()),
    }
}

/// An archive a follower forwarded: spooled to disk, then restored here (this server leads).
async fn snapshot_restore(server: web::Data<Server>, payload: web::Payload) -> HttpResponse {
    let result = match super::snapshot::spool(&server, payload).await {
        Ok(archive) => server.restore_snapshot_here(archive).await,
        Err(e) => Err(raftwarden_actors::OpError::Rpc(e.to_string())),
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

/// Starts the RPC server on `listener`.
pub fn serve_rpc(listener: TcpListener, server: Server, workers: usize) -> std::io::Result<HttpServerHandle> {
    let http = HttpServer::new(move || App::new().configure(configure(server.clone())))
        .workers(workers)
        .tcp_nodelay(true)
        .disable_signals()
        .shutdown_timeout(RPC_SHUTDOWN_GRACE)
        .listen(listener)?
        .run();
    Ok(http)
}
