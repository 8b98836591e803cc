//! Server-to-server RPC client: raft traffic and internal calls on the RPC port. Appends and
//! votes travel as frames ([`crate::wire::frames`], over a [`Link`] per replication stream);
//! snapshot chunks and every other call over HTTP.
//!
//! The receiving side is `rpc_server::serve`; the paths are listed in `wire::paths`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use openraft::error::NetworkError;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::ReplicationClosed;
use openraft::error::StreamingError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RaftNetworkFactory;
use openraft::network::RaftNetworkV2;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::SnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::link::Link;
use super::link::LinkError;
use super::link::CONNECT_TIMEOUT;
use super::LogId;
use super::NodeId;
use super::ServerNode;
use super::Snapshot;
use super::SnapshotData;
use super::SnapshotMeta;
use super::TypeConfig;
use super::Vote;

use crate::wire::paths::APPEND as PATH_APPEND;
use crate::wire::paths::SNAPSHOT as PATH_SNAPSHOT;
use crate::wire::paths::VOTE as PATH_VOTE;
use crate::wire::RAFT_CODEC;

/// Idle connections to peers are kept this long: heartbeats (every 100 ms) keep them warm, and
/// a removed peer's connection goes away on its own.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A snapshot chunk may take longer than openraft's per-RPC deadline on a slow disk; never give
/// it less than this.
const MIN_SNAPSHOT_CHUNK_TIMEOUT: Duration = Duration::from_secs(10);

/// An append-entries without entries that a replication stream sends this soon after its peer
/// acknowledged everything up to the request's `prev_log_id` is answered here, not sent (see
/// [`skips_commit_notice`]).
const COMMIT_NOTICE_WINDOW: Duration = Duration::from_millis(10);

/// The last append-entries a connection's peer accepted: under which vote, up to which log id,
/// and when the answer came.
#[derive(Clone, Debug)]
struct Acked {
    vote: Vote,
    last: Option<LogId>,
    at: Instant,
}

/// Whether `req` is a commit notice that need not go out.
///
/// openraft (0.9, and 0.10 when no new entry carries it) follows a commit with an
/// append-entries without entries, only to tell the followers the new commit index, and a
/// replication stream waits for its answer before it sends the next entries. At one client that doubles the raft RPCs: a follower's RPC thread,
/// its raft thread and the leader each wake up once more per write, about a quarter of the
/// context switches of a write, and the next write's entries can wait behind the notice.
///
/// Such a request is answered here with success when the same connection's peer accepted
/// everything up to the request's `prev_log_id`, under the same vote, within
/// [`COMMIT_NOTICE_WINDOW`]: its answer would say nothing newer. The follower learns the commit
/// index with the next entries, which carry it, or with the next heartbeat (every 100 ms) when
/// writes stop; raft's safety never depends on a follower learning it sooner. Requests that
/// prove leadership (openraft's linearizable-read check) use a connection of their own, which
/// has no acknowledgement to go on, so they always go out; so does every heartbeat once the
/// window has passed, which keeps followers' election timers and `LastContact` fed.
fn skips_commit_notice(acked: Option<&Acked>, req: &AppendEntriesRequest<TypeConfig>, now: Instant) -> bool {
    let Some(acked) = acked else { return false };
    req.entries.is_empty()
        && acked.vote == req.vote
        && acked.last == req.prev_log_id
        && now.saturating_duration_since(acked.at) < COMMIT_NOTICE_WINDOW
}

/// When each peer last answered one of our raft RPCs; autopilot reads it for `LastContact`.
/// Also which peers our raft RPCs cannot reach (a refused or timed-out connect): each is logged
/// once when it goes and once when it answers again, and counted for the metrics, in place of
/// openraft's error per failed RPC (the agent's log filter drops those, `src/agent/log_filter.rs`).
#[derive(Clone, Default)]
pub struct Contacts {
    inner: Arc<Mutex<HashMap<NodeId, Instant>>>,
    reach: Arc<Mutex<Reach>>,
}

/// Peers found unreachable, and how often each went so.
#[derive(Default)]
struct Reach {
    /// Unreachable now: the peer's server ID and address.
    down: HashMap<NodeId, (String, String)>,
    /// By server ID: times the peer went unreachable since start.
    went: HashMap<String, u64>,
}

