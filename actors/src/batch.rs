//! Client operations a follower forwards to the leader, many to one request: a raft frame
//! ([`crate::wire::frames`]) on a connection the lane keeps, or HTTP to a peer without frames.
//!
//! Under load most client writes reach a follower (clients spread over the servers) and each
//! travels on to the leader. One request per operation cost both servers a request's parsing,
//! its syscalls and its task: at 64 writers on 3 servers that was most of a follower's CPU
//! besides raft. Here the operations bound for one peer queue on its [`Lane`], and up to
//! [`BATCHES_IN_FLIGHT`] sending tasks each take everything queued, send it as one request to
//! [`crate::wire::paths::BATCH`], and hand each caller its own answer. One caller sends at
//! once, alone (no waiting for company); callers that arrive while the lane's tasks are all
//! busy share the next request.
//!
//! ```text
//! follower: op ─┐                                    leader: BATCH [op, op, op]
//!           op ─┼─> Lane ─> POST BATCH [op, op, op] ─>  each runs as if it came alone
//!           op ─┘     <── [answer, answer, answer] <──  (its path's access, its caller)
//! ```
//!
//! A batch is answered when its last operation is, so only quick operations travel this way
//! ([`crate::wire::Forwardable::BATCHED`]): a membership change that waits for a learner would
//! hold every write beside it.
//!
//! A peer of an earlier version (a rolling upgrade) answers the batch path 404, before running
//! anything: each operation then goes alone, as before, and the lane tries a batch again after
//! a while. One that does not speak frames answers them in HTTP (or ends the TLS handshake),
//! also before anything runs, and gets the batch over HTTP. A batch is never sent twice: a
//! kept connection that breaks under it loses its answers ([`Failure::Lost`]), since the
//! operations may have run ([`Resend::Never`]).

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use tokio::sync::oneshot;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::Semaphore;

use crate::raft::link::Link;
use crate::raft::link::LinkError;
use crate::raft::link::Resend;
use crate::wire::BatchAnswer;
use crate::wire::BatchOp;
use crate::wire::BATCH_CODEC;

/// Requests one lane has in flight at once. More than one, so that a batch need not wait for
/// the one before it to be answered; few, so that the callers that queue meanwhile share one.
pub(crate) const BATCHES_IN_FLIGHT: usize = 4;

/// The most operations one request carries.
const MAX_OPS: usize = 128;

/// The most body bytes one request carries (one operation always goes, whatever its size).
const MAX_BYTES: usize = 4 << 20;

/// After a peer answered that it does not know batches, how long its operations go alone
/// before a batch is tried again (the peer may have been upgraded meanwhile).
const RETRY_BATCHES: Duration = Duration::from_secs(30);

/// Why a batch brought back no answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The request never reached the peer (no connection): nothing ran, so it may be sent
    /// again, elsewhere.
    Unreached(String),
    /// Sent, but its answer was lost or unreadable: the operations may have run.
    Lost(String),
    /// The peer does not know [`crate::wire::paths::BATCH`] (a server of an earlier version,
    /// during a rolling upgrade): nothing ran; send each operation alone.
    Unsupported,
}

/// An operation waiting in a lane, with the way back to its caller.
struct Waiting {
    op: BatchOp,
    answer: oneshot::Sender<Result<BatchAnswer, Failure>>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    /// Sending tasks running ([`BATCHES_IN_FLIGHT`] at most).
    senders: usize,
}

/// Makes a new [`Link`] to a lane's peer.
pub(crate) type NewLink = Box<dyn Fn() -> Link + Send + Sync>;

/// The forwarded operations bound for one peer.
pub(crate) struct Lane {
    /// Links to the peer not in use now, at most one per request in flight
    /// ([`BATCHES_IN_FLIGHT`]). Each holds one of the peer's call slots for as long as it
    /// lives: its connection counts against the peer's connection limit as a call's would.
    links: Mutex<Vec<(Link, OwnedSemaphorePermit)>>,
    new_link: NewLink,
    client: reqwest::Client,
    /// The peer's [`crate::wire::paths::BATCH`] URL.
    url: String,
    /// The peer's call slots, shared with every other call to it: a batch takes one.
    slots: Arc<Semaphore>,
    timeout: Duration,
    queue: Mutex<Queue>,
    /// When the peer last answered that it does not know batches.
    refused: Mutex<Option<Instant>>,
}

