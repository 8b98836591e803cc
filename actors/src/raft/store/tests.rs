//! The store against openraft's conformance suite, and the properties of its own: applies
//! write only what they change and commit durably as the log grows, snapshots are points in
//! time that install whole or not at all, variables and ACL tokens read and travel, older
//! layouts migrate.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::time::Duration;

use openraft::storage::RaftLogStorage;
use openraft::storage::RaftStateMachine;
use openraft::testing::log::StoreBuilder;
use openraft::testing::log::Suite;
use openraft::vote::RaftLeaderId;
use openraft::RaftLogReader;
use openraft::RaftSnapshotBuilder;
use redb::ReadableDatabase;
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;

use super::apply::apply_batch;
use super::schema::FORMAT;
use super::schema::FORMAT_V2;
use super::schema::KEY_FORMAT;
use super::schema::KEY_PURGED;
use super::schema::KEY_VOTE;
use super::schema::LOGS;
use super::schema::META;
use super::snapshot::SnapshotDir;
use super::*;
use crate::raft::CommittedLeaderId;
use crate::raft::Membership;
use crate::raft::ServerNode;
use crate::raft::Snapshot;
use crate::raft::SnapshotMeta;
use crate::raft::StoredMembership;
use crate::raft::TypeConfig;
use crate::raft::Vote;
use crate::state::AclPolicy;
use crate::state::AutopilotConfig;
use crate::state::Row;
use crate::state::SchedulerConfig;

#[test]
fn applies_commit_durably_as_the_log_grows() {
    let (normal, restore) = (DURABLE_APPLY_LOG_BYTES, DURABLE_RESTORE_LOG_BYTES);
    let cases = [
        (0, 0, false),
        (1 << 20, 0, false),
        (normal - 1, 0, false),
        (normal, 0, true),
        // Restore rows count toward the larger bound only.
        (normal + (1 << 20), 2 << 20, false),
        (normal + (2 << 20), 2 << 20, true),
        (restore - 1, restore - 1, false),
        (restore, restore, true),
        // A count of rows larger than the log's growth (a replay after a restart).
        (normal, restore, false),
    ];
    for (appended, restored, durable) in cases {
        assert_eq!(apply_durably(appended, restored), durable, "{appended} bytes, {restored} of restore rows");
    }
}

#[test]
fn restore_rows_are_counted_by_their_bytes() {
    let entry = |index, cmd| Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
        payload: EntryPayload::Normal(cmd),
    };
    let rows = [(b"key".to_vec(), vec![7u8; 100]), (Vec::new(), b"v".to_vec())].into_iter().collect();
    let entries = vec![
        entry(1, Command::RestoreBegin { id: "r".into() }),
        entry(2, Command::RestoreRows { id: "r".into(), table: "sm_variables".into(), rows }),
        entry(3, Command::RestoreCommit { id: "r".into(), rows: 2 }),
    ];
    assert_eq!(restore_row_bytes(&entries), 104);
    assert_eq!(restore_row_bytes(&[]), 0);
}

#[test]
fn only_short_runs_of_single_writes_skip_the_blocking_pool() {
    let writes: Vec<Entry> = (1..=IN_PLACE_ENTRIES as u64 + 1).map(|i| normal(i, set_scheduler(10, None))).collect();
    assert!(runs_in_place(&writes[..1]));
    assert!(runs_in_place(&writes[..IN_PLACE_ENTRIES]));
    assert!(!runs_in_place(&writes), "a long run of entries goes to the pool");
    assert!(runs_in_place(&[membership_entry(1)]));
    let group = Command::Batch(vec![set_var("default", "a", None), set_var("default", "b", None)]);
    assert!(!runs_in_place(&[writes[0].clone(), normal(2, group)]), "a group commit goes to the pool");
    let restore_steps = [
        Command::RestoreBegin { id: "r".into() },
        Command::RestoreRows { id: "r".into(), table: "sm_variables".into(), rows: Default::default() },
        Command::RestoreCommit { id: "r".into(), rows: 0 },
        Command::RestoreRetire { id: "r".into() },
    ];
    for step in restore_steps {
        let entries = [normal(1, set_scheduler(10, None)), normal(2, step)];
        assert!(!runs_in_place(&entries), "a restore step goes to the pool: {:?}", entries[1].payload);
    }
}