impl Contacts {
    /// The peer answered: if it was unreachable, it is back (logged once).
    pub fn touch(&self, id: NodeId) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(id, Instant::now());
        }
        let back = self.reach.lock().ok().and_then(|mut r| r.down.remove(&id));
        if let Some((peer_id, addr)) = back {
            tracing::info!(peer_id = %peer_id, address = %addr, "raft peer reachable again");
        }
    }

    /// An RPC to the peer could not connect: logged once, when it goes.
    pub fn unreachable(&self, id: NodeId, peer_id: &str, addr: &str, error: &dyn std::fmt::Display) {
        let Ok(mut r) = self.reach.lock() else { return };
        if r.down.contains_key(&id) {
            return;
        }
        r.down.insert(id, (peer_id.to_string(), addr.to_string()));
        *r.went.entry(peer_id.to_string()).or_default() += 1;
        tracing::warn!(
            peer_id = %peer_id,
            address = %addr,
            error = %error,
            "raft peer unreachable; logged again only when it answers"
        );
    }

    /// How many peers are unreachable now, and by server ID how often each went so.
    pub fn unreachable_counts(&self) -> (usize, Vec<(String, u64)>) {
        match self.reach.lock() {
            Ok(r) => (r.down.len(), r.went.iter().map(|(k, v)| (k.clone(), *v)).collect()),
            Err(_) => (0, Vec::new()),
        }
    }

    pub fn last(&self, id: NodeId) -> Option<Instant> {
        self.inner.lock().ok().and_then(|m| m.get(&id).copied())
    }
}

/// The address this server's connections to its peers come from: the one it advertises for
/// RPC, when it also binds exactly that address (not all interfaces), so a peer sees raft
/// traffic arrive from the address it sends raft traffic to, and a firewall rule on a
/// server's address covers both directions (the partition tests rely on it). Otherwise the
/// kernel picks, as Nomad's dialer leaves it to.
pub fn source_ip(rpc_addr: &str, bind: &str) -> Option<std::net::IpAddr> {
    let advertised = rpc_addr.parse::<std::net::SocketAddr>().ok()?.ip();
    let bound = bind.parse::<std::net::SocketAddr>().ok()?.ip();
    (advertised == bound && !bound.is_unspecified()).then_some(bound)
}

/// Calls this server has in flight to one peer at once, besides raft's own: Nomad's
/// `LimitsNonStreamingConnsPerClient`. Each call holds a connection of its own (an HTTP/1.1
/// one, or a batch lane's frames link, which holds its slot for as long as it lives; Nomad
/// multiplexes its calls over one), and the peer counts our connections against its
/// `rpc_max_conns_per_client` (at least 26), so forwarded operations beyond this wait here for
/// a slot rather than be refused there. Raft's own calls (a replication stream and a
/// leadership check, each with a frames link of its own, a vote, a snapshot chunk over HTTP)
/// fit in the room Nomad leaves above it.
pub const PEER_CALLS_IN_FLIGHT: usize = 20;

/// Idle HTTP connections kept per peer: as many as can be in use at once beside a batch
/// lane's links, and one for a raft snapshot chunk.
const PEER_IDLE_CONNS: usize = PEER_CALLS_IN_FLIGHT - crate::batch::BATCHES_IN_FLIGHT + 1;

/// How this server reaches the RPC port of the others: one HTTP client (and its connection
/// pool) for raft traffic, forwarded operations and direct calls alike, and the scheme they
/// speak, `https` with mutual TLS when [`Settings::rpc_tls`](crate::Settings::rpc_tls) is set.
#[derive(Clone)]
pub struct Peers {
    client: reqwest::Client,
    scheme: &'static str,
    /// What a raft [`Link`] needs besides the address: the TLS config and the source address
    /// the HTTP client uses.
    tls: Option<Arc<rustls::ClientConfig>>,
    source: Option<std::net::IpAddr>,
    /// [`PEER_CALLS_IN_FLIGHT`] slots per peer RPC address.
    slots: Arc<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>>,
    /// Forwarded operations waiting to share a request, per peer RPC address.
    lanes: crate::batch::Lanes,
}

