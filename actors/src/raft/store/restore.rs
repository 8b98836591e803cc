//! Restoring a snapshot archive through raft, so that it is ordered with every other write and
//! reaches every server, including one that is down and catches up later from the log or from
//! a raft snapshot.
//!
//! The leader turns the verified `state.bin` into log entries: [`Command::RestoreBegin`], then
//! [`Command::RestoreRows`] of at most about a megabyte each, then [`Command::RestoreCommit`].
//! Rows go to staging tables, one per replicated table; the commit replaces every replicated
//! table with its staged rows in one apply, if the restore it names is the one in progress and
//! every row arrived. Until then the live tables serve reads and writes as usual; a restore cut
//! short (the leader died) changes nothing, and the next restore starts over. Raft snapshots
//! carry the staging tables, so a follower that installs one half-way through still commits.
//!
//! The leader proposes rows before the archive's last hash has verified (the archive streams
//! through), and the commit only after: an archive that fails verification leaves its rows in
//! the staging tables, never in the live ones, until the next restore clears them. The commit
//! sets the tables it replaces aside ([`RETIRED`]); [`Command::RestoreRetire`], proposed after
//! the client has its answer, drops them.

use std::sync::Arc;
use std::sync::Mutex;

use redb::ReadableTable;
use redb::TableHandle;
use redb::WriteTransaction;
use serde::Deserialize;
use serde::Serialize;

use super::read_err;
use super::schema::decode;
use super::schema::encode;
use super::schema::RowTable;
use super::schema::REPLICATED;
use super::write_err;
use crate::raft::StorageError;
use crate::state::Applied;
use crate::state::Command;

/// The staging table of each replicated table, in the order of `REPLICATED`.
pub(crate) const STAGING: [RowTable; 8] = [
    RowTable::new("staging_sm_autopilot"),
    RowTable::new("staging_sm_scheduler"),
    RowTable::new("staging_sm_variables"),
    RowTable::new("staging_sm_table_index"),
    RowTable::new("staging_sm_acl_policies"),
    RowTable::new("staging_sm_acl_tokens"),
    RowTable::new("staging_sm_acl_secrets"),
    RowTable::new("staging_sm_license"),
];

/// Where a commit puts each replicated table it replaces, in the order of `REPLICATED`, until
/// [`Command::RestoreRetire`] drops them: freeing a large table's pages reads every one of
/// them, which the commit (and the client waiting on it) need not wait for. Not replicated:
/// a raft snapshot does not carry them.
pub(crate) const RETIRED: [RowTable; 8] = [
    RowTable::new("retired_sm_autopilot"),
    RowTable::new("retired_sm_scheduler"),
    RowTable::new("retired_sm_variables"),
    RowTable::new("retired_sm_table_index"),
    RowTable::new("retired_sm_acl_policies"),
    RowTable::new("retired_sm_acl_tokens"),
    RowTable::new("retired_sm_acl_secrets"),
    RowTable::new("retired_sm_license"),
];

/// The restore in progress, under [`PROGRESS_KEY`].
pub(crate) const PROGRESS: RowTable = RowTable::new("staging_restore");
const PROGRESS_KEY: &[u8] = b"restore";

/// Which restore is in progress and how many rows it has staged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Progress {
    pub id: String,
    pub rows: u64,
}

/// What a restore command does, given the restore in progress.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Forget any restore in progress and start this one.
    Begin,
    /// Stage these rows into the staging table at this position.
    Stage(usize),
    /// Replace every replicated table with the staged rows.
    Commit,
    /// Drop the tables that commits replaced.
    Retire,
    /// Not the restore in progress (a newer one began, or this one was cut short), or a table
    /// this version does not have: nothing changes.
    Ignore,
}

/// The decision, pure: `None` for a command that is not part of a restore.
pub(crate) fn decide(progress: Option<&Progress>, cmd: &Command) -> Option<Step> {
    let current = |id: &str| progress.is_some_and(|p| p.id == id);
    Some(match cmd {
        Command::RestoreBegin { .. } => Step::Begin,
        Command::RestoreRows { id, table, .. } => match REPLICATED.iter().position(|t| t.name() == table) {
            Some(i) if current(id) => Step::Stage(i),
            _ => Step::Ignore,
        },
        Command::RestoreCommit { id, rows } => {
            if progress == Some(&Progress { id: id.clone(), rows: *rows }) {
                Step::Commit
            } else {
                Step::Ignore
            }
        }
        Command::RestoreRetire { .. } => Step::Retire,
        _ => return None,
    })
}

