//! The internal RPC port authorises every call where it runs (issue 19, point 1): with ACLs on,
//! each path of `wire::paths::ALL` is called straight on port 4647 with a well-formed body and
//! no token (then an unknown one), and none hands out state or changes it. Client operations
//! are refused by their caller's token; raft traffic and server duties are what the port takes
//! without TLS (docs/security.md): raft refuses a stale term, a join is refused because gossip
//! does not know the joiner, status answers, elect and a hold release change no data. With
//! `rpc_requires_server_cert` on, those server paths are refused to a connection that proved
//! nothing.

use std::time::Duration;

use openraft::error::RaftError;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use raftwarden_actors::acl;
use raftwarden_actors::autopilot::GetHealth;
use raftwarden_actors::config_store;
use raftwarden_actors::gossip::KeyOp;
use raftwarden_actors::keyring::SealedKeyOp;
use raftwarden_actors::license::PutLicense;
use raftwarden_actors::membership;
use raftwarden_actors::raft::link::Link;
use raftwarden_actors::raft::link::LinkError;
use raftwarden_actors::raft::network::SnapshotChunk;
use raftwarden_actors::raft::ServerNode;
use raftwarden_actors::raft::TypeConfig;
use raftwarden_actors::raft::Vote;
use raftwarden_actors::state::AclPolicy;
use raftwarden_actors::state::AclToken;
use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::SchedulerConfig;
use raftwarden_actors::state::Variable;
use raftwarden_actors::variables;
use raftwarden_actors::wire::paths;
use raftwarden_actors::wire::Access;
use raftwarden_actors::wire::BatchAnswer;
use raftwarden_actors::wire::BatchOp;
use raftwarden_actors::wire::Codec;
use raftwarden_actors::wire::Forwardable;
use raftwarden_actors::wire::BATCH_CODEC;
use raftwarden_actors::wire::RAFT_CODEC;
use raftwarden_actors::OpError;
use raftwarden_actors::PeerRef;
use serde_json::json;
use serde_json::Value;

use crate::net;
use crate::support::*;

const UNKNOWN: &str = "6e5c3c47-4a7c-4b60-9f3e-0e0b2a1c7d11";

fn rpc(a: &Agent, path: &str, token: Option<&str>, body: Vec<u8>) -> Resp {
    let mut rb = client().post(format!("http://{}{path}", a.rpc_addr())).body(body);
    if let Some(t) = token {
        rb = rb.header("X-Nomad-Token", t);
    }
    Resp::from(rb.send().expect("internal RPC"))
}

/// A raft request sent as a frame (`wire::frames`), as the raft network sends appends and
/// votes; the reply decoded as the RPC port encodes it.
fn frame<T: serde::de::DeserializeOwned>(a: &Agent, path: &str, body: &[u8]) -> T {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reply = rt.block_on(Link::new(&a.rpc_addr(), None, None).call(path, body, Duration::from_secs(10)));
    let reply = reply.unwrap_or_else(|e| panic!("{path} as a frame: {e}"));
    RAFT_CODEC.decode(&reply).unwrap_or_else(|e| panic!("{path} as a frame: {e}"))
}

/// One forwarded operation posted as a peer would post it; its decoded answer.
fn answer<R: Forwardable>(a: &Agent, token: Option<&str>, op: &R, secret: &str) -> Result<R::Output, OpError> {
    let r = rpc(a, R::PATH, token, R::CODEC.encode(op).expect("encodes"));
    assert_eq!(r.status, 200, "{}: {}", R::PATH, r.text());
    assert!(!r.text().contains(secret), "{} hands out the management secret", R::PATH);
    R::CODEC.decode(&r.body).unwrap_or_else(|e| panic!("{}: {e}", R::PATH))
}

/// One operation's answer out of a batch's answers, decoded as its own path's answer.
fn in_batch<R: Forwardable>(_: &R, answer: &BatchAnswer) -> Result<R::Output, OpError> {
    let body = answer.as_ref().unwrap_or_else(|e| panic!("{}: {e}", R::PATH));
    R::CODEC.decode(body).unwrap_or_else(|e| panic!("{}: {e}", R::PATH))
}

