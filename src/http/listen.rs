//! The listeners of the HTTP API and of the internal RPC: the one place both servers are
//! started. Each connection is counted against its client's address and refused over the limit
//! before any HTTP is spoken, given a bounded time for its TLS handshake and its first request
//! head, then served by actix-web's HTTP/1 dispatcher, over plain TCP or rustls. This is
//! actix-web's `HttpServer::listen` taken apart (actix-server accepts, actix-http serves the
//! `App`), so that the counting can sit in front of it, as Nomad's `connlimit` sits in front of
//! its HTTP and RPC servers.
//!
//! ```text
//! accept (actix-server, `workers` threads; or the starting thread, see below; a task per connection)
//!   └─ ConnCounter::admit(client IP) ── over the limit ─> HTTP: Nomad's 429 (at most 10 a second,
//!        │                                               bursts of 100), then close; RPC: close
//!        └─ ConnSlot: held by the connection's task, given back when it ends, however it ends
//!   └─ first byte within the handshake timeout (tokio's timer) ── none: closed
//!   └─ a port with frames (RPC): first byte frames::PLAIN → plain frames, frames::TLS → TLS
//!        handshake, then frames; served by the port's FrameHandler, not HTTP (`frames`)
//!   └─ rpc_upgrade_mode only: first byte 0x16 (a TLS handshake record) → TLS, else plain
//!   └─ TLS handshake within the handshake timeout (actix-tls) ── too slow: dropped
//!   └─ actix-http HttpService (HTTP/1.1; idle until the client closes; 1 s to shut down) ─> the App
//! ```
//!
//! **What handlers learn of the connection.** On a TLS connection whose client presented a
//! certificate, `HttpRequest::conn_data::<PeerCertificates>()` is the chain that client sent,
//! end entity first, exactly as rustls holds it after the config's client verifier accepted it
//! (a chain the verifier refuses ends the handshake, so no handler sees it). A plain connection,
//! or a TLS one without a client certificate, has no [`PeerCertificates`].
//!
//! **Limits** ([`ConnLimits`], Nomad's `limits { }`): `max_per_client` connections at once
//! from one IP address (0: no limit), counted across the workers of one listener; the
//! handshake timeout (0: none) bounds the wait for the client's first byte and, separately, the
//! TLS handshake, so a connection that never speaks ends. After a response, an idle connection
//! stays open until its client closes it, as Nomad's do (see [`KEEP_ALIVE`] for why actix's
//! timers are off); TCP keep-alive probes (every 15 s, as Go's listeners send them for Nomad)
//! find a client that vanished without closing.
//!
//! **Which threads.** By default a listener has `workers` threads of its own (actix-server). A
//! listener built with [`Listen::on_calling_thread`] instead accepts and serves on the thread
//! that starts it: in the agent, the thread that runs raft and the actors, so a request and the
//! raft work it causes hand over between tasks, not between threads. On a small machine those
//! hand-offs cost more than the parallel parsing gains (each wakes a thread: a futex, a context
//! switch, a cold cache); the agent chooses (`src/agent/mod.rs`, `listeners_on_raft_thread`).
//! Either way the same connection service runs, with the same limits, TLS and graceful stop.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;
use std::time::Instant;

use actix_http::body::MessageBody;
use actix_http::HttpService;
use actix_http::KeepAlive;
use actix_http::Request;
use actix_http::Response;
use actix_http::TlsAcceptorConfig;
use actix_server::Server;
use actix_service::boxed;
use actix_service::boxed::BoxService;
use actix_service::boxed::BoxServiceFactory;
use actix_service::map_config;
use actix_service::IntoServiceFactory;
use actix_service::Service;
use actix_service::ServiceFactory;
use actix_service::ServiceFactoryExt;
use actix_tls::accept::rustls_0_23::Acceptor;
use actix_tls::accept::rustls_0_23::AcceptorService;
use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

