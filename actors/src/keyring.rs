//! The keyring actor: gossip encryption keys across the cluster, as serf's `KeyManager` changes
//! them for Nomad's `/v1/agent/keyring/*` (list, install, use, remove). It owns no state: each
//! server's keyring lives in its gossip task ([`crate::gossip::keyring`]).
//!
//! ```text
//! InstallKey / UseKey / RemoveKey / ListKeys (Call, agent:write)
//!   ├─> this server: gossip.key_op(op)                      (keyring + serf.keyring file)
//!   └─> every other alive member, in parallel: POST wire::paths::GOSSIP_KEYRING on its RPC
//!       port, the caller's token in the caller header
//!         └─> that server admits the caller (agent:write, its own tables), opens the request
//!             with its keyring, applies the op, answers its NodeKeyResponse, sealed
//!   ─> KeyResponse: per-node messages, key counts, how many answered and failed
//! ```
//!
//! **Why the RPC port, not a gossip query.** Serf sends a key operation as an internal query
//! over gossip and gathers the answers over UDP. Each server already has a request/answer
//! channel to every other: the internal RPC, with timeouts, TLS when configured, and the
//! caller's token checked by the server that applies the operation. Over it an answer is
//! either there or a clear error, without a query protocol of our own beside foca's. What serf
//! gets from gossip, that the keys travel encrypted by the cluster's key, we keep by sealing
//! the request and the answer with the gossip keyring ([`crate::gossip::cipher`]): the new key
//! never crosses the network in clear between servers, and a server whose keyring shares no
//! key with ours cannot read or answer the operation.
//!
//! Members are those gossip lists `alive`, as serf's `NumNodes` counts them; a failed server
//! misses the operation, as in serf, and must be given the keys (its keyring file, or an
//! install once it is back) before the old key is removed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::authz::Authority;
use crate::authz::Caller;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::admit;
use crate::forward::call_peer_for;
use crate::forward::Call;
use crate::forward::Forwarded;
use crate::gossip::cipher;
use crate::gossip::KeyOp;
use crate::gossip::Keyring;
use crate::gossip::MemberStatus;
use crate::gossip::NodeKeyResponse;
use crate::wire::paths;
use crate::wire::Forwardable;

/// How long one server has to answer a key operation (serf's query timeout on a small
/// cluster is a few seconds).
pub const NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// Nomad requires `agent:write` for every keyring endpoint, the listing included.
const REQUIRED: Requirement<'static> = Requirement::AgentWrite;

/// Lists the keys installed on every alive server.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<KeyResponse, OpError>")]
pub struct ListKeys;

/// Installs a key on every alive server (it decrypts with it from then on).
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<KeyResponse, OpError>")]
pub struct InstallKey {
    pub key: Vec<u8>,
}

/// Makes an installed key the primary on every alive server (it encrypts with it).
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<KeyResponse, OpError>")]
pub struct UseKey {
    pub key: Vec<u8>,
}

/// Removes a key that is not the primary from every alive server.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<KeyResponse, OpError>")]
pub struct RemoveKey {
    pub key: Vec<u8>,
}

/// What the cluster answered to one key operation (serf's `KeyResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyResponse {
    /// A server's message, by member name, when it failed or had something to say.
    pub messages: BTreeMap<String, String>,
    /// Each key (base64) listed, with the number of servers that have it installed.
    pub keys: BTreeMap<String, usize>,
    /// Each primary key (base64), with the number of servers that encrypt with it.
    pub primary_keys: BTreeMap<String, usize>,
    /// Alive members when the operation was sent.
    pub num_nodes: usize,
    pub num_resp: usize,
    pub num_err: usize,
}

impl KeyResponse {
    /// Serf's verdict (`handleKeyRequest`): `<n>/<m> nodes reported failure` when any server
    /// failed, `<n>/<m> nodes reported success` when some did not answer.
    pub fn failure(&self) -> Option<String> {
        if self.num_err != 0 {
            return Some(format!("{}/{} nodes reported failure", self.num_err, self.num_nodes));
        }
        if self.num_resp != self.num_nodes {
            return Some(format!("{}/{} nodes reported success", self.num_resp, self.num_nodes));
        }
        None
    }

    /// Adds one server's answer (serf's `streamKeyResp`); `None` when it did not answer.
    pub fn add(&mut self, member: &str, answer: Option<NodeKeyResponse>) {
        let Some(r) = answer else { return };
        self.num_resp += 1;
        if !r.result {
            self.num_err += 1;
        }
        if !r.message.is_empty() {
            self.messages.insert(member.to_string(), r.message);
        }
        for key in r.keys {
            *self.keys.entry(key).or_default() += 1;
        }
        if r.result && !r.primary_key.is_empty() {
            *self.primary_keys.entry(r.primary_key).or_default() += 1;
        }
    }
}