/// openraft's conformance suite builds each case on a fresh store in its own directory.
struct RedbStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RedbStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), openraft::StorageError<TypeConfig>> {
        use openraft::error::ErrorSource;
        let failed = |e: &dyn std::fmt::Display| {
            openraft::StorageError::write(<TypeConfig as openraft::RaftTypeConfig>::ErrorSource::from_string(e))
        };
        let dir = TempDir::new().map_err(|e| failed(&e))?;
        let (log, sm) = open(&dir.path().join("raft.redb")).map_err(|e| failed(&e))?;
        Ok((dir, log, sm))
    }
}

/// openraft's own conformance cases (vote, log, purge, truncate, membership, apply,
/// snapshot build and transfer) against this store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite() -> Result<(), openraft::StorageError<TypeConfig>> {
    Suite::test_all(RedbStoreBuilder).await
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn normal(index: u64, cmd: Command) -> Entry {
    Entry { log_id: log_id(1, index), payload: EntryPayload::Normal(cmd) }
}

fn membership_entry(index: u64) -> Entry {
    let nodes = BTreeMap::from([(1, ServerNode { id: "one".into(), ..Default::default() })]);
    let membership = Membership::new(vec![[1].into()], nodes).unwrap();
    Entry { log_id: log_id(1, index), payload: EntryPayload::Membership(membership) }
}

fn init_defaults() -> Command {
    Command::InitDefaults { autopilot: AutopilotConfig::default(), scheduler: SchedulerConfig::default() }
}

fn set_scheduler(limit: u32, cas: Option<u64>) -> Command {
    let config = SchedulerConfig { node_limit_for_feasibility_checks: limit, ..Default::default() };
    Command::SetScheduler { config, cas }
}

fn temp_store() -> (TempDir, LogStore, StateMachineStore) {
    let dir = TempDir::new().unwrap();
    let (log, sm) = open(&dir.path().join("raft.redb")).unwrap();
    (dir, log, sm)
}