mod frames;
mod running;
pub use frames::FrameHandler;
pub use frames::FrameIo;
use frames::Frames;
pub use frames::Local;
use running::serve_on_calling_thread;
pub use running::Running;
pub use running::RunningHandle;
use running::Shutdown;

/// What Nomad's HTTP listener writes to a client over its connection limit
/// (`command/agent/http.go` `connLimiter`).
pub const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
Content-Type: text/plain\r\n\
Content-Length: 81\r\n\
Connection: close\r\n\
\r\n\
Your IP is issuing too many concurrent connections, please rate limit your calls\n";

/// How long writing that answer may take (Nomad's 10 ms deadline); on a TLS port the
/// handshake it needs counts too.
const ANSWER_DEADLINE: Duration = Duration::from_millis(10);

/// An idle connection stays open until the client closes it (or TCP keep-alive finds it gone),
/// as Go's `http.Server` keeps one for Nomad (no `IdleTimeout`, no `ReadTimeout`). actix-http's
/// own idle and first-request timers are not used: they measure from a clock each worker caches
/// and updates every 500 ms, and after the process was stopped (SIGSTOP, a VM pause, a long GC
/// of the host) for longer than the timeout they fired at resume before the requests that had
/// queued meanwhile were read, so those clients saw the connection reset without an answer.
/// The first-byte wait ([`first_byte`]) runs on tokio's timer instead, which polls the socket
/// before the deadline.
const KEEP_ALIVE: KeepAlive = KeepAlive::Os;
/// After a graceful shutdown began: 1 s for the client to see the close.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// TCP keep-alive probes on every accepted connection, as Go's listeners set them for Nomad
/// (15 s idle, then every 15 s): a client that vanished without a FIN or RST is found out even
/// while a request is in flight, and its slot given back.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Nomad's `limits { }` for one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections one client IP address may hold open at once; 0: no limit.
    pub max_per_client: usize,
    /// How long a connection may take for its TLS handshake, and then for its first request
    /// head; zero: no bound.
    pub handshake_timeout: Duration,
}

impl Default for ConnLimits {
    /// Nomad's defaults: 100 connections per client, 5 s handshakes.
    fn default() -> Self {
        Self { max_per_client: 100, handshake_timeout: Duration::from_secs(5) }
    }
}

/// What a client over its limit hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The HTTP API: Nomad's raw 429 ([`TOO_MANY_CONNECTIONS`]), then the connection closes.
    TooManyRequests,
    /// The RPC port: the connection closes without an answer.
    Close,
}

/// The certificate chain a TLS client presented and the listener's client verifier accepted,
/// end entity first; in `HttpRequest::conn_data` of every request on that connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificates(pub Arc<[CertificateDer<'static>]>);

impl PeerCertificates {
    /// The client's own certificate.
    pub fn end_entity(&self) -> Option<&CertificateDer<'static>> {
        self.0.first()
    }
}

/// One listener: the socket, its threads, its limits and whether it speaks TLS.
pub struct Listen {
    listener: TcpListener,
    /// `"HTTP"` or `"RPC"`: names the server in logs.
    name: &'static str,
    workers: usize,
    shutdown_grace: u64,
    limits: ConnLimits,
    refusal: Refusal,
    tls: Option<Arc<ServerConfig>>,
    plain_too: bool,
    calling_thread: bool,
    frames: Option<FrameHandler>,
}

impl Listen {
    /// A plain listener on `listener` with `workers` threads (at least one), Nomad's default
    /// limits and a refusal by 429.
    pub fn new(name: &'static str, listener: TcpListener, workers: usize) -> Self {
        Self {
            listener,
            name,
            workers: workers.max(1),
            shutdown_grace: 5,
            limits: ConnLimits::default(),
            refusal: Refusal::TooManyRequests,
            tls: None,
            plain_too: false,
            calling_thread: false,
            frames: None,
        }
    }

    /// With `yes`, accept and serve on the thread that calls [`serve`] (its actix runtime)
    /// rather than on `workers` threads of the listener's own.
    pub fn on_calling_thread(mut self, yes: bool) -> Self {
        self.calling_thread = yes;
        self
    }

