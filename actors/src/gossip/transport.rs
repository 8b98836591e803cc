//! The gossip task: owns the UDP socket on the serf port, the foca instance, its timers, the
//! [`Roster`] and the [`Keyring`]. One loop serialises everything foca needs (packets in, timer
//! events, commands from the [`Gossip`](super::Gossip) handle), sends what foca asks to send
//! (sealed with the keyring's primary key), and turns foca's notifications into roster events
//! and liveness updates. A packet that does not fit the keyring is dropped, counted, logged and
//! answered with a notice, both at most once per peer every [`COMPLAIN_EVERY`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use foca::AccumulatingRuntime;
use foca::Foca;
use foca::OwnedNotification;
use foca::PostcardCodec;
use foca::Timer;
use serde::Deserialize;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::identity::MemberIdentity;
use super::keyring;
use super::keyring::KeyOp;
use super::keyring::Keyring;
use super::keyring::NodeKeyResponse;
use super::packet;
use super::packet::Complaints;
use super::packet::Inbound;
use super::packet::Refusal;
use super::roster::Event;
use super::roster::Roster;
use super::GossipCounters;
use super::Member;
use crate::liveness::Liveness;
use crate::liveness::MemberStatus;
use crate::raft::node_id_of;

/// Serf forgets failed and left members after 24 hours (`reconnect_timeout`,
/// `tombstone_timeout`); so do we, and so does foca's own memory of down members.
pub const REAP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How often the reaper looks for expired members; the 24 h bound needs no precision.
const REAP_EVERY: Duration = Duration::from_secs(60);

/// foca sizes its dissemination and suspicion timeout by the expected cluster size; servers
/// come in 3s and 5s, so plan for 5 (a suspicion timeout of about 2.8 s with 1 s probes).
const EXPECTED_CLUSTER_SIZE: u32 = 5;

/// A member declared down is asked to come back this often (foca's LAN default is 65 s): on a
/// LAN it is cheap, and a server restarted without `retry_join` rejoins within seconds.
const ANNOUNCE_TO_DOWN_EVERY: Duration = Duration::from_secs(5);

/// Serf's `LeavePropagateDelay` in Nomad: after announcing a graceful leave, keep gossiping this
/// long so the intent reaches every member before the socket closes.
pub const LEAVE_PROPAGATE: Duration = Duration::from_secs(1);

/// The largest datagram read; foca never produces more than its `max_packet_size` (1400),
/// which encryption grows by 29 bytes.
const RECV_BUFFER: usize = 2048;

/// A peer whose packets this server refuses (or that refuses ours) is logged, and sent a
/// notice, at most this often: at once the first time, then with the count since.
pub const COMPLAIN_EVERY: Duration = Duration::from_secs(30);

/// The SWIM parameters: memberlist's LAN profile (serf's default) from foca's `new_lan`: one
/// probe per second, 500 ms for a direct ack before asking 3 others to probe indirectly, so a
/// crashed server is suspected within a probe or two and declared `failed` about 3-5 s after it
/// stopped answering.
fn swim_config() -> foca::Config {
    let mut c = foca::Config::new_lan(NonZeroU32::new(EXPECTED_CLUSTER_SIZE).unwrap_or(NonZeroU32::MIN));
    c.remove_down_after = Some(REAP_AFTER);
    c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
        frequency: ANNOUNCE_TO_DOWN_EVERY,
        num_members: NonZeroUsize::MIN.saturating_add(1),
    });
    c
}

/// What the handle asks of the task.
pub(super) enum Command {
    Members(oneshot::Sender<Vec<Member>>),
    Announce(Vec<SocketAddr>),
    ForceLeave {
        name: String,
        prune: bool,
        reply: oneshot::Sender<bool>,
    },
    Leave(oneshot::Sender<()>),
    /// A copy of the keyring as it is now.
    Keyring(oneshot::Sender<Keyring>),
    /// A key operation on this server's keyring, written to its file when it changed.
    KeyOp {
        op: KeyOp,
        reply: oneshot::Sender<NodeKeyResponse>,
    },
    Stop,
}