fn snapshot_files(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_writes_only_the_rows_it_changes() {
    let (_dir, _log, sm) = temp_store();
    let db = sm.db.clone();
    let batch = |entries: Vec<Entry>| {
        let db = db.clone();
        async move { blocking(&db, move |db| apply_batch(db, entries, false)).await.unwrap() }
    };

    let (replies, rows) = batch(vec![membership_entry(1), normal(2, init_defaults())]).await;
    assert_eq!(rows, 2, "both config rows are created");
    assert!(replies.iter().all(|r| r.updated));

    let (replies, rows) = batch(vec![normal(3, set_scheduler(7, Some(2)))]).await;
    assert_eq!((rows, replies[0].updated), (1, true), "a scheduler write touches the scheduler row only");
    let autopilot = sm.reader().autopilot().unwrap().unwrap();
    assert_eq!((autopilot.create_index, autopilot.modify_index), (2, 2), "the autopilot row is untouched");
    let scheduler = sm.reader().scheduler().unwrap().unwrap();
    assert_eq!(
        (scheduler.value.node_limit_for_feasibility_checks, scheduler.create_index, scheduler.modify_index),
        (7, 2, 3)
    );

    let (replies, rows) = batch(vec![normal(4, set_scheduler(8, Some(2)))]).await;
    assert_eq!((rows, replies[0].updated), (0, false), "a failed CAS writes no row");
    let (replies, rows) = batch(vec![normal(5, init_defaults())]).await;
    assert_eq!((rows, replies[0].updated), (0, false), "defaults never overwrite");
    let (_, rows) = batch(vec![Entry { log_id: log_id(2, 6), payload: EntryPayload::Blank }]).await;
    assert_eq!(rows, 0);

    let mut sm = sm;
    let (last, membership) = sm.applied_state().await.unwrap();
    assert_eq!(last, Some(log_id(2, 6)), "the applied meta moves with every batch, rows or not");
    assert_eq!(membership.log_id(), &Some(log_id(1, 1)));
    assert_eq!(sm.reader().scheduler().unwrap().unwrap().modify_index, 3);
}

/// Streams `snapshot` into a store the way the chunked snapshot RPC does: small writes at
/// increasing offsets into an anonymous file, then the install.
async fn transfer(snapshot: Snapshot, to: &mut StateMachineStore) {
    let Snapshot { meta, snapshot: mut src } = snapshot;
    let mut dst = tokio::fs::File::from_std(tempfile::tempfile().unwrap());
    tokio::io::AsyncSeekExt::seek(&mut src, SeekFrom::Start(0)).await.unwrap();
    let mut chunk = vec![0u8; 7];
    loop {
        let n = src.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        dst.write_all(&chunk[..n]).await.unwrap();
    }
    dst.shutdown().await.unwrap();
    to.install_snapshot(&meta, dst).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_round_trip_gives_identical_rows() {
    let (dir_a, _log_a, mut a) = temp_store();
    a.apply_entries(vec![membership_entry(1), normal(2, init_defaults()), normal(3, set_scheduler(42, None))])
        .await
        .unwrap();
    let first = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
    a.apply_entries(vec![normal(4, set_scheduler(43, Some(3)))]).await.unwrap();
    let built = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
    assert_eq!(built.meta.last_log_id, Some(log_id(1, 4)));
    let files = snapshot_files(&dir_a);
    assert!(
        files.len() == 1 && files[0].starts_with("1-4-") && files[0].ends_with(".snap"),
        "older files removed: {files:?}"
    );
    drop(first);

    let current = a.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, built.meta);

    let (dir_b, _log_b, mut b) = temp_store();
    b.apply_entries(vec![normal(1, set_scheduler(1, None))]).await.unwrap();
    transfer(current, &mut b).await;

    assert_eq!(b.reader().autopilot().unwrap(), a.reader().autopilot().unwrap());
    assert_eq!(b.reader().scheduler().unwrap(), a.reader().scheduler().unwrap());
    assert_eq!(b.applied_state().await.unwrap(), a.applied_state().await.unwrap());
    assert_eq!(b.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
    let files = snapshot_files(&dir_b);
    assert!(files.len() == 1 && files[0].starts_with("1-4-"), "{files:?}");

    // The installed snapshot and rows survive a restart.
    drop((_log_b, b));
    let (_log_b, mut b) = open(&dir_b.path().join("raft.redb")).unwrap();
    assert_eq!(b.reader().scheduler().unwrap(), a.reader().scheduler().unwrap());
    assert_eq!(b.get_current_snapshot().await.unwrap().unwrap().meta, built.meta);
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_snapshot_changes_nothing() {
    let (_dir_a, _log_a, mut a) = temp_store();
    a.apply_entries(vec![membership_entry(1), normal(2, init_defaults())]).await.unwrap();
    let built = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let mut bytes = Vec::new();
    let mut src = built.snapshot;
    tokio::io::AsyncSeekExt::seek(&mut src, SeekFrom::Start(0)).await.unwrap();
    src.read_to_end(&mut bytes).await.unwrap();

    let (dir_b, _log_b, mut b) = temp_store();
    b.apply_entries(vec![normal(1, set_scheduler(5, None))]).await.unwrap();
    let before = (b.reader().scheduler().unwrap(), b.applied_state().await.unwrap());
    for corrupt in [
        {
            let mut c = bytes.clone();
            let at = c.len() - 20;
            c[at] ^= 0x40;
            c
        },
        bytes[..bytes.len() - 3].to_vec(),
    ] {
        let mut dst = tokio::fs::File::from_std(tempfile::tempfile().unwrap());
        dst.write_all(&corrupt).await.unwrap();
        dst.shutdown().await.unwrap();
        assert!(b.install_snapshot(&built.meta, dst).await.is_err());
        assert_eq!((b.reader().scheduler().unwrap(), b.applied_state().await.unwrap()), before);
        assert!(b.get_current_snapshot().await.unwrap().is_none());
        assert!(snapshot_files(&dir_b).is_empty(), "no file kept from a bad snapshot");
    }
}

/// Builds snapshots while another task keeps applying scheduler writes. Each apply sets the
/// row's `modify_index` and the last applied id in one transaction, so a consistent point in
/// time has them equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_during_writes_is_a_point_in_time() {
    let (_dir, _log, mut sm) = temp_store();
    sm.apply_entries(vec![membership_entry(1), normal(2, set_scheduler(2, None))]).await.unwrap();
    let db = sm.db.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut index = 3;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let entries = vec![normal(index, set_scheduler(index as u32, None))];
                blocking(&db, move |db| apply_batch(db, entries, false)).await.unwrap();
                index += 1;
            }
            index
        })
    };

    let mut seen = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < 5 && tokio::time::Instant::now() < deadline {
        let snap = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
        let last = snap.meta.last_log_id.unwrap().index;
        let (_d, _l, mut other) = temp_store();
        transfer(snap, &mut other).await;
        let row = other.reader().scheduler().unwrap().unwrap();
        assert_eq!(row.modify_index, last, "rows and meta come from one point in time");
        assert_eq!(u64::from(row.value.node_limit_for_feasibility_checks), last);
        seen.insert(last);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(seen.len() >= 5, "snapshots at {seen:?} while writing up to {written}");
}

