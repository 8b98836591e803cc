//! The answering half of server-to-server calls: [`serve`] maps every internal RPC path to
//! what answers it on this server. Raft traffic goes straight to openraft; a forwarded
//! operation goes to the actor that owns it as [`Forwarded`], with its caller, and runs if this
//! server leads and the caller's token allows it here (a server that does not lead refuses it,
//! and the caller routes it anew).
//!
//! Who may call what is [`paths::ALL`]. A client's operation is authorised by its caller's
//! token ([`crate::wire::CALLER_HEADER`]; none: the anonymous caller), whoever connected, by
//! the actor that runs it. Raft traffic and server duties (join, status, elections) are taken
//! only from a connection the listener proved to be a server's ([`Peer::Server`]) when
//! `Settings::rpc_requires_server_cert` is on. Off (no TLS), they are taken from anyone who
//! reaches the port, as in Nomad without TLS: plain TCP cannot tell a server from anyone else.
//! Raft itself then refuses what does not fit its term and log, a join is refused unless
//! gossip knows the joiner, but a peer that speaks raft can still disrupt elections. A server
//! duty, once admitted, runs on the server's own authority: no header or body decodes to it.
//!
//! This table sits at the top of the crate, above every actor, as Nomad's `setupRpcServer`
//! registers its endpoints: the calling half ([`crate::forward`]) and the actors know only
//! the paths of [`crate::wire`], never this table.

use actix::dev::ToEnvelope;
use actix::Actor;
use actix::Addr;
use actix::Handler;
use serde::Serialize;

use crate::authz::Caller;
use crate::forward::Forwarded;
use crate::wire::batch_may_carry;
use crate::wire::paths;
use crate::wire::Access;
use crate::wire::BatchOp;
use crate::wire::Forwardable;
use crate::wire::Peer;
use crate::wire::RpcError;
use crate::wire::RpcReply;
use crate::wire::BATCH_CODEC;
use crate::wire::RAFT_CODEC;
use crate::Server;

/// Delivers a forwarded operation with its caller to the actor that owns it and encodes its
/// answer.
async fn relay<A, R>(addr: &Addr<A>, caller: Caller, body: &[u8]) -> Result<RpcReply, RpcError>
where
    R: Forwardable,
    A: Actor + Handler<Forwarded<R>>,
    A::Context: ToEnvelope<A, Forwarded<R>>,
{
    let op: R = R::CODEC.decode(body)?;
    let r = addr.send(Forwarded { caller, op }).await.unwrap_or_else(|e| Err(e.into()));
    Ok(RpcReply::new(R::CODEC, R::CODEC.reply(&r)))
}

fn raft_reply<T: Serialize>(v: &T) -> Result<RpcReply, RpcError> {
    Ok(RpcReply::new(RAFT_CODEC, RAFT_CODEC.reply(v)))
}

/// Takes one chunk of a raft snapshot from the leader; after the last, hands the whole file to
/// raft, which installs it if it is still newer than this server's state.
async fn receive_snapshot_chunk(
    ctx: &crate::context::ServerContext,
    chunk: crate::raft::network::SnapshotChunk,
) -> crate::raft::network::SnapshotChunkAnswer {
    let Some(file) = ctx.snapshot_inbox.take(&chunk, || ctx.temp_file()).await? else {
        return Ok(None);
    };
    let snapshot = crate::raft::Snapshot { meta: chunk.meta, snapshot: tokio::fs::File::from_std(file) };
    ctx.raft.install_full_snapshot(chunk.vote, snapshot).await.map(Some).map_err(|e| e.to_string())
}

/// Answers one internal RPC on the receiving server: `path` and `body` in (encoded as the
/// path's [`Codec`] says), from `peer`, for the caller whose secret is `caller_token` (empty:
/// anonymous); the answer out in the same encoding.
///
/// [`Codec`]: crate::wire::Codec
pub(crate) async fn serve(
    server: &Server,
    peer: Peer,
    path: &str,
    caller_token: &str,
    body: &[u8],
) -> Result<RpcReply, RpcError> {
    if path == paths::BATCH {
        return serve_batch(server, peer, body).await;
    }
    serve_one(server, peer, path, caller_token, body).await
}

