//! The rows of one snapshot-restore log entry ([`Command::RestoreRows`](super::Command::RestoreRows)): a packed, shared
//! set of (key, value) byte strings, its builder, and its serde form. Pure data; the raft store
//! stages the rows (`raft::store::restore`).

use std::sync::Arc;
use std::sync::Mutex;

/// The rows (key, value) of one [`Command::RestoreRows`](super::Command::RestoreRows), packed into one buffer and shared.
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
    use serde::Deserialize;
    use serde::Serialize;

    use super::*;
    use crate::state::Command;

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
}
