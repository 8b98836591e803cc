//! Embedding a raftwarden server in an actix-web service of your own.
//!
//! The service keeps its own routes (`/hello`, `/pause`) and mounts, next to them, Nomad's
//! operator API (`raftwarden::http::configure`) on the same port and the internal server RPC
//! (`raftwarden::http::rpc::configure`) on a second port. Its own handlers talk to the actors
//! directly with typed messages: no HTTP round trip. They act on the server's own authority
//! (`Caller::Trusted`); an operation sent for a client carries its token instead
//! (`Caller::token`), and one sent bare runs as the anonymous caller.
//!
//! ```sh
//! cargo run --example embed                 # 127.0.0.1:8080 (HTTP) and 127.0.0.1:8081 (RPC)
//! curl -s localhost:8080/hello
//! curl -s -X POST localhost:8080/pause
//! curl -s localhost:8080/v1/operator/scheduler/configuration?pretty
//! ```
//!
//! Ctrl-C stops it; the data lives in a fresh temporary directory unless one is given as the
//! first argument.

use std::net::TcpListener;
use std::path::Path;

use actix_web::dev::ServerHandle;
use actix_web::web;
use actix_web::App;
use actix_web::HttpResponse;
use actix_web::HttpServer;
use raftwarden::http::rpc;
use raftwarden::http::ApiState;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::config_store::SetSchedulerConfig;
use raftwarden_actors::Call;
use raftwarden_actors::Caller;
use raftwarden_actors::Server;
use raftwarden_actors::Settings;

/// The host's own route: reads the replicated scheduler configuration through the actor.
async fn hello(server: web::Data<Server>) -> HttpResponse {
    match server.config_store().send(Call::new(Caller::Trusted, GetSchedulerConfig { stale: true })).await {
        Ok(Ok(fetched)) => HttpResponse::Ok().json(serde_json::json!({
            "service": "embedded",
            "server": server.identity().name,
            "scheduler_algorithm": fetched.row.value.scheduler_algorithm.as_str(),
            "eval_broker_paused": fetched.row.value.pause_eval_broker,
            "modify_index": fetched.row.modify_index,
        })),
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// The host's own write: pauses the eval broker with a compare-and-set through raft.
async fn pause(server: web::Data<Server>) -> HttpResponse {
    let store = server.config_store();
    let current = match store.send(Call::new(Caller::Trusted, GetSchedulerConfig { stale: false })).await {
        Ok(Ok(f)) => f.row,
        Ok(Err(e)) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
        Err(e) => return HttpResponse::InternalServerError().body(e.to_string()),
    };
    let mut config = current.value;
    config.pause_eval_broker = true;
    let write = SetSchedulerConfig { config, cas: Some(current.modify_index) };
    match store.send(Call::new(Caller::Trusted, write)).await {
        Ok(Ok(applied)) => {
            HttpResponse::Ok().json(serde_json::json!({ "updated": applied.updated, "index": applied.index }))
        }
        Ok(Err(e)) => HttpResponse::ServiceUnavailable().body(e.to_string()),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

/// One running embedded service: the raftwarden server and the two HTTP servers around it.
pub struct Embedded {
    pub server: Server,
    pub http: ServerHandle,
    pub rpc: ServerHandle,
}

impl Embedded {
    /// Stops the HTTP servers, then the raftwarden server (its actors, loops and raft).
    pub async fn stop(self) {
        self.http.stop(true).await;
        self.rpc.stop(true).await;
        self.server.shutdown().await;
    }
}

/// Starts the service on the given listeners, on the current actix `System`.
pub async fn start(data_dir: &Path, http: TcpListener, rpc_listener: TcpListener) -> anyhow::Result<Embedded> {
    let http_addr = http.local_addr()?.to_string();
    let rpc_addr = rpc_listener.local_addr()?.to_string();
    let server = raftwarden_actors::start(Settings::new("embedded", data_dir, &rpc_addr, &http_addr)).await?;

    let api = {
        let server = server.clone();
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(server.clone()))
                .route("/hello", web::get().to(hello))
                .route("/pause", web::post().to(pause))
                .configure(raftwarden::http::configure(ApiState::new(server.clone())))
        })
        .workers(1)
        .disable_signals()
        .listen(http)?
        .run()
    };
    let internal = {
        let server = server.clone();
        HttpServer::new(move || App::new().configure(rpc::configure(server.clone())))
            .workers(1)
            .disable_signals()
            .listen(rpc_listener)?
            .run()
    };
    let handles = (api.handle(), internal.handle());
    actix_rt::spawn(api);
    actix_rt::spawn(internal);
    Ok(Embedded { server, http: handles.0, rpc: handles.1 })
}

fn main() -> anyhow::Result<()> {
    let temp;
    let data_dir = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    actix_rt::System::new().block_on(async {
        let service =
            start(&data_dir, TcpListener::bind("127.0.0.1:8080")?, TcpListener::bind("127.0.0.1:8081")?).await?;
        println!("embedded raftwarden server {} serving on 127.0.0.1:8080", service.server.identity().name);
        tokio::signal::ctrl_c().await?;
        service.stop().await;
        Ok(())
    })
}