/// Answers a batch of forwarded client operations ([`paths::BATCH`]): each runs at once, as
/// [`serve_one`] would run it alone, and the answers go back in order once all are in. An
/// operation that may not travel in a batch is answered with why, and runs not.
async fn serve_batch(server: &Server, peer: Peer, body: &[u8]) -> Result<RpcReply, RpcError> {
    let ops: Vec<BatchOp> = BATCH_CODEC.decode(body)?;
    let answers = futures_util::future::join_all(ops.iter().map(|op| async move {
        if !batch_may_carry(&op.path) {
            return Err(format!("{} cannot travel in a batch", op.path));
        }
        serve_one(server, peer, &op.path, &op.token, &op.body).await.map(|r| r.body).map_err(|e| e.to_string())
    }))
    .await;
    Ok(RpcReply::new(BATCH_CODEC, BATCH_CODEC.reply(&answers)))
}

/// Answers one internal RPC other than a batch.
async fn serve_one(
    server: &Server,
    peer: Peer,
    path: &str,
    caller_token: &str,
    body: &[u8],
) -> Result<RpcReply, RpcError> {
    use crate::acl as a;
    use crate::autopilot::GetHealth;
    use crate::config_store as cs;
    use crate::membership as m;
    use crate::variables as v;
    let ctx = &server.ctx;
    let access = paths::access(path).ok_or_else(|| RpcError::UnknownPath(path.to_string()))?;
    if !access.admits(peer, ctx.settings.rpc_requires_server_cert) {
        return Err(RpcError::NotAServer(path.to_string()));
    }
    let caller = match access {
        Access::Client => Caller::token(caller_token),
        // Admitted as a server's call above: the server's own authority, never read off the wire.
        Access::Server => Caller::Trusted,
    };
    let membership = &server.membership;
    let config_store = &server.config_store;
    match path {
        paths::APPEND => {
            let req: openraft::raft::AppendEntriesRequest<crate::raft::TypeConfig> = RAFT_CODEC.decode(body)?;
            let from_current_leader = req.vote.is_committed();
            let r = ctx.raft.append_entries(req).await;
            if from_current_leader && r.is_ok() {
                ctx.leader_contact.touch();
            }
            raft_reply(&r)
        }
        paths::VOTE => raft_reply(&ctx.raft.vote(RAFT_CODEC.decode(body)?).await),
        paths::SNAPSHOT => {
            let chunk: crate::raft::network::SnapshotChunk = RAFT_CODEC.decode(body)?;
            ctx.leader_contact.touch();
            raft_reply(&receive_snapshot_chunk(ctx, chunk).await)
        }
        paths::SET_AUTOPILOT => relay::<_, cs::SetAutopilotConfig>(config_store, caller, body).await,
        paths::GET_AUTOPILOT => relay::<_, cs::GetAutopilotConfig>(config_store, caller, body).await,
        paths::SET_SCHEDULER => relay::<_, cs::SetSchedulerConfig>(config_store, caller, body).await,
        paths::GET_SCHEDULER => relay::<_, cs::GetSchedulerConfig>(config_store, caller, body).await,
        paths::RAFT_CONFIGURATION => relay::<_, m::GetRaftConfiguration>(membership, caller, body).await,
        paths::REMOVE_PEER => relay::<_, m::RemovePeer>(membership, caller, body).await,
        paths::JOIN => relay::<_, m::Join>(membership, caller, body).await,
        paths::TRANSFER => relay::<_, m::TransferLeadership>(membership, caller, body).await,
        paths::HEALTH => relay::<_, GetHealth>(&server.autopilot, caller, body).await,
        paths::STATUS => relay::<_, m::GetStatus>(membership, caller, body).await,
        paths::ELECT => relay::<_, m::Elect>(membership, caller, body).await,
        paths::HOLD_ELECTIONS => relay::<_, m::HoldElections>(membership, caller, body).await,
        paths::GET_VARIABLE => relay::<_, v::GetVariable>(&server.variables, caller, body).await,
        paths::PUT_VARIABLE => relay::<_, v::PutVariable>(&server.variables, caller, body).await,
        paths::DELETE_VARIABLE => relay::<_, v::DeleteVariable>(&server.variables, caller, body).await,
        paths::LIST_VARIABLES => relay::<_, v::ListVariables>(&server.variables, caller, body).await,
        paths::ACL_BOOTSTRAP => relay::<_, a::Bootstrap>(&server.acl, caller, body).await,
        paths::ACL_UPSERT_POLICIES => relay::<_, a::UpsertPolicies>(&server.acl, caller, body).await,
        paths::ACL_DELETE_POLICIES => relay::<_, a::DeletePolicies>(&server.acl, caller, body).await,
        paths::ACL_GET_POLICY => relay::<_, a::GetPolicy>(&server.acl, caller, body).await,
        paths::ACL_LIST_POLICIES => relay::<_, a::ListPolicies>(&server.acl, caller, body).await,
        paths::ACL_UPSERT_TOKENS => relay::<_, a::UpsertTokens>(&server.acl, caller, body).await,
        paths::ACL_DELETE_TOKENS => relay::<_, a::DeleteTokens>(&server.acl, caller, body).await,
        paths::ACL_GET_TOKEN => relay::<_, a::GetToken>(&server.acl, caller, body).await,
        paths::ACL_LIST_TOKENS => relay::<_, a::ListTokens>(&server.acl, caller, body).await,
        paths::ACL_TOKEN_SELF => relay::<_, a::TokenSelf>(&server.acl, caller, body).await,
        paths::PUT_LICENSE => relay::<_, crate::license::PutLicense>(&server.license, caller, body).await,
        paths::GOSSIP_KEYRING => relay::<_, crate::keyring::SealedKeyOp>(&server.keyring, caller, body).await,
        // The snapshot paths stream raw archives: the embedding HTTP layer answers them
        // (`Server::save_snapshot_here`, `Server::restore_snapshot_here`).
        other => Err(RpcError::UnknownPath(other.to_string())),
    }
}

