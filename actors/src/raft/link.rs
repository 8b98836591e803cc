//! The sending half of raft frames ([`crate::wire::frames`]): one connection to one peer's RPC
//! port, owned by one of openraft's replication streams (or by one election's vote, or lent
//! to one batch of forwarded operations at a time, [`crate::batch`]), which sends one request
//! at a time and waits for its answer. The caller writes the request and reads the answer
//! itself, on its own task: no connection task in between, as an HTTP client has, and no
//! request head to build or parse.
//!
//! A kept connection that breaks under a request (the peer restarted meanwhile) is replaced
//! and the request sent again only when raft takes it twice as once (appends and votes,
//! [`Resend::Safe`]). A batch of client operations may have run, so its caller hears that it
//! broke ([`Resend::Never`]); before such a request goes into a kept connection, the link
//! looks whether the peer closed it while it sat idle, and replaces it if so.
//!
//! A peer that does not speak frames (a server from before them, during a rolling upgrade)
//! answers HTTP or ends the TLS handshake; [`Link::call`] then says [`LinkError::NoFrames`]
//! and the caller uses HTTP, as for every call to that peer during [`NO_FRAMES_FOR`].

use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::wire::frames;
use crate::wire::frames::AnswerError;

/// After a peer did not speak frames, it is called over HTTP this long before frames are
/// tried again: a rolling upgrade's next step comes after that, and one failed try per this
/// long costs nothing.
pub const NO_FRAMES_FOR: Duration = Duration::from_secs(10);

/// A peer that does not accept a connection within this is unreachable for this call, for a
/// link and the HTTP client alike: well under the heartbeat-driven election timeout (500 ms
/// minimum), so one dead peer does not stall the leader's view of the others.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// What a link reads into at once: a whole answer to an append, usually.
const READ_BUFFER: usize = 16 << 10;

/// One connection: plain TCP or TLS over it.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(tcp) => tcp,
            Conn::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether the peer closed the connection (or sent what nobody asked for) while it sat
    /// idle: a look at the socket that never waits. A peer that restarted shows here, before a
    /// request is sent into a connection nobody reads.
    fn closed_while_idle(&self) -> bool {
        let mut byte = [0u8];
        let mut buf = tokio::io::ReadBuf::new(&mut byte);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        !matches!(self.tcp().poll_peek(&mut cx, &mut buf), Poll::Pending)
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Conn::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

type Stream = BufReader<Conn>;

/// Why a call over a link got no reply.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No TCP connection: refused, not accepted in time, no route. The peer is unreachable,
    /// and nothing was sent.
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The peer does not speak frames (it answered HTTP, or ended the TLS handshake before
    /// anything was sent): nothing ran there; call it over HTTP.
    #[error("the peer does not speak raft frames")]
    NoFrames,
    /// The peer has no such path (a server of an earlier version): nothing ran.
    #[error("{0}")]
    UnknownPath(String),
    /// The exchange broke off or timed out after the request may have been sent, or the peer
    /// refused the request.
    #[error("{0}")]
    Failed(String),
}

/// Whether a request may be sent again after a connection kept from an earlier call broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resend {
    /// Raft's appends and votes: raft takes one twice as once.
    Safe,
    /// Client operations: they may have run; the failure goes back to the caller.
    Never,
}

/// One connection to one peer, opened when first needed and kept between calls.
pub struct Link {
    rpc_addr: String,
    /// Where our end binds (see `network::source_ip`).
    source: Option<IpAddr>,
    /// Mutual TLS, as the HTTP client speaks it to the peer.
    tls: Option<Arc<rustls::ClientConfig>>,
    stream: Option<Stream>,
    /// The peer did not speak frames: HTTP until then.
    no_frames_until: Option<Instant>,
}

impl Link {
    pub fn new(rpc_addr: &str, source: Option<IpAddr>, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Self { rpc_addr: rpc_addr.to_string(), source, tls, stream: None, no_frames_until: None }
    }

    /// Whether to try frames now (not while a peer that did not speak them is left alone).
    pub fn speaks_frames(&self) -> bool {
        self.no_frames_until.is_none_or(|until| Instant::now() >= until)
    }