fn set_var(namespace: &str, path: &str, cas: Option<u64>) -> Command {
    let var = crate::state::Variable {
        namespace: namespace.into(),
        path: path.into(),
        items: [("k".to_string(), path.to_string())].into(),
        ..Default::default()
    };
    Command::VarSet { var, cas }
}

/// Variables sort by namespace then path, list by seeks (also across namespaces whose names
/// prefix each other), count in the table index, and travel in snapshots.
#[tokio::test(flavor = "multi_thread")]
async fn variables_list_and_snapshot() {
    let (_dir, _log, mut a) = temp_store();
    let writes = [("a", "x/1"), ("a-b", "x/1"), ("a", "x/2"), ("a", "y/1"), ("b", "x/1")];
    let mut entries = vec![membership_entry(1)];
    for (i, (ns, path)) in writes.iter().enumerate() {
        entries.push(normal(i as u64 + 2, set_var(ns, path, Some(0))));
    }
    a.apply_entries(entries).await.unwrap();
    let r = a.reader();
    let names = |page: &[crate::state::VariableMetadata]| {
        page.iter().map(|m| format!("{}.{}", m.namespace, m.path)).collect::<Vec<_>>()
    };
    let (page, next, index) = r.list_variables(None, "x/", 0, "").unwrap();
    assert_eq!(names(&page), ["a.x/1", "a.x/2", "a-b.x/1", "b.x/1"]);
    assert_eq!((next.as_str(), index), ("", 6));
    let (page, next, _) = r.list_variables(None, "", 2, "").unwrap();
    assert_eq!((names(&page), next.as_str()), (vec!["a.x/1".to_string(), "a.x/2".into()], "a.y/1"));
    let (page, _, _) = r.list_variables(Some("a"), "", 0, "a.x/2").unwrap();
    assert_eq!(names(&page), ["a.x/2", "a.y/1"]);
    assert!(r.list_variables(Some("c"), "", 0, "").unwrap().0.is_empty());

    let applied = a
        .apply_entries(vec![normal(7, Command::VarDelete { namespace: "a".into(), path: "x/1".into(), cas: Some(2) })])
        .await
        .unwrap();
    assert!(applied[0].updated);
    assert_eq!(r.variables_index().unwrap(), 7);

    let snap = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let (_d, _l, mut b) = temp_store();
    transfer(snap, &mut b).await;
    let (all_a, _, ia) = r.list_variables(None, "", 0, "").unwrap();
    let (all_b, _, ib) = b.reader().list_variables(None, "", 0, "").unwrap();
    assert_eq!((all_a, ia), (all_b, ib));
    assert_eq!(b.reader().variable("a-b", "x/1").unwrap(), r.variable("a-b", "x/1").unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn acl_tokens_resolve_by_secret_and_travel_in_snapshots() {
    let (_dir, _log, mut a) = temp_store();
    let token = |accessor: &str, secret: &str| crate::state::AclToken {
        accessor_id: accessor.into(),
        secret_id: secret.into(),
        token_type: "client".into(),
        policies: vec!["p".into()],
        ..Default::default()
    };
    let policy = AclPolicy { name: "p".into(), rules: "operator { policy = \"read\" }".into(), ..Default::default() };
    a.apply_entries(vec![
        membership_entry(1),
        normal(2, Command::AclTokenUpsert { tokens: vec![token("acc-1", "sec-1"), token("acc-2", "sec-2")] }),
        normal(3, Command::AclPolicyUpsert { policies: vec![policy] }),
        normal(4, Command::AclBootstrap { token: token("acc-3", "sec-3"), reset_index: 0 }),
    ])
    .await
    .unwrap();
    let r = a.reader();
    assert_eq!(r.acl_token_by_secret("sec-2").unwrap().map(|t| t.accessor_id), Some("acc-2".into()));
    assert!(r.acl_token_by_secret("sec-9").unwrap().is_none());
    assert_eq!(r.list_acl_tokens("acc-").unwrap().0.len(), 3);
    assert_eq!((r.acl_index(true).unwrap(), r.acl_index(false).unwrap(), r.acl_bootstrap().unwrap()), (4, 3, Some(4)));

    a.apply_entries(vec![normal(5, Command::AclTokenDelete { accessors: vec!["acc-2".into()] })]).await.unwrap();
    assert!(r.acl_token_by_secret("sec-2").unwrap().is_none(), "a deleted token's secret no longer resolves");

    let snap = a.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let (_d, _l, mut b) = temp_store();
    transfer(snap, &mut b).await;
    let rb = b.reader();
    assert_eq!(rb.list_acl_tokens("").unwrap(), r.list_acl_tokens("").unwrap());
    assert_eq!(rb.list_acl_policies("").unwrap(), r.list_acl_policies("").unwrap());
    assert_eq!(rb.acl_token_by_secret("sec-1").unwrap().map(|t| t.accessor_id), Some("acc-1".into()));
    assert_eq!(rb.acl_bootstrap().unwrap(), Some(4));
}

/// The v1 layout, copied from the last release that wrote it.
mod v1_layout {
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    pub struct State {
        pub autopilot: Option<Row<AutopilotConfig>>,
        pub scheduler: Option<Row<SchedulerConfig>>,
    }

    #[derive(Serialize)]
    pub struct AppliedState {
        pub last_applied: Option<LogId>,
        pub membership: StoredMembership,
        pub state: State,
    }

    #[derive(Serialize)]
    pub struct StoredSnapshot {
        pub meta: SnapshotMeta,
        pub data: Vec<u8>,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_store_is_migrated_on_open() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("raft.redb");
    let membership = StoredMembership::new(
        Some(log_id(1, 1)),
        match membership_entry(1).payload {
            EntryPayload::Membership(m) => m,
            _ => unreachable!(),
        },
    );
    let row = |limit: u32, create_index, modify_index| Row {
        value: SchedulerConfig { node_limit_for_feasibility_checks: limit, ..Default::default() },
        create_index,
        modify_index,
    };
    let autopilot = Row { value: AutopilotConfig::default(), create_index: 2, modify_index: 2 };
    let applied = v1_layout::AppliedState {
        last_applied: Some(log_id(1, 5)),
        membership: membership.clone(),
        state: v1_layout::State { autopilot: Some(autopilot.clone()), scheduler: Some(row(9, 2, 5)) },
    };
    let snapshot_meta = SnapshotMeta { last_log_id: Some(log_id(1, 3)), last_membership: membership.clone() };
    let snapshot_state = v1_layout::AppliedState {
        last_applied: Some(log_id(1, 3)),
        membership: membership.clone(),
        state: v1_layout::State { autopilot: Some(autopilot.clone()), scheduler: Some(row(8, 2, 3)) },
    };
    let stored_snapshot =
        v1_layout::StoredSnapshot { meta: snapshot_meta.clone(), data: postcard::to_stdvec(&snapshot_state).unwrap() };
    let vote = Vote::new_committed(1, 1);
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(KEY_FORMAT, b"raftwarden-raft-v1".as_slice()).unwrap();
            meta.insert("vote", postcard::to_stdvec(&vote).unwrap().as_slice()).unwrap();
            meta.insert("state_machine", postcard::to_stdvec(&applied).unwrap().as_slice()).unwrap();
            meta.insert("snapshot", postcard::to_stdvec(&stored_snapshot).unwrap().as_slice()).unwrap();
            let mut logs = txn.open_table(LOGS).unwrap();
            let entry = normal(6, set_scheduler(10, None));
            logs.insert(6, postcard::to_stdvec(&entry).unwrap().as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }

    let (mut log, mut sm) = open(&path).unwrap();
    assert_eq!(sm.reader().autopilot().unwrap(), Some(autopilot.clone()));
    assert_eq!(sm.reader().scheduler().unwrap(), Some(row(9, 2, 5)));
    assert_eq!(sm.applied_state().await.unwrap(), (Some(log_id(1, 5)), membership.clone()));
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.try_get_log_entries(6..7).await.unwrap().len(), 1, "the log is kept");
    let current = sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snapshot_meta);
    {
        let db = &sm.db;
        let txn = db.begin_read().unwrap();
        let meta = txn.open_table(META).unwrap();
        assert_eq!(meta.get(KEY_FORMAT).unwrap().unwrap().value(), FORMAT);
        assert!(meta.get("state_machine").unwrap().is_none(), "old keys are dropped");
        assert!(meta.get("snapshot").unwrap().is_none());
    }

    let (_d, _l, mut other) = temp_store();
    transfer(current, &mut other).await;
    assert_eq!(other.reader().scheduler().unwrap(), Some(row(8, 2, 3)), "the v1 snapshot became a snapshot file");
    assert_eq!(other.reader().autopilot().unwrap(), Some(autopilot));

    drop((log, sm));
    let (_log, sm) = open(&path).unwrap();
    assert_eq!(sm.reader().scheduler().unwrap(), Some(row(9, 2, 5)), "opening a migrated store again is a no-op");
}

/// A v2 store kept its log in redb: the log moves into files, once, and nothing else changes.
#[tokio::test(flavor = "multi_thread")]
async fn v2_store_log_moves_into_files() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("raft.redb");
    let vote = Vote::new_committed(2, 1);
    let purged = log_id(1, 3);
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(KEY_FORMAT, FORMAT_V2).unwrap();
            meta.insert(KEY_VOTE, postcard::to_stdvec(&vote).unwrap().as_slice()).unwrap();
            meta.insert(KEY_PURGED, postcard::to_stdvec(&purged).unwrap().as_slice()).unwrap();
            let mut logs = txn.open_table(LOGS).unwrap();
            for i in 4..=6 {
                logs.insert(i, postcard::to_stdvec(&normal(i, set_scheduler(i as u32, None))).unwrap().as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }
    for round in 0..2 {
        let (mut log, _sm) = open(&path).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(purged), "round {round}");
        assert_eq!(state.last_log_id, Some(log_id(1, 6)), "round {round}");
        let got: Vec<u64> = log.try_get_log_entries(0..100).await.unwrap().iter().map(|e| e.log_id.index).collect();
        assert_eq!(got, vec![4, 5, 6], "round {round}");
        assert_eq!(log.read_vote().await.unwrap(), Some(vote));
        let txn = log.db.begin_read().unwrap();
        assert!(matches!(txn.open_table(LOGS), Err(redb::TableError::TableDoesNotExist(_))), "the table is gone");
        assert_eq!(txn.open_table(META).unwrap().get(KEY_FORMAT).unwrap().unwrap().value(), FORMAT);
    }
}

#[test]
fn foreign_and_unplain_names_are_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("raft.redb");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META).unwrap().insert("something", b"else".as_slice()).unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(open(&path), Err(OpenError::Foreign { .. })));
    let name = SnapshotDir::file_name(Some(&log_id(1, 2)));
    assert!(name.starts_with("1-2-") && name.ends_with(".snap") && !name.contains('/'), "{name}");
    assert_ne!(SnapshotDir::file_name(Some(&log_id(1, 2))), name, "two builds at one position get two names");
    assert!(SnapshotDir::file_name(None).starts_with("0-0-"));
}