    pub fn limits(mut self, limits: ConnLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn refusal(mut self, refusal: Refusal) -> Self {
        self.refusal = refusal;
        self
    }

    /// Seconds requests in flight get to finish when the server stops.
    pub fn shutdown_grace(mut self, secs: u64) -> Self {
        self.shutdown_grace = secs;
        self
    }

    /// TLS with this config (its client verifier decides which client certificates are
    /// taken); `None`: plain TCP.
    pub fn tls(mut self, config: Option<Arc<ServerConfig>>) -> Self {
        self.tls = config;
        self
    }

    /// With TLS, also serve plain connections (`rpc_upgrade_mode`): a connection whose first
    /// byte starts a TLS handshake gets TLS, any other is served plain.
    pub fn plain_too(mut self, plain_too: bool) -> Self {
        self.plain_too = plain_too;
        self
    }

    /// Connections that open with a byte of raft frames (`raftwarden_actors::wire::frames`)
    /// are served by `handler` rather than HTTP: plain ones where plain connections are
    /// served, TLS ones where the port speaks TLS.
    pub fn frames(mut self, handler: FrameHandler) -> Self {
        self.frames = Some(handler);
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

impl fmt::Debug for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listen")
            .field("listener", &self.listener)
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("limits", &self.limits)
            .field("refusal", &self.refusal)
            .field("tls", &self.tls.is_some())
            .field("plain_too", &self.plain_too)
            .field("calling_thread", &self.calling_thread)
            .finish()
    }
}

/// Connections held per client address, shared by every worker of one listener.
#[derive(Debug)]
pub struct ConnCounter {
    max_per_client: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// A client already holds its limit of connections.
#[derive(Debug, PartialEq, Eq)]
pub struct OverLimit;

impl ConnCounter {
    /// `max_per_client` 0: no limit.
    pub fn new(max_per_client: usize) -> Arc<Self> {
        Arc::new(Self { max_per_client, held: Mutex::new(HashMap::new()) })
    }

    /// Counts one more connection from `ip`, unless that client is at its limit. The slot
    /// gives the connection back when dropped.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnSlot, OverLimit> {
        // An IPv4 client of a dual-stack socket is one client, however its address is written.
        let ip = ip.to_canonical();
        if self.max_per_client == 0 {
            return Ok(ConnSlot { counter: None, ip });
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let n = held.entry(ip).or_insert(0);
        if *n >= self.max_per_client {
            return Err(OverLimit);
        }
        *n += 1;
        Ok(ConnSlot { counter: Some(self.clone()), ip })
    }

    /// Connections `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&ip.to_canonical()).copied().unwrap_or(0)
    }

    /// Client addresses holding at least one connection.
    pub fn clients(&self) -> usize {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn release(&self, ip: IpAddr) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&ip);
            }
        }
    }
}

/// One counted connection; dropping it gives the connection back.
#[derive(Debug)]
pub struct ConnSlot {
    counter: Option<Arc<ConnCounter>>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        if let Some(counter) = &self.counter {
            counter.release(self.ip);
        }
    }
}

/// Nomad's `rate.NewLimiter(10, 100)` on refusals that cost work (writing the 429, a TLS
/// handshake, a log line): a bucket of `burst` tokens refilled at `per_sec`. Past it a refused
/// client is only closed.
#[derive(Debug)]
pub struct AnswerBudget {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl AnswerBudget {
    pub fn new(per_sec: f64, burst: f64, now: Instant) -> Self {
        Self { per_sec, burst, tokens: burst, last: now }
    }

