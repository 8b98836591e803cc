//! Embedding through the public API only, in this process: the `embed` example (a host
//! service with its own routes, the operator API and the internal RPC mounted next to them)
//! answers both kinds of route; two servers in one process start and stop independently.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::eventually;

#[path = "../../examples/embed.rs"]
#[allow(dead_code)]
mod embed;

/// reqwest finds no TLS provider until one is installed (see `raftwarden_actors::crypto`).
fn http_client() -> reqwest::Client {
    raftwarden_actors::crypto::install_default_provider();
    reqwest::Client::new()
}

fn loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind loopback")
}

async fn start(dir: &std::path::Path) -> embed::Embedded {
    embed::start(dir, loopback(), loopback()).await.expect("start embedded service")
}

fn base(e: &embed::Embedded) -> String {
    format!("http://{}", e.server.identity().http_addr)
}

async fn get(client: &reqwest::Client, url: String) -> Option<(u16, String)> {
    let r = client.get(url).timeout(Duration::from_secs(10)).send().await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// Waits until the service answers a consistent scheduler read (leader elected, defaults in).
async fn ready(client: &reqwest::Client, e: &embed::Embedded) {
    let url = format!("{}/v1/operator/scheduler/configuration", base(e));
    eventually("a leader and the default config", || async { get(client, url.clone()).await.filter(|r| r.0 == 200) })
        .await;
}

#[test]
fn embed_example_serves_its_own_routes_and_the_operator_api() {
    let dir = tempfile::tempdir().unwrap();
    actix_rt::System::new().block_on(async {
        let client = http_client();
        let e = start(dir.path()).await;
        ready(&client, &e).await;

        let (status, body) = get(&client, format!("{}/hello", base(&e))).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let hello: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(hello["server"], "embedded.global");
        assert_eq!(hello["eval_broker_paused"], false);

        let (status, body) = get(&client, format!("{}/v1/operator/raft/configuration", base(&e))).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let conf: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(conf["Servers"][0]["Node"], "embedded.global");
        assert_eq!(conf["Servers"][0]["Leader"], true);

        // The host's write goes through the actors; the operator API sees it.
        let r = client.post(format!("{}/pause", base(&e))).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let applied: serde_json::Value = r.json().await.unwrap();
        assert_eq!(applied["updated"], true);
        let (_, body) = get(&client, format!("{}/v1/operator/scheduler/configuration", base(&e))).await.unwrap();
        let sched: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(sched["SchedulerConfig"]["PauseEvalBroker"], true);

        // Outside the mounted scopes the host's app decides: here actix's own empty 404.
        let (status, body) = get(&client, format!("{}/", base(&e))).await.unwrap();
        assert_eq!((status, body.as_str()), (404, ""));
        e.stop().await;
    });
}

#[test]
fn two_servers_in_one_process_start_and_stop_independently() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    actix_rt::System::new().block_on(async {
        let client = http_client();
        let a = start(dir_a.path()).await;
        let b = start(dir_b.path()).await;
        ready(&client, &a).await;
        ready(&client, &b).await;
        assert_ne!(a.server.identity().id, b.server.identity().id);
        let a_url = base(&a);

        a.stop().await;
        // The first server is gone: its port refuses...
        eventually("the first server's HTTP port to close", || async {
            match client.get(format!("{a_url}/hello")).timeout(Duration::from_secs(2)).send().await {
                Err(e) if e.is_connect() => Some(()),
                _ => None,
            }
        })
        .await;
        // ...while the second keeps serving reads and writes.
        let (status, body) = get(&client, format!("{}/v1/operator/raft/configuration", base(&b))).await.unwrap();
        assert_eq!(status, 200, "{body}");
        let r = client
            .put(format!("{}/v1/operator/scheduler/configuration", base(&b)))
            .body(r#"{"SchedulerAlgorithm":"spread"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);

        // Everything the first server started has stopped: its store can be opened again in
        // this same process, and it comes back with its identity.
        let a_id = {
            let again = eventually("the first server's store to be released", || async {
                embed::start(dir_a.path(), loopback(), loopback()).await.ok()
            })
            .await;
            ready(&client, &again).await;
            let id = again.server.identity().id.clone();
            again.stop().await;
            id
        };
        let first_id = std::fs::read_to_string(dir_a.path().join("server/node-id")).unwrap();
        assert_eq!(a_id, first_id.trim());
        b.stop().await;
    });
}

/// The internal RPC mount answers its own paths only, and a malformed body is a 400 that names
/// the problem, never a crash; a well-formed forwarded operation gets the leader's answer.
#[test]
fn internal_rpc_refuses_unknown_paths_and_malformed_bodies() {
    let dir = tempfile::tempdir().unwrap();
    actix_rt::System::new().block_on(async {
        let client = http_client();
        let e = start(dir.path()).await;
        ready(&client, &e).await;
        let rpc = format!("http://{}", e.server.identity().rpc_addr);

        let r = client.post(format!("{rpc}/v1/internal/no-such-call")).body("{}").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
        assert!(r.text().await.unwrap().contains("no internal RPC at /v1/internal/no-such-call"));

        let r = client.post(format!("{rpc}/v1/internal/scheduler/get")).body("{not json").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert!(r.text().await.unwrap().starts_with("malformed internal RPC body"));

        // Binary (postcard) paths: raft traffic and forwarded variable writes refuse bodies cut short.
        for path in ["/v1/internal/raft/append", "/v1/internal/var/put"] {
            let r = client.post(format!("{rpc}{path}")).body(vec![0x01]).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 400, "{path}");
            assert!(r.text().await.unwrap().starts_with("malformed internal RPC body"), "{path}");
        }

        // A read forwarded as itself: the reply is the one row, with the leader's freshness.
        let r =
            client.post(format!("{rpc}/v1/internal/scheduler/get")).body(r#"{"stale":false}"#).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let reply: serde_json::Value = r.json().await.unwrap();
        let row = &reply["Ok"]["row"];
        assert!(row["modify_index"].as_u64().unwrap() > 0, "{reply}");
        assert_eq!(reply["Ok"]["known_leader"], true);
        e.stop().await;
    });
}

/// A host's own RPC mount (`rpc::configure` on its actix-web server) speaks HTTP only, as a
/// server from before raft frames does: the raft network hears HTTP back for a frame and
/// calls it over HTTP instead.
#[test]
fn a_peer_without_frames_is_called_over_http() {
    use openraft::network::RPCOption;
    use openraft::network::RaftNetworkFactory;
    use openraft::network::RaftNetworkV2;
    use raftwarden_actors::raft::link::Link;
    use raftwarden_actors::raft::link::LinkError;
    use raftwarden_actors::raft::network::Contacts;
    use raftwarden_actors::raft::network::Network;
    use raftwarden_actors::raft::network::Peers;
    use raftwarden_actors::raft::ServerNode;
    use raftwarden_actors::raft::Vote;
    use raftwarden_actors::wire::paths;

    let dir = tempfile::tempdir().unwrap();
    actix_rt::System::new().block_on(async {
        let client = http_client();
        let e = start(dir.path()).await;
        ready(&client, &e).await;
        let rpc_addr = e.server.identity().rpc_addr.clone();
        let mut link = Link::new(&rpc_addr, None, None);
        let got = link.call(paths::VOTE, b"", Duration::from_secs(10)).await;
        assert!(matches!(got, Err(LinkError::NoFrames)), "{got:?}");

        let mut network = Network::new(Contacts::default(), Peers::new(None));
        let node = ServerNode { id: "peer".into(), rpc_addr, ..ServerNode::default() };
        let mut peer = network.new_client(99, &node).await;
        let vote = openraft::raft::VoteRequest::new(Vote::new(0, 99), None);
        let answer = peer.vote(vote, RPCOption::new(Duration::from_secs(10))).await.expect("answered over HTTP");
        assert!(!answer.vote_granted, "{answer:?}");
        e.stop().await;
    });
}

/// Writes that arrive together: each is a raft entry of its own (its own index, as in Nomad),
/// and the entries share log fsyncs (fewer fsyncs than writes).
#[test]
fn concurrent_writes_each_get_an_index_and_share_fsyncs() {
    use raftwarden_actors::config_store::SetAutopilotConfig;
    use raftwarden_actors::config_store::SetSchedulerConfig;
    let dir = tempfile::tempdir().unwrap();
    actix_rt::System::new().block_on(async {
        let client = http_client();
        let e = start(dir.path()).await;
        ready(&client, &e).await;
        let store = e.server.config_store().clone();
        let fsyncs_before = e.server.log_fsyncs();
        let writes: Vec<_> = (0..64u32)
            .map(|i| {
                let store = store.clone();
                actix_rt::spawn(async move {
                    if i % 2 == 0 {
                        let config = raftwarden_actors::state::SchedulerConfig {
                            node_limit_for_feasibility_checks: i,
                            ..Default::default()
                        };
                        ("scheduler", store.send(SetSchedulerConfig { config, cas: None }).await)
                    } else {
                        let config = raftwarden_actors::state::AutopilotConfig {
                            max_trailing_logs: u64::from(i),
                            ..Default::default()
                        };
                        ("autopilot", store.send(SetAutopilotConfig { config, cas: None }).await)
                    }
                })
            })
            .collect();
        let mut by_row: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
        for w in writes {
            let (row, r) = w.await.unwrap();
            let applied = r.unwrap().unwrap();
            assert!(applied.updated);
            by_row.entry(row).or_default().push(applied.index);
        }
        let mut all: Vec<u64> = by_row.values().flatten().copied().collect();
        for (row, mut indexes) in by_row {
            indexes.sort_unstable();
            indexes.dedup();
            assert_eq!(indexes.len(), 32, "every {row} write has an index of its own");
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 64, "every write has an index of its own");
        let fsyncs = e.server.log_fsyncs() - fsyncs_before;
        assert!(fsyncs < 64, "64 writes that arrived together took {fsyncs} log fsyncs");
        e.stop().await;
    });
}
