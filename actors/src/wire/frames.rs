//! Raft traffic on the RPC port without HTTP: a connection whose first byte is [`PLAIN`] (or
//! [`TLS`], then a TLS handshake) carries framed requests and their answers, one at a time,
//! for as long as both ends keep it.
//!
//! ```text
//! connection   PLAIN, then frames            TLS, the TLS handshake, then frames inside it
//! request      u32 length of what follows (big-endian), u8 path length, path,
//!              u16 token length, token, body
//! answer       u32 length of what follows, u8 status, body
//!              status 0: the reply, in the path's codec; 1 unknown path, 2 not a server,
//!              3 malformed body: the error text
//! ```
//!
//! A request means what the same path, caller token and body mean over HTTP, and is answered
//! by the same function ([`crate::Server::handle_rpc`]) under the same rule of who may call
//! it (the listener tells the connection's [`Peer`](super::Peer) from its client certificate
//! as it does for HTTP). Only the envelope differs: at one write at a time, the HTTP/1.1
//! request and response heads, hyper's connection task and actix's dispatcher cost about a
//! quarter of a server's CPU per write, on both ends of every append. The raft network
//! ([`crate::raft::network`]) sends appends and votes this way; everything else stays HTTP.
//!
//! The first bytes are neither a TLS record (`0x16`) nor the letter of an HTTP method, so a
//! listener tells the three apart by the first byte. A server from before frames answers
//! [`PLAIN`] with an HTTP error (`HTTP/1.1 400`) and [`TLS`] by closing: the sender then goes
//! back to HTTP ([`crate::raft::link`]).

use std::future::Future;
use std::io;

use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;

use super::RpcError;
use super::RpcReply;

/// The first byte of a connection that speaks frames in plain TCP.
pub const PLAIN: u8 = 0xA1;
/// The first byte of a connection that speaks frames inside TLS: the handshake follows it.
pub const TLS: u8 = 0xA2;

/// The most a frame may carry after its length: the RPC port's HTTP body limit.
pub const MAX_FRAME: usize = 256 << 20;

/// What the first four bytes of an answer are when the peer speaks HTTP instead.
pub const HTTP_ANSWER: &[u8; 4] = b"HTTP";

/// An answer's status byte.
const OK: u8 = 0;
const UNKNOWN_PATH: u8 = 1;
const NOT_A_SERVER: u8 = 2;
const BAD_BODY: u8 = 3;

/// One request as it arrived.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    /// The caller's secret (empty: anonymous).
    pub token: String,
    pub body: Vec<u8>,
}

/// A request frame, length first, ready for one write.
pub fn request_frame(path: &str, token: &str, body: &[u8]) -> io::Result<Vec<u8>> {
    let path_len = u8::try_from(path.len()).map_err(|_| invalid("path longer than 255 bytes"))?;
    let token_len = u16::try_from(token.len()).map_err(|_| invalid("token longer than 65535 bytes"))?;
    let len = 1 + path.len() + 2 + token.len() + body.len();
    let mut frame = Vec::with_capacity(4 + len);
    frame.extend_from_slice(&frame_len(len)?.to_be_bytes());
    frame.push(path_len);
    frame.extend_from_slice(path.as_bytes());
    frame.extend_from_slice(&token_len.to_be_bytes());
    frame.extend_from_slice(token.as_bytes());
    frame.extend_from_slice(body);
    Ok(frame)
}