    /// Takes a token if one is there at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What every worker of one listener shares.
struct Shared {
    name: &'static str,
    counter: Arc<ConnCounter>,
    refusal: Refusal,
    budget: Mutex<AnswerBudget>,
    handshake_timeout: Duration,
}

impl Shared {
    fn may_answer(&self) -> bool {
        self.budget.lock().unwrap_or_else(PoisonError::into_inner).take(Instant::now())
    }
}

/// Why a connection's task ended early; logged at debug, as a client going away is no news.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Http(actix_http::error::DispatchError),
    #[error("tls: {0}")]
    Tls(String),
}

type Inner = BoxServiceFactory<(), TcpStream, (), ConnError, ()>;

/// Starts a server on `listen` serving the actix-web app that `app` builds (once per worker,
/// and once more per worker for the plain half of an upgrade-mode listener), as
/// `HttpServer::new(app).listen(..)` would, behind the connection limits.
pub fn serve<F, I, S, B>(listen: Listen, app: F) -> io::Result<Running>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listen.listener.local_addr()?;
    let builder = Server::build();
    let (began, shutdown) = if listen.calling_thread {
        let (began, rx) = watch::channel(false);
        (Some(began), Shutdown::CallingThread(rx))
    } else {
        (None, Shutdown::Workers(builder.graceful_shutdown_signal()))
    };
    let shared = Arc::new(Shared {
        name: listen.name,
        counter: ConnCounter::new(listen.limits.max_per_client),
        refusal: listen.refusal,
        budget: Mutex::new(AnswerBudget::new(10.0, 100.0, Instant::now())),
        handshake_timeout: listen.limits.handshake_timeout,
    });
    let (tls, plain) = (listen.tls.clone(), listen.tls.is_none() || listen.plain_too);
    let timeout = listen.limits.handshake_timeout;
    let frames = listen.frames.clone().map(|handler| Frames {
        handler,
        plain,
        tls: tls.clone().map(tokio_rustls::TlsAcceptor::from),
        shutdown: shutdown.clone(),
        handshake_timeout: timeout,
    });
    let factory = move || {
        let on = Served { addr, timeout, shutdown: shutdown.clone() };
        ConnFactory {
            frames: frames.clone(),
            plain: plain.then(|| on.plain(app.clone())),
            tls: tls.as_ref().map(|config| on.tls(app.clone(), config)),
            refuse_tls: match (&tls, shared.refusal) {
                (Some(config), Refusal::TooManyRequests) => Some(config.clone()),
                _ => None,
            },
            shared: shared.clone(),
        }
    };
    if let Some(began) = began {
        let grace = Duration::from_secs(listen.shutdown_grace);
        return serve_on_calling_thread(listen.name, listen.listener, factory(), began, grace);
    }
    let server = builder
        .workers(listen.workers)
        .disable_signals()
        .shutdown_timeout(listen.shutdown_grace)
        .listen(format!("raftwarden-{}-{addr}", listen.name.to_ascii_lowercase()), listen.listener, factory)?
        .run();
    Ok(Running::workers(server))
}

/// How a connection that got in is served.
struct Served {
    addr: SocketAddr,
    timeout: Duration,
    shutdown: Shutdown,
}

