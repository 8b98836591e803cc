//! A started listener ([`Running`]) and the way it stops ([`RunningHandle`]), for both kinds of
//! listener: actix-server's worker threads, or the accept loop [`serve_on_calling_thread`] runs
//! on the thread that started it ([`super::Listen::on_calling_thread`]).

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use actix_service::Service;
use actix_service::ServiceFactory;
use tokio::sync::watch;

use super::ConnFactory;

/// After a failed accept (out of file descriptors, say), a listener on the calling thread
/// waits this long before the next, as actix-server's accept thread does.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

/// A started listener. Awaiting it waits until it has stopped; [`Running::handle`] stops it.
/// It serves whether or not it is awaited.
pub struct Running {
    handle: RunningHandle,
    stopped: Pin<Box<dyn Future<Output = io::Result<()>>>>,
}

impl Running {
    pub fn handle(&self) -> RunningHandle {
        self.handle.clone()
    }

    /// A listener actix-server runs on its worker threads.
    pub(super) fn workers(server: actix_server::Server) -> Self {
        Running { handle: RunningHandle(HandleKind::Workers(server.handle())), stopped: Box::pin(server) }
    }
}

impl Future for Running {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stopped.as_mut().poll(cx)
    }
}

/// Stops a [`Running`] listener.
#[derive(Clone)]
pub struct RunningHandle(HandleKind);

#[derive(Clone)]
enum HandleKind {
    Workers(actix_server::ServerHandle),
    CallingThread { stop: Arc<watch::Sender<Option<bool>>>, stopped: watch::Receiver<bool> },
}

impl RunningHandle {
    /// Stops accepting and closes the socket; `graceful`: requests in flight get the
    /// listener's shutdown grace to finish (idle connections close at once), else every
    /// connection ends now. Returns once the listener has stopped.
    pub async fn stop(&self, graceful: bool) {
        match &self.0 {
            HandleKind::Workers(handle) => handle.stop(graceful).await,
            HandleKind::CallingThread { stop, stopped } => {
                // The first stop decides how.
                stop.send_if_modified(|how| {
                    let first = how.is_none();
                    if first {
                        *how = Some(graceful);
                    }
                    first
                });
                let _ = stopped.clone().wait_for(|done| *done).await;
            }
        }
    }
}

/// Tells a listener's HTTP connections that a graceful stop began.
#[derive(Clone)]
pub(super) enum Shutdown {
    Workers(actix_server::GracefulShutdownSignal),
    CallingThread(watch::Receiver<bool>),
}

impl Shutdown {
    pub(super) async fn began(self) {
        match self {
            Shutdown::Workers(signal) => signal.notified().await,
            Shutdown::CallingThread(mut rx) => drop(rx.wait_for(|began| *began).await),
        }
    }
}

