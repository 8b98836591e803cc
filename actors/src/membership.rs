//! The membership actor owns this server's openraft handle.
//!
//! It bootstraps or joins the cluster, runs every replicated write and every consistent read,
//! and forwards both to the leader when this server is a follower (Nomad's RPC forwarding:
//! wait up to the hold time for a leader, then `No cluster leader`).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use actix::prelude::*;
use openraft::error::ClientWriteError;
use openraft::error::RaftError;
use openraft::ChangeMembers;
use openraft::ServerState;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;

use crate::error::OpError;
use crate::raft::network::Contacts;
use crate::raft::store::StateReader;
use crate::raft::NodeId;
use crate::raft::Raft;
use crate::raft::RaftMetrics;
use crate::raft::ServerNode;
use crate::state::Applied;
use crate::state::Command;
use crate::state::State;
use crate::Settings;

/// How long a request waits for a leader before failing (Nomad's `RPCHoldTimeout`).
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(5);

/// Internal status: a request reached a server that is not (or no longer) the leader.
pub const STATUS_NOT_LEADER: u16 = 421;

pub const PATH_WRITE: &str = "/v1/internal/write";
pub const PATH_READ: &str = "/v1/internal/read";
pub const PATH_RAFT_CONFIGURATION: &str = "/v1/internal/raft-configuration";
pub const PATH_REMOVE_PEER: &str = "/v1/internal/remove-peer";
pub const PATH_JOIN: &str = "/v1/internal/join";
pub const PATH_STATUS: &str = "/v1/internal/status";
pub const PATH_TRANSFER: &str = "/v1/internal/transfer-leadership";
pub const PATH_ELECT: &str = "/v1/internal/elect";
pub const PATH_HOLD_ELECTIONS: &str = "/v1/internal/hold-elections";
pub const PATH_HEALTH: &str = "/v1/internal/health";

/// When this server last heard from a leader (set by the RPC layer on append-entries).
#[derive(Clone)]
pub struct LeaderContact {
    inner: Arc<Mutex<Instant>>,
}

impl Default for LeaderContact {
    fn default() -> Self {
        Self { inner: Arc::new(Mutex::new(Instant::now())) }
    }
}

impl LeaderContact {
    pub fn touch(&self) {
        if let Ok(mut t) = self.inner.lock() {
            *t = Instant::now();
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.inner.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

/// Everything one server's actors share: its identity and its raft handles.
pub struct Node {
    pub me: ServerNode,
    pub node_id: NodeId,
    pub settings: Settings,
    pub raft: Raft,
    pub reader: StateReader,
    pub contacts: Contacts,
    pub leader_contact: LeaderContact,
    pub http: reqwest::Client,
    /// Elections paused by a leadership transfer, until this instant.
    pub elections_held_until: Mutex<Option<Instant>>,
}

impl Node {
    pub fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow().clone()
    }

    pub fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.node_id)
    }

    /// The leader as this server sees it.
    pub fn leader(&self) -> Option<ServerNode> {
        let m = self.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        m.membership_config.membership().get_node(&id).cloned()
    }
}

/// A consistent (or, with `stale`, local) view of the replicated state plus its freshness.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReadView {
    pub state: State,
    pub known_leader: bool,
    /// Milliseconds since the answering server last heard from the leader; 0 on the leader.
    pub last_contact_ms: u64,
}

/// One server in the raft configuration, as `GET /v1/operator/raft/configuration` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftServer {
    pub id: String,
    pub node: String,
    pub address: String,
    pub leader: bool,
    pub voter: bool,
    pub raft_protocol: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfiguration {
    pub servers: Vec<RaftServer>,
    pub index: u64,
}

/// Local status, answered by any server without forwarding; used to form the cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub node: ServerNode,
    pub initialized: bool,
    pub leader: Option<ServerNode>,
    pub voters: Vec<String>,
    pub bootstrap_expect: u32,
}