impl Served {
    fn plain<F, I, S, B>(&self, app: F) -> Inner
    where
        F: Fn() -> I + 'static,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        let shutdown = self.shutdown.clone();
        let service = HttpService::build()
            .graceful_shutdown_signal(move || shutdown.clone().began())
            .keep_alive(KEEP_ALIVE)
            // A client that connects and sends nothing in time is closed by `first_byte`.
            .client_request_timeout(Duration::ZERO)
            .client_disconnect_timeout(DISCONNECT_TIMEOUT)
            // A response is one write: sent at once, not held back for the client's delayed ACK.
            .tcp_nodelay(true)
            .local_addr(self.addr)
            .finish(app_config(app().into_factory().map_err(app_error), false, self.addr))
            .tcp()
            .map_err(ConnError::Http);
        boxed::factory(service)
    }

    fn tls<F, I, S, B>(&self, app: F, config: &Arc<ServerConfig>) -> Inner
    where
        F: Fn() -> I + 'static,
        I: IntoServiceFactory<S, Request>,
        S: ServiceFactory<Request, Config = AppConfig> + 'static,
        S::Error: Into<actix_web::Error> + 'static,
        S::InitError: fmt::Debug,
        S::Response: Into<Response<B>> + 'static,
        <S::Service as Service<Request>>::Future: 'static,
        S::Service: 'static,
        B: MessageBody + 'static,
    {
        let shutdown = self.shutdown.clone();
        let acceptor = TlsAcceptorConfig::default().handshake_timeout(unbounded_if_zero(self.timeout));
        let service = HttpService::build()
            .graceful_shutdown_signal(move || shutdown.clone().began())
            .keep_alive(KEEP_ALIVE)
            .client_request_timeout(Duration::ZERO)
            .client_disconnect_timeout(DISCONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .local_addr(self.addr)
            .secure()
            .on_connect_ext(|io: &TlsStream<TcpStream>, ext: &mut actix_http::Extensions| {
                if let Some(chain) = io.get_ref().1.peer_certificates() {
                    ext.insert(PeerCertificates(chain.iter().map(|c| c.clone().into_owned()).collect()));
                }
            })
            .finish(app_config(app().into_factory().map_err(app_error), true, self.addr))
            // The config's resolver and verifier are shared handles: a reload of the files
            // reaches this copy too.
            .rustls_0_23_with_config(ServerConfig::clone(config), acceptor)
            .map_err(|e| match e {
                actix_tls::accept::TlsError::Service(e) => ConnError::Http(e),
                other => ConnError::Tls(other.to_string()),
            });
        boxed::factory(service)
    }
}

/// An error the app could not turn into a response itself, as actix-web answers it.
fn app_error<E: Into<actix_web::Error>>(e: E) -> Response<actix_http::body::BoxBody> {
    Response::from(e.into().error_response())
}

/// The app with the `AppConfig` actix-web's `HttpServer` would give it.
fn app_config<S>(
    app: S,
    secure: bool,
    addr: SocketAddr,
) -> impl ServiceFactory<
    Request,
    Config = (),
    Response = S::Response,
    Error = S::Error,
    InitError = S::InitError,
    Service = S::Service,
    Future = impl Future<Output = Result<S::Service, S::InitError>>,
>
where
    S: ServiceFactory<Request, Config = AppConfig>,
{
    // `AppConfig::new` is crate-private; this is the constructor actix-web keeps for building one.
    map_config(app, move |()| AppConfig::__priv_test_new(secure, addr.to_string(), addr))
}

/// Nomad's 0 means no bound; actix-tls's acceptor always has one.
fn unbounded_if_zero(timeout: Duration) -> Duration {
    if timeout.is_zero() {
        Duration::MAX
    } else {
        timeout
    }
}

/// The per-worker factory of [`Conn`].
struct ConnFactory {
    frames: Option<Frames>,
    plain: Option<Inner>,
    tls: Option<Inner>,
    /// The config a refused HTTPS client's 429 is sent over.
    refuse_tls: Option<Arc<ServerConfig>>,
    shared: Arc<Shared>,
}

impl ServiceFactory<TcpStream> for ConnFactory {
    type Response = ();
    type Error = ();
    type Config = ();
    type Service = Conn;
    type InitError = ();
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ()>>>>;

    fn new_service(&self, (): ()) -> Self::Future {
        let plain = self.plain.as_ref().map(|f| f.new_service(()));
        let tls = self.tls.as_ref().map(|f| f.new_service(()));
        let refuse_tls = self.refuse_tls.as_ref().map(|config| {
            let mut acceptor = Acceptor::new(ServerConfig::clone(config));
            acceptor.set_handshake_timeout(ANSWER_DEADLINE);
            ServiceFactory::<TcpStream>::new_service(&acceptor, ())
        });
        let shared = self.shared.clone();
        let frames = self.frames.clone();
        Box::pin(async move {
            let plain = match plain {
                Some(f) => Some(Rc::new(f.await?)),
                None => None,
            };
            let tls = match tls {
                Some(f) => Some(Rc::new(f.await?)),
                None => None,
            };
            let refuse_tls = match refuse_tls {
                Some(f) => Some(Rc::new(f.await?)),
                None => None,
            };
            Ok(Conn { frames, plain, tls, refuse_tls, shared })
        })
    }
}