/// A key operation as it travels to one server and its answer comes back: postcard, sealed
/// with the sender's primary gossip key when it has one ([`seal`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKeyOp {
    pub sealed: bool,
    pub body: Vec<u8>,
}

impl Forwardable for SealedKeyOp {
    const PATH: &'static str = paths::GOSSIP_KEYRING;
    const CODEC: crate::wire::Codec = crate::wire::Codec::Postcard;
    type Output = SealedKeyOp;
}

impl Guarded for SealedKeyOp {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&REQUIRED)
    }
}

/// Encodes `v` and seals it with `ring`'s primary key (in clear when it has none, as gossip).
pub fn seal<T: Serialize>(ring: &Keyring, v: &T) -> Result<SealedKeyOp, OpError> {
    let plain = postcard::to_stdvec(v).map_err(|e| OpError::Internal(e.to_string()))?;
    match ring.primary() {
        None => Ok(SealedKeyOp { sealed: false, body: plain }),
        Some(key) => cipher::encrypt(key, &plain, b"")
            .map(|body| SealedKeyOp { sealed: true, body })
            .map_err(|e| OpError::Internal(e.to_string())),
    }
}

/// Opens what [`seal`] made with any of `keys`; as gossip, a server with keys takes nothing in
/// clear and one without takes nothing sealed. The error is the text for the answer.
pub fn open<T: serde::de::DeserializeOwned>(keys: &[Vec<u8>], msg: &SealedKeyOp) -> Result<T, String> {
    use crate::gossip::Refusal;
    let plain = match (keys.is_empty(), msg.sealed) {
        (false, true) => cipher::decrypt(keys, &msg.body, b"").map_err(|e| e.to_string())?,
        (true, false) => msg.body.clone(),
        (false, false) => return Err(Refusal::Plaintext.text().into()),
        (true, true) => return Err(Refusal::Encrypted.text().into()),
    };
    postcard::from_bytes(&plain).map_err(|e| format!("Failed to decode key request: {e}"))
}

/// The keyring actor.
pub struct KeyringActor {
    ctx: Arc<ServerContext>,
}

impl KeyringActor {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl Actor for KeyringActor {
    type Context = Context<Self>;
}

crate::context::stops_on_request!(KeyringActor);

/// Sends `op` to every alive server (this one directly) and gathers the answers.
async fn broadcast(ctx: Arc<ServerContext>, caller: Caller, op: KeyOp) -> Result<KeyResponse, OpError> {
    admit(&ctx, &caller, &REQUIRED)?;
    let gossip = &ctx.gossip;
    let stopped = |e: crate::gossip::GossipError| OpError::Internal(e.to_string());
    let members = gossip.members().await.map_err(stopped)?;
    let alive: Vec<_> = members.into_iter().filter(|m| m.status == MemberStatus::Alive).collect();
    let before = gossip.keyring().await.map_err(stopped)?;
    let request = seal(&before, &op)?;
    let mut response = KeyResponse { num_nodes: alive.len(), ..KeyResponse::default() };

    let mut calls = tokio::task::JoinSet::new();
    for member in alive.iter().filter(|m| m.identity.name != gossip.local().name) {
        let (ctx, caller, request) = (ctx.clone(), caller.clone(), request.clone());
        let (name, rpc_addr) = (member.identity.name.clone(), member.identity.rpc_addr.clone());
        calls.spawn(async move {
            let answer = call_peer_for(&ctx.http, &rpc_addr, &caller, &request, NODE_TIMEOUT).await;
            (name, answer)
        });
    }
    let here = gossip.key_op(op.clone()).await.map_err(stopped)?;
    response.add(&gossip.local().name, Some(here));
    // An answer is sealed with the peer's primary: ours before or after this operation.
    let after = gossip.keyring().await.map_err(stopped)?;
    let mut keys = after.keys().to_vec();
    keys.extend(before.keys().iter().filter(|k| !after.keys().contains(k)).cloned());
    while let Some(joined) = calls.join_next().await {
        let Ok((name, answer)) = joined else { continue };
        let answer = match answer {
            Ok(sealed) => open::<NodeKeyResponse>(&keys, &sealed).unwrap_or_else(NodeKeyResponse::failed),
            Err(OpError::PermissionDenied | OpError::TokenNotFound | OpError::TokenExpired) => {
                NodeKeyResponse::failed("Permission denied")
            }
            Err(e) => {
                tracing::warn!(member = %name, error = %e, query = op.name(), "serf: no answer to key query");
                continue;
            }
        };
        response.add(&name, Some(answer));
    }
    Ok(response)
}

macro_rules! key_ops {
    ($($msg:ty => $op:expr),+ $(,)?) => {$(
        impl Handler<Call<$msg>> for KeyringActor {
            type Result = ResponseFuture<Result<KeyResponse, OpError>>;

            fn handle(&mut self, call: Call<$msg>, _: &mut Self::Context) -> Self::Result {
                let to_op: fn($msg) -> KeyOp = $op;
                Box::pin(broadcast(self.ctx.clone(), call.caller, to_op(call.op)))
            }
        }
    )+};
}

key_ops!(
    ListKeys => |_| KeyOp::List,
    InstallKey => |m| KeyOp::Install(m.key),
    UseKey => |m| KeyOp::Use(m.key),
    RemoveKey => |m| KeyOp::Remove(m.key),
);

/// A peer's key operation for its caller: admitted by this server's tables, opened with this
/// server's keyring, applied here, answered sealed.
impl Handler<Forwarded<SealedKeyOp>> for KeyringActor {
    type Result = ResponseFuture<Result<SealedKeyOp, OpError>>;