/// Which peer a leadership transfer goes to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PeerRef {
    Id(String),
    Address(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddr {
    pub address: String,
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: PeerAddr,
    pub to: PeerAddr,
    pub noop: bool,
}

/// A replicated write. `forwarded` is set when it arrived from another server, which must not
/// forward it again.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Applied, OpError>")]
pub struct Write {
    pub command: Command,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<ReadView, OpError>")]
pub struct Read {
    pub stale: bool,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<RaftConfiguration, OpError>")]
pub struct GetRaftConfiguration {
    pub stale: bool,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct RemovePeer {
    pub id: String,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct Join {
    pub node: ServerNode,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Transfer, OpError>")]
pub struct TransferLeadership {
    pub target: PeerRef,
    pub forwarded: bool,
}

#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Status")]
pub struct GetStatus;

/// Asks this server to start an election now (the last step of a leadership transfer).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<(), OpError>")]
pub struct Elect;

/// Pauses this server's own election timer while another server takes over leadership.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct HoldElections {
    pub millis: u64,
}

pub struct Membership {
    node: Arc<Node>,
}

impl Membership {
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

impl Actor for Membership {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let node = self.node.clone();
        ctx.spawn(actix::fut::wrap_future(form_cluster(node.clone())));
        ctx.spawn(actix::fut::wrap_future(leader_duties(node)));
    }
}

/// Result of one attempt to run an operation on this server as leader.
pub(crate) enum Attempt<T> {
    Done(Result<T, OpError>),
    NotLeader,
}

fn not_leader() -> OpError {
    OpError::coded(STATUS_NOT_LEADER, "not the leader")
}

/// Runs `local` on the leader: here if this server leads, else forwarded to the leader over
/// RPC; waits up to [`HOLD_TIMEOUT`] for a leader to appear.
pub(crate) async fn on_leader<T, Req, F, Fut>(
    node: Arc<Node>,
    forwarded: bool,
    path: &str,
    req: &Req,
    local: F,
) -> Result<T, OpError>
where
    T: DeserializeOwned,
    Req: Serialize,
    F: Fn(Arc<Node>) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let deadline = Instant::now() + HOLD_TIMEOUT;
    let mut metrics = node.raft.metrics();
    loop {
        let leader = metrics.borrow().current_leader;
        match leader {
            Some(id) if id == node.node_id => match local(node.clone()).await {
                Attempt::Done(r) => return r,
                Attempt::NotLeader if forwarded => return Err(not_leader()),
                Attempt::NotLeader => {}
            },
            _ if forwarded => return Err(not_leader()),
            Some(_) => {
                if let Some(leader) = node.leader() {
                    match forward::<T, Req>(&node, &leader, path, req).await {
                        Ok(v) => return Ok(v),
                        Err(Forward::Retry) => {}
                        Err(Forward::Failed(e)) => return Err(e),
                    }
                }
            }
            None => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(OpError::NoLeader);
        }
        let wait = (deadline - now).min(Duration::from_millis(100));
        let _ = tokio::time::timeout(wait, metrics.changed()).await;
    }
}

enum Forward {
    Retry,
    Failed(OpError),
}

/// One forwarding hop. Connection failures and "not the leader" answers are retried by the
/// caller; anything else is final (a write may have been applied, so it is never re-sent).
async fn forward<T: DeserializeOwned, Req: Serialize>(
    node: &Node,
    leader: &ServerNode,
    path: &str,
    req: &Req,
) -> Result<T, Forward> {
    let url = format!("http://{}{}", leader.rpc_addr, path);
    let resp = match node.http.post(&url).json(req).timeout(Duration::from_secs(60)).send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Err(Forward::Retry),
        Err(e) => return Err(Forward::Failed(OpError::Forwarded(format!("failed to reach leader: {e}")))),
    };
    match resp.json::<Result<T, OpError>>().await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.status() == STATUS_NOT_LEADER => Err(Forward::Retry),
        Ok(Err(e)) => Err(Forward::Failed(e.forwarded())),
        Err(e) => Err(Forward::Failed(OpError::Forwarded(format!("bad reply from leader: {e}")))),
    }
}

/// Calls a peer's RPC endpoint directly (no leader logic).
pub async fn call_peer<T: DeserializeOwned, Req: Serialize>(
    http: &reqwest::Client,
    rpc_addr: &str,
    path: &str,
    req: &Req,
    timeout: Duration,
) -> Result<T, OpError> {
    let url = format!("http://{rpc_addr}{path}");
    let resp = http
        .post(&url)
        .json(req)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| OpError::Plain(format!("failed to reach {rpc_addr}: {e}")))?;
    resp.json::<Result<T, OpError>>().await.map_err(|e| OpError::Plain(format!("bad reply from {rpc_addr}: {e}")))?
}

fn raft_err<E: std::error::Error>(e: E) -> OpError {
    OpError::Plain(e.to_string())
}

async fn local_write(node: Arc<Node>, command: Command) -> Attempt<Applied> {
    match node.raft.client_write(command).await {
        Ok(resp) => Attempt::Done(Ok(resp.data)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(raft_err(e))),
    }
}

fn local_view(node: &Node) -> Result<ReadView, OpError> {
    let leader = node.is_leader();
    let metrics = node.metrics();
    let state = State {
        autopilot: node.reader.autopilot().map_err(raft_err)?,
        scheduler: node.reader.scheduler().map_err(raft_err)?,
    };
    Ok(ReadView {
        state,
        known_leader: metrics.current_leader.is_some(),
        last_contact_ms: if leader { 0 } else { node.leader_contact.elapsed().as_millis() as u64 },
    })
}

async fn linearizable_view(node: Arc<Node>) -> Attempt<ReadView> {
    match node.raft.ensure_linearizable().await {
        Ok(_) => Attempt::Done(local_view(&node)),
        Err(RaftError::APIError(_)) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(raft_err(e))),
    }
}