impl Peers {
    /// Plain HTTP without `tls`; HTTPS through `tls` (its verifier decides which peers are
    /// servers, its resolver presents our certificate) with it.
    pub fn new(tls: Option<&Arc<rustls::ClientConfig>>) -> Self {
        Self::with_source(tls, None)
    }

    /// Like [`Peers::new`], with connections to peers opened from `source` (see
    /// [`source_ip`]).
    pub fn with_source(tls: Option<&Arc<rustls::ClientConfig>>, source: Option<std::net::IpAddr>) -> Self {
        crate::crypto::install_default_provider();
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(PEER_IDLE_CONNS)
            .local_address(source)
            .tcp_nodelay(true);
        let (builder, scheme) = match tls {
            Some(config) => (builder.tls_backend_preconfigured((**config).clone()).https_only(true), "https"),
            None => (builder, "http"),
        };
        // Building fails only on a TLS backend reqwest cannot use; a plain client then fails
        // every call to a TLS peer loudly rather than speaking plain text to it.
        let client = builder.build().unwrap_or_else(|e| {
            tracing::error!(error = %e, "internal RPC client: TLS setup failed");
            reqwest::Client::new()
        });
        Self { client, scheme, tls: tls.cloned(), source, slots: Arc::default(), lanes: Default::default() }
    }

    /// Waits for one of the [`PEER_CALLS_IN_FLIGHT`] call slots to the peer at `rpc_addr`;
    /// hold it until the answer is read. Raft's own calls take none.
    pub async fn slot(&self, rpc_addr: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slots_of(rpc_addr).acquire_owned().await.ok()
    }

    fn slots_of(&self, rpc_addr: &str) -> Arc<tokio::sync::Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots
            .entry(rpc_addr.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(PEER_CALLS_IN_FLIGHT)))
            .clone()
    }

    /// Sends a client's operation to the peer at `rpc_addr` in one request with the others
    /// queued for it ([`crate::batch`]); a request takes one of the peer's call slots.
    /// [`Failure::Unsupported`](crate::batch::Failure::Unsupported): the peer does not take
    /// batches, and nothing was sent.
    pub(crate) async fn call_batched(
        &self,
        rpc_addr: &str,
        op: crate::wire::BatchOp,
        timeout: Duration,
    ) -> Result<crate::wire::BatchAnswer, crate::batch::Failure> {
        let lane = self.lanes.get(rpc_addr, || {
            let url = self.url(rpc_addr, crate::wire::paths::BATCH);
            let (addr, source, tls) = (rpc_addr.to_string(), self.source, self.tls.clone());
            let new_link = Box::new(move || Link::new(&addr, source, tls.clone()));
            crate::batch::Lane::new(new_link, self.client.clone(), url, self.slots_of(rpc_addr), timeout)
        });
        if !lane.takes_batches() {
            return Err(crate::batch::Failure::Unsupported);
        }
        lane.call(op).await
    }

    /// The URL of `path` on the RPC port at `rpc_addr`.
    pub fn url(&self, rpc_addr: &str, path: &str) -> String {
        format!("{}://{rpc_addr}{path}", self.scheme)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A raft [`Link`] to the peer at `rpc_addr`, speaking TLS as this client does.
    pub fn link(&self, rpc_addr: &str) -> Link {
        Link::new(rpc_addr, self.source, self.tls.clone())
    }
}

/// Builds one [`Connection`] per peer; shares one HTTP client (and its connection pool).
#[derive(Clone)]
pub struct Network {
    peers: Peers,
    contacts: Contacts,
}

impl Network {
    pub fn new(contacts: Contacts, peers: Peers) -> Self {
        Self { peers, contacts }
    }

    pub fn peers(&self) -> &Peers {
        &self.peers
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &ServerNode) -> Self::Network {
        Connection {
            client: self.peers.client.clone(),
            contacts: self.contacts.clone(),
            target,
            peer_id: node.id.clone(),
            rpc_addr: node.rpc_addr.clone(),
            base: self.peers.url(&node.rpc_addr, ""),
            link: self.peers.link(&node.rpc_addr),
            acked: None,
        }
    }
}

