//! The internal RPC server on the rpc port: raft traffic and the calls servers make to each
//! other (forwarded writes and reads, joins, leadership transfer). JSON over HTTP; never
//! exposed as part of the public API.

use std::net::TcpListener;

use actix::dev::ToEnvelope;
use actix::Actor;
use actix::Handler;
use actix::Message;
use actix_web::dev::Server as HttpServerHandle;
use actix_web::web;
use actix_web::App;
use actix_web::HttpResponse;
use actix_web::HttpServer;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::VoteRequest;
use raftwarden_actors::autopilot::GetHealth;
use raftwarden_actors::error::OpError;
use raftwarden_actors::membership as m;
use raftwarden_actors::raft::network as n;
use raftwarden_actors::raft::NodeId;
use raftwarden_actors::raft::TypeConfig;
use raftwarden_actors::Server;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Snapshot chunks travel as JSON byte arrays; allow them generously.
const MAX_RPC_BODY: usize = 256 << 20;

fn reply<T: Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

async fn append(s: web::Data<Server>, req: web::Json<AppendEntriesRequest<TypeConfig>>) -> HttpResponse {
    let req = req.into_inner();
    let from_current_leader = req.vote.is_committed();
    let r = s.node.raft.append_entries(req).await;
    if from_current_leader && r.is_ok() {
        s.node.leader_contact.touch();
    }
    reply(&r)
}

async fn vote(s: web::Data<Server>, req: web::Json<VoteRequest<NodeId>>) -> HttpResponse {
    reply(&s.node.raft.vote(req.into_inner()).await)
}

async fn snapshot(s: web::Data<Server>, req: web::Json<InstallSnapshotRequest<TypeConfig>>) -> HttpResponse {
    s.node.leader_contact.touch();
    reply(&s.node.raft.install_snapshot(req.into_inner()).await)
}

/// Sends an RPC-delivered message to an actor and answers `Result<T, OpError>` as JSON.
async fn relay<A, M, T>(addr: &actix::Addr<A>, msg: M) -> HttpResponse
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message<Result = Result<T, OpError>> + Send + 'static,
    T: Serialize + Send + 'static,
{
    let r: Result<T, OpError> = match addr.send(msg).await {
        Ok(r) => r,
        Err(e) => Err(OpError::Plain(format!("internal error: {e}"))),
    };
    reply(&r)
}

fn membership_route<M, T>() -> actix_web::Route
where
    M: Message<Result = Result<T, OpError>> + DeserializeOwned + Send + 'static,
    m::Membership: Handler<M>,
    T: Serialize + Send + 'static,
{
    web::post()
        .to(|s: web::Data<Server>, msg: web::Json<M>| async move { relay(&s.membership, msg.into_inner()).await })
}

async fn status(s: web::Data<Server>) -> HttpResponse {
    match s.membership.send(m::GetStatus).await {
        Ok(st) => reply(&Ok::<_, OpError>(st)),
        Err(e) => reply(&Err::<m::Status, _>(OpError::Plain(format!("internal error: {e}")))),
    }
}

async fn hold(s: web::Data<Server>, msg: web::Json<m::HoldElections>) -> HttpResponse {
    let r = s.membership.send(msg.into_inner()).await.map_err(|e| OpError::Plain(e.to_string()));
    reply(&r)
}

async fn health(s: web::Data<Server>, msg: web::Json<GetHealth>) -> HttpResponse {
    relay(&s.autopilot, msg.into_inner()).await
}

/// Starts the RPC server on `listener`.
pub fn serve_rpc(listener: TcpListener, server: Server, workers: usize) -> std::io::Result<HttpServerHandle> {
    let http = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(server.clone()))
            .app_data(web::JsonConfig::default().limit(MAX_RPC_BODY))
            .route(n::PATH_APPEND, web::post().to(append))
            .route(n::PATH_VOTE, web::post().to(vote))
            .route(n::PATH_SNAPSHOT, web::post().to(snapshot))
            .route(m::PATH_WRITE, membership_route::<m::Write, _>())
            .route(m::PATH_READ, membership_route::<m::Read, _>())
            .route(m::PATH_RAFT_CONFIGURATION, membership_route::<m::GetRaftConfiguration, _>())
            .route(m::PATH_REMOVE_PEER, membership_route::<m::RemovePeer, _>())
            .route(m::PATH_JOIN, membership_route::<m::Join, _>())
            .route(m::PATH_TRANSFER, membership_route::<m::TransferLeadership, _>())
            .route(m::PATH_ELECT, membership_route::<m::Elect, _>())
            .route(m::PATH_STATUS, web::post().to(status))
            .route(m::PATH_HOLD_ELECTIONS, web::post().to(hold))
            .route(m::PATH_HEALTH, web::post().to(health))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(2)
    .listen(listener)?
    .run();
    Ok(http)
}