/// The raft configuration as this server's metrics show it.
pub fn local_configuration(node: &Node) -> RaftConfiguration {
    let m = node.metrics();
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let servers = membership
        .nodes()
        .map(|(id, n)| RaftServer {
            id: n.id.clone(),
            node: n.name.clone(),
            address: n.rpc_addr.clone(),
            leader: m.current_leader == Some(*id),
            voter: voters.contains(id),
            raft_protocol: "3".into(),
        })
        .collect();
    RaftConfiguration { servers, index: m.membership_config.log_id().map_or(0, |l| l.index) }
}

fn find_peer(node: &Node, target: &PeerRef) -> Option<(NodeId, ServerNode)> {
    let m = node.metrics();
    let found = m.membership_config.membership().nodes().find(|(_, n)| match target {
        PeerRef::Id(id) => &n.id == id,
        PeerRef::Address(a) => &n.rpc_addr == a,
    });
    found.map(|(id, n)| (*id, n.clone()))
}

use crate::gofmt::quote as go_quote;

async fn local_remove(node: Arc<Node>, id: String) -> Attempt<()> {
    if !node.is_leader() {
        return Attempt::NotLeader;
    }
    let Some((nid, _)) = find_peer(&node, &PeerRef::Id(id.clone())) else {
        return Attempt::Done(Err(OpError::Plain(format!(
            "id {} was not found in the Raft configuration",
            go_quote(&id)
        ))));
    };
    let change = ChangeMembers::RemoveVoters(BTreeSet::from([nid]));
    match node.raft.change_membership(change, false).await {
        Ok(_) => Attempt::Done(Ok(())),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(raft_err(e))),
    }
}

async fn local_join(node: Arc<Node>, joiner: ServerNode) -> Attempt<()> {
    if !node.is_leader() {
        return Attempt::NotLeader;
    }
    let Ok(uuid) = uuid::Uuid::parse_str(&joiner.id) else {
        return Attempt::Done(Err(OpError::coded(400, format!("invalid server id {}", go_quote(&joiner.id)))));
    };
    let nid = crate::raft::node_id_of(&uuid);
    let m = node.metrics();
    let membership = m.membership_config.membership();
    let known = membership.get_node(&nid).cloned();
    let is_voter = membership.voter_ids().any(|v| v == nid);
    if known.as_ref() == Some(&joiner) && is_voter {
        return Attempt::Done(Ok(()));
    }
    let result = async {
        if known.is_some() && known.as_ref() != Some(&joiner) {
            // Same server, new address or name: update its node record in place.
            node.raft.change_membership(ChangeMembers::SetNodes(BTreeMap::from([(nid, joiner.clone())])), true).await?;
        } else if known.is_none() {
            node.raft.add_learner(nid, joiner.clone(), true).await?;
        }
        if !is_voter {
            node.raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([nid])), false).await?;
        }
        Ok::<(), RaftError<NodeId, ClientWriteError<NodeId, ServerNode>>>(())
    }
    .await;
    match result {
        Ok(()) => {
            tracing::info!(server = %joiner, "server joined the raft configuration");
            Attempt::Done(Ok(()))
        }
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(raft_err(e))),
    }
}