pub struct Connection {
    client: reqwest::Client,
    contacts: Contacts,
    target: NodeId,
    /// The peer's server ID and RPC address, for the reachability log.
    peer_id: String,
    rpc_addr: String,
    base: String,
    /// Appends and votes, as frames.
    link: Link,
    /// The peer's last acceptance of an append-entries on this connection.
    acked: Option<Acked>,
}

/// The answer to a raft RPC as the peer's raft gives it.
type RaftAnswer<T> = Result<T, RaftError<TypeConfig>>;

/// Snapshot bytes per RPC when openraft names no chunk size.
const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// One piece of a raft snapshot sent to a follower: the follower writes the pieces of one
/// transfer, in order, to a file of its own and installs it after the last (see
/// [`SnapshotInbox`]). A transfer that breaks off is started again from offset 0 with a new
/// `transfer` ID.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SnapshotChunk {
    pub vote: Vote,
    pub meta: SnapshotMeta,
    pub transfer: String,
    pub offset: u64,
    pub data: Vec<u8>,
    pub done: bool,
}

/// The follower's answer to a chunk: the raft answer after the last one, `None` before; an
/// error text when the chunk does not continue the transfer or the install failed.
pub type SnapshotChunkAnswer = Result<Option<SnapshotResponse<TypeConfig>>, String>;

impl Connection {
    /// Posts `req` to `path` on the peer and decodes its answer.
    async fn post<Req, Out>(&self, path: &str, req: &Req, timeout: Duration) -> Result<Out, RPCError<TypeConfig>>
    where
        Req: Serialize,
        Out: DeserializeOwned,
    {
        let url = format!("{}{}", self.base, path);
        let body = RAFT_CODEC.encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let resp = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, RAFT_CODEC.content_type())
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    self.contacts.unreachable(self.target, &self.peer_id, &self.rpc_addr, &e);
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        let bytes = resp.bytes().await.map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let out: Out = RAFT_CODEC.decode(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.contacts.touch(self.target);
        Ok(out)
    }

    /// Sends `req` to `path` on the peer as a frame over the [`Link`] and decodes its answer;
    /// over HTTP when the peer does not speak frames.
    async fn send<Req, Out>(&mut self, path: &str, req: &Req, timeout: Duration) -> Result<Out, RPCError<TypeConfig>>
    where
        Req: Serialize,
        Out: DeserializeOwned,
    {
        let started = Instant::now();
        if self.link.speaks_frames() {
            let body = RAFT_CODEC.encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
            match self.link.call(path, &body, timeout).await {
                Ok(bytes) => {
                    let out = RAFT_CODEC.decode(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
                    self.contacts.touch(self.target);
                    return Ok(out);
                }
                Err(LinkError::Connect(e)) => {
                    self.contacts.unreachable(self.target, &self.peer_id, &self.rpc_addr, &e);
                    return Err(RPCError::Unreachable(Unreachable::new(&e)));
                }
                Err(e @ (LinkError::Failed(_) | LinkError::UnknownPath(_))) => {
                    return Err(RPCError::Network(NetworkError::new(&e)))
                }
                Err(LinkError::NoFrames) => {}
            }
        }
        self.post(path, req, timeout.saturating_sub(started.elapsed())).await
    }

    /// A raft RPC: the peer's raft error (only ever fatal: it stopped) is a network error here,
    /// as for a peer that does not answer.
    async fn call<Req, Resp>(&mut self, path: &str, req: &Req, timeout: Duration) -> Result<Resp, RPCError<TypeConfig>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let answer: RaftAnswer<Resp> = self.send(path, req, timeout).await?;
        answer.map_err(|e| RPCError::Network(NetworkError::from_string(format!("peer {}: {e}", self.peer_id))))
    }
}

fn streaming(e: RPCError<TypeConfig>) -> StreamingError<TypeConfig> {
    match e {
        RPCError::Timeout(t) => StreamingError::Timeout(t),
        RPCError::Unreachable(u) => StreamingError::Unreachable(u),
        RPCError::Network(n) => StreamingError::Network(n),
        RPCError::RemoteError(r) => StreamingError::Network(NetworkError::from_string(r.to_string())),
    }
}