/// A raft answer as the RPC port encodes it.
fn raft_answer<T: serde::de::DeserializeOwned>(path: &str, r: &Resp) -> T {
    match RAFT_CODEC.decode(&r.body) {
        Ok(answer) => answer,
        Err(e) => panic!("{path}: {e} {}", r.text()),
    }
}

/// Refused to a caller without a token or with an unknown one.
fn refused<T: std::fmt::Debug>(path: &str, token: Option<&str>, r: Result<T, OpError>) {
    match r {
        Err(OpError::PermissionDenied) => {}
        Err(OpError::TokenNotFound) if token.is_some() => {}
        other => panic!("{path} with token {token:?}: {other:?}"),
    }
}

/// The agent leads and answers a consistent read again (an election may have run).
fn settle(a: &Agent, mgmt: &str) {
    wait_until(
        Duration::from_secs(30),
        || call(a, "GET", "/v1/operator/scheduler/configuration", Some(mgmt), None).status == 200,
        || format!("agent never settled: {:?}", a.output()),
    );
}

/// What a caller without a token must never change: tokens, policies, variables, the config
/// rows, the license and the raft configuration, as the management token reads them.
fn state(a: &Agent, mgmt: &str) -> Value {
    let get = |path: &str| {
        let r = call(a, "GET", path, Some(mgmt), None);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    };
    let license = get("/v1/operator/license");
    json!({
        "tokens": get("/v1/acl/tokens"),
        "policies": get("/v1/acl/policies"),
        "variables": get("/v1/vars?namespace=*"),
        "scheduler": get("/v1/operator/scheduler/configuration")["SchedulerConfig"],
        "autopilot": get("/v1/operator/autopilot/configuration"),
        "license": license["License"]["LicenseID"],
        "servers": get("/v1/operator/raft/configuration")["Servers"],
    })
}