/// Applies a restore command inside the apply transaction; `None` when `cmd` is not one.
pub(crate) fn apply(txn: &WriteTransaction, cmd: &Command, index: u64) -> Result<Option<Applied>, StorageError> {
    let progress: Option<Progress> = {
        let table = txn.open_table(PROGRESS).map_err(write_err)?;
        let value = table.get(PROGRESS_KEY).map_err(read_err)?;
        match value {
            Some(v) => Some(decode(v.value()).map_err(read_err)?),
            None => None,
        }
    };
    let Some(step) = decide(progress.as_ref(), cmd) else { return Ok(None) };
    let updated = match (step, cmd) {
        (Step::Begin, Command::RestoreBegin { id }) => {
            clear_staging(txn)?;
            set_progress(txn, Some(&Progress { id: id.clone(), rows: 0 }))?;
            true
        }
        (Step::Stage(i), Command::RestoreRows { rows, .. }) => {
            {
                let mut table = txn.open_table(STAGING[i]).map_err(write_err)?;
                for (k, v) in rows.iter() {
                    table.insert(k, v).map_err(write_err)?;
                }
            }
            let mut p = progress.unwrap_or(Progress { id: String::new(), rows: 0 });
            p.rows += rows.len() as u64;
            set_progress(txn, Some(&p))?;
            true
        }
        (Step::Commit, _) => {
            // Each staging table becomes its live table by name and the live one is set aside:
            // no row is copied and no page freed, so the commit costs the same whatever the
            // state's size.
            drop_retired(txn)?;
            for ((live, staging), retired) in REPLICATED.iter().zip(STAGING.iter()).zip(RETIRED.iter()) {
                txn.open_table(*live).map_err(write_err)?;
                txn.rename_table(*live, *retired).map_err(write_err)?;
                txn.rename_table(*staging, *live).map_err(write_err)?;
            }
            clear_staging(txn)?;
            set_progress(txn, None)?;
            true
        }
        (Step::Retire, _) => {
            drop_retired(txn)?;
            true
        }
        _ => false,
    };
    Ok(Some(Applied::at(index, updated)))
}

fn drop_retired(txn: &WriteTransaction) -> Result<(), StorageError> {
    for table in RETIRED {
        txn.delete_table(table).map_err(write_err)?;
    }
    Ok(())
}

fn clear_staging(txn: &WriteTransaction) -> Result<(), StorageError> {
    for table in STAGING {
        txn.delete_table(table).map_err(write_err)?;
        txn.open_table(table).map_err(write_err)?;
    }
    Ok(())
}

fn set_progress(txn: &WriteTransaction, progress: Option<&Progress>) -> Result<(), StorageError> {
    let mut table = txn.open_table(PROGRESS).map_err(write_err)?;
    match progress {
        Some(p) => {
            table.insert(PROGRESS_KEY, encode(p).map_err(write_err)?.as_slice()).map_err(write_err)?;
        }
        None => {
            table.remove(PROGRESS_KEY).map_err(write_err)?;
        }
    }
    Ok(())
}

/// The name of each replicated table, as `state.bin` names its sections.
pub(crate) fn replicated_names() -> impl Iterator<Item = &'static str> {
    REPLICATED.iter().map(|t| t.name())
}

/// The rows (key, value) of one [`Command::RestoreRows`], packed into one buffer and shared.
///
/// A raft entry is cloned for its apply and for each follower it is sent to, and a restore is
/// a hundred thousand rows per hundred megabytes: two allocations per row (to build, to clone,
/// to free) cost more than staging the row. Serialized as a sequence of (key, value) byte
/// strings, the same bytes as a `Vec<(Vec<u8>, Vec<u8>)>` of byte strings in postcard and in
/// JSON (an array of numbers), so older entries decode unchanged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RestoreRowSet(Arc<Packed>);

#[derive(Default, PartialEq, Eq)]
struct Packed {
    /// Each row's key then value, one row after another.
    bytes: Vec<u8>,
    /// Where each row's key ends and its value ends, in `bytes`.
    ends: Vec<(usize, usize)>,
}

/// The byte buffers of dropped row sets, kept for the next ones. A restore makes one set of
/// about a megabyte per entry and drops it a few entries later; the allocator hands the freed
/// memory back to the system within milliseconds, so each new set faulted fresh pages in, which
/// the kernel zeroed: that cost the row parser more than parsing. At most [`SPARE_BUFFERS`]
/// are kept, so this holds a few megabytes at most.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
const SPARE_BUFFERS: usize = 8;
/// Smaller buffers are left to the allocator.
const SPARE_MIN_BYTES: usize = 256 << 10;