impl RaftNetworkV2<TypeConfig> for Connection {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        if skips_commit_notice(self.acked.as_ref(), &req, Instant::now()) {
            return Ok(AppendEntriesResponse::Success);
        }
        let (vote, last) = (req.vote, req.entries.last().map(|e| e.log_id).or(req.prev_log_id));
        let res = self.call(PATH_APPEND, &req, option.hard_ttl()).await;
        self.acked = match &res {
            Ok(AppendEntriesResponse::Success) => Some(Acked { vote, last, at: Instant::now() }),
            _ => None,
        };
        res
    }

    async fn vote(
        &mut self,
        req: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(PATH_VOTE, &req, option.hard_ttl()).await
    }

    /// Sends the snapshot file in chunks, one RPC each, in order; `cancel` ends it between two.
    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        use tokio::io::AsyncReadExt;
        use tokio::io::AsyncSeekExt;
        let chunk = option.snapshot_chunk_size().unwrap_or(SNAPSHOT_CHUNK_BYTES).max(4096);
        let timeout = option.hard_ttl().max(MIN_SNAPSHOT_CHUNK_TIMEOUT);
        let transfer = uuid::Uuid::new_v4().simple().to_string();
        let Snapshot { meta, snapshot: mut file } = snapshot;
        let io = |e: std::io::Error| StreamingError::Network(NetworkError::new(&e));
        file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
        tokio::pin!(cancel);
        let mut offset = 0u64;
        loop {
            let mut data = vec![0u8; chunk];
            let mut n = 0;
            while n < chunk {
                let read = file.read(&mut data[n..]).await.map_err(io)?;
                if read == 0 {
                    break;
                }
                n += read;
            }
            data.truncate(n);
            let done = n < chunk;
            let req = SnapshotChunk { vote, meta: meta.clone(), transfer: transfer.clone(), offset, data, done };
            let answer: SnapshotChunkAnswer = tokio::select! {
                closed = &mut cancel => return Err(StreamingError::Closed(closed)),
                r = self.post(PATH_SNAPSHOT, &req, timeout) => r.map_err(streaming)?,
            };
            let reply = answer.map_err(|e| StreamingError::Network(NetworkError::from_string(e)))?;
            offset += n as u64;
            if done {
                return reply.ok_or_else(|| {
                    StreamingError::Network(NetworkError::from_string("the follower did not answer the last chunk"))
                });
            }
        }
    }
}

/// The follower's side of [`SnapshotChunk`]s: the transfer being received, written to an
/// anonymous file in the server's temporary directory as it arrives.
#[derive(Default)]
pub struct SnapshotInbox {
    receiving: tokio::sync::Mutex<Option<Receiving>>,
}

struct Receiving {
    transfer: String,
    next: u64,
    file: std::fs::File,
}

impl SnapshotInbox {
    /// Takes one chunk: `Ok(Some(file))` after the last one, with every byte of the transfer.
    pub async fn take(
        &self,
        chunk: &SnapshotChunk,
        new_file: impl FnOnce() -> std::io::Result<std::fs::File>,
    ) -> Result<Option<std::fs::File>, String> {
        use std::io::Write;
        let mut slot = self.receiving.lock().await;
        if chunk.offset == 0 {
            let file = new_file().map_err(|e| format!("cannot receive a raft snapshot: {e}"))?;
            *slot = Some(Receiving { transfer: chunk.transfer.clone(), next: 0, file });
        }
        let Some(r) = slot.as_mut() else {
            return Err(format!("raft snapshot chunk at {} of a transfer not begun here", chunk.offset));
        };
        if r.transfer != chunk.transfer || r.next != chunk.offset {
            return Err(format!(
                "raft snapshot chunk {} at {} does not continue transfer {} at {}",
                chunk.transfer, chunk.offset, r.transfer, r.next
            ));
        }
        r.file.write_all(&chunk.data).map_err(|e| format!("cannot write a raft snapshot: {e}"))?;
        r.next += chunk.data.len() as u64;
        if !chunk.done {
            return Ok(None);
        }
        Ok(slot.take().map(|r| r.file))
    }
}

#[cfg(test)]
mod tests {
    use openraft::vote::RaftLeaderId;

    use super::*;
    use crate::raft::CommittedLeaderId;
    use crate::raft::Entry;
    use crate::raft::EntryPayload;

