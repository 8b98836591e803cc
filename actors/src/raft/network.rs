//! Server-to-server RPC client: raft traffic and internal calls over HTTP on the RPC port.
//!
//! The receiving side is `forward::serve`; the paths are listed in `forward::paths`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use openraft::error::InstallSnapshotError;
use openraft::error::NetworkError;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::RemoteError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::NodeId;
use super::ServerNode;
use super::TypeConfig;

use crate::forward::paths::APPEND as PATH_APPEND;
use crate::forward::paths::SNAPSHOT as PATH_SNAPSHOT;
use crate::forward::paths::VOTE as PATH_VOTE;
use crate::forward::RAFT_CODEC;

/// A peer that does not accept a connection within this is unreachable for this RPC: well
/// under the heartbeat-driven election timeout (500 ms minimum), so one dead peer does not
/// stall the leader's view of the others.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Idle connections to peers are kept this long: heartbeats (every 100 ms) keep them warm, and
/// a removed peer's connection goes away on its own.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A snapshot chunk may take longer than openraft's per-RPC deadline on a slow disk; never give
/// it less than this.
const MIN_SNAPSHOT_CHUNK_TIMEOUT: Duration = Duration::from_secs(10);

/// When each peer last answered one of our raft RPCs; autopilot reads it for `LastContact`.
#[derive(Clone, Default)]
pub struct Contacts {
    inner: Arc<Mutex<HashMap<NodeId, Instant>>>,
}

impl Contacts {
    pub fn touch(&self, id: NodeId) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(id, Instant::now());
        }
    }

    pub fn last(&self, id: NodeId) -> Option<Instant> {
        self.inner.lock().ok().and_then(|m| m.get(&id).copied())
    }
}

/// Builds one [`Connection`] per peer; shares one HTTP client (and its connection pool).
#[derive(Clone)]
pub struct Network {
    client: reqwest::Client,
    contacts: Contacts,
}

impl Network {
    pub fn new(contacts: Contacts) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self { client, contacts }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &ServerNode) -> Self::Network {
        Connection {
            client: self.client.clone(),
            contacts: self.contacts.clone(),
            target,
            base: format!("http://{}", node.rpc_addr),
        }
    }
}

pub struct Connection {
    client: reqwest::Client,
    contacts: Contacts,
    target: NodeId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, ServerNode, RaftError<NodeId, E>>>;

impl Connection {
    async fn call<Req, Resp, E>(&self, path: &str, req: &Req, timeout: Duration) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
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
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        let bytes = resp.bytes().await.map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let result: Result<Resp, RaftError<NodeId, E>> =
            RAFT_CODEC.decode(&bytes).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        self.contacts.touch(self.target);
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        req: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call(PATH_APPEND, &req, option.hard_ttl()).await
    }

    async fn install_snapshot(
        &mut self,
        req: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(PATH_SNAPSHOT, &req, option.hard_ttl().max(MIN_SNAPSHOT_CHUNK_TIMEOUT)).await
    }

    async fn vote(
        &mut self,
        req: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call(PATH_VOTE, &req, option.hard_ttl()).await
    }
}