/// A buffer with room for `bytes`, spare if there is one.
fn buffer_for(bytes: usize) -> Vec<u8> {
    let spare = SPARE.lock().ok().and_then(|mut spare| spare.pop());
    match spare {
        Some(mut b) => {
            b.reserve(bytes);
            b
        }
        None => Vec::with_capacity(bytes),
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        if self.bytes.capacity() < SPARE_MIN_BYTES {
            return;
        }
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < SPARE_BUFFERS {
                let mut b = std::mem::take(&mut self.bytes);
                b.clear();
                spare.push(b);
            }
        }
    }
}

impl RestoreRowSet {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.0.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.ends.is_empty()
    }

    /// The bytes of every key and value.
    pub fn byte_len(&self) -> usize {
        self.0.bytes.len()
    }

    /// The rows, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let bytes = &self.0.bytes;
        let mut start = 0;
        self.0.ends.iter().map(move |&(key_end, value_end)| {
            let row = (&bytes[start..key_end], &bytes[key_end..value_end]);
            start = value_end;
            row
        })
    }
}

impl std::fmt::Debug for RestoreRowSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RestoreRowSet({} rows, {} bytes)", self.len(), self.byte_len())
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(K, V)> for RestoreRowSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(rows: I) -> Self {
        let mut b = RowSetBuilder::default();
        for (k, v) in rows {
            b.push(k.as_ref(), v.as_ref());
        }
        b.finish()
    }
}

/// Builds a [`RestoreRowSet`] row by row.
#[derive(Default)]
pub(crate) struct RowSetBuilder {
    rows: Packed,
    /// The bytes and rows each set gets room for when its first row arrives.
    room: (usize, usize),
}