impl Lane {
    pub(crate) fn new(
        new_link: NewLink,
        client: reqwest::Client,
        url: String,
        slots: Arc<Semaphore>,
        timeout: Duration,
    ) -> Self {
        let (queue, refused, links) = Default::default();
        Self { links, new_link, client, url, slots, timeout, queue, refused }
    }

    /// Whether the peer takes batches, as far as this server knows: it has not refused one in
    /// the last [`RETRY_BATCHES`].
    pub(crate) fn takes_batches(&self) -> bool {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.is_none_or(|at| at.elapsed() >= RETRY_BATCHES)
    }

    /// Sends `op` with whatever else is queued; its answer alone comes back.
    pub(crate) async fn call(self: &Arc<Self>, op: BatchOp) -> Result<BatchAnswer, Failure> {
        let (answer, rx) = oneshot::channel();
        let start_sender = {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.waiting.push_back(Waiting { op, answer });
            let start = q.senders < BATCHES_IN_FLIGHT;
            if start {
                q.senders += 1;
            }
            start
        };
        if start_sender {
            // A task of its own, so that a caller that gives up cannot strand the others.
            tokio::spawn(Sender { lane: self.clone(), running: true }.run());
        }
        rx.await.unwrap_or_else(|_| Err(Failure::Lost("the forwarding task stopped".into())))
    }

    /// The next batch; empty (and this sender retired, in the same critical section, so no
    /// operation is left queued with no sender) when nothing waits.
    fn take(&self) -> Vec<Waiting> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(next) = q.waiting.front() {
            let size = next.op.body.len();
            if !batch.is_empty() && (batch.len() == MAX_OPS || bytes + size > MAX_BYTES) {
                break;
            }
            bytes += size;
            batch.extend(q.waiting.pop_front());
        }
        if batch.is_empty() {
            q.senders -= 1;
        }
        batch
    }

    /// One request with `batch`'s operations, one answer per operation.
    async fn send(&self, batch: &[Waiting]) -> Result<Vec<BatchAnswer>, Failure> {
        let ops: Vec<&BatchOp> = batch.iter().map(|w| &w.op).collect();
        let body = BATCH_CODEC.encode(&ops).map_err(|e| Failure::Unreached(e.to_string()))?;
        let bytes = match self.send_as_frame(&body).await {
            Some(sent) => sent?,
            None => {
                let _slot = self.slots.clone().acquire_owned().await.ok();
                self.send_over_http(body).await?
            }
        };
        let answers: Vec<BatchAnswer> =
            BATCH_CODEC.decode(&bytes).map_err(|e| Failure::Lost(format!("bad reply from leader: {e}")))?;
        if answers.len() != batch.len() {
            let e = format!("bad reply from leader: {} answers to {} operations", answers.len(), batch.len());
            return Err(Failure::Lost(e));
        }
        Ok(answers)
    }

    /// The peer refused batches (it does not know the path): nothing ran.
    fn unsupported(&self) -> Failure {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        Failure::Unsupported
    }

    /// Sends a batch's body as a frame on one of the lane's links; `None` when the peer does
    /// not speak frames (nothing ran), so that it goes over HTTP.
    async fn send_as_frame(&self, body: &[u8]) -> Option<Result<Vec<u8>, Failure>> {
        let taken = self.links.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let (mut link, slot) = match taken {
            Some(taken) => taken,
            None => ((self.new_link)(), self.slots.clone().acquire_owned().await.ok()?),
        };
        let sent = if link.speaks_frames() {
            Some(link.call_with(crate::wire::paths::BATCH, body, self.timeout, Resend::Never).await)
        } else {
            None
        };
        self.links.lock().unwrap_or_else(PoisonError::into_inner).push((link, slot));
        match sent? {
            Ok(bytes) => Some(Ok(bytes)),
            Err(LinkError::NoFrames) => None,
            Err(LinkError::Connect(e)) => Some(Err(Failure::Unreached(e.to_string()))),
            Err(LinkError::UnknownPath(_)) => Some(Err(self.unsupported())),
            Err(LinkError::Failed(e)) => Some(Err(Failure::Lost(format!("failed to reach leader: {e}")))),
        }
    }

    /// Posts a batch's body to the peer's batch path; the reply's body.
    async fn send_over_http(&self, body: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let sent = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, BATCH_CODEC.content_type())
            .body(body)
            .timeout(self.timeout)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Err(Failure::Unreached(e.to_string())),
            Err(e) => return Err(Failure::Lost(format!("failed to reach leader: {e}"))),
        };
        // An unknown path is answered before anything runs.
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(self.unsupported());
        }
        let bytes = resp.bytes().await.map_err(|e| Failure::Lost(format!("failed to reach leader: {e}")))?;
        Ok(bytes.to_vec())
    }
}