/// A serf-style intent, disseminated as a foca custom broadcast.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) enum Intent {
    /// The member `name` (this incarnation of it) is leaving gracefully.
    Leave { name: String, incarnation: u64 },
    /// An operator forced `name` out; `nonce` tells two such requests apart.
    ForceLeave { name: String, prune: bool, nonce: u64 },
}

impl foca::Invalidates for Intent {
    fn invalidates(&self, other: &Self) -> bool {
        self == other
    }
}

#[derive(Debug, thiserror::Error)]
#[error("undecodable gossip intent: {0}")]
pub(super) struct BadIntent(String);

/// Hands foca's received intents to the loop, each once: foca re-disseminates an intent only
/// when this says it is new.
struct Intents {
    seen: HashSet<Intent>,
    inbox: Arc<Mutex<VecDeque<Intent>>>,
}

/// Bound on remembered intents; a forgotten one arriving again is applied twice, which is
/// harmless (every intent is idempotent).
const MAX_SEEN_INTENTS: usize = 4096;

impl foca::BroadcastHandler<MemberIdentity> for Intents {
    type Key = Intent;
    type Error = BadIntent;

    fn receive_item(&mut self, data: &[u8], _: Option<&MemberIdentity>) -> Result<Option<Intent>, BadIntent> {
        let intent: Intent = postcard::from_bytes(data).map_err(|e| BadIntent(e.to_string()))?;
        if self.seen.contains(&intent) {
            return Ok(None);
        }
        if self.seen.len() >= MAX_SEEN_INTENTS {
            self.seen.clear();
        }
        self.seen.insert(intent.clone());
        if let Ok(mut inbox) = self.inbox.lock() {
            inbox.push_back(intent.clone());
        }
        Ok(Some(intent))
    }
}

type Swim = Foca<MemberIdentity, PostcardCodec, rand::rngs::StdRng, Intents>;

/// A foca instance with this server's codec, SWIM parameters and intent handler, on
/// 127.0.0.1:`port`, without a socket: for the fuzz targets ([`crate::fuzzing`]).
fn detached_swim(port: u16) -> Swim {
    use rand::SeedableRng;
    let me = MemberIdentity {
        name: format!("fuzz-{port}.global"),
        region: "global".into(),
        datacenter: "dc1".into(),
        serf_addr: SocketAddr::from(([127, 0, 0, 1], port)),
        rpc_addr: "127.0.0.1:4647".into(),
        http_addr: "127.0.0.1:4646".into(),
        version: "0.1.0".into(),
        revision: String::new(),
        id: "5c3a4d8e-7f52-4c4b-9d8e-0e4f4a1b2c3d".into(),
        expect: 3,
        incarnation: 1,
    };
    let handler = Intents { seen: HashSet::new(), inbox: Arc::new(Mutex::new(VecDeque::new())) };
    Foca::with_custom_broadcast(me, swim_config(), rand::rngs::StdRng::seed_from_u64(20), PostcardCodec, handler)
}

/// One datagram through what [`Transport::receive`] does with it, without a socket: opened with
/// `ring`, then (when it is gossip) handed to a fresh foca instance, whose own refusal is the
/// `Err` text. For the fuzz targets ([`crate::fuzzing`]); every step is the running server's.
pub(crate) fn feed_datagram(ring: &Keyring, datagram: &[u8]) -> (Inbound, Result<(), String>) {
    let inbound = packet::open(ring, datagram);
    let Inbound::Gossip(plain) = &inbound else {
        return (inbound, Ok(()));
    };
    // A third member: the samples are between 4648 and 4649.
    let mut foca = detached_swim(4650);
    let handled = foca.handle_data(plain, &mut AccumulatingRuntime::new()).map_err(|e| e.to_string());
    (inbound, handled)
}