impl RowSetBuilder {
    /// A builder whose sets have room for `bytes` of keys and values and `rows` rows: a set
    /// built up to a known size then takes one allocation, not a dozen growing ones (each on
    /// fresh pages that the kernel zeroes).
    pub(crate) fn with_capacity(bytes: usize, rows: usize) -> Self {
        Self { rows: Packed::default(), room: (bytes, rows) }
    }

    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) {
        let p = &mut self.rows;
        if p.ends.is_empty() && p.bytes.capacity() == 0 {
            p.bytes = buffer_for(self.room.0);
            p.ends.reserve(self.room.1);
        }
        p.bytes.extend_from_slice(key);
        let key_end = p.bytes.len();
        p.bytes.extend_from_slice(value);
        p.ends.push((key_end, p.bytes.len()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.ends.is_empty()
    }

    /// The bytes of every key and value pushed so far.
    pub(crate) fn byte_len(&self) -> usize {
        self.rows.bytes.len()
    }

    /// The rows pushed so far; the builder starts again empty.
    pub(crate) fn finish(&mut self) -> RestoreRowSet {
        RestoreRowSet(Arc::new(std::mem::take(&mut self.rows)))
    }
}

mod row_set_serde {
    use serde::de::SeqAccess;
    use serde::de::Visitor;
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::Serialize;
    use serde::Serializer;

    use super::RestoreRowSet;
    use super::RowSetBuilder;

    struct Bytes<'a>(&'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    impl Serialize for RestoreRowSet {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.iter().map(|(k, v)| (Bytes(k), Bytes(v))))
        }
    }

    /// One key or value: borrowed from the input where the format allows (postcard from a
    /// buffer), else owned (JSON's array of numbers).
    enum RowBytes<'de> {
        Borrowed(&'de [u8]),
        Owned(Vec<u8>),
    }

    impl RowBytes<'_> {
        fn as_slice(&self) -> &[u8] {
            match self {
                RowBytes::Borrowed(b) => b,
                RowBytes::Owned(b) => b,
            }
        }
    }

    struct RowBytesVisitor;

    impl<'de> Visitor<'de> for RowBytesVisitor {
        type Value = RowBytes<'de>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
            Ok(RowBytes::Borrowed(v))
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(RowBytes::Owned(v.to_vec()))
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
            Ok(RowBytes::Owned(v))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(b) = seq.next_element::<u8>()? {
                bytes.push(b);
            }
            Ok(RowBytes::Owned(bytes))
        }
    }

    impl<'de> Deserialize<'de> for RowBytes<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_bytes(RowBytesVisitor)
        }
    }

    struct RowSetVisitor;

    impl<'de> Visitor<'de> for RowSetVisitor {
        type Value = RestoreRowSet;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence of (key, value) byte strings")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RestoreRowSet, A::Error> {
            let mut b = RowSetBuilder::with_capacity(0, seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some((k, v)) = seq.next_element::<(RowBytes<'de>, RowBytes<'de>)>()? {
                b.push(k.as_slice(), v.as_slice());
            }
            Ok(b.finish())
        }
    }

    impl<'de> Deserialize<'de> for RestoreRowSet {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_seq(RowSetVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(id: &str, table: &str) -> Command {
        Command::RestoreRows { id: id.into(), table: table.into(), rows: [(b"k", b"v")].into_iter().collect() }
    }

    /// Applies each command in its own write transaction, as the store does.
    fn apply_all(db: &redb::Database, cmds: Vec<Command>) -> Vec<bool> {
        cmds.iter()
            .enumerate()
            .map(|(i, cmd)| {
                let txn = db.begin_write().unwrap();
                let applied = apply(&txn, cmd, i as u64 + 1).unwrap().unwrap();
                txn.commit().unwrap();
                applied.updated
            })
            .collect()
    }

    fn rows_of(db: &redb::Database, table: RowTable) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let txn = redb::ReadableDatabase::begin_read(db).unwrap();
        let table = match txn.open_table(table) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return None,
            Err(e) => panic!("{e}"),
        };
        Some(table.iter().unwrap().map(|r| r.unwrap()).map(|(k, v)| (k.value().to_vec(), v.value().to_vec())).collect())
    }

    #[test]
    fn a_commit_sets_the_replaced_tables_aside_and_retire_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let variables = REPLICATED.iter().position(|t| t.name() == "sm_variables").unwrap();
        let old = vec![(b"old".to_vec(), b"1".to_vec())];
        {
            let txn = db.begin_write().unwrap();
            txn.open_table(REPLICATED[variables]).unwrap().insert(b"old".as_slice(), b"1".as_slice()).unwrap();
            txn.commit().unwrap();
        }
        let new = vec![(b"new".to_vec(), b"2".to_vec())];
        let updated = apply_all(
            &db,
            vec![
                Command::RestoreBegin { id: "r".into() },
                Command::RestoreRows {
                    id: "r".into(),
                    table: "sm_variables".into(),
                    rows: new.iter().cloned().collect(),
                },
                Command::RestoreCommit { id: "r".into(), rows: 1 },
            ],
        );
        assert_eq!(updated, vec![true; 3]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(new.clone()));
        assert_eq!(rows_of(&db, RETIRED[variables]), Some(old));

        // A second restore before the first one's retire: its commit drops what is set aside.
        let newer = vec![(b"newer".to_vec(), b"3".to_vec())];
        let updated = apply_all(
            &db,
            vec![
                Command::RestoreBegin { id: "r2".into() },
                Command::RestoreRows {
                    id: "r2".into(),
                    table: "sm_variables".into(),
                    rows: newer.iter().cloned().collect(),
                },
                Command::RestoreCommit { id: "r2".into(), rows: 1 },
            ],
        );
        assert_eq!(updated, vec![true; 3]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(newer.clone()));
        assert_eq!(rows_of(&db, RETIRED[variables]), Some(new));

        assert_eq!(apply_all(&db, vec![Command::RestoreRetire { id: "r".into() }]), vec![true]);
        assert_eq!(rows_of(&db, REPLICATED[variables]), Some(newer));
        for table in RETIRED {
            assert_eq!(rows_of(&db, table), None, "{} dropped", table.name());
        }
    }

    #[test]
    fn rows_encode_as_byte_strings_and_decode_what_sequences_of_numbers_encoded() {
        #[derive(Serialize, Deserialize)]
        struct Old {
            id: String,
            table: String,
            rows: Vec<(Vec<u8>, Vec<u8>)>,
        }
        let rows = vec![(b"k1".to_vec(), vec![0u8, 1, 255]), (Vec::new(), b"v".to_vec())];
        let cmd =
            Command::RestoreRows { id: "r".into(), table: "sm_variables".into(), rows: rows.iter().cloned().collect() };
        let old = Old { id: "r".into(), table: "sm_variables".into(), rows };
        let new_bytes = postcard::to_stdvec(&cmd).unwrap();
        assert_eq!(postcard::to_stdvec(&old).unwrap(), new_bytes[1..].to_vec(), "postcard: same bytes as before");
        assert_eq!(postcard::from_bytes::<Command>(&new_bytes).unwrap(), cmd);
        let old_json = serde_json::to_string(&old).unwrap();
        let new_json = serde_json::to_value(&cmd).unwrap();
        assert_eq!(new_json["RestoreRows"], serde_json::from_str::<serde_json::Value>(&old_json).unwrap());
        assert_eq!(serde_json::from_value::<Command>(new_json).unwrap(), cmd);
    }

    #[test]
    fn a_row_set_gives_back_its_rows_in_order_from_one_buffer() {
        let rows: Vec<(Vec<u8>, Vec<u8>)> =
            vec![(b"a".to_vec(), b"1".to_vec()), (Vec::new(), b"empty key".to_vec()), (b"c".to_vec(), Vec::new())];
        let mut b = RowSetBuilder::default();
        assert!(b.is_empty());
        for (k, v) in &rows {
            b.push(k, v);
        }
        assert_eq!(b.byte_len(), 12);
        let set = b.finish();
        assert!(b.is_empty(), "finish starts the builder again");
        assert_eq!(set.len(), 3);
        assert_eq!(set.byte_len(), 12);
        let back: Vec<(Vec<u8>, Vec<u8>)> = set.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(back, rows);
        assert_eq!(format!("{set:?}"), "RestoreRowSet(3 rows, 12 bytes)");
        let copy = set.clone();
        assert!(Arc::ptr_eq(&copy.0, &set.0), "a clone shares the rows");
        assert!(RestoreRowSet::default().is_empty());
        assert_eq!(RestoreRowSet::default().iter().count(), 0);
    }

    #[test]
    fn a_dropped_set_leaves_its_buffer_for_the_next() {
        // No other test makes sets this large, so the spare buffers are this test's.
        let mut b = RowSetBuilder::with_capacity(SPARE_MIN_BYTES * 4, 1);
        b.push(b"k", &vec![1u8; SPARE_MIN_BYTES * 3]);
        let set = b.finish();
        let copy = set.clone();
        drop(set);
        let spare_now = || SPARE.lock().unwrap().len();
        let before = spare_now();
        drop(copy);
        assert_eq!(spare_now(), before + 1, "the last reference gives the buffer back");
        let mut next = RowSetBuilder::with_capacity(10, 1);
        next.push(b"k", b"v");
        assert!(next.rows.bytes.capacity() >= SPARE_MIN_BYTES * 3, "and the next builder takes it");
        assert_eq!(next.rows.bytes.len(), 2);
        drop(next);
        drop(b);
    }

    #[test]
    fn only_the_restore_in_progress_stages_and_commits_and_only_when_complete() {
        let p = Progress { id: "r2".into(), rows: 5 };
        let commit = |id: &str, rows| Command::RestoreCommit { id: id.into(), rows };
        let cases: Vec<(&str, Option<&Progress>, Command, Option<Step>)> = vec![
            ("not a restore command", Some(&p), Command::Batch(vec![]), None),
            ("begin always starts over", Some(&p), Command::RestoreBegin { id: "r3".into() }, Some(Step::Begin)),
            ("rows of the restore in progress", Some(&p), rows("r2", "sm_variables"), Some(Step::Stage(2))),
            ("rows of an older restore", Some(&p), rows("r1", "sm_variables"), Some(Step::Ignore)),
            ("rows with no restore in progress", None, rows("r2", "sm_variables"), Some(Step::Ignore)),
            ("rows of an unknown table", Some(&p), rows("r2", "sm_jobs"), Some(Step::Ignore)),
            ("commit with every row staged", Some(&p), commit("r2", 5), Some(Step::Commit)),
            ("commit with rows missing", Some(&p), commit("r2", 6), Some(Step::Ignore)),
            ("commit of another restore", Some(&p), commit("r1", 5), Some(Step::Ignore)),
            ("commit with nothing in progress", None, commit("r2", 5), Some(Step::Ignore)),
            (
                "retire whatever is in progress",
                Some(&p),
                Command::RestoreRetire { id: "r1".into() },
                Some(Step::Retire),
            ),
            ("retire with nothing in progress", None, Command::RestoreRetire { id: "r1".into() }, Some(Step::Retire)),
        ];
        for (why, progress, cmd, want) in cases {
            assert_eq!(decide(progress, &cmd), want, "{why}");
        }
    }
}