/// Moves leadership to `target`: the other followers hold their elections, this leader stops
/// heartbeats so that leases expire, and the target campaigns until it wins.
async fn local_transfer(node: Arc<Node>, target: PeerRef) -> Attempt<Transfer> {
    if !node.is_leader() {
        return Attempt::NotLeader;
    }
    let Some((target_id, target_node)) = find_peer(&node, &target) else {
        let msg = match &target {
            PeerRef::Id(id) => format!("id {} was not found in the Raft configuration", go_quote(id)),
            PeerRef::Address(a) => format!("address {} was not found in the Raft configuration", go_quote(a)),
        };
        return Attempt::Done(Err(OpError::coded(400, msg)));
    };
    let from = PeerAddr { address: node.me.rpc_addr.clone(), id: node.me.id.clone() };
    let to = PeerAddr { address: target_node.rpc_addr.clone(), id: target_node.id.clone() };
    if target_id == node.node_id {
        return Attempt::Done(Ok(Transfer { from, to, noop: true }));
    }
    let m = node.metrics();
    if !m.membership_config.membership().voter_ids().any(|v| v == target_id) {
        return Attempt::Done(Err(OpError::coded(400, "cannot transfer leadership to a non-voter")));
    }
    let hold = HoldElections { millis: 10_000 };
    for (id, peer) in m.membership_config.membership().nodes() {
        if *id != target_id && *id != node.node_id {
            let _ = call_peer::<(), _>(&node.http, &peer.rpc_addr, PATH_HOLD_ELECTIONS, &hold, Duration::from_secs(1))
                .await;
        }
    }
    hold_elections(&node, Duration::from_millis(hold.millis));
    node.raft.runtime_config().heartbeat(false);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut outcome = Err(OpError::Plain("timed out waiting for leadership transfer".into()));
    while Instant::now() < deadline {
        let _ = call_peer::<(), _>(&node.http, &target_node.rpc_addr, PATH_ELECT, &Elect, Duration::from_secs(1)).await;
        let mut metrics = node.raft.metrics();
        let _ =
            tokio::time::timeout(Duration::from_millis(300), metrics.wait_for(|m| m.current_leader == Some(target_id)))
                .await;
        if node.metrics().current_leader == Some(target_id) {
            outcome = Ok(Transfer { from: from.clone(), to: to.clone(), noop: false });
            break;
        }
    }
    node.raft.runtime_config().heartbeat(true);
    release_elections(&node);
    for (id, peer) in m.membership_config.membership().nodes() {
        if *id != node.node_id {
            let release = HoldElections { millis: 0 };
            let _ =
                call_peer::<(), _>(&node.http, &peer.rpc_addr, PATH_HOLD_ELECTIONS, &release, Duration::from_secs(1))
                    .await;
        }
    }
    Attempt::Done(outcome)
}

fn hold_elections(node: &Node, d: Duration) {
    if let Ok(mut h) = node.elections_held_until.lock() {
        *h = Some(Instant::now() + d);
    }
    node.raft.runtime_config().elect(false);
}

fn release_elections(node: &Node) {
    if let Ok(mut h) = node.elections_held_until.lock() {
        *h = None;
    }
    node.raft.runtime_config().elect(true);
}

impl Handler<Write> for Membership {
    type Result = ResponseFuture<Result<Applied, OpError>>;

    fn handle(&mut self, msg: Write, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            let fwd = Write { command: msg.command.clone(), forwarded: true };
            on_leader(node, msg.forwarded, PATH_WRITE, &fwd, |n| local_write(n, msg.command.clone())).await
        })
    }
}

impl Handler<Read> for Membership {
    type Result = ResponseFuture<Result<ReadView, OpError>>;