/// Real foca datagrams, in clear: two detached members that announce, exchange a few rounds
/// and carry a leave intent. The fuzz targets' seeds, and a check that such packets decode.
pub(crate) fn sample_datagrams() -> Vec<Vec<u8>> {
    let (mut a, mut b) = (detached_swim(4648), detached_swim(4649));
    let (mut ra, mut rb) = (AccumulatingRuntime::new(), AccumulatingRuntime::new());
    let intent = Intent::Leave { name: "fuzz-4648.global".into(), incarnation: 1 };
    if let Ok(bytes) = postcard::to_stdvec(&intent) {
        let _ = a.add_broadcast(&bytes);
    }
    let _ = a.announce(MemberIdentity::placeholder(b.identity().serf_addr), &mut ra);
    let mut out = Vec::new();
    for _ in 0..3 {
        while let Some((_, data)) = ra.to_send() {
            let _ = b.handle_data(&data, &mut rb);
            out.push(data.to_vec());
        }
        while let Some((_, data)) = rb.to_send() {
            let _ = a.handle_data(&data, &mut ra);
            out.push(data.to_vec());
        }
    }
    out
}

/// The loop's state.
pub(super) struct Transport {
    foca: Swim,
    runtime: AccumulatingRuntime<MemberIdentity>,
    socket: UdpSocket,
    roster: Roster,
    liveness: Liveness,
    inbox: Arc<Mutex<VecDeque<Intent>>>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    timer_events: HashMap<u64, Timer<MemberIdentity>>,
    next_timer: u64,
    /// A graceful leave waiting for [`LEAVE_PROPAGATE`] to pass.
    leaving: Option<(Instant, oneshot::Sender<()>)>,
    keyring: Keyring,
    /// `<data_dir>/server/serf.keyring`: where a changed keyring is written.
    keyring_file: PathBuf,
    /// Peers whose packets were refused here, and peers that told us they refuse ours.
    refused: Complaints,
    refused_by: Complaints,
    counters: Arc<GossipCounters>,
}

impl Transport {
    pub(super) fn new(
        me: MemberIdentity,
        socket: UdpSocket,
        liveness: Liveness,
        (keyring, keyring_file): (Keyring, PathBuf),
        counters: Arc<GossipCounters>,
    ) -> Self {
        let inbox = Arc::new(Mutex::new(VecDeque::new()));
        let handler = Intents { seen: HashSet::new(), inbox: inbox.clone() };
        let rng: rand::rngs::StdRng = rand::make_rng();
        let foca = Foca::with_custom_broadcast(me.clone(), swim_config(), rng, PostcardCodec, handler);
        let roster = Roster::new(me.clone(), std::time::Instant::now());
        if let Ok(uuid) = uuid::Uuid::parse_str(&me.id) {
            liveness.set(node_id_of(&uuid), MemberStatus::Alive);
        }
        Self {
            foca,
            runtime: AccumulatingRuntime::new(),
            socket,
            roster,
            liveness,
            inbox,
            timers: BinaryHeap::new(),
            timer_events: HashMap::new(),
            next_timer: 0,
            leaving: None,
            keyring,
            keyring_file,
            refused: Complaints::new(COMPLAIN_EVERY),
            refused_by: Complaints::new(COMPLAIN_EVERY),
            counters,
        }
    }

