//! Cluster formation: bootstrap a new cluster, or join an existing one.
//!
//! The decision is [`formation_step`], a pure function of what this server and its peers
//! report; `form_cluster` is the loop that gathers those reports and acts. The peers are the
//! alive servers of this region on the gossip member list (joined through `retry_join`, `server
//! join` or `/v1/agent/join`), reached at the RPC address each one gossips.
//! The rule that matters most: **never two clusters**. A server bootstraps only when it is
//! uninitialised, every peer it can see is uninitialised, it sees at least `bootstrap_expect`
//! servers, and it has the lowest ID of them; everyone else waits or joins a known leader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::Serialize;

use super::GetStatus;
use super::Join;
use crate::context::ServerContext;
use crate::forward::call_peer;
use crate::raft::ServerNode;

/// A peer that does not answer its status within this is skipped for this round.
const STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// A join may wait for the joiner to catch up as a learner and for two membership changes to
/// commit; a new server on an idle cluster takes well under a second, a large log longer.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// First retry delay while forming; doubles each round up to [`FORMING_MAX_DELAY`], so servers
/// started together find each other within a second and a lone server does not spin.
const FORMING_FIRST_DELAY: Duration = Duration::from_millis(200);
const FORMING_MAX_DELAY: Duration = Duration::from_secs(2);

/// Once settled (initialised, a leader known, this server a voter), re-check this often so
/// that a server removed while still alive asks to be added back, as Nomad's leader re-adds
/// live gossip members.
const SETTLED_RECHECK: Duration = Duration::from_secs(5);

/// A server's local status, exchanged between servers to form the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub node: ServerNode,
    pub initialized: bool,
    pub leader: Option<ServerNode>,
    /// Raft server IDs (UUIDs) of the voters this server knows.
    pub voters: Vec<String>,
    pub bootstrap_expect: u32,
}

/// What a server should do in one formation round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Initialise raft with exactly these servers as voters.
    Bootstrap(Vec<ServerNode>),
    /// Ask this leader to add us (or to update our record).
    Join(ServerNode),
    /// Nothing to do this round.
    Wait,
}

/// The formation decision. `me` is this server's own status, `peers` the statuses of the
/// gossip members that answered (never including this server), `has_join_list` whether this
/// server expects company: a `retry_join` list is configured or gossip knows other servers.
pub fn formation_step(me: &Status, peers: &[Status], expect: u32, has_join_list: bool) -> Step {
    if !has_join_list {
        // A lone server (bootstrap_expect = 1, nobody to join) bootstraps itself.
        return if !me.initialized && expect <= 1 { Step::Bootstrap(vec![me.node.clone()]) } else { Step::Wait };
    }
    let my_id = &me.node.id;
    let leader = peers.iter().find_map(|p| p.leader.clone()).or_else(|| me.leader.clone());
    if let Some(leader) = leader {
        // Settled when every server that follows this leader lists us as a voter.
        let settled = me.voters.contains(my_id)
            && peers
                .iter()
                .chain(std::iter::once(me))
                .filter(|s| s.leader.as_ref() == Some(&leader))
                .all(|s| s.voters.contains(my_id));
        return if settled { Step::Wait } else { Step::Join(leader) };
    }
    if me.initialized || peers.iter().any(|p| p.initialized) {
        // An initialised cluster without a known leader is electing one: wait for it.
        return Step::Wait;
    }
    let mut candidates: Vec<ServerNode> = peers.iter().map(|p| p.node.clone()).collect();
    candidates.push(me.node.clone());
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    candidates.dedup_by(|a, b| a.id == b.id);
    let expect = expect.max(1) as usize;
    if candidates.len() >= expect && candidates.first().map(|c| &c.id) == Some(my_id) {
        candidates.truncate(expect);
        return Step::Bootstrap(candidates);
    }
    Step::Wait
}

/// Whether gossip shows `joiner` as an alive server of `region` with the ID and RPC address it
/// asks to join with: the leader's condition for adding a server (see [`super::Join`]).
pub fn gossip_knows(members: &[crate::gossip::Member], region: &str, joiner: &ServerNode) -> bool {
    members.iter().any(|m| {
        m.status == crate::liveness::MemberStatus::Alive
            && m.identity.region == region
            && m.identity.id == joiner.id
            && m.identity.rpc_addr == joiner.rpc_addr
    })
}