    fn handle(&mut self, msg: Forwarded<SealedKeyOp>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            admit(&ctx, &msg.caller, &msg.op)?;
            let stopped = |e: crate::gossip::GossipError| OpError::Internal(e.to_string());
            let ring = ctx.gossip.keyring().await.map_err(stopped)?;
            let answer = match open::<KeyOp>(ring.keys(), &msg.op) {
                Ok(op) => ctx.gossip.key_op(op).await.map_err(stopped)?,
                Err(e) => {
                    tracing::error!("serf: Failed to decode key request: {e}");
                    NodeKeyResponse::failed(e)
                }
            };
            let ring = ctx.gossip.keyring().await.map_err(stopped)?;
            seal(&ring, &answer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> NodeKeyResponse {
        NodeKeyResponse { result: true, ..NodeKeyResponse::default() }
    }

    fn listed(keys: &[&str]) -> NodeKeyResponse {
        NodeKeyResponse {
            result: true,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            primary_key: keys[0].into(),
            ..NodeKeyResponse::default()
        }
    }

    #[test]
    fn answers_add_up_as_serf_counts_them() {
        let mut r = KeyResponse { num_nodes: 3, ..KeyResponse::default() };
        r.add("s1.global", Some(listed(&["A", "B"])));
        r.add("s2.global", Some(listed(&["B", "A"])));
        r.add("s3.global", Some(listed(&["A"])));
        assert_eq!(r.keys, BTreeMap::from([("A".into(), 3), ("B".into(), 2)]));
        assert_eq!(r.primary_keys, BTreeMap::from([("A".into(), 2), ("B".into(), 1)]));
        assert_eq!(r.failure(), None);

        let mut r = KeyResponse { num_nodes: 3, ..KeyResponse::default() };
        for name in ["s1.global", "s2.global", "s3.global"] {
            r.add(name, Some(NodeKeyResponse::failed("removing the primary key is not allowed")));
        }
        assert_eq!(r.failure().as_deref(), Some("3/3 nodes reported failure"));
        assert_eq!(r.messages["s2.global"], "removing the primary key is not allowed");

        let mut r = KeyResponse { num_nodes: 3, ..KeyResponse::default() };
        r.add("s1.global", Some(ok()));
        r.add("s2.global", Some(ok()));
        r.add("s3.global", None);
        assert_eq!(r.failure().as_deref(), Some("2/3 nodes reported success"));
        assert!(r.messages.is_empty());
    }

    #[test]
    fn sealed_requests_open_only_with_a_shared_key() {
        let k1 = Keyring::new(vec![vec![1; 32]]).unwrap();
        let k2 = Keyring::new(vec![vec![2; 16]]).unwrap();
        let both = Keyring::new(vec![vec![2; 16], vec![1; 32]]).unwrap();
        let op = KeyOp::Install(vec![7; 32]);
        let sealed = seal(&k1, &op).unwrap();
        assert!(sealed.sealed);
        assert!(!sealed.body.windows(32).any(|w| w == [7; 32]), "the new key is not readable on the wire");
        assert_eq!(open::<KeyOp>(k1.keys(), &sealed), Ok(op.clone()));
        assert_eq!(open::<KeyOp>(both.keys(), &sealed), Ok(op.clone()));
        assert_eq!(open::<KeyOp>(k2.keys(), &sealed), Err("No installed keys could decrypt the message".into()));
        assert_eq!(
            open::<KeyOp>(&[], &sealed),
            Err("remote state is encrypted and encryption is not configured".into())
        );
        let clear = seal(&Keyring::default(), &op).unwrap();
        assert!(!clear.sealed);
        assert_eq!(open::<KeyOp>(&[], &clear), Ok(op));
        assert_eq!(
            open::<KeyOp>(k1.keys(), &clear),
            Err("encryption is configured but remote state is not encrypted".into())
        );
    }
}
