//! The server context: what one server's actors share. Its identity, its openraft handle, the
//! local reader of the applied state (and who a caller is by it: `ServerContext::authority`),
//! when peers and the leader were last heard from, and the HTTP client for internal RPC. Crate-private: embedders reach a server through
//! [`crate::Server`]'s methods and the actors' messages.
//!
//! Also what every actor's life shares: the [`Stop`] message that ends it, and the one raft
//! membership change two actors make ([`remove_server`]).

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use actix::Message;
use openraft::ChangeMembers;
use openraft::ServerState;
use serde::Deserialize;
use serde::Serialize;

use crate::authz::Authority;
use crate::authz::Caller;
use crate::authz::Resolved;
use crate::authz::Unresolved;
use crate::clock::now_nanos;
use crate::error::OpError;
use crate::raft::network::Contacts;
use crate::raft::network::Peers;
use crate::raft::store::StateReader;
use crate::raft::NodeId;
use crate::raft::Raft;
use crate::raft::RaftMetrics;
use crate::raft::ServerNode;
use crate::settings::Settings;
use crate::state::acl::ANONYMOUS_POLICY;

/// When this server last heard from a leader (touched when append-entries of the current
/// leader arrive).
#[derive(Clone)]
pub(crate) struct LeaderContact {
    inner: Arc<Mutex<Instant>>,
}

impl Default for LeaderContact {
    fn default() -> Self {
        Self { inner: Arc::new(Mutex::new(Instant::now())) }
    }
}