    /// Runs until [`Command::Stop`] or until every handle is gone.
    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut reap = tokio::time::interval(REAP_EVERY);
        loop {
            let next_timer = self.timers.peek().map(|Reverse((at, _))| *at);
            let leave_done = self.leaving.as_ref().map(|(at, _)| *at);
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((len, from)) = received {
                        self.receive(&buf[..len], from).await;
                    }
                }
                command = commands.recv() => match command {
                    None | Some(Command::Stop) => return,
                    Some(c) => self.command(c).await,
                },
                _ = sleep_until_opt(next_timer) => self.fire_timers(),
                _ = sleep_until_opt(leave_done) => {
                    if let Some((_, reply)) = self.leaving.take() {
                        let _ = reply.send(());
                    }
                }
                _ = reap.tick() => {
                    let gone = self.roster.reap(std::time::Instant::now(), REAP_AFTER);
                    self.forget(&gone);
                }
            }
            self.drain().await;
        }
    }

    /// One datagram: foca's if it fits the keyring, else refused (memberlist's `ingestPacket`),
    /// or a peer's notice that it refuses ours.
    async fn receive(&mut self, data: &[u8], from: SocketAddr) {
        let now = std::time::Instant::now();
        match packet::open(&self.keyring, data) {
            Inbound::Gossip(plain) => {
                if let Err(e) = self.foca.handle_data(&plain, &mut self.runtime) {
                    tracing::trace!(error = %e, "gossip packet ignored");
                }
            }
            Inbound::Refused(reason) => {
                self.counters.dropped[reason.index()].fetch_add(1, Ordering::Relaxed);
                let Some(dropped) = self.refused.note(from, reason, now) else { return };
                tracing::error!(%from, dropped, "memberlist: failed to receive: {}", reason.text());
                if packet::may_answer(data.len()) {
                    if let Err(e) = self.socket.send_to(&packet::notice(reason), from).await {
                        tracing::trace!(error = %e, to = %from, "gossip notice not sent");
                    }
                }
            }
            Inbound::Notice(reason) => {
                if self.refused_by.note(from, reason, now).is_none() {
                    return;
                }
                let hint = match reason {
                    Refusal::NoKey => {
                        "it has none of this server's gossip keys installed (server { encrypt } and \
                         <data_dir>/server/serf.keyring must hold a key of the cluster)"
                    }
                    Refusal::Plaintext => "it encrypts gossip and this server has no key: set server { encrypt }",
                    Refusal::Encrypted => "it has no gossip key while this server encrypts",
                };
                tracing::error!(%from, "memberlist: gossip refused by {from}: {}: {hint}", reason.text());
            }
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Members(reply) => {
                let _ = reply.send(self.members());
            }
            Command::Announce(addrs) => {
                for addr in addrs {
                    if addr != self.foca.identity().serf_addr {
                        let _ = self.foca.announce(MemberIdentity::placeholder(addr), &mut self.runtime);
                    }
                }
            }
            Command::ForceLeave { name, prune, reply } => {
                let known = self.roster.get(&name).is_some();
                let intent = Intent::ForceLeave { name, prune, nonce: rand::random() };
                self.publish(intent);
                let _ = reply.send(known);
            }
            Command::Leave(reply) => {
                let me = self.foca.identity().clone();
                self.publish(Intent::Leave { name: me.name.clone(), incarnation: me.incarnation });
                self.roster.set_my_status(MemberStatus::Left, std::time::Instant::now());
                if let Ok(uuid) = uuid::Uuid::parse_str(&me.id) {
                    self.liveness.set(node_id_of(&uuid), MemberStatus::Left);
                }
                // The intent goes out first, directly to the members; the down notice of
                // leave_cluster follows, so peers record `left` rather than `failed`.
                let _ = self.foca.broadcast(&mut self.runtime);
                let _ = self.foca.leave_cluster(&mut self.runtime);
                self.leaving = Some((Instant::now() + LEAVE_PROPAGATE, reply));
            }
            Command::Keyring(reply) => {
                let _ = reply.send(self.keyring.clone());
            }
            Command::KeyOp { op, reply } => {
                let _ = reply.send(self.key_op(op).await);
            }
            Command::Stop => {}
        }
    }

    /// Applies a key operation (serf's internal key queries) and writes a changed keyring to
    /// its file, off this thread; the loop waits for it, as serf answers a query only once the
    /// file is written.
    async fn key_op(&mut self, op: KeyOp) -> NodeKeyResponse {
        tracing::info!("serf: Received {} query", op.name());
        let outcome = self.keyring.apply(&op);
        if let Err(e) = &outcome {
            match op {
                KeyOp::List => tracing::error!("serf: {e}"),
                KeyOp::Install(_) => tracing::error!("serf: Failed to install key: {e}"),
                KeyOp::Use(_) => tracing::error!("serf: Failed to change primary key: {e}"),
                KeyOp::Remove(_) => tracing::error!("serf: Failed to remove key: {e}"),
            }
        }
        if let Ok(true) = outcome {
            let (path, ring) = (self.keyring_file.clone(), self.keyring.clone());
            let written = tokio::task::spawn_blocking(move || keyring::write_file(&path, &ring)).await;
            let failure = match written {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = failure {
                let message = format!("Failed to write keyring file: {e}");
                tracing::error!("serf: {message}");
                return NodeKeyResponse::failed(message);
            }
        }
        self.keyring.response(&op, &outcome)
    }

    /// Applies an intent here and hands it to foca to disseminate.
    fn publish(&mut self, intent: Intent) {
        match postcard::to_stdvec(&intent) {
            Ok(bytes) => {
                if let Err(e) = self.foca.add_broadcast(&bytes) {
                    tracing::warn!(error = %e, "gossip intent not sent");
                }
            }
            Err(e) => tracing::warn!(error = %e, "gossip intent not encoded"),
        }
        // add_broadcast passes it through our own handler, which queued it in the inbox.
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, seq))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(timer) = self.timer_events.remove(&seq) {
                if let Err(e) = self.foca.handle_timer(timer, &mut self.runtime) {
                    tracing::trace!(error = %e, "gossip timer");
                }
            }
        }
    }

    /// Sends what foca queued, schedules its timers, and applies notifications and intents.
    async fn drain(&mut self) {
        while let Some((dst, data)) = self.runtime.to_send() {
            let data = packet::seal(&self.keyring, &data);
            if data.is_empty() {
                continue;
            }
            if let Err(e) = self.socket.send_to(&data, dst.serf_addr).await {
                tracing::trace!(error = %e, to = %dst.serf_addr, "gossip send failed");
            }
        }
        let now = Instant::now();
        while let Some((after, timer)) = self.runtime.to_schedule() {
            let seq = self.next_timer;
            self.next_timer = self.next_timer.wrapping_add(1);
            self.timer_events.insert(seq, timer);
            self.timers.push(Reverse((now + after, seq)));
        }
        let mut events = Vec::new();
        while let Some(n) = self.runtime.to_notify() {
            match n {
                OwnedNotification::MemberUp(id) => events.push(Event::Up(id)),
                OwnedNotification::MemberDown(id) => events.push(Event::Down(id)),
                OwnedNotification::Rename(_, new) => events.push(Event::Renamed(new)),
                OwnedNotification::Rejoin(id) => {
                    tracing::info!(member = ?id, "declared down while running; rejoined under a new incarnation")
                }
                OwnedNotification::Defunct => tracing::warn!("gossip: this server was declared down"),
                _ => {}
            }
        }
        let intents: Vec<Intent> = self.inbox.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default();
        for intent in intents {
            events.push(match intent {
                Intent::Leave { name, incarnation } => Event::LeaveIntent { name, incarnation },
                Intent::ForceLeave { name, prune, .. } => Event::ForceLeave { name, prune },
            });
        }
        let wall = std::time::Instant::now();
        for event in events {
            tracing::debug!(?event, "gossip");
            let gone = self.roster.apply(event, wall);
            self.forget(&gone);
        }
        self.sync_liveness();
    }

    fn sync_liveness(&self) {
        for e in self.roster.entries() {
            if let Ok(uuid) = uuid::Uuid::parse_str(&e.identity.id) {
                let id = node_id_of(&uuid);
                if self.liveness.get(id) != Some(e.status) {
                    tracing::info!(member = %e.identity.name, status = e.status.as_str(), "gossip member status");
                    self.liveness.set(id, e.status);
                }
            }
        }
    }

    fn forget(&self, gone: &[MemberIdentity]) {
        for id in gone {
            tracing::info!(member = %id.name, "gossip member removed");
            if let Ok(uuid) = uuid::Uuid::parse_str(&id.id) {
                self.liveness.remove(node_id_of(&uuid));
            }
        }
    }

    fn members(&self) -> Vec<Member> {
        self.roster.entries().map(|e| Member { identity: e.identity.clone(), status: e.status }).collect()
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
