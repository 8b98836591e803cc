//! The sending half of raft frames ([`crate::wire::frames`]): one connection to one peer's RPC
//! port, owned by one of openraft's replication streams (or by one election's vote), which
//! sends one request at a time and waits for its answer. The caller writes the request and
//! reads the answer itself, on its own task: no connection task in between, as an HTTP client
//! has, and no request head to build or parse.
//!
//! Only requests that raft takes twice as once travel here (appends and votes): a connection
//! kept from an earlier call that turns out closed (the peer restarted meanwhile) is replaced
//! and the request sent again on the new one.
//!
//! A peer that does not speak frames (a server from before them, during a rolling upgrade)
//! answers HTTP or ends the TLS handshake; [`Link::call`] then says [`LinkError::NoFrames`]
//! and the caller uses HTTP, as for every call to that peer during [`NO_FRAMES_FOR`].

use std::io;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::io::BufReader;
use tokio::time::Instant;

use crate::wire::frames;
use crate::wire::frames::AnswerError;

/// After a peer did not speak frames, it is called over HTTP this long before frames are
/// tried again: a rolling upgrade's next step comes after that, and one failed try per this
/// long costs nothing.
pub const NO_FRAMES_FOR: Duration = Duration::from_secs(10);

/// A connection not accepted within this is unreachable (as the HTTP client's).
const CONNECT_TIMEOUT: Duration = super::network::CONNECT_TIMEOUT;

/// What a link reads into at once: a whole answer to an append, usually.
const READ_BUFFER: usize = 16 << 10;

trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

type Stream = BufReader<Box<dyn Io>>;

/// Why a call over a link got no reply.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No TCP connection: refused, not accepted in time, no route. The peer is unreachable.
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// The peer does not speak frames: call it over HTTP.
    #[error("the peer does not speak raft frames")]
    NoFrames,
    /// The exchange broke off or timed out, or the peer refused the request.
    #[error("{0}")]
    Failed(String),
}

/// One connection to one peer, opened when first needed and kept between calls.
pub struct Link {
    rpc_addr: String,
    /// Where our end binds (see [`super::network::source_ip`]).
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

    /// Sends `body` to `path` and waits for the reply's body, all within `timeout`.
    pub async fn call(&mut self, path: &str, body: &[u8], timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let deadline = Instant::now() + timeout;
        let late = || LinkError::Failed(format!("no answer within {} ms", timeout.as_millis()));
        let frame = frames::request_frame(path, "", body).map_err(|e| LinkError::Failed(e.to_string()))?;
        if let Some(mut stream) = self.stream.take() {
            match tokio::time::timeout_at(deadline, frames::exchange(&mut stream, &frame)).await {
                Err(_) => return Err(late()),
                Ok(Ok(reply)) => {
                    self.stream = Some(stream);
                    return Ok(reply);
                }
                Ok(Err(AnswerError::Refused(e))) => {
                    self.stream = Some(stream);
                    return Err(LinkError::Failed(e));
                }
                // Closed since the last call: once more, on a new connection.
                Ok(Err(_)) => {}
            }
        }
        let mut stream = match tokio::time::timeout_at(deadline, self.connect()).await {
            Err(_) => return Err(LinkError::Connect(io::ErrorKind::TimedOut.into())),
            Ok(stream) => stream?,
        };
        match tokio::time::timeout_at(deadline, frames::exchange(&mut stream, &frame)).await {
            Err(_) => Err(late()),
            Ok(Ok(reply)) => {
                self.stream = Some(stream);
                Ok(reply)
            }
            Ok(Err(AnswerError::Refused(e))) => {
                self.stream = Some(stream);
                Err(LinkError::Failed(e))
            }
            // A new connection that broke before its first answer: a server without frames
            // closes it (or one stopping now; HTTP then fails too, and says why).
            Ok(Err(AnswerError::Http | AnswerError::Io(_))) => Err(self.no_frames()),
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
        let io: Box<dyn Io> = match &self.tls {
            None => {
                tcp.write_all(&[frames::PLAIN]).await.map_err(LinkError::Connect)?;
                Box::new(tcp)
            }
            Some(config) => {
                tcp.write_all(&[frames::TLS]).await.map_err(LinkError::Connect)?;
                let name = rustls::pki_types::ServerName::try_from(host(&self.rpc_addr).to_string())
                    .map_err(|e| LinkError::Failed(format!("{}: {e}", self.rpc_addr)))?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                match connector.connect(name, tcp).await {
                    Ok(tls) => Box::new(tls),
                    // A server without frames ends the handshake; so does one that refuses
                    // our certificate, which HTTP then reports.
                    Err(_) => return Err(self.no_frames()),
                }
            }
        };
        Ok(BufReader::with_capacity(READ_BUFFER, io))
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