impl LeaderContact {
    pub(crate) fn touch(&self) {
        if let Ok(mut t) = self.inner.lock() {
            *t = Instant::now();
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.inner.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

/// Everything one server's actors share. Read-mostly: the only interior mutability is in the
/// contact clocks, which the RPC layer touches.
pub(crate) struct ServerContext {
    pub(crate) me: ServerNode,
    pub(crate) node_id: NodeId,
    pub(crate) settings: Settings,
    pub(crate) raft: Raft,
    pub(crate) reader: StateReader,
    /// When each peer last answered one of our raft RPCs (autopilot's `LastContact`).
    pub(crate) contacts: Contacts,
    pub(crate) leader_contact: LeaderContact,
    /// Gossip's view of which servers are alive, failed or left (written by the gossip layer).
    pub(crate) liveness: crate::liveness::Liveness,
    /// The gossip layer: the member list formation joins through.
    pub(crate) gossip: crate::gossip::Gossip,
    /// How this server calls the others' RPC ports (HTTP, or HTTPS with mutual TLS).
    pub(crate) http: Peers,
    /// The leader's way into raft for client writes, each its own entry.
    pub(crate) proposer: crate::propose::Proposer,
    /// Where snapshot archives and uploads are spooled (`<data_dir>/server/tmp`): on the data
    /// disk, which has room for the state, rather than a small tmpfs.
    pub(crate) tmp_dir: PathBuf,
    /// The raft snapshot being received from the leader, chunk by chunk.
    pub(crate) snapshot_inbox: crate::raft::network::SnapshotInbox,
    /// This server's telemetry sinks (`GET /v1/metrics`).
    pub(crate) metrics: crate::metrics::Metrics,
    /// Fsyncs and the committed index, counted by the raft log store.
    pub(crate) store_counters: Arc<crate::metrics::StoreCounters>,
}

impl ServerContext {
    pub(crate) fn metrics(&self) -> RaftMetrics {
        self.raft.metrics().borrow_watched().clone()
    }

    pub(crate) fn is_leader(&self) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Leader && m.current_leader == Some(self.node_id)
    }

    /// The leader as this server sees it.
    pub(crate) fn leader(&self) -> Option<ServerNode> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let id = m.current_leader?;
        m.membership_config.membership().get_node(&id).cloned()
    }

    /// The raft configuration as this server's metrics show it.
    pub(crate) fn local_configuration(&self) -> RaftConfiguration {
        let m = self.metrics();
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

    /// Finds a server of the raft configuration by ID or RPC address.
    pub(crate) fn find_peer(&self, target: &crate::error::PeerRef) -> Option<(NodeId, ServerNode)> {
        use crate::error::PeerRef;
        let m = self.metrics();
        let found = m.membership_config.membership().nodes().find(|(_, n)| match target {
            PeerRef::Id(id) => &n.id == id,
            PeerRef::Address(a) => &n.rpc_addr == a,
        });
        found.map(|(id, n)| (*id, n.clone()))
    }

    /// An anonymous temporary file in [`ServerContext::tmp_dir`]: it has no name, so it is gone
    /// once closed, even after a crash.
    pub(crate) fn temp_file(&self) -> std::io::Result<std::fs::File> {
        tempfile::tempfile_in(&self.tmp_dir)
    }

    /// Who `caller` is on this server: resolved against this server's own replicated tables
    /// (with ACLs on), at this server's clock. The leader's tables hold every write it has
    /// acknowledged, so a token created a moment ago works, and one deleted a moment ago no
    /// longer does, for every operation the leader runs.
    pub(crate) fn authority(&self, caller: &Caller) -> Result<Authority, OpError> {
        match caller {
            Caller::Trusted => Ok(Authority::Unrestricted),
            Caller::Token(_) if !self.settings.acl.enabled => Ok(Authority::Unrestricted),
            Caller::Token(secret) => Ok(match self.resolve(secret, now_nanos())? {
                Ok(resolved) => Authority::of(resolved),
                Err(why) => Authority::Unresolved(why),
            }),
        }
    }

    /// A secret (empty: anonymous) resolved from this server's tables at `now`.
    fn resolve(&self, secret: &str, now: i64) -> Result<Result<Resolved, Unresolved>, OpError> {
        let reader = &self.reader;
        if secret.is_empty() {
            let policies = reader.acl_policy(ANONYMOUS_POLICY)?.into_iter().collect();
            return Ok(Ok(Resolved { token: None, policies }));
        }
        let Some(token) = reader.acl_token_by_secret(secret)? else {
            return Ok(Err(Unresolved::NotFound));
        };
        if token.is_expired(now) {
            return Ok(Err(Unresolved::Expired));
        }
        let mut policies = Vec::new();
        if !token.is_management() {
            for name in &token.policies {
                if let Some(p) = reader.acl_policy(name)? {
                    policies.push(p);
                }
            }
        }
        Ok(Ok(Resolved { token: Some(token), policies }))
    }

    /// How fresh a local answer is: whether a leader is known and, on a follower, how long
    /// since it was last heard from (0 on the leader).
    pub(crate) fn freshness(&self) -> (bool, u64) {
        let known_leader = self.raft.metrics().borrow_watched().current_leader.is_some();
        let last_contact_ms = if self.is_leader() { 0 } else { self.leader_contact.elapsed().as_millis() as u64 };
        (known_leader, last_contact_ms)
    }
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

/// The raft configuration and the log index it was committed at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfiguration {
    pub servers: Vec<RaftServer>,
    pub index: u64,
}

/// Stops an actor and the loops it runs (`Server::shutdown` sends it to every actor).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

/// The [`Stop`] handler every actor has.
macro_rules! stops_on_request {
    ($actor:ty) => {
        impl ::actix::Handler<$crate::context::Stop> for $actor {
            type Result = ();

            fn handle(&mut self, _: $crate::context::Stop, ctx: &mut Self::Context) {
                ::actix::ActorContext::stop(ctx);
            }
        }
    };
}
pub(crate) use stops_on_request;

/// What a membership change can fail with.
pub(crate) type ChangeError =
    openraft::error::RaftError<crate::raft::TypeConfig, openraft::error::ClientWriteError<crate::raft::TypeConfig>>;

/// Removes a server from the raft configuration, voter or non-voter (an operator's
/// `DELETE /v1/operator/raft/peer`, or autopilot removing a dead server).
pub(crate) async fn remove_server(ctx: &ServerContext, nid: NodeId) -> Result<(), ChangeError> {
    let is_voter = ctx.metrics().membership_config.membership().voter_ids().any(|v| v == nid);
    // Removing a voter drops its node record too (retain = false); a learner has no vote to
    // drop, only the record.
    let change = if is_voter {
        ChangeMembers::RemoveVoters(BTreeSet::from([nid]))
    } else {
        ChangeMembers::RemoveNodes(BTreeSet::from([nid]))
    };
    ctx.raft.change_membership(change, false).await.map(|_| ())
}