/// One worker's connection service: counts, refuses or hands over to HTTP (or frames).
struct Conn {
    frames: Option<Frames>,
    plain: Option<Rc<BoxService<TcpStream, (), ConnError>>>,
    tls: Option<Rc<BoxService<TcpStream, (), ConnError>>>,
    refuse_tls: Option<Rc<AcceptorService>>,
    shared: Arc<Shared>,
}

impl Service<TcpStream> for Conn {
    type Response = ();
    type Error = ();
    type Future = Pin<Box<dyn Future<Output = Result<(), ()>>>>;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        // actix-tls holds back new connections while a worker has many handshakes in flight.
        for inner in [&self.plain, &self.tls].into_iter().flatten() {
            if inner.poll_ready(cx).map_err(|_| ())?.is_pending() {
                return Poll::Pending;
            }
        }
        Poll::Ready(Ok(()))
    }

    fn call(&self, io: TcpStream) -> Self::Future {
        let Ok(peer) = io.peer_addr() else { return Box::pin(async { Ok(()) }) };
        let shared = self.shared.clone();
        let slot = match shared.counter.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(OverLimit) => return Box::pin(refuse(io, peer, shared, self.refuse_tls.clone())),
        };
        let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE).with_interval(TCP_KEEPALIVE);
        let _ = socket2::SockRef::from(&io).set_tcp_keepalive(&keepalive);
        let (plain, tls, frames) = (self.plain.clone(), self.tls.clone(), self.frames.clone());
        Box::pin(async move {
            let _slot = slot;
            let Some(first) = first_byte(&io, shared.handshake_timeout).await else { return Ok(()) };
            if let Some(frames) = frames.filter(|f| f.takes(first)) {
                if let Err(e) = frames.serve(io).await {
                    tracing::debug!(server = shared.name, peer = %peer, error = %e, "frames connection ended");
                }
                return Ok(());
            }
            let inner = match (plain, tls) {
                (Some(plain), None) => plain,
                (None, Some(tls)) => tls,
                (Some(plain), Some(tls)) => {
                    if first == TLS_HANDSHAKE_RECORD {
                        tls
                    } else {
                        plain
                    }
                }
                (None, None) => return Ok(()),
            };
            if let Err(e) = inner.call(io).await {
                tracing::debug!(server = shared.name, peer = %peer, error = %e, "connection ended");
            }
            Ok(())
        })
    }
}

/// The client's first byte, left in the socket (under `rpc_upgrade_mode` it says whether a
/// TLS handshake starts); `None` if it closed or sent nothing within `timeout`. tokio's timeout
/// polls the socket before its deadline, so a connection whose bytes arrived while the process
/// was stopped is served when it resumes, however long the stop.
async fn first_byte(io: &TcpStream, timeout: Duration) -> Option<u8> {
    let mut first = [0u8; 1];
    match actix_rt::time::timeout(unbounded_if_zero(timeout), io.peek(&mut first)).await {
        Ok(Ok(1)) => Some(first[0]),
        _ => None,
    }
}

