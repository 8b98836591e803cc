//! Connections that do not speak HTTP: on the RPC port, raft frames
//! (`raftwarden_actors::wire::frames`). The listener counts and times such a connection as any
//! other, tells it by its first byte, and hands it, after that byte (and inside TLS after
//! [`frames::TLS`]), to the [`FrameHandler`] the port was built with.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::rt::net::TcpStream;
use raftwarden_actors::wire::frames;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;

use super::running::Shutdown;
use super::unbounded_if_zero;
use super::PeerCertificates;

/// A stream a [`FrameHandler`] serves: plain TCP or TLS.
pub trait FrameIo: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> FrameIo for T {}

/// A future on the listener's thread.
pub type Local<T> = Pin<Box<dyn Future<Output = T>>>;

/// Serves one frames connection: its stream after the first byte (and the TLS handshake), the
/// certificate chain its client presented and the port's client verifier accepted (`None`
/// over plain TCP or without one), and a future that resolves when a graceful stop begins.
pub type FrameHandler = Arc<dyn Fn(Box<dyn FrameIo>, Option<PeerCertificates>, Local<()>) -> Local<()> + Send + Sync>;

/// A listener's frames: which first bytes it takes, and who serves them.
#[derive(Clone)]
pub(super) struct Frames {
    pub(super) handler: FrameHandler,
    /// Plain connections are served ([`frames::PLAIN`] is taken).
    pub(super) plain: bool,
    /// With TLS: [`frames::TLS`] is taken, and its handshake done with the port's config.
    pub(super) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(super) shutdown: Shutdown,
    pub(super) handshake_timeout: Duration,
}

impl Frames {
    /// Whether a connection whose first byte is `first` speaks frames here. A frames byte the
    /// port does not take (plain on a TLS-only port) goes on to HTTP, which refuses it as it
    /// refuses any other stranger.
    pub(super) fn takes(&self, first: u8) -> bool {
        (first == frames::PLAIN && self.plain) || (first == frames::TLS && self.tls.is_some())
    }

    /// Serves a connection [`Frames::takes`]: reads its first byte, does the TLS handshake
    /// within the handshake timeout if it asked for TLS, then hands it over.
    pub(super) async fn serve(self, mut io: TcpStream) -> Result<(), String> {
        // An answer is one write: sent at once, as the HTTP half sends a response.
        let _ = io.set_nodelay(true);
        let mut first = [0u8];
        io.read_exact(&mut first).await.map_err(|e| e.to_string())?;
        let stop: Local<()> = Box::pin(self.shutdown.clone().began());
        let Some(acceptor) = self.tls.as_ref().filter(|_| first[0] == frames::TLS) else {
            (self.handler)(Box::new(io), None, stop).await;
            return Ok(());
        };
        let tls = actix_rt::time::timeout(unbounded_if_zero(self.handshake_timeout), acceptor.accept(io))
            .await
            .map_err(|_| "tls: handshake timed out".to_string())?
            .map_err(|e| format!("tls: {e}"))?;
        let certs = tls
            .get_ref()
            .1
            .peer_certificates()
            .map(|chain| PeerCertificates(chain.iter().map(|c| c.clone().into_owned()).collect()));
        (self.handler)(Box::new(tls), certs, stop).await;
        Ok(())
    }
}