    fn handle(&mut self, msg: Read, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            if msg.stale {
                return local_view(&node);
            }
            let fwd = Read { stale: false, forwarded: true };
            on_leader(node, msg.forwarded, PATH_READ, &fwd, linearizable_view).await
        })
    }
}

impl Handler<GetRaftConfiguration> for Membership {
    type Result = ResponseFuture<Result<RaftConfiguration, OpError>>;

    fn handle(&mut self, msg: GetRaftConfiguration, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            if msg.stale {
                return Ok(local_configuration(&node));
            }
            let fwd = GetRaftConfiguration { stale: false, forwarded: true };
            on_leader(node, msg.forwarded, PATH_RAFT_CONFIGURATION, &fwd, |n| async move {
                if n.is_leader() {
                    Attempt::Done(Ok(local_configuration(&n)))
                } else {
                    Attempt::NotLeader
                }
            })
            .await
        })
    }
}

impl Handler<RemovePeer> for Membership {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, msg: RemovePeer, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            let fwd = RemovePeer { id: msg.id.clone(), forwarded: true };
            on_leader(node, msg.forwarded, PATH_REMOVE_PEER, &fwd, |n| local_remove(n, msg.id.clone())).await
        })
    }
}

impl Handler<Join> for Membership {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, msg: Join, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            let fwd = Join { node: msg.node.clone(), forwarded: true };
            on_leader(node, msg.forwarded, PATH_JOIN, &fwd, |n| local_join(n, msg.node.clone())).await
        })
    }
}

impl Handler<TransferLeadership> for Membership {
    type Result = ResponseFuture<Result<Transfer, OpError>>;

    fn handle(&mut self, msg: TransferLeadership, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move {
            // Nomad answers a missing leader here with a coded 503 rather than the plain 500.
            let fwd = TransferLeadership { target: msg.target.clone(), forwarded: true };
            let r =
                on_leader(node, msg.forwarded, PATH_TRANSFER, &fwd, |n| local_transfer(n, msg.target.clone())).await;
            match r {
                Err(OpError::NoLeader) => Err(OpError::coded(503, "No cluster leader")),
                other => other,
            }
        })
    }
}

impl Handler<GetStatus> for Membership {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        MessageResult(status(&self.node))
    }
}

impl Handler<Elect> for Membership {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, _: Elect, _: &mut Self::Context) -> Self::Result {
        let node = self.node.clone();
        Box::pin(async move { node.raft.trigger().elect().await.map_err(raft_err) })
    }
}

impl Handler<HoldElections> for Membership {
    type Result = ();

    fn handle(&mut self, msg: HoldElections, ctx: &mut Self::Context) {
        if msg.millis == 0 {
            release_elections(&self.node);
            return;
        }
        let d = Duration::from_millis(msg.millis.min(30_000));
        hold_elections(&self.node, d);
        // A transfer whose leader dies half-way must not leave this server unable to campaign.
        let node = self.node.clone();
        ctx.run_later(d, move |_, _| {
            let expired =
                node.elections_held_until.lock().map(|h| h.is_some_and(|t| t <= Instant::now())).unwrap_or(true);
            if expired {
                release_elections(&node);
            }
        });
    }
}

fn status(node: &Node) -> Status {
    let m = node.metrics();
    let membership = m.membership_config.membership();
    let voters = membership.voter_ids().filter_map(|id| membership.get_node(&id).map(|n| n.id.clone())).collect();
    Status {
        node: node.me.clone(),
        initialized: m.membership_config.log_id().is_some(),
        leader: node.leader(),
        voters,
        bootstrap_expect: node.settings.bootstrap_expect,
    }
}