pub(crate) fn status(ctx: &ServerContext) -> Status {
    let m = ctx.metrics();
    let membership = m.membership_config.membership();
    let voters = membership.voter_ids().filter_map(|id| membership.get_node(&id).map(|n| n.id.clone())).collect();
    Status {
        node: ctx.me.clone(),
        initialized: m.membership_config.log_id().is_some(),
        leader: ctx.leader(),
        voters,
        bootstrap_expect: ctx.settings.bootstrap_expect,
    }
}

/// Forms the cluster, then keeps reconciling (see [`SETTLED_RECHECK`]).
pub(crate) async fn form_cluster(ctx: Arc<ServerContext>) {
    let expect = ctx.settings.bootstrap_expect;
    let mut delay = FORMING_FIRST_DELAY;
    loop {
        let me = status(&ctx);
        let rpc_addrs = peer_rpc_addrs(&ctx).await;
        let mut peers = Vec::new();
        for addr in &rpc_addrs {
            if let Ok(s) = call_peer(&ctx.http, addr, &GetStatus, STATUS_TIMEOUT).await {
                if s.node.id != ctx.me.id {
                    peers.push(s);
                }
            }
        }
        let has_join_list = !ctx.settings.retry_join.is_empty() || !rpc_addrs.is_empty();
        match formation_step(&me, &peers, expect, has_join_list) {
            Step::Bootstrap(members) => bootstrap(&ctx, members).await,
            Step::Join(leader) => {
                let join = Join { node: ctx.me.clone() };
                match call_peer(&ctx.http, &leader.rpc_addr, &join, JOIN_TIMEOUT).await {
                    Ok(()) => tracing::info!(leader = %leader, "joined the cluster"),
                    Err(e) => tracing::debug!(error = %e, "join attempt failed"),
                }
            }
            Step::Wait => {}
        }
        let settled = {
            let s = status(&ctx);
            s.initialized && s.leader.is_some() && s.voters.contains(&ctx.me.id)
        };
        delay = if settled { SETTLED_RECHECK } else { (delay * 2).min(FORMING_MAX_DELAY) };
        tokio::time::sleep(delay).await;
    }
}

/// RPC addresses of the other alive servers of this region that gossip knows.
async fn peer_rpc_addrs(ctx: &ServerContext) -> Vec<String> {
    let members = ctx.gossip.members().await.unwrap_or_default();
    members
        .into_iter()
        .filter(|m| {
            m.status == crate::liveness::MemberStatus::Alive
                && m.identity.region == ctx.settings.region
                && m.identity.id != ctx.me.id
                && !m.identity.rpc_addr.is_empty()
        })
        .map(|m| m.identity.rpc_addr)
        .collect()
}