#[test]
fn every_internal_path_refuses_a_caller_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = AgentSpec::new("rpcauth", net().ip(88), dir.path().join("rpcauth"));
    spec.extra_hcl = "acl { enabled = true }\n".into();
    let a = Agent::start(spec);
    wait_until(
        Duration::from_secs(30),
        || call(&a, "GET", "/v1/operator/scheduler/configuration", None, None).status == 403,
        || format!("agent never became ready: {:?}", a.output()),
    );
    let boot = call(&a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(boot.status, 200, "{}", boot.text());
    let mgmt = boot.json()["SecretID"].as_str().unwrap().to_string();
    let accessor = boot.json()["AccessorID"].as_str().unwrap().to_string();
    let policy = json!({"Name": "ops", "Rules": "operator { policy = \"read\" }"}).to_string();
    assert_eq!(call(&a, "PUT", "/v1/acl/policy/ops", Some(&mgmt), Some(&policy)).status, 200);
    let var = r#"{"Items":{"password":"hunter2"}}"#;
    assert_eq!(call(&a, "PUT", "/v1/var/app/secret", Some(&mgmt), Some(var)).status, 200);
    let before = state(&a, &mgmt);
    let me: ServerNode = {
        let conf = call(&a, "GET", "/v1/operator/raft/configuration", Some(&mgmt), None).json();
        ServerNode { id: conf["Servers"][0]["ID"].as_str().unwrap().into(), ..ServerNode::default() }
    };
    let stranger = 0x5eed_u64;

    let s = mgmt.as_str();
    let ns = || "default".to_string();
    let variable = || Variable { namespace: ns(), path: "app/secret".into(), ..Variable::default() };
    for (path, access) in paths::ALL {
        for token in [None, Some(UNKNOWN)] {
            match path {
                // Raft traffic: taken without TLS, refused by raft itself for its stale term.
                paths::APPEND => {
                    let req = AppendEntriesRequest::<TypeConfig> {
                        vote: Vote::new(0, stranger),
                        prev_log_id: None,
                        entries: vec![],
                        leader_commit: None,
                    };
                    let r = rpc(&a, path, token, RAFT_CODEC.encode(&req).unwrap());
                    let back: Result<AppendEntriesResponse<TypeConfig>, RaftError<TypeConfig>> = raft_answer(path, &r);
                    assert!(matches!(back, Ok(AppendEntriesResponse::HigherVote(_))), "{path}: {back:?}");
                    let back: Result<AppendEntriesResponse<TypeConfig>, RaftError<TypeConfig>> =
                        frame(&a, path, &RAFT_CODEC.encode(&req).unwrap());
                    assert!(matches!(back, Ok(AppendEntriesResponse::HigherVote(_))), "{path} as a frame: {back:?}");
                }
                paths::VOTE => {
                    let req = VoteRequest::<TypeConfig>::new(Vote::new(0, stranger), None);
                    let r = rpc(&a, path, token, RAFT_CODEC.encode(&req).unwrap());
                    let back: Result<VoteResponse<TypeConfig>, RaftError<TypeConfig>> = raft_answer(path, &r);
                    assert!(matches!(&back, Ok(v) if !v.vote_granted), "{path}: {back:?}");
                    let back: Result<VoteResponse<TypeConfig>, RaftError<TypeConfig>> =
                        frame(&a, path, &RAFT_CODEC.encode(&req).unwrap());
                    assert!(matches!(&back, Ok(v) if !v.vote_granted), "{path} as a frame: {back:?}");
                }
                paths::SNAPSHOT => {
                    let req = SnapshotChunk {
                        vote: Vote::new(0, stranger),
                        meta: Default::default(),
                        transfer: "t88".into(),
                        offset: 0,
                        data: vec![],
                        done: true,
                    };
                    let r = rpc(&a, path, token, RAFT_CODEC.encode(&req).unwrap());
                    assert_eq!(r.status, 200, "{path}: {}", r.text());
                }
                // Server duties: a join is refused (gossip does not know the joiner), the rest
                // change no data.
                paths::JOIN => {
                    let node = ServerNode {
                        id: "0b4f6c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b".into(),
                        name: "intruder.global".into(),
                        rpc_addr: "127.0.0.1:1".into(),
                        ..ServerNode::default()
                    };
                    let r = answer(&a, token, &membership::Join { node }, s);
                    assert!(matches!(r, Err(OpError::JoinerNotInGossip(_))), "{path}: {r:?}");
                }
                paths::STATUS => {
                    let status = answer(&a, token, &membership::GetStatus, s).expect("status");
                    assert_eq!(status.node.id, me.id);
                }
                paths::ELECT => {
                    answer(&a, token, &membership::Elect, s).expect("elect");
                    settle(&a, s);
                }
                paths::HOLD_ELECTIONS => {
                    answer(&a, token, &membership::HoldElections { millis: 0 }, s).expect("release");
                }
                // Client operations: refused by the caller's token.
                paths::GET_VARIABLE => {
                    let op = variables::GetVariable { namespace: ns(), path: "app/secret".into(), stale: false };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::PUT_VARIABLE => {
                    let op = variables::PutVariable { var: variable(), cas: None };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::DELETE_VARIABLE => {
                    let op = variables::DeleteVariable { namespace: ns(), path: "app/secret".into(), cas: None };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::LIST_VARIABLES => {
                    let op = variables::ListVariables {
                        namespace: "*".into(),
                        prefix: String::new(),
                        per_page: 0,
                        next_token: String::new(),
                        stale: true,
                        filter: String::new(),
                    };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::SET_AUTOPILOT => {
                    let op = config_store::SetAutopilotConfig { config: AutopilotConfig::default(), cas: None };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::GET_AUTOPILOT => {
                    refused(path, token, answer(&a, token, &config_store::GetAutopilotConfig { stale: false }, s));
                }
                paths::SET_SCHEDULER => {
                    let op = config_store::SetSchedulerConfig { config: SchedulerConfig::default(), cas: None };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::GET_SCHEDULER => {
                    refused(path, token, answer(&a, token, &config_store::GetSchedulerConfig { stale: true }, s));
                }
                paths::RAFT_CONFIGURATION => {
                    let op = membership::GetRaftConfiguration { stale: false };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::REMOVE_PEER => {
                    refused(path, token, answer(&a, token, &membership::RemovePeer { id: me.id.clone() }, s));
                }
                paths::TRANSFER => {
                    let op = membership::TransferLeadership { target: PeerRef::Id(me.id.clone()) };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::HEALTH => refused(path, token, answer(&a, token, &GetHealth, s)),
                paths::SNAPSHOT_SAVE => {
                    let r = rpc(&a, path, token, Vec::new());
                    assert_ne!(r.status, 200, "{path} handed out an archive");
                    refused(path, token, serde_json::from_slice::<Result<(), OpError>>(&r.body).unwrap());
                }
                paths::SNAPSHOT_RESTORE => {
                    let r = rpc(&a, path, token, b"not an archive".to_vec());
                    refused(path, token, serde_json::from_slice::<Result<(), OpError>>(&r.body).unwrap());
                }
                paths::ACL_BOOTSTRAP => {
                    // Anyone may try, as in Nomad; it is done already.
                    let r = answer(&a, token, &acl::Bootstrap { secret: None }, s);
                    assert!(matches!(r, Err(OpError::AclBootstrapDone(_))), "{path}: {r:?}");
                }
                paths::ACL_UPSERT_POLICIES => {
                    let p = AclPolicy {
                        name: "ops".into(),
                        rules: "operator { policy = \"write\" }".into(),
                        ..Default::default()
                    };
                    refused(path, token, answer(&a, token, &acl::UpsertPolicies { policies: vec![p] }, s));
                }
                paths::ACL_DELETE_POLICIES => {
                    refused(path, token, answer(&a, token, &acl::DeletePolicies { names: vec!["ops".into()] }, s));
                }
                paths::ACL_GET_POLICY => {
                    let op = acl::GetPolicy { name: "ops".into(), stale: false };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::ACL_LIST_POLICIES => {
                    let r = answer(&a, token, &acl::ListPolicies { prefix: String::new(), stale: false }, s);
                    match token {
                        // The anonymous caller sees its own policy only, and there is none.
                        None => assert!(r.expect("anonymous list").value.is_empty(), "{path}"),
                        Some(_) => refused(path, token, r),
                    }
                }
                paths::ACL_UPSERT_TOKENS => {
                    let t = AclToken { name: "mine".into(), token_type: "management".into(), ..Default::default() };
                    refused(path, token, answer(&a, token, &acl::UpsertTokens { tokens: vec![t] }, s));
                }
                paths::ACL_DELETE_TOKENS => {
                    let op = acl::DeleteTokens { accessors: vec![accessor.clone()] };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::ACL_GET_TOKEN => {
                    let op = acl::GetToken { accessor: accessor.clone(), stale: false };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::ACL_LIST_TOKENS => {
                    let op = acl::ListTokens { prefix: String::new(), stale: false };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::ACL_TOKEN_SELF => {
                    let r = answer(&a, token, &acl::TokenSelf { stale: false }, s);
                    match token {
                        // The anonymous caller is itself: no token.
                        None => assert!(r.expect("anonymous self").is_none(), "{path}"),
                        Some(_) => refused(path, token, r),
                    }
                }
                paths::PUT_LICENSE => {
                    let op = PutLicense { text: "not a license".into(), force: true };
                    refused(path, token, answer(&a, token, &op, s));
                }
                paths::GOSSIP_KEYRING => {
                    // A key install, unsealed as from a cluster without gossip encryption:
                    // refused by the caller's token before it is opened.
                    let body = Codec::Postcard.encode(&KeyOp::Install(vec![7; 32])).unwrap();
                    let op = SealedKeyOp { sealed: false, body };
                    refused(path, token, answer(&a, token, &op, s));
                }
                // A batch of forwarded operations: each is checked as if it came alone, by the
                // token it carries; raft traffic and a nested batch are refused unrun.
                paths::BATCH => {
                    let carried = |path: &str, body: Vec<u8>| BatchOp {
                        path: path.into(),
                        token: token.unwrap_or_default().into(),
                        body,
                    };
                    let read = variables::GetVariable { namespace: ns(), path: "app/secret".into(), stale: false };
                    let write = variables::PutVariable { var: variable(), cas: None };
                    let append = AppendEntriesRequest::<TypeConfig> {
                        vote: Vote::new(0, stranger),
                        prev_log_id: None,
                        entries: vec![],
                        leader_commit: None,
                    };
                    let ops = vec![
                        carried(
                            paths::GET_VARIABLE,
                            <variables::GetVariable as Forwardable>::CODEC.encode(&read).unwrap(),
                        ),
                        carried(
                            paths::PUT_VARIABLE,
                            <variables::PutVariable as Forwardable>::CODEC.encode(&write).unwrap(),
                        ),
                        carried(paths::APPEND, RAFT_CODEC.encode(&append).unwrap()),
                        carried(paths::BATCH, BATCH_CODEC.encode(&Vec::<BatchOp>::new()).unwrap()),
                    ];
                    let r = rpc(&a, path, token, BATCH_CODEC.encode(&ops).unwrap());
                    assert_eq!(r.status, 200, "{path}: {}", r.text());
                    assert!(!r.text().contains(s), "{path} hands out the management secret");
                    let answers: Vec<BatchAnswer> = BATCH_CODEC.decode(&r.body).expect("batch answers");
                    assert_eq!(answers.len(), ops.len(), "{path}");
                    refused(path, token, in_batch(&read, &answers[0]));
                    refused(path, token, in_batch(&write, &answers[1]));
                    for (answer, op) in answers[2..].iter().zip(&ops[2..]) {
                        assert_eq!(answer, &Err(format!("{} cannot travel in a batch", op.path)), "{path}");
                    }
                }
                other => panic!("{other} ({access:?}) has no case here: add one"),
            }
        }
    }
    settle(&a, s);
    assert_eq!(state(&a, s), before, "a caller without a token changed the state");
    let leader: String = call(&a, "GET", "/v1/status/leader", None, None).json().as_str().unwrap().into();
    assert_eq!(leader, a.rpc_addr());
}

/// With `rpc_requires_server_cert`, raft traffic and server duties are refused to a connection
/// that proved nothing (`Peer::Unverified`: plain TCP), with a 403, and as raft frames
/// (`wire::frames`) with the same refusal; client operations are still answered by their
/// caller's token (ACLs off here: everyone may).
#[test]
fn server_paths_need_a_server_certificate_when_required() {
    raftwarden_actors::crypto::install_default_provider();
    let dir = tempfile::tempdir().unwrap();
    actix_rt::System::new().block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let rpc_addr = listener.local_addr().unwrap().to_string();
        let mut settings = raftwarden_actors::Settings::new("certs", dir.path(), &rpc_addr, "127.0.0.1:1");
        settings.rpc_requires_server_cert = true;
        let server = raftwarden_actors::start(settings).await.unwrap();
        actix_rt::spawn(raftwarden::http::rpc::serve_rpc(listener, server.clone(), 1).unwrap());
        let http = reqwest::Client::new();
        let post = |path: &'static str, body: Vec<u8>| {
            let request = http.post(format!("http://{rpc_addr}{path}")).body(body);
            async move {
                let r = request.send().await.ok()?;
                Some((r.status().as_u16(), r.bytes().await.ok()?.to_vec()))
            }
        };
        let read = config_store::GetSchedulerConfig { stale: false };
        let body = <config_store::GetSchedulerConfig as Forwardable>::CODEC.encode(&read).unwrap();
        // A lone server leads on its own: its client paths answer once the defaults are in.
        eventually("a consistent scheduler read", || async {
            let (status, body) = post(paths::GET_SCHEDULER, body.clone()).await?;
            let answer: Result<Value, OpError> = serde_json::from_slice(&body).ok()?;
            (status == 200 && answer.is_ok()).then_some(())
        })
        .await;
        for (path, access) in paths::ALL {
            if access != Access::Server {
                continue;
            }
            let (status, body) = post(path, b"{}".to_vec()).await.expect("answered");
            let text = String::from_utf8_lossy(&body);
            assert_eq!(status, 403, "{path}: {text}");
            assert!(text.contains("answered only to servers"), "{path}: {text}");
            let mut link = Link::new(&rpc_addr, None, None);
            match link.call(path, b"{}", Duration::from_secs(10)).await {
                Err(LinkError::Failed(text)) => assert!(text.contains("answered only to servers"), "{path}: {text}"),
                other => panic!("{path} as a frame: {other:?}"),
            }
        }
        server.shutdown().await;
    });
}