/// A client over its limit: as Nomad, an HTTP client hears the 429 while the budget lasts
/// (over TLS when the port speaks TLS), an RPC client is closed; then the connection drops.
async fn refuse(
    io: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    tls: Option<Rc<AcceptorService>>,
) -> Result<(), ()> {
    if !shared.may_answer() {
        return Ok(());
    }
    let limit = shared.counter.max_per_client;
    match shared.refusal {
        Refusal::Close => {
            tracing::error!(remote_addr = %peer, limit, "rejecting client for exceeding maximum RPC connections");
        }
        Refusal::TooManyRequests => {
            tracing::warn!(address = %peer, limit, "Too many concurrent connections");
            let _ = io.set_nodelay(true);
            let answered = async move {
                match tls {
                    Some(acceptor) => {
                        let mut io = acceptor.call(io).await.map_err(|e| io::Error::other(e.to_string()))?;
                        io.write_all(TOO_MANY_CONNECTIONS).await?;
                        io.shutdown().await
                    }
                    None => {
                        let mut io = io;
                        io.write_all(TOO_MANY_CONNECTIONS).await?;
                        io.shutdown().await
                    }
                }
            };
            let _ = actix_rt::time::timeout(ANSWER_DEADLINE, answered).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn answer_is_nomads() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(body, "Your IP is issuing too many concurrent connections, please rate limit your calls\n");
    }

    #[test]
    fn counter_admits_up_to_the_limit_per_address() {
        let counter = ConnCounter::new(2);
        let a1 = counter.admit(ip("127.0.0.1")).unwrap();
        let _a2 = counter.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(counter.admit(ip("127.0.0.1")).unwrap_err(), OverLimit);
        // Another address has its own count.
        let b1 = counter.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(counter.held(ip("127.0.0.1")), 2);
        assert_eq!(counter.held(ip("127.0.0.2")), 1);
        // Closing one lets one more in.
        drop(a1);
        assert_eq!(counter.held(ip("127.0.0.1")), 1);
        let _a3 = counter.admit(ip("127.0.0.1")).unwrap();
        assert!(counter.admit(ip("127.0.0.1")).is_err());
        drop(b1);
        assert_eq!(counter.clients(), 1, "an address with no connections is forgotten");
    }

    #[test]
    fn refused_connections_are_not_counted() {
        let counter = ConnCounter::new(1);
        let _a = counter.admit(ip("10.0.0.1")).unwrap();
        for _ in 0..5 {
            assert!(counter.admit(ip("10.0.0.1")).is_err());
        }
        assert_eq!(counter.held(ip("10.0.0.1")), 1);
    }

    #[test]
    fn zero_means_no_limit_and_no_bookkeeping() {
        let counter = ConnCounter::new(0);
        let slots: Vec<_> = (0..1000).map(|_| counter.admit(ip("127.0.0.1")).unwrap()).collect();
        assert_eq!(counter.clients(), 0);
        drop(slots);
    }

    #[test]
    fn mapped_ipv4_is_the_same_client() {
        let counter = ConnCounter::new(1);
        let _a = counter.admit(ip("192.0.2.7")).unwrap();
        assert!(counter.admit(ip("::ffff:192.0.2.7")).is_err());
        assert!(counter.admit(ip("2001:db8::7")).is_ok());
    }

    #[test]
    fn slots_are_given_back_from_any_thread() {
        let counter = ConnCounter::new(8);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let a = counter.admit(ip("127.0.0.1")).unwrap();
                        let b = counter.admit(ip("127.0.0.1")).unwrap();
                        drop((a, b));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(counter.held(ip("127.0.0.1")), 0);
        assert_eq!(counter.clients(), 0);
    }

    #[test]
    fn answer_budget_bursts_then_refills() {
        let t0 = Instant::now();
        let mut budget = AnswerBudget::new(10.0, 100.0, t0);
        assert_eq!((0..150).filter(|_| budget.take(t0)).count(), 100);
        assert!(!budget.take(t0 + Duration::from_millis(50)));
        assert!(budget.take(t0 + Duration::from_millis(100)));
        assert!(!budget.take(t0 + Duration::from_millis(100)));
        // A long quiet spell refills to the burst, no further.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..150).filter(|_| budget.take(later)).count(), 100);
    }

    #[test]
    fn listen_keeps_at_least_one_worker() {
        let l = Listen::new("HTTP", TcpListener::bind("127.0.0.1:0").unwrap(), 0);
        assert_eq!(l.workers, 1);
        assert_eq!(l.limits, ConnLimits::default());
    }
}
