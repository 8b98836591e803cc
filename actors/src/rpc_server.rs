//! The answering half of server-to-server calls: [`serve`] maps every internal RPC path to
//! what answers it on this server. Raft traffic goes straight to openraft; a forwarded
//! operation goes to the actor that owns it as [`Forwarded`], which runs it if this server
//! leads and refuses it otherwise (the caller then routes it anew).
//!
//! This table sits at the top of the crate, above every actor, as Nomad's `setupRpcServer`
//! registers its endpoints: the calling half ([`crate::forward`]) and the actors know only
//! the paths of [`crate::wire`], never this table.

use actix::dev::ToEnvelope;
use actix::Actor;
use actix::Addr;
use actix::Handler;
use serde::Serialize;

use crate::forward::Forwarded;
use crate::wire::paths;
use crate::wire::Forwardable;
use crate::wire::RpcError;
use crate::wire::RpcReply;
use crate::wire::RAFT_CODEC;
use crate::Server;

/// Delivers a forwarded operation to the actor that owns it and encodes its answer.
async fn relay<A, R>(addr: &Addr<A>, body: &[u8]) -> Result<RpcReply, RpcError>
where
    R: Forwardable,
    A: Actor + Handler<Forwarded<R>>,
    A::Context: ToEnvelope<A, Forwarded<R>>,
{
    let op: R = R::CODEC.decode(body)?;
    let r = addr.send(Forwarded(op)).await.unwrap_or_else(|e| Err(e.into()));
    Ok(RpcReply::new(R::CODEC, R::CODEC.reply(&r)))
}

fn raft_reply<T: Serialize>(v: &T) -> Result<RpcReply, RpcError> {
    Ok(RpcReply::new(RAFT_CODEC, RAFT_CODEC.reply(v)))
}

/// Answers one internal RPC on the receiving server: `path` and `body` in (encoded as the
/// path's [`Codec`] says), the answer out in the same encoding.
pub(crate) async fn serve(server: &Server, path: &str, body: &[u8]) -> Result<RpcReply, RpcError> {
    use crate::acl as a;
    use crate::autopilot::GetHealth;
    use crate::config_store as cs;
    use crate::membership as m;
    use crate::variables as v;
    let ctx = &server.ctx;
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
            let req = RAFT_CODEC.decode(body)?;
            ctx.leader_contact.touch();
            raft_reply(&ctx.raft.install_snapshot(req).await)
        }
        paths::SET_AUTOPILOT => relay::<_, cs::SetAutopilotConfig>(config_store, body).await,
        paths::GET_AUTOPILOT => relay::<_, cs::GetAutopilotConfig>(config_store, body).await,
        paths::SET_SCHEDULER => relay::<_, cs::SetSchedulerConfig>(config_store, body).await,
        paths::GET_SCHEDULER => relay::<_, cs::GetSchedulerConfig>(config_store, body).await,
        paths::RAFT_CONFIGURATION => relay::<_, m::GetRaftConfiguration>(membership, body).await,
        paths::REMOVE_PEER => relay::<_, m::RemovePeer>(membership, body).await,
        paths::JOIN => relay::<_, m::Join>(membership, body).await,
        paths::TRANSFER => relay::<_, m::TransferLeadership>(membership, body).await,
        paths::HEALTH => relay::<_, GetHealth>(&server.autopilot, body).await,
        paths::STATUS => relay::<_, m::GetStatus>(membership, body).await,
        paths::ELECT => relay::<_, m::Elect>(membership, body).await,
        paths::HOLD_ELECTIONS => relay::<_, m::HoldElections>(membership, body).await,
        paths::GET_VARIABLE => relay::<_, v::GetVariable>(&server.variables, body).await,
        paths::PUT_VARIABLE => relay::<_, v::PutVariable>(&server.variables, body).await,
        paths::DELETE_VARIABLE => relay::<_, v::DeleteVariable>(&server.variables, body).await,
        paths::LIST_VARIABLES => relay::<_, v::ListVariables>(&server.variables, body).await,
        paths::ACL_BOOTSTRAP => relay::<_, a::Bootstrap>(&server.acl, body).await,
        paths::ACL_UPSERT_POLICIES => relay::<_, a::UpsertPolicies>(&server.acl, body).await,
        paths::ACL_DELETE_POLICIES => relay::<_, a::DeletePolicies>(&server.acl, body).await,
        paths::ACL_GET_POLICY => relay::<_, a::GetPolicy>(&server.acl, body).await,
        paths::ACL_LIST_POLICIES => relay::<_, a::ListPolicies>(&server.acl, body).await,
        paths::ACL_UPSERT_TOKENS => relay::<_, a::UpsertTokens>(&server.acl, body).await,
        paths::ACL_DELETE_TOKENS => relay::<_, a::DeleteTokens>(&server.acl, body).await,
        paths::ACL_GET_TOKEN => relay::<_, a::GetToken>(&server.acl, body).await,
        paths::ACL_LIST_TOKENS => relay::<_, a::ListTokens>(&server.acl, body).await,
        paths::ACL_RESOLVE => relay::<_, a::ResolveToken>(&server.acl, body).await,
        paths::PUT_LICENSE => relay::<_, crate::license::PutLicense>(&server.license, body).await,
        other => Err(RpcError::UnknownPath(other.to_string())),
    }
}