async fn bootstrap(ctx: &ServerContext, members: Vec<ServerNode>) {
    let mut map = BTreeMap::new();
    for m in members {
        if let Ok(uuid) = uuid::Uuid::parse_str(&m.id) {
            map.insert(crate::raft::node_id_of(&uuid), m);
        }
    }
    let names: Vec<String> = map.values().map(|n| n.name.clone()).collect();
    match ctx.raft.initialize(map).await {
        Ok(()) => tracing::info!(servers = ?names, "bootstrapped a new raft cluster"),
        Err(e) => tracing::debug!(error = %e, "bootstrap skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> ServerNode {
        ServerNode { id: id.into(), name: format!("{id}.global"), rpc_addr: format!("{id}:4647"), ..Default::default() }
    }

    fn fresh(id: &str) -> Status {
        Status { node: node(id), initialized: false, leader: None, voters: vec![], bootstrap_expect: 3 }
    }

    fn member(id: &str, leader: &str, voters: &[&str]) -> Status {
        Status {
            node: node(id),
            initialized: true,
            leader: Some(node(leader)),
            voters: voters.iter().map(|v| v.to_string()).collect(),
            bootstrap_expect: 3,
        }
    }

    fn ids(step: &Step) -> Vec<String> {
        match step {
            Step::Bootstrap(m) => m.iter().map(|n| n.id.clone()).collect(),
            _ => vec![],
        }
    }

    /// One row: why, my status, the peers' statuses, bootstrap_expect, whether a join list is
    /// configured, and the expected step.
    type Case = (&'static str, Status, Vec<Status>, u32, bool, Step);

    #[test]
    fn formation_table() {
        let cases: Vec<Case> = vec![
            (
                "lone server, expect 1, no join list: bootstrap itself",
                fresh("a"),
                vec![],
                1,
                false,
                Step::Bootstrap(vec![node("a")]),
            ),
            ("lone server already initialised: wait", member("a", "a", &["a"]), vec![], 1, false, Step::Wait),
            ("no join list but expect 3: never bootstrap alone", fresh("a"), vec![], 3, false, Step::Wait),
            ("2 of 3 visible: wait", fresh("a"), vec![fresh("b")], 3, true, Step::Wait),
            (
                "all 3 uninitialised, I am lowest: bootstrap exactly 3",
                fresh("a"),
                vec![fresh("b"), fresh("c")],
                3,
                true,
                Step::Bootstrap(vec![node("a"), node("b"), node("c")]),
            ),
            (
                "all 3 uninitialised, I am not lowest: wait",
                fresh("b"),
                vec![fresh("a"), fresh("c")],
                3,
                true,
                Step::Wait,
            ),
            (
                "4 visible, expect 3, I am lowest: bootstrap the lowest 3",
                fresh("a"),
                vec![fresh("d"), fresh("c"), fresh("b")],
                3,
                true,
                Step::Bootstrap(vec![node("a"), node("b"), node("c")]),
            ),
            (
                "a peer is initialised without a leader (electing): wait, never a second cluster",
                fresh("a"),
                vec![fresh("b"), Status { initialized: true, ..fresh("c") }],
                3,
                true,
                Step::Wait,
            ),
            (
                "a peer knows a leader: join it",
                fresh("a"),
                vec![member("b", "b", &["b", "c"]), fresh("c")],
                3,
                true,
                Step::Join(node("b")),
            ),
            (
                "leader lists me as voter everywhere: wait",
                member("a", "b", &["a", "b", "c"]),
                vec![member("b", "b", &["a", "b", "c"])],
                3,
                true,
                Step::Wait,
            ),
            (
                "removed while alive: the leader no longer lists me, join again",
                member("a", "b", &["a", "b", "c"]),
                vec![member("b", "b", &["b", "c"])],
                3,
                true,
                Step::Join(node("b")),
            ),
            (
                "duplicate statuses of one peer count once",
                fresh("a"),
                vec![fresh("b"), fresh("b")],
                3,
                true,
                Step::Wait,
            ),
        ];
        for (why, me, peers, expect, join_list, want) in cases {
            assert_eq!(formation_step(&me, &peers, expect, join_list), want, "{why}");
        }
    }

    /// Never two clusters: across every server of a group that sees the same uninitialised
    /// peers, at most one decides to bootstrap, whatever the order of the answers.
    #[test]
    fn at_most_one_server_bootstraps() {
        let all = ["c", "a", "e", "b", "d"];
        for expect in 1..=5u32 {
            let deciders: Vec<Step> = all
                .iter()
                .map(|me| {
                    let peers: Vec<Status> = all.iter().filter(|p| *p != me).map(|p| fresh(p)).collect();
                    formation_step(&fresh(me), &peers, expect, true)
                })
                .filter(|s| matches!(s, Step::Bootstrap(_)))
                .collect();
            assert_eq!(deciders.len(), 1, "expect {expect}");
            assert_eq!(ids(&deciders[0]).len(), expect as usize);
            assert_eq!(ids(&deciders[0])[0], "a");
        }
    }

    /// A join is taken only from a server gossip shows alive in this region, with the ID and
    /// RPC address it joins with.
    #[test]
    fn joins_need_gossip_to_know_the_joiner() {
        use crate::gossip::Member;
        use crate::gossip::MemberIdentity;
        use crate::liveness::MemberStatus;
        let gossiped = |id: &str, region: &str, rpc_addr: &str, status: MemberStatus| Member {
            identity: MemberIdentity {
                name: format!("{id}.{region}"),
                region: region.into(),
                datacenter: "dc1".into(),
                serf_addr: "127.0.0.1:4648".parse().unwrap(),
                rpc_addr: rpc_addr.into(),
                http_addr: String::new(),
                version: String::new(),
                revision: String::new(),
                id: id.into(),
                expect: 3,
                incarnation: 1,
            },
            status,
        };
        let joiner = node("b");
        let cases = [
            ("alive, same address", gossiped("b", "global", "b:4647", MemberStatus::Alive), true),
            ("another address", gossiped("b", "global", "x:4647", MemberStatus::Alive), false),
            ("another region", gossiped("b", "eu", "b:4647", MemberStatus::Alive), false),
            ("failed", gossiped("b", "global", "b:4647", MemberStatus::Failed), false),
            ("left", gossiped("b", "global", "b:4647", MemberStatus::Left), false),
            ("another server", gossiped("c", "global", "b:4647", MemberStatus::Alive), false),
        ];
        for (why, member, want) in cases {
            assert_eq!(gossip_knows(&[member], "global", &joiner), want, "{why}");
        }
        assert!(!gossip_knows(&[], "global", &joiner), "nobody in gossip");
    }
}
