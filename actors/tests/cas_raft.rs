//! The CAS model property through real raft and the durable store: a single server started
//! in-process on a temp dir, random PUT/CAS sequences sent through the config-store actor, and
//! results compared with a register model; then the server is restarted on the same dir and
//! the state must be identical.

use std::future::Future;
use std::time::Duration;
use std::time::Instant;

use proptest::prelude::*;
use raftwarden_actors::config_store::GetSchedulerConfig;
use raftwarden_actors::config_store::SetSchedulerConfig;
use raftwarden_actors::state::SchedulerConfig;

fn settings(dir: &std::path::Path) -> raftwarden_actors::Settings {
    raftwarden_actors::Settings::new("prop", dir, "127.0.0.1:1", "127.0.0.1:2")
}

/// Polls `f` until it returns `Some`, failing with `what` after 30 s: the shape of
/// `eventually` in the root crate's `tests/support`, which this crate cannot import. Messages
/// in process are cheap, so it polls more often.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The scheduler configuration's node limit and modify index, once a consistent read answers.
async fn ready(server: &raftwarden_actors::Server) -> (u32, u64) {
    eventually("the server to become ready", || async {
        let f = server.config_store().send(GetSchedulerConfig { stale: false }).await.ok()?.ok()?;
        Some((f.row.value.node_limit_for_feasibility_checks, f.row.modify_index))
    })
    .await
}

#[derive(Clone, Debug)]
enum Op {
    Put(u32),
    /// CAS against the current index (`fresh`) or a stale/bogus offset from it.
    Cas {
        value: u32,
        fresh: bool,
        offset: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..10_000).prop_map(Op::Put),
        (1u32..10_000, any::<bool>(), 1u64..5).prop_map(|(value, fresh, offset)| Op::Cas { value, fresh, offset }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn cas_through_raft_matches_model(ops in proptest::collection::vec(op(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let system = actix_rt::System::new();
        let (final_state, model) = system.block_on(async {
            let server = raftwarden_actors::start(settings(dir.path())).await.unwrap();
            let (mut value, mut modify) = ready(&server).await;
            let mut last_index = modify;
            for op in &ops {
                let (new, cas) = match op {
                    Op::Put(v) => (*v, None),
                    Op::Cas { value, fresh: true, .. } => (*value, Some(modify)),
                    Op::Cas { value, fresh: false, offset } => (*value, Some(modify.wrapping_add(*offset))),
                };
                let config = SchedulerConfig { node_limit_for_feasibility_checks: new, ..Default::default() };
                let applied = server.config_store().send(SetSchedulerConfig { config, cas }).await.unwrap().unwrap();
                // Every write, failed CAS included, is a new raft entry.
                assert!(applied.index > last_index);
                last_index = applied.index;
                let expect = cas.is_none_or(|c| c == modify);
                assert_eq!(applied.updated, expect, "{op:?} at modify={modify}");
                if expect {
                    value = new;
                    modify = applied.index;
                }
            }
            let state = ready(&server).await;
            server.shutdown().await;
            (state, (value, modify))
        });
        prop_assert_eq!(final_state, model);
        drop(system);
        // Restart on the same directory: the same state comes back from disk.
        let system = actix_rt::System::new();
        let reloaded = system.block_on(async {
            let server = raftwarden_actors::start(settings(dir.path())).await.unwrap();
            let s = ready(&server).await;
            server.shutdown().await;
            s
        });
        prop_assert_eq!(reloaded, model);
    }
}