    /// Sends `body` to `path` and waits for the reply's body, all within `timeout`; a raft
    /// request, sent again once on a new connection if the kept one broke.
    pub async fn call(&mut self, path: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>, LinkError> {
        self.call_with(path, body, timeout, Resend::Safe).await
    }

    /// [`Link::call`], saying whether the request may be sent again.
    pub async fn call_with(
        &mut self,
        path: &str,
        body: &[u8],
        timeout: Duration,
        resend: Resend,
    ) -> Result<Vec<u8>, LinkError> {
        let deadline = Instant::now() + timeout;
        let frame = frames::request_frame(path, "", body).map_err(|e| LinkError::Failed(e.to_string()))?;
        // A request that may not be sent again looks first whether the peer closed the kept
        // connection (a syscall); one that may, finds out by sending, and goes again.
        let kept = self.stream.take().filter(|s| resend == Resend::Safe || !s.get_ref().closed_while_idle());
        if let Some(stream) = kept {
            match self.exchange(stream, &frame, deadline, timeout).await {
                // Closed since the last call: once more, on a new connection, if that is safe.
                Err(Broke::Io(_)) if resend == Resend::Safe => {}
                Err(e) => return Err(e.into()),
                Ok(reply) => return Ok(reply),
            }
        }
        let stream = match tokio::time::timeout_at(deadline, self.connect()).await {
            Err(_) => return Err(LinkError::Connect(io::ErrorKind::TimedOut.into())),
            Ok(stream) => stream?,
        };
        match self.exchange(stream, &frame, deadline, timeout).await {
            Err(Broke::Http) => Err(self.no_frames()),
            other => other.map_err(LinkError::from),
        }
    }

    /// One request and its answer on `stream`, which is kept for the next call unless the
    /// exchange broke.
    async fn exchange(
        &mut self,
        mut stream: Stream,
        frame: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, Broke> {
        let answer = tokio::time::timeout_at(deadline, frames::exchange(&mut stream, frame))
            .await
            .map_err(|_| Broke::Late(timeout))?;
        match answer {
            Ok(reply) => {
                self.stream = Some(stream);
                Ok(reply)
            }
            Err(AnswerError::Refused(e)) => {
                self.stream = Some(stream);
                Err(Broke::Refused(e))
            }
            Err(AnswerError::UnknownPath(e)) => {
                self.stream = Some(stream);
                Err(Broke::UnknownPath(e))
            }
            Err(AnswerError::Http) => Err(Broke::Http),
            Err(AnswerError::Io(e)) => Err(Broke::Io(e)),
        }
    }

    fn no_frames(&mut self) -> LinkError {
        self.stream = None;
        self.no_frames_until = Some(Instant::now() + NO_FRAMES_FOR);
        tracing::info!(
            peer = %self.rpc_addr,
            "raft peer took no frames connection (a server from before frames, or a TLS handshake it refused); calling it over HTTP for 10 s"
        );
        LinkError::NoFrames
    }

    /// A new connection, its first byte sent (and its TLS handshake done).
    async fn connect(&mut self) -> Result<Stream, LinkError> {
        let addr = tokio::net::lookup_host(&self.rpc_addr)
            .await
            .map_err(LinkError::Connect)?
            .next()
            .ok_or_else(|| LinkError::Connect(io::Error::new(io::ErrorKind::NotFound, "no address")))?;
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
            .map_err(LinkError::Connect)?;
        if let Some(ip) = self.source.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
            socket.bind(SocketAddr::new(ip, 0)).map_err(LinkError::Connect)?;
        }
        let _ = socket.set_keepalive(true);
        let mut tcp = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
            .await
            .map_err(|_| LinkError::Connect(io::ErrorKind::TimedOut.into()))?
            .map_err(LinkError::Connect)?;
        let _ = tcp.set_nodelay(true);
        let conn = match &self.tls {
            None => {
                tcp.write_all(&[frames::PLAIN]).await.map_err(LinkError::Connect)?;
                Conn::Plain(tcp)
            }
            Some(config) => {
                tcp.write_all(&[frames::TLS]).await.map_err(LinkError::Connect)?;
                let name = rustls::pki_types::ServerName::try_from(host(&self.rpc_addr).to_string())
                    .map_err(|e| LinkError::Failed(format!("{}: {e}", self.rpc_addr)))?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                match connector.connect(name, tcp).await {
                    Ok(tls) => Conn::Tls(Box::new(tls)),
                    // A server without frames ends the handshake; so does one that refuses
                    // our certificate, which HTTP then reports.
                    Err(_) => return Err(self.no_frames()),
                }
            }
        };
        Ok(BufReader::with_capacity(READ_BUFFER, conn))
    }
}

/// How one exchange ended without a reply.
enum Broke {
    Late(Duration),
    Http,
    Io(io::Error),
    UnknownPath(String),
    Refused(String),
}

impl From<Broke> for LinkError {
    fn from(b: Broke) -> Self {
        match b {
            Broke::Late(timeout) => LinkError::Failed(format!("no answer within {} ms", timeout.as_millis())),
            // Answered in HTTP on a kept connection: not what this peer said before.
            Broke::Http => LinkError::Failed("the peer answered HTTP on a frames connection".into()),
            Broke::Io(e) => LinkError::Failed(format!("the connection broke: {e}")),
            Broke::UnknownPath(e) => LinkError::UnknownPath(e),
            Broke::Refused(e) => LinkError::Failed(e),
        }
    }
}

/// The host part of `host:port` (an IPv6 address without its brackets), as a URL's host names
/// the peer to TLS.
fn host(rpc_addr: &str) -> &str {
    let host = rpc_addr.rsplit_once(':').map_or(rpc_addr, |(host, _)| host);
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::wire::Codec;
    use crate::wire::RpcReply;

    #[test]
    fn the_host_is_named_as_a_url_names_it() {
        assert_eq!(host("127.0.0.2:4647"), "127.0.0.2");
        assert_eq!(host("[::1]:4647"), "::1");
        assert_eq!(host("server-1.example:4647"), "server-1.example");
    }

    /// A listener answering frames after [`frames::PLAIN`] with the request's body; it closes
    /// each connection after `per_conn` requests. Returns its address and how many connections
    /// it took.
    async fn frames_server(per_conn: usize) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = conns.clone();
        tokio::spawn(async move {
            loop {
                let (mut io, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut first = [0u8];
                    io.read_exact(&mut first).await.unwrap();
                    assert_eq!(first[0], frames::PLAIN);
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<()>();
                    let stop = async move {
                        let mut rx = rx;
                        for _ in 0..per_conn {
                            rx.recv().await;
                        }
                    };
                    let _ = frames::serve(io, stop, move |req| {
                        let _ = tx.send(());
                        async move { Ok(RpcReply::new(Codec::Postcard, req.body)) }
                    })
                    .await;
                });
            }
        });
        (addr, conns)
    }

    #[tokio::test]
    async fn a_link_keeps_its_connection_and_replaces_one_the_peer_closed() {
        let (addr, conns) = frames_server(2).await;
        let mut link = Link::new(&addr.to_string(), None, None);
        for i in 0..5u8 {
            let reply = link.call("/p", &[i], Duration::from_secs(5)).await.unwrap();
            assert_eq!(reply, [i]);
        }
        // Two requests per connection: the third and fifth found theirs closed and went again.
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(link.speaks_frames());
    }

    /// A peer whose first connection answers one request, then reads the next and closes
    /// without an answer; later connections answer everything. The request that broke is sent
    /// again on a new connection only when that is safe.
    #[tokio::test]
    async fn a_request_that_may_have_run_is_not_sent_again() {
        for (resend, answered) in [(Resend::Safe, true), (Resend::Never, false)] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let mut first_conn = true;
                while let Ok((mut io, _)) = listener.accept().await {
                    let breaks = std::mem::take(&mut first_conn);
                    tokio::spawn(async move {
                        let mut first = [0u8];
                        io.read_exact(&mut first).await.unwrap();
                        for n in 0.. {
                            let mut len = [0u8; 4];
                            if io.read_exact(&mut len).await.is_err() {
                                return;
                            }
                            let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
                            io.read_exact(&mut frame).await.unwrap();
                            if breaks && n == 1 {
                                return;
                            }
                            let reply = Ok(RpcReply::new(Codec::Postcard, b"ok".to_vec()));
                            io.write_all(&frames::answer_frame(&reply).unwrap()).await.unwrap();
                        }
                    });
                }
            });
            let mut link = Link::new(&addr.to_string(), None, None);
            let timeout = Duration::from_secs(5);
            assert_eq!(link.call_with("/p", b"1", timeout, resend).await.unwrap(), b"ok");
            let second = link.call_with("/p", b"2", timeout, resend).await;
            assert_eq!(second.is_ok(), answered, "{resend:?}: {second:?}");
            if !answered {
                assert!(matches!(second, Err(LinkError::Failed(_))), "{second:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_peer_that_answers_http_is_left_to_http() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut io, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            let _ = io.read(&mut buf).await;
            let _ = io.write_all(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n").await;
        });
        let mut link = Link::new(&addr.to_string(), None, None);
        assert!(matches!(link.call("/p", b"x", Duration::from_secs(5)).await, Err(LinkError::NoFrames)));
        assert!(!link.speaks_frames());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let addr = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let mut link = Link::new(&addr.to_string(), None, None);
        assert!(matches!(link.call("/p", b"x", Duration::from_secs(5)).await, Err(LinkError::Connect(_))));
        assert!(link.speaks_frames(), "unreachable is not a peer without frames");
    }
}