/// Decodes `body` as [`serve`] does for `path`, before anything runs, and checks that what
/// decoded encodes again to bytes that decode to the same encoding. `Ok(false)`: refused as a
/// bad body or an unknown path (what a peer hears); `Err`: a decoded request that does not
/// survive its own codec. For the fuzz targets ([`crate::fuzzing`]).
pub(crate) fn decode_body(path: &str, body: &[u8]) -> Result<bool, String> {
    use crate::acl as a;
    use crate::autopilot::GetHealth;
    use crate::config_store as cs;
    use crate::membership as m;
    use crate::raft::TypeConfig;
    use crate::variables as v;
    use crate::wire::Codec;
    use openraft::raft as r;

    fn check<T: Serialize + serde::de::DeserializeOwned>(codec: Codec, body: &[u8]) -> Result<bool, String> {
        let Ok(value) = codec.decode::<T>(body) else { return Ok(false) };
        let once = codec.encode(&value).map_err(|e| format!("a decoded body does not encode: {e}"))?;
        let again: T = codec.decode(&once).map_err(|e| format!("a re-encoded body does not decode: {e}"))?;
        let twice = codec.encode(&again).map_err(|e| format!("a re-decoded body does not encode: {e}"))?;
        if once != twice {
            return Err(format!("encoding is not stable: {once:?} then {twice:?}"));
        }
        Ok(true)
    }
    fn op<R: Forwardable>(body: &[u8]) -> Result<bool, String> {
        check::<R>(R::CODEC, body)
    }
    match path {
        paths::APPEND => check::<r::AppendEntriesRequest<TypeConfig>>(RAFT_CODEC, body),
        paths::VOTE => check::<r::VoteRequest<TypeConfig>>(RAFT_CODEC, body),
        paths::SNAPSHOT => check::<crate::raft::network::SnapshotChunk>(RAFT_CODEC, body),
        paths::BATCH => check::<Vec<BatchOp>>(BATCH_CODEC, body),
        paths::SET_AUTOPILOT => op::<cs::SetAutopilotConfig>(body),
        paths::GET_AUTOPILOT => op::<cs::GetAutopilotConfig>(body),
        paths::SET_SCHEDULER => op::<cs::SetSchedulerConfig>(body),
        paths::GET_SCHEDULER => op::<cs::GetSchedulerConfig>(body),
        paths::RAFT_CONFIGURATION => op::<m::GetRaftConfiguration>(body),
        paths::REMOVE_PEER => op::<m::RemovePeer>(body),
        paths::JOIN => op::<m::Join>(body),
        paths::TRANSFER => op::<m::TransferLeadership>(body),
        paths::HEALTH => op::<GetHealth>(body),
        paths::STATUS => op::<m::GetStatus>(body),
        paths::ELECT => op::<m::Elect>(body),
        paths::HOLD_ELECTIONS => op::<m::HoldElections>(body),
        paths::GET_VARIABLE => op::<v::GetVariable>(body),
        paths::PUT_VARIABLE => op::<v::PutVariable>(body),
        paths::DELETE_VARIABLE => op::<v::DeleteVariable>(body),
        paths::LIST_VARIABLES => op::<v::ListVariables>(body),
        paths::ACL_BOOTSTRAP => op::<a::Bootstrap>(body),
        paths::ACL_UPSERT_POLICIES => op::<a::UpsertPolicies>(body),
        paths::ACL_DELETE_POLICIES => op::<a::DeletePolicies>(body),
        paths::ACL_GET_POLICY => op::<a::GetPolicy>(body),
        paths::ACL_LIST_POLICIES => op::<a::ListPolicies>(body),
        paths::ACL_UPSERT_TOKENS => op::<a::UpsertTokens>(body),
        paths::ACL_DELETE_TOKENS => op::<a::DeleteTokens>(body),
        paths::ACL_GET_TOKEN => op::<a::GetToken>(body),
        paths::ACL_LIST_TOKENS => op::<a::ListTokens>(body),
        paths::ACL_TOKEN_SELF => op::<a::TokenSelf>(body),
        paths::PUT_LICENSE => op::<crate::license::PutLicense>(body),
        paths::GOSSIP_KEYRING => op::<crate::keyring::SealedKeyOp>(body),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use crate::acl as a;
    use crate::authz::Authority;
    use crate::authz::Caller;
    use crate::authz::Guarded;
    use crate::authz::Resolved;
    use crate::authz::Unresolved;
    use crate::autopilot::GetHealth;
    use crate::config_store as cs;
    use crate::error::OpError;
    use crate::error::PeerRef;
    use crate::license::GetLicense;
    use crate::license::PutLicense;
    use crate::membership as m;
    use crate::snapshot;
    use crate::state::AclPolicy;
    use crate::state::AclToken;
    use crate::state::Variable;
    use crate::variables as v;

    /// A client token whose one policy (named `p`) has these rules.
    fn client(rules: &str) -> Authority {
        let token = AclToken { token_type: "client".into(), policies: vec!["p".into()], ..AclToken::default() };
        let policy = AclPolicy { name: "p".into(), rules: rules.into(), ..AclPolicy::default() };
        Authority::of(Resolved { token: Some(token), policies: vec![policy] })
    }

    /// What each client operation requires, for each kind of caller, decided by the rule the
    /// leader (or the server answering a stale read) checks before running it.
    #[test]
    fn every_client_operation_says_whom_it_serves() {
        let management = AclToken { token_type: "management".into(), ..AclToken::default() };
        // Columns: unrestricted, anonymous, unknown token, operator read, operator write,
        // variables of namespace `a` (read, write), management.
        let who = [
            Authority::Unrestricted,
            Authority::of(Resolved::default()),
            Authority::Unresolved(Unresolved::NotFound),
            client(r#"operator { policy = "read" }"#),
            client(r#"operator { policy = "write" }"#),
            client(r#"namespace "a" { variables { path "*" { capabilities = ["read", "write"] } } }"#),
            Authority::of(Resolved { token: Some(management), policies: vec![] }),
        ];
        let var = |namespace: &str| Variable { namespace: namespace.into(), path: "x".into(), ..Variable::default() };
        let list = |namespace: &str| v::ListVariables {
            namespace: namespace.into(),
            prefix: String::new(),
            per_page: 0,
            next_token: String::new(),
            stale: false,
            filter: String::new(),
        };
        let peer = || PeerRef::Id("x".into());
        const T: bool = true;
        const F: bool = false;
        let rows: Vec<(&str, Box<dyn Guarded>, [bool; 7])> = vec![
            (
                "get var a",
                Box::new(v::GetVariable { namespace: "a".into(), path: "x".into(), stale: F }),
                [T, F, F, F, F, T, T],
            ),
            ("put var a", Box::new(v::PutVariable { var: var("a"), cas: None }), [T, F, F, F, F, T, T]),
            ("put var b", Box::new(v::PutVariable { var: var("b"), cas: None }), [T, F, F, F, F, F, T]),
            ("put var default", Box::new(v::PutVariable { var: var(""), cas: None }), [T, F, F, F, F, F, T]),
            (
                "delete var a",
                Box::new(v::DeleteVariable { namespace: "a".into(), path: "x".into(), cas: None }),
                [T, F, F, F, F, F, T],
            ),
            ("list vars a", Box::new(list("a")), [T, F, F, F, F, T, T]),
            ("list vars b", Box::new(list("b")), [T, F, F, F, F, F, T]),
            ("get autopilot", Box::new(cs::GetAutopilotConfig { stale: T }), [T, F, F, T, T, F, T]),
            (
                "set autopilot",
                Box::new(cs::SetAutopilotConfig { config: Default::default(), cas: None }),
                [T, F, F, F, T, F, T],
            ),
            ("get scheduler", Box::new(cs::GetSchedulerConfig { stale: F }), [T, F, F, T, T, F, T]),
            (
                "set scheduler",
                Box::new(cs::SetSchedulerConfig { config: Default::default(), cas: None }),
                [T, F, F, F, T, F, T],
            ),
            ("raft configuration", Box::new(m::GetRaftConfiguration { stale: T }), [T, F, F, F, F, F, T]),
            ("remove peer", Box::new(m::RemovePeer { id: "x".into() }), [T, F, F, F, F, F, T]),
            ("transfer", Box::new(m::TransferLeadership { target: peer() }), [T, F, F, F, F, F, T]),
            ("join: a server's duty", Box::new(m::Join { node: Default::default() }), [T, F, F, F, F, F, F]),
            ("health", Box::new(GetHealth), [T, F, F, T, T, F, T]),
            ("license read", Box::new(GetLicense), [T, F, F, T, T, F, T]),
            ("license install", Box::new(PutLicense { text: String::new(), force: F }), [T, F, F, F, T, F, T]),
            ("snapshot save", Box::new(snapshot::SAVE), [T, F, F, F, T, F, T]),
            ("snapshot restore", Box::new(snapshot::RESTORE), [T, F, F, F, F, F, T]),
            ("bootstrap: anyone may try", Box::new(a::Bootstrap { secret: None }), [T, T, T, T, T, T, T]),
            ("upsert policies", Box::new(a::UpsertPolicies { policies: vec![] }), [T, F, F, F, F, F, T]),
            ("delete policies", Box::new(a::DeletePolicies { names: vec![] }), [T, F, F, F, F, F, T]),
            ("upsert tokens", Box::new(a::UpsertTokens { tokens: vec![] }), [T, F, F, F, F, F, T]),
            ("delete tokens", Box::new(a::DeleteTokens { accessors: vec![] }), [T, F, F, F, F, F, T]),
            ("list tokens", Box::new(a::ListTokens { prefix: String::new(), stale: F }), [T, F, F, F, F, F, T]),
            ("own policy", Box::new(a::GetPolicy { name: "p".into(), stale: F }), [T, F, F, T, T, T, T]),
            ("anonymous policy", Box::new(a::GetPolicy { name: "anonymous".into(), stale: F }), [T, T, F, T, T, T, T]),
            ("another's policy", Box::new(a::GetPolicy { name: "q".into(), stale: F }), [T, F, F, F, F, F, T]),
            // Filtered to what the caller may see where the list is read.
            ("list policies", Box::new(a::ListPolicies { prefix: String::new(), stale: F }), [T, T, F, T, T, T, T]),
            // Decided once the token is read: a non-management caller sees only its own.
            ("get token", Box::new(a::GetToken { accessor: "x".into(), stale: F }), [T, T, F, T, T, T, T]),
            ("token self", Box::new(a::TokenSelf { stale: F }), [T, T, F, T, T, T, T]),
        ];
        for (name, op, want) in &rows {
            for (col, caller) in who.iter().enumerate() {
                assert_eq!(op.authorize(caller).is_ok(), want[col], "{name}, column {col}");
            }
        }
    }

    /// Nomad's token endpoints answer an expired token as such; `token/self` with an unknown
    /// secret is `Permission denied` since Nomad 1.10.1, as is every other operation.
    #[test]
    fn refusals_say_what_happened() {
        let unknown = Authority::Unresolved(Unresolved::NotFound);
        let expired = Authority::Unresolved(Unresolved::Expired);
        let err = |op: &dyn Guarded, who: &Authority| op.authorize(who).map_err(OpError::from).unwrap_err();
        assert_eq!(err(&a::TokenSelf { stale: false }, &unknown), OpError::PermissionDenied);
        assert_eq!(err(&a::GetToken { accessor: "x".into(), stale: false }, &expired), OpError::TokenExpired);
        assert_eq!(err(&cs::GetSchedulerConfig { stale: false }, &unknown), OpError::PermissionDenied);
        assert_eq!(err(&a::ListPolicies { prefix: String::new(), stale: false }, &expired), OpError::PermissionDenied);
    }

    /// The server's own authority never travels: it is refused before anything is sent.
    #[test]
    fn the_servers_own_authority_is_never_forwarded() {
        assert_eq!(crate::forward::wire_token(&Caller::Trusted), Err(OpError::TrustedNotForwarded));
        assert_eq!(crate::forward::wire_token(&Caller::token("s")), Ok("s"));
        assert_eq!(crate::forward::wire_token(&Caller::anonymous()), Ok(""));
    }
}