/// An answer frame for `answer`, length first.
pub fn answer_frame(answer: &Result<RpcReply, RpcError>) -> io::Result<Vec<u8>> {
    let (status, body): (u8, std::borrow::Cow<'_, [u8]>) = match answer {
        Ok(reply) => (OK, reply.body.as_slice().into()),
        Err(e) => {
            let status = match e {
                RpcError::UnknownPath(_) => UNKNOWN_PATH,
                RpcError::NotAServer(_) => NOT_A_SERVER,
                RpcError::BadBody(_) => BAD_BODY,
            };
            (status, e.to_string().into_bytes().into())
        }
    };
    let mut frame = Vec::with_capacity(5 + body.len());
    frame.extend_from_slice(&frame_len(1 + body.len())?.to_be_bytes());
    frame.push(status);
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn frame_len(len: usize) -> io::Result<u32> {
    if len > MAX_FRAME {
        return Err(invalid("frame larger than 256 MiB"));
    }
    u32::try_from(len).map_err(|_| invalid("frame larger than 256 MiB"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one frame's length and contents: `None` at a clean end (the other side closed between
/// frames). The buffer grows with what arrives, so a length alone reserves nothing.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, head: Option<[u8; 4]>) -> io::Result<Option<Vec<u8>>> {
    let head = match head {
        Some(head) => head,
        None => {
            let mut head = [0u8; 4];
            match r.read_exact(&mut head).await {
                Ok(_) => head,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    let len = u32::from_be_bytes(head) as usize;
    if len > MAX_FRAME {
        return Err(invalid("frame larger than 256 MiB"));
    }
    let mut frame = Vec::with_capacity(len.min(64 << 10));
    let got = r.take(len as u64).read_to_end(&mut frame).await?;
    if got < len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame cut short"));
    }
    Ok(Some(frame))
}

/// Splits a request frame into its parts.
fn parse_request(frame: Vec<u8>) -> Result<Request, String> {
    let mut rest = frame.as_slice();
    let mut take = |n: usize, what: &str| -> Result<&[u8], String> {
        if rest.len() < n {
            return Err(format!("request frame cut short in its {what}"));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let path_len = take(1, "path length")?[0] as usize;
    let path = std::str::from_utf8(take(path_len, "path")?).map_err(|_| "path is not UTF-8".to_string())?.to_string();
    let token_len = take(2, "token length")?;
    let token_len = u16::from_be_bytes([token_len[0], token_len[1]]) as usize;
    let token =
        std::str::from_utf8(take(token_len, "token")?).map_err(|_| "token is not UTF-8".to_string())?.to_string();
    let body = rest.to_vec();
    Ok(Request { path, token, body })
}

/// Serves the frames of one connection (after its first byte, and inside TLS if it spoke
/// TLS): each request is answered by `answer`, in order, until the client closes, the
/// connection breaks, or `stop` resolves between two requests (a request being answered then
/// is answered first). A frame too long or cut short ends the connection; a malformed request
/// inside a whole frame is answered as a malformed body, and the connection goes on.
pub async fn serve<IO, F, Fut>(io: IO, stop: impl Future<Output = ()>, mut answer: F) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Request) -> Fut,
    Fut: Future<Output = Result<RpcReply, RpcError>>,
{
    let mut io = tokio::io::BufReader::new(io);
    tokio::pin!(stop);
    loop {
        let frame = tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            frame = read_frame(&mut io, None) => match frame? {
                Some(frame) => frame,
                None => return Ok(()),
            },
        };
        let reply = match parse_request(frame) {
            Ok(req) => answer(req).await,
            Err(e) => Err(RpcError::BadBody(e)),
        };
        io.write_all(&answer_frame(&reply)?).await?;
        io.flush().await?;
    }
}

/// Why a request sent as a frame got no reply.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// The peer answered in HTTP: it does not speak frames.
    #[error("the peer answers HTTP, not frames")]
    Http,
    /// The connection closed before an answer, or the answer was cut short.
    #[error("the connection broke: {0}")]
    Io(#[from] io::Error),
    /// The peer has no such path: nothing ran.
    #[error("{0}")]
    UnknownPath(String),
    /// The peer refused the request (not a server, a malformed body).
    #[error("{0}")]
    Refused(String),
}

/// Writes `frame` (from [`request_frame`]) and reads its answer: the reply's body.
pub async fn exchange<IO>(io: &mut IO, frame: &[u8]) -> Result<Vec<u8>, AnswerError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(frame).await?;
    io.flush().await?;
    let mut head = [0u8; 4];
    io.read_exact(&mut head).await?;
    if &head == HTTP_ANSWER {
        return Err(AnswerError::Http);
    }
    let Some(mut answer) = read_frame(io, Some(head)).await? else {
        return Err(AnswerError::Io(io::ErrorKind::UnexpectedEof.into()));
    };
    if answer.is_empty() {
        return Err(AnswerError::Io(invalid("an answer without a status")));
    }
    let status = answer.remove(0);
    let text = || String::from_utf8_lossy(&answer).into_owned();
    match status {
        OK => Ok(answer),
        UNKNOWN_PATH => Err(AnswerError::UnknownPath(text())),
        _ => Err(AnswerError::Refused(text())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Codec;

    fn reply(body: &[u8]) -> Result<RpcReply, RpcError> {
        Ok(RpcReply::new(Codec::Postcard, body.to_vec()))
    }

    #[test]
    fn a_request_survives_its_frame() {
        let frame = request_frame("/v1/internal/raft/append", "secret", b"\x00\x01body").unwrap();
        assert_eq!(u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize, frame.len() - 4);
        let req = parse_request(frame[4..].to_vec()).unwrap();
        assert_eq!(
            req,
            Request { path: "/v1/internal/raft/append".into(), token: "secret".into(), body: b"\x00\x01body".to_vec() }
        );
        let empty = parse_request(request_frame("", "", b"").unwrap()[4..].to_vec()).unwrap();
        assert_eq!(empty, Request { path: String::new(), token: String::new(), body: vec![] });
    }

    proptest::proptest! {
        /// Any request survives its frame; any bytes at all are parsed or refused, never a
        /// panic.
        #[test]
        fn frames_round_trip_and_garbage_is_refused(
            path in "[ -~]{0,255}",
            token in "\\PC{0,40}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            garbage in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let frame = request_frame(&path, &token, &body).unwrap();
            let req = parse_request(frame[4..].to_vec()).unwrap();
            proptest::prop_assert_eq!(req, Request { path, token, body });
            let _ = parse_request(garbage);
        }
    }

    #[test]
    fn a_malformed_request_is_refused_with_why() {
        assert!(parse_request(vec![]).unwrap_err().contains("path length"));
        assert!(parse_request(vec![5, b'a']).unwrap_err().contains("in its path"));
        assert!(parse_request(vec![1, b'a', 0]).unwrap_err().contains("token length"));
        assert!(parse_request(vec![1, b'a', 0, 3, b'x']).unwrap_err().contains("in its token"));
        assert!(parse_request(vec![1, 0xff, 0, 0]).unwrap_err().contains("UTF-8"));
        assert!(request_frame(&"p".repeat(256), "", b"").is_err());
        assert!(request_frame("p", &"t".repeat(70_000), b"").is_err());
    }

    /// A duplex pipe with [`serve`] answering on one end: each reply is the path, the token
    /// and the body, joined by `|`.
    fn served() -> tokio::io::DuplexStream {
        let (client, server) = tokio::io::duplex(1 << 16);
        tokio::spawn(serve(server, std::future::pending(), |req: Request| async move {
            match req.path.as_str() {
                "/unknown" => Err(RpcError::UnknownPath(req.path)),
                "/servers-only" => Err(RpcError::NotAServer(req.path)),
                _ => reply(&[req.path.as_bytes(), b"|", req.token.as_bytes(), b"|", &req.body].concat()),
            }
        }));
        client
    }

    #[tokio::test]
    async fn requests_are_answered_in_order_on_one_connection() {
        let mut io = served();
        for i in 0..3u8 {
            let got = exchange(&mut io, &request_frame("/p", "t", &[i]).unwrap()).await.unwrap();
            assert_eq!(got, [b"/p|t|".as_slice(), &[i]].concat());
        }
        let refused = exchange(&mut io, &request_frame("/unknown", "", b"").unwrap()).await.unwrap_err();
        assert!(matches!(&refused, AnswerError::UnknownPath(e) if e == "no internal RPC at /unknown"), "{refused:?}");
        let refused = exchange(&mut io, &request_frame("/servers-only", "", b"").unwrap()).await.unwrap_err();
        assert!(matches!(&refused, AnswerError::Refused(e) if e.contains("only to servers")), "{refused:?}");
        // A malformed request inside a whole frame is refused; the connection goes on.
        let bad = [3u32.to_be_bytes().as_slice(), &[9, b'a', b'b']].concat();
        let refused = exchange(&mut io, &bad).await.unwrap_err();
        assert!(matches!(&refused, AnswerError::Refused(e) if e.contains("malformed")), "{refused:?}");
        assert!(exchange(&mut io, &request_frame("/p", "", b"again").unwrap()).await.is_ok());
    }

    #[tokio::test]
    async fn an_oversized_or_cut_frame_ends_the_connection() {
        let mut io = served();
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(exchange(&mut io, &huge).await, Err(AnswerError::Io(_))));
        // A frame cut short: the server waits for the rest, then sees the end.
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let served = tokio::spawn(serve(server, std::future::pending(), |_req: Request| async { reply(b"") }));
        client.write_all(&[0, 0, 0, 10, 1, b'/']).await.unwrap();
        drop(client);
        let ended = served.await.unwrap();
        assert_eq!(ended.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[tokio::test]
    async fn a_stop_ends_the_connection_between_requests() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(server, async { drop(stopped.await) }, |_req: Request| async { reply(b"ok") }));
        assert_eq!(exchange(&mut client, &request_frame("/p", "", b"").unwrap()).await.unwrap(), b"ok");
        stop.send(()).unwrap();
        served.await.unwrap().unwrap();
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0, "closed after the stop");
    }

    #[tokio::test]
    async fn an_http_answer_says_the_peer_has_no_frames() {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        server.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await.unwrap();
        let got = exchange(&mut client, &request_frame("/p", "", b"").unwrap()).await;
        assert!(matches!(got, Err(AnswerError::Http)), "{got:?}");
    }
}