/// Forms the cluster: bootstraps it when this server is the designated one of
/// `bootstrap_expect` uninitialised servers, or joins an existing cluster through a leader
/// reachable via `retry_join`. Keeps reconciling so that a removed server that is still alive
/// (or restarted) asks to be added back, as Nomad's leader does for live gossip members.
async fn form_cluster(node: Arc<Node>) {
    let expect = node.settings.bootstrap_expect;
    let mut delay = Duration::from_millis(200);
    loop {
        let me = status(&node);
        let i_am_voter = me.voters.contains(&node.me.id);
        if !me.initialized && expect <= 1 && node.settings.retry_join.is_empty() {
            bootstrap(&node, vec![node.me.clone()]).await;
        } else if !node.settings.retry_join.is_empty() {
            let mut peers = Vec::new();
            for addr in &node.settings.retry_join {
                if addr == &node.me.rpc_addr {
                    continue;
                }
                if let Ok(s) =
                    call_peer::<Status, _>(&node.http, addr, PATH_STATUS, &GetStatus, Duration::from_secs(1)).await
                {
                    if s.node.id != node.me.id {
                        peers.push(s);
                    }
                }
            }
            let leader = peers.iter().find_map(|p| p.leader.clone()).or_else(|| me.leader.clone());
            let leader_lists_me = peers
                .iter()
                .chain(std::iter::once(&me))
                .filter(|s| s.leader.is_some() && s.leader == leader)
                .all(|s| s.voters.contains(&node.me.id));
            if let Some(leader) = leader.filter(|_| !(i_am_voter && leader_lists_me)) {
                let join = Join { node: node.me.clone(), forwarded: false };
                match call_peer::<(), _>(&node.http, &leader.rpc_addr, PATH_JOIN, &join, Duration::from_secs(30)).await
                {
                    Ok(()) => tracing::info!(leader = %leader, "joined the cluster"),
                    Err(e) => tracing::debug!(error = %e, "join attempt failed"),
                }
            } else if !me.initialized && peers.iter().all(|p| !p.initialized) {
                let mut candidates: Vec<ServerNode> = peers.iter().map(|p| p.node.clone()).collect();
                candidates.push(node.me.clone());
                candidates.sort_by(|a, b| a.id.cmp(&b.id));
                candidates.dedup_by(|a, b| a.id == b.id);
                // Exactly one server bootstraps: the lowest ID among the expected set, and only
                // once all of them can see each other uninitialised.
                if candidates.len() >= expect as usize && candidates.first().map(|c| &c.id) == Some(&node.me.id) {
                    candidates.truncate(expect.max(1) as usize);
                    bootstrap(&node, candidates).await;
                }
            }
        }
        let settled = {
            let s = status(&node);
            s.initialized && s.leader.is_some() && s.voters.contains(&node.me.id)
        };
        delay = if settled { Duration::from_secs(5) } else { (delay * 2).min(Duration::from_secs(2)) };
        tokio::time::sleep(delay).await;
    }
}

async fn bootstrap(node: &Node, members: Vec<ServerNode>) {
    let mut map = BTreeMap::new();
    for m in members {
        if let Ok(uuid) = uuid::Uuid::parse_str(&m.id) {
            map.insert(crate::raft::node_id_of(&uuid), m);
        }
    }
    let names: Vec<String> = map.values().map(|n| n.name.clone()).collect();
    match node.raft.initialize(map).await {
        Ok(()) => tracing::info!(servers = ?names, "bootstrapped a new raft cluster"),
        Err(e) => tracing::debug!(error = %e, "bootstrap skipped"),
    }
}

/// On every leadership gain: make sure the config rows exist (the first leader writes the
/// defaults through raft).
async fn leader_duties(node: Arc<Node>) {
    let mut metrics = node.raft.metrics();
    let mut handled_term = None;
    loop {
        let (is_leader, term) = {
            let m = metrics.borrow();
            (m.state == ServerState::Leader, m.current_term)
        };
        if is_leader && handled_term != Some(term) {
            if node.raft.ensure_linearizable().await.is_ok() {
                let missing = match (node.reader.autopilot(), node.reader.scheduler()) {
                    (Ok(a), Ok(s)) => a.is_none() || s.is_none(),
                    // Writing the defaults is harmless when the rows exist: they are set only
                    // if absent.
                    _ => true,
                };
                if missing {
                    let cmd = Command::InitDefaults {
                        autopilot: node.settings.autopilot_defaults.clone(),
                        scheduler: node.settings.scheduler_defaults.clone(),
                    };
                    if let Err(e) = node.raft.client_write(cmd).await {
                        tracing::warn!(error = %e, "writing default configuration failed; will retry");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
                handled_term = Some(term);
            } else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