/// A lane's sending task: it sends batches while operations wait, then retires.
struct Sender {
    lane: Arc<Lane>,
    /// Still counted in the lane's senders (cleared once [`Lane::take`] retired it).
    running: bool,
}

impl Sender {
    async fn run(mut self) {
        loop {
            let batch = self.lane.take();
            if batch.is_empty() {
                self.running = false;
                return;
            }
            match self.lane.send(&batch).await {
                Ok(answers) => {
                    for (w, answer) in batch.into_iter().zip(answers) {
                        let _ = w.answer.send(Ok(answer));
                    }
                }
                Err(failure) => {
                    for w in batch {
                        let _ = w.answer.send(Err(failure.clone()));
                    }
                }
            }
        }
    }
}

impl Drop for Sender {
    /// A sender dropped mid-flight (its runtime stopping) frees its place, so later callers
    /// start one anew.
    fn drop(&mut self) {
        if self.running {
            let mut q = self.lane.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.senders -= 1;
        }
    }
}

/// One [`Lane`] per peer address.
#[derive(Clone, Default)]
pub(crate) struct Lanes(Arc<Mutex<HashMap<String, Arc<Lane>>>>);

impl Lanes {
    /// The lane to `rpc_addr`, made by `make` the first time.
    pub(crate) fn get(&self, rpc_addr: &str, make: impl FnOnce() -> Lane) -> Arc<Lane> {
        let mut lanes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lanes.entry(rpc_addr.to_string()).or_insert_with(|| Arc::new(make())).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::atomic::Ordering;

    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A peer's listener on loopback, its address, and a count of the requests it takes.
    async fn peer() -> (tokio::net::TcpListener, String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        (listener, addr, Arc::new(AtomicUsize::new(0)))
    }

    /// A peer that answers each batch after `delay`, every operation with its own body
    /// reversed, and counts the requests; with `knows_batches` false it answers 404 (an
    /// unknown path), as a server of an earlier version does. With `frames` it takes raft
    /// frames too; without, it answers them HTTP's 400, as a server from before them does.
    async fn echo_peer(delay: Duration, knows_batches: bool, frames: bool) -> (String, Arc<AtomicUsize>) {
        let (listener, addr, requests) = peer().await;
        let count = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let mut first = [0u8];
                    if conn.peek(&mut first).await.is_ok() && first[0] == crate::wire::frames::PLAIN {
                        if !frames {
                            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                            return;
                        }
                        let _ = conn.read_exact(&mut first).await;
                        let answer = |req: crate::wire::frames::Request| {
                            count.fetch_add(1, Ordering::SeqCst);
                            async move {
                                tokio::time::sleep(delay).await;
                                if !knows_batches {
                                    return Err(crate::wire::RpcError::UnknownPath(req.path));
                                }
                                let reply = echo(&req.body);
                                Ok(crate::wire::RpcReply::new(BATCH_CODEC, reply))
                            }
                        };
                        let _ = crate::wire::frames::serve(conn, std::future::pending(), answer).await;
                        return;
                    }
                    let mut buf = Vec::new();
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            let mut chunk = [0u8; 4096];
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            let mut chunk = [0u8; 4096];
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
                        count.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        if !knows_batches {
                            let head = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
                            if conn.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        let reply = echo(&body);
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", reply.len());
                        if conn.write_all(head.as_bytes()).await.is_err() || conn.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, requests)
    }

    /// Each operation of a batch answered with its body reversed.
    fn echo(batch: &[u8]) -> Vec<u8> {
        let ops: Vec<BatchOp> = BATCH_CODEC.decode(batch).expect("a batch");
        let answers: Vec<BatchAnswer> = ops.into_iter().map(|op| Ok(op.body.into_iter().rev().collect())).collect();
        BATCH_CODEC.encode(&answers).expect("encodes")
    }

    fn lane(addr: &str) -> Arc<Lane> {
        let url = format!("http://{addr}{}", crate::wire::paths::BATCH);
        let client = crate::raft::network::Peers::new(None).client().clone();
        let link_to = addr.to_string();
        let new_link: NewLink = Box::new(move || Link::new(&link_to, None, None));
        Arc::new(Lane::new(new_link, client, url, Arc::new(Semaphore::new(20)), Duration::from_secs(10)))
    }

    /// `n` callers at once on `lane`, each with its own operation; each task answers its
    /// number and what its caller heard.
    fn concurrent_calls(lane: &Arc<Lane>, n: u32) -> Vec<tokio::task::JoinHandle<(u32, Result<BatchAnswer, Failure>)>> {
        (0..n)
            .map(|i| {
                let lane = lane.clone();
                tokio::spawn(async move { (i, lane.call(op(i)).await) })
            })
            .collect()
    }

    fn op(i: u32) -> BatchOp {
        BatchOp {
            path: crate::wire::paths::PUT_VARIABLE.into(),
            token: format!("t{i}"),
            body: i.to_be_bytes().to_vec(),
        }
    }

    /// Callers that arrive while the lane's requests are in flight share the next one, and
    /// each gets its own answer.
    #[tokio::test]
    async fn concurrent_callers_share_requests_and_get_their_own_answers() {
        for frames in [true, false] {
            callers_share_requests(frames).await;
        }
    }

    /// [`concurrent_callers_share_requests_and_get_their_own_answers`] with a peer that speaks
    /// frames, or only HTTP.
    async fn callers_share_requests(frames: bool) {
        let (addr, requests) = echo_peer(Duration::from_millis(50), true, frames).await;
        let lane = lane(&addr);
        for call in concurrent_calls(&lane, 100) {
            let (i, answer) = call.await.expect("joins");
            let mut want = i.to_be_bytes().to_vec();
            want.reverse();
            assert_eq!(answer, Ok(Ok(want)), "operation {i}");
        }
        let sent = requests.load(Ordering::SeqCst);
        assert!(sent <= 2 * BATCHES_IN_FLIGHT, "100 concurrent operations took {sent} requests");
        // Every sender retires once the queue is empty; one caller alone is then sent at once.
        let senders = || lane.queue.lock().expect("lock").senders;
        for _ in 0..100 {
            if senders() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(senders(), 0);
        let alone = lane.call(op(7)).await;
        assert_eq!(alone, Ok(Ok(vec![7, 0, 0, 0])));
        assert_eq!(requests.load(Ordering::SeqCst), sent + 1);
    }

    /// A peer that cannot be reached ran nothing: every caller hears so (and may go elsewhere).
    #[tokio::test]
    async fn an_unreachable_peer_fails_every_caller_as_unreached() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let lane = lane(&format!("127.0.0.1:{port}"));
        for call in concurrent_calls(&lane, 10) {
            assert!(matches!(call.await.expect("joins").1, Err(Failure::Unreached(_))));
        }
    }

    /// A peer of an earlier version ran nothing: every caller hears so, and the lane sends no
    /// batch to it for a while.
    #[tokio::test]
    async fn a_peer_without_batches_is_told_apart() {
        for frames in [true, false] {
            let (addr, requests) = echo_peer(Duration::from_millis(20), false, frames).await;
            let lane = lane(&addr);
            assert!(lane.takes_batches());
            for call in concurrent_calls(&lane, 10) {
                assert_eq!(call.await.expect("joins").1, Err(Failure::Unsupported), "frames: {frames}");
            }
            assert!(requests.load(Ordering::SeqCst) >= 1);
            assert!(!lane.takes_batches());
        }
    }

    /// A batch whose connection breaks after it was sent is lost, never sent again: its
    /// operations may have run.
    #[tokio::test]
    async fn a_batch_is_never_sent_twice() {
        let (listener, addr, requests) = peer().await;
        let count = requests.clone();
        tokio::spawn(async move {
            // Each connection: the first byte and the frame read whole, then closed unanswered.
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = [0u8; 5];
                if conn.read_exact(&mut head).await.is_err() {
                    continue;
                }
                let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                let mut frame = vec![0u8; len];
                if conn.read_exact(&mut frame).await.is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let lane = lane(&addr);
        let lost = lane.call(op(1)).await;
        assert!(matches!(&lost, Err(Failure::Lost(_))), "{lost:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 1, "sent once");
    }
}