/// [`serve`] for a listener [`Listen::on_calling_thread`]: the accept loop and a task per
/// connection on this thread's runtime, one connection service for them all.
pub(super) fn serve_on_calling_thread(
    name: &'static str,
    listener: TcpListener,
    factory: ConnFactory,
    began: watch::Sender<bool>,
    grace: Duration,
) -> io::Result<Running> {
    listener.set_nonblocking(true)?;
    let listener = actix_rt::net::TcpListener::from_std(listener)?;
    let (stop, mut stop_rx) = watch::channel(None::<bool>);
    let stop = Arc::new(stop);
    let (stopped_tx, stopped) = watch::channel(false);
    // Only a stop ends the loop: dropping the `Running` and its handles leaves it serving, as
    // an actix-server listener goes on.
    let keep_open = stop.clone();
    actix_rt::spawn(async move {
        let _keep_open = keep_open;
        let Ok(conn) = factory.new_service(()).await else {
            tracing::error!(server = name, "the connection service did not start");
            return;
        };
        let conn = Rc::new(conn);
        let mut conns = tokio::task::JoinSet::new();
        let graceful = loop {
            tokio::select! {
                stop = stop_rx.wait_for(Option::is_some) => break stop.ok().and_then(|s| *s).unwrap_or(false),
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((io, _)) => {
                        if std::future::poll_fn(|cx| conn.poll_ready(cx)).await.is_ok() {
                            let conn = conn.clone();
                            conns.spawn_local(async move { conn.call(io).await });
                        }
                    }
                    Err(e) => {
                        tracing::error!(server = name, error = %e, "accepting a connection failed");
                        actix_rt::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
            }
        };
        drop(listener);
        if graceful {
            began.send_replace(true);
            let drained = async { while conns.join_next().await.is_some() {} };
            let _ = actix_rt::time::timeout(grace, drained).await;
        }
        conns.shutdown().await;
        stopped_tx.send_replace(true);
    });
    let mut until_stopped = stopped.clone();
    let handle = RunningHandle(HandleKind::CallingThread { stop, stopped });
    let stopped = Box::pin(async move {
        let _ = until_stopped.wait_for(|done| *done).await;
        Ok(())
    });
    Ok(Running { handle, stopped })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::super::serve;
    use super::super::ConnLimits;
    use super::super::Listen;
    use super::super::TOO_MANY_CONNECTIONS;
    use super::*;

    /// An app that answers `/thread` with the thread it ran on and `/slow` after 300 ms.
    fn app() -> actix_web::App<
        impl ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        use actix_web::web;
        actix_web::App::new()
            .route("/thread", web::get().to(|| async { format!("{:?}", std::thread::current().id()) }))
            .route(
                "/slow",
                web::get().to(|| async {
                    actix_rt::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }),
            )
    }

    fn on_this_thread(limits: ConnLimits) -> (Running, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let listen = Listen::new("HTTP", listener, 1).limits(limits).on_calling_thread(true);
        (serve(listen, app).unwrap(), addr)
    }

    async fn get(addr: SocketAddr, path: &str) -> Result<String, reqwest::Error> {
        raftwarden_actors::crypto::install_default_provider();
        reqwest::get(format!("http://{addr}{path}")).await?.error_for_status()?.text().await
    }

    #[actix_rt::test]
    async fn a_listener_on_the_calling_thread_serves_there_and_stops_gracefully() {
        let (running, addr) = on_this_thread(ConnLimits::default());
        let handle = running.handle();
        let ran_on = get(addr, "/thread").await.unwrap();
        assert_eq!(ran_on, format!("{:?}", std::thread::current().id()));

        // A request in flight when a graceful stop begins is answered; then the port is closed.
        let slow = actix_rt::spawn(get(addr, "/slow"));
        actix_rt::time::sleep(Duration::from_millis(100)).await;
        handle.stop(true).await;
        assert_eq!(slow.await.unwrap().unwrap(), "done");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the socket is closed once stopped");
        actix_rt::time::timeout(Duration::from_secs(1), running).await.unwrap().unwrap();
        // Stopping again returns at once.
        handle.stop(false).await;
    }

    #[actix_rt::test]
    async fn a_listener_on_the_calling_thread_serves_on_after_its_running_is_dropped() {
        let (running, addr) = on_this_thread(ConnLimits::default());
        drop(running);
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        assert!(get(addr, "/thread").await.is_ok());
    }

    #[actix_rt::test]
    async fn a_hard_stop_on_the_calling_thread_ends_requests_in_flight() {
        let (running, addr) = on_this_thread(ConnLimits::default());
        let slow = actix_rt::spawn(get(addr, "/slow"));
        actix_rt::time::sleep(Duration::from_millis(100)).await;
        running.handle().stop(false).await;
        assert!(slow.await.unwrap().is_err(), "the request was cut off");
    }

    #[actix_rt::test]
    async fn a_listener_on_the_calling_thread_keeps_the_connection_limit() {
        use tokio::io::AsyncReadExt;
        let limits = ConnLimits { max_per_client: 1, ..ConnLimits::default() };
        let (running, addr) = on_this_thread(limits);
        let _held = tokio::net::TcpStream::connect(addr).await.unwrap();
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        let mut over = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut answer = Vec::new();
        actix_rt::time::timeout(Duration::from_secs(5), over.read_to_end(&mut answer)).await.unwrap().unwrap();
        assert_eq!(answer, TOO_MANY_CONNECTIONS);
        running.handle().stop(false).await;
    }
}