    fn log_id(index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(2, 1), index)
    }

    fn vote(term: u64) -> Vote {
        Vote::new_committed(term, 1)
    }

    fn request(term: u64, prev: u64, entries: usize) -> AppendEntriesRequest<TypeConfig> {
        let entries =
            (1..=entries as u64).map(|i| Entry { log_id: log_id(prev + i), payload: EntryPayload::Blank }).collect();
        AppendEntriesRequest {
            vote: vote(term),
            prev_log_id: Some(log_id(prev)),
            entries,
            leader_commit: Some(log_id(prev)),
        }
    }

    #[test]
    fn peers_are_called_from_the_advertised_address_only_when_bound_to_it() {
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        assert_eq!(source_ip("127.30.1.2:4647", "127.30.1.2:4648"), ip("127.30.1.2"));
        assert_eq!(source_ip("10.0.0.5:4647", "0.0.0.0:4648"), None, "all interfaces: the kernel picks");
        assert_eq!(source_ip("192.0.2.7:4647", "10.0.0.5:4648"), None, "advertised elsewhere (NAT)");
        assert_eq!(source_ip("[::1]:4647", "[::1]:4648"), ip("::1"));
        assert_eq!(source_ip("nonsense", "127.0.0.1:4648"), None);
    }

    #[tokio::test]
    async fn calls_to_one_peer_wait_for_a_slot_past_the_bound() {
        let peers = Peers::new(None);
        let mut held = Vec::new();
        for _ in 0..PEER_CALLS_IN_FLIGHT {
            held.push(peers.slot("10.0.0.1:4647").await.unwrap());
        }
        let next = peers.slot("10.0.0.1:4647");
        tokio::pin!(next);
        let waited = tokio::time::timeout(Duration::from_millis(50), next.as_mut()).await;
        assert!(waited.is_err(), "call {} to one peer got a slot", PEER_CALLS_IN_FLIGHT + 1);
        // Another peer has slots of its own.
        assert!(peers.slot("10.0.0.2:4647").await.is_some());
        // A call that ends gives its slot to the one waiting.
        held.pop();
        let got = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(matches!(got, Ok(Some(_))));
    }

    #[test]
    fn only_a_commit_notice_right_after_an_ack_is_answered_locally() {
        let now = Instant::now();
        let acked = Acked { vote: vote(2), last: Some(log_id(7)), at: now };
        assert!(skips_commit_notice(Some(&acked), &request(2, 7, 0), now));
        assert!(skips_commit_notice(Some(&acked), &request(2, 7, 0), now + COMMIT_NOTICE_WINDOW / 2));
        // The window has passed: a heartbeat goes out.
        assert!(!skips_commit_notice(Some(&acked), &request(2, 7, 0), now + COMMIT_NOTICE_WINDOW));
        // Entries always go out.
        assert!(!skips_commit_notice(Some(&acked), &request(2, 7, 1), now));
        // Not what the peer acknowledged: another vote, another log position.
        assert!(!skips_commit_notice(Some(&acked), &request(3, 7, 0), now));
        assert!(!skips_commit_notice(Some(&acked), &request(2, 6, 0), now));
        assert!(!skips_commit_notice(Some(&acked), &request(2, 8, 0), now));
        // A connection with nothing acknowledged (as openraft's leadership check uses) sends.
        assert!(!skips_commit_notice(None, &request(2, 7, 0), now));
    }

    #[test]
    fn a_peer_goes_unreachable_once_until_it_answers() {
        let c = Contacts::default();
        let e = "connection refused";
        for _ in 0..100 {
            c.unreachable(3, "peer-3", "127.0.0.3:4647", &e);
        }
        assert_eq!(c.unreachable_counts(), (1, vec![("peer-3".to_string(), 1)]));
        c.touch(3);
        c.touch(3);
        assert_eq!(c.unreachable_counts(), (0, vec![("peer-3".to_string(), 1)]));
        c.unreachable(3, "peer-3", "127.0.0.3:4647", &e);
        assert_eq!(c.unreachable_counts(), (1, vec![("peer-3".to_string(), 2)]));
        assert!(c.last(3).is_some());
    }
}
