//! The raft log as append-only segment files beside the redb database (which keeps the vote,
//! the last purged id and the state machine).
//!
//! ```text
//! <dir>/<first index, 20 digits>.seg   records: len u32 | crc32 u32 | index u64 | postcard Entry
//! <dir>/committed                      len u32 | crc32 u32 | postcard Option<LogId>: a hint
//! ```
//!
//! An append is one positioned write at the end of the newest segment and one `fdatasync`, so
//! the disk sees the entry plus a 16-byte header, where a redb commit of the same entry rewrote
//! B-tree pages (tens of KB per write). Segments grow by steps of [`PREALLOC_BYTES`] allocated
//! ahead of the records with `fallocate`: an append then lands inside the file's size, so its
//! `fdatasync` need not flush a new size, and the space reads as zeros without being written
//! (zeros written ahead cost one more disk write of every log byte; they are still the fallback
//! where the file system cannot allocate). A zero header marks the end of a segment. The CRC covers the index and the entry. On open, a torn or
//! corrupt record ends the newest segment and the file is cut there (an append that did not
//! finish its fsync was never acknowledged); anywhere else it is corruption. A new segment starts
//! after the newest passes its size or when the next index does not follow its last one (after
//! a purge past the end of the log); the full one is fsynced first, so only the newest can be
//! torn. Truncation cuts the file and syncs before it returns; purging removes whole segments
//! behind the purged id once the caller has recorded that id durably.
//!
//! Entries just appended are also kept in memory (bounded): applying and replicating read the
//! newest entries, and those reads then touch neither the disk nor the blocking pool.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::io::BufReader;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use super::Entry;
use super::LogId;

/// A segment grows to about this size before the next append starts a new one.
pub(crate) const SEGMENT_BYTES: u64 = 64 << 20;

/// Encoded bytes of recent entries kept in memory (decoded they take a few times this): far
/// more than the entries in flight between append, replication and apply.
const CACHE_BYTES: usize = 4 << 20;

/// A segment's file grows by this much space, reading as zeros, at a time.
const PREALLOC_BYTES: u64 = 1 << 20;

/// Zeros, where they must be written, go out a page at a time (see [`grow`]).
const ZERO_WRITE: usize = 4096;

/// Linux's "operation not supported", what `fallocate` fails with on a file system without it.
const EOPNOTSUPP: i32 = 95;

const HEADER: usize = 16;

/// Larger records are corrupt: an entry is bounded by the proposer's batch limit and the RPC
/// body limit, far below this.
const MAX_RECORD: u32 = 1 << 30;

/// The append buffer is kept between appends up to this capacity.
const SCRATCH_KEPT_BYTES: usize = 8 << 20;

const COMMITTED_FILE: &str = "committed";

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

struct Segment {
    path: PathBuf,
    file: Arc<fs::File>,
    /// Where its records end.
    len: u64,
    /// The file's size: records, then zeros.
    allocated: u64,
    /// The index of its last record, purged or not.
    last: Option<u64>,
}

#[derive(Clone, Copy)]
struct Loc {
    log_id: LogId,
    /// The first index of the segment holding it.
    segment: u64,
    offset: u64,
    len: u32,
}

struct Inner {
    /// By first index.
    segments: BTreeMap<u64, Segment>,
    /// Every entry after the last purged one.
    locs: BTreeMap<u64, Loc>,
    cache: BTreeMap<u64, (Entry, usize)>,
    cache_bytes: usize,
    committed: Option<LogId>,
    committed_saved: Option<LogId>,
    committed_file: fs::File,
}

/// The log files of one store; cheap to share, every method is blocking I/O or memory only.
pub(crate) struct LogFiles {
    dir: PathBuf,
    segment_bytes: u64,
    inner: Mutex<Inner>,
    /// Record bytes (headers included) that the log held when it was opened plus those
    /// appended since: how far it has grown, which the state machine's durable commits follow.
    appended: AtomicU64,
    /// See [`LogFiles::take_scratch`].
    scratch: Mutex<Vec<u8>>,
}

fn segment_name(first: u64) -> String {
    format!("{first:020}.seg")
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Extends a segment's file from `from` to `to` bytes of space that reads as zeros, before any
/// record goes there, so that a crash never leaves a record followed by stale bytes; the next
/// append's fdatasync also makes the new size durable.
///
/// `fallocate` reserves the blocks without writing them. Where the file system cannot, zeros
/// are written, one page per write: a larger write makes the page cache use large folios, and
/// each later append would then dirty, and its fdatasync write, a whole folio.
fn grow(file: &fs::File, from: u64, to: u64) -> io::Result<()> {
    match fs4::fs_std::FileExt::allocate(file, to) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::Unsupported || e.raw_os_error() == Some(EOPNOTSUPP) => {}
        Err(e) => return Err(e),
    }
    let page = [0u8; ZERO_WRITE];
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZERO_WRITE as u64) as usize;
        file.write_all_at(&page[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

fn record_bytes<'a>(locs: impl Iterator<Item = &'a Loc>) -> u64 {
    locs.map(|l| HEADER as u64 + u64::from(l.len)).sum()
}

/// Appends one framed record for `entry` to `buf`; returns the length of its body. The body is
/// serialized in place, after room for its header: no copy of it, and no buffer of its own.
fn encode_record(buf: &mut Vec<u8>, entry: &Entry) -> io::Result<u32> {
    let start = buf.len();
    buf.resize(start + HEADER, 0);
    let body_len = match postcard::to_io(entry, &mut *buf) {
        Ok(_) => buf.len() - start - HEADER,
        Err(e) => {
            buf.truncate(start);
            return Err(io::Error::other(e));
        }
    };
    let Ok(len) = u32::try_from(body_len) else {
        buf.truncate(start);
        return Err(invalid("raft log entry too large".into()));
    };
    let index = entry.log_id.index.to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&index);
    crc.update(&buf[start + HEADER..]);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
    buf[start + 8..start + HEADER].copy_from_slice(&index);
    Ok(len)
}

enum Next {
    Record(u64, Vec<u8>),
    /// Zeros: the preallocated space after the last record.
    End,
    /// Short, or failing its CRC.
    Torn,
}

/// One record read back: `Ok(None)` when it is torn, short or fails its CRC.
fn read_record(r: &mut impl Read, remaining: u64) -> io::Result<Option<(u64, Vec<u8>)>> {
    match read_next(r, remaining)? {
        Next::Record(index, body) => Ok(Some((index, body))),
        Next::End | Next::Torn => Ok(None),
    }
}

fn read_next(r: &mut impl Read, remaining: u64) -> io::Result<Next> {
    let mut header = [0u8; HEADER];
    if remaining < HEADER as u64 {
        return Ok(Next::Torn);
    }
    r.read_exact(&mut header)?;
    if header == [0u8; HEADER] {
        return Ok(Next::End);
    }
    let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, crc) = (word(0), word(4));
    let mut index_bytes = [0u8; 8];
    index_bytes.copy_from_slice(&header[8..16]);
    let index = u64::from_le_bytes(index_bytes);
    if len == 0 || len > MAX_RECORD || HEADER as u64 + u64::from(len) > remaining {
        return Ok(Next::Torn);
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&index_bytes);
    h.update(&body);
    if h.finalize() != crc {
        return Ok(Next::Torn);
    }
    Ok(Next::Record(index, body))
}

fn decode_entry(index: u64, body: &[u8]) -> io::Result<Entry> {
    let entry: Entry = postcard::from_bytes(body).map_err(|e| invalid(format!("raft log entry {index}: {e}")))?;
    if entry.log_id.index != index {
        return Err(invalid(format!("raft log record {index} holds entry {}", entry.log_id.index)));
    }
    Ok(entry)
}

fn read_committed(path: &Path) -> Option<LogId> {
    let bytes = fs::read(path).ok()?;
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    let body = bytes.get(8..8 + len)?;
    (crc32fast::hash(body) == crc).then(|| postcard::from_bytes::<Option<LogId>>(body).ok()).flatten().flatten()
}

impl LogFiles {
    /// Opens (creating if needed) the log in `dir`. Records at or before `last_purged` are
    /// skipped; the rest must follow one another without a gap.
    pub(crate) fn open(dir: &Path, last_purged: Option<u64>, segment_bytes: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut names = Vec::new();
        for item in fs::read_dir(dir)? {
            let name = item?.file_name();
            let Some(first) = name.to_str().and_then(|n| n.strip_suffix(".seg")).and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            names.push(first);
        }
        names.sort_unstable();
        let mut segments = BTreeMap::new();
        let mut locs = BTreeMap::new();
        let mut expected = last_purged.map(|p| p + 1);
        for (i, &first) in names.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let file = fs::OpenOptions::new().read(true).write(true).open(&path)?;
            let size = file.metadata()?.len();
            let mut r = BufReader::with_capacity(1 << 20, &file);
            let (mut offset, mut last, mut allocated) = (0u64, None, size);
            while offset < size {
                let (index, body) = match read_next(&mut r, size - offset)? {
                    Next::Record(index, body) => (index, body),
                    Next::End => break,
                    Next::Torn => {
                        if i + 1 != names.len() {
                            return Err(invalid(format!("raft log segment {} is corrupt at {offset}", path.display())));
                        }
                        tracing::warn!(segment = %path.display(), offset, "cutting a torn raft log tail");
                        file.set_len(offset)?;
                        file.sync_all()?;
                        allocated = offset;
                        break;
                    }
                };
                let len = body.len() as u32;
                if last_purged.is_none_or(|p| index > p) {
                    if expected.is_some_and(|x| x != index) {
                        return Err(invalid(format!("raft log has entry {index} where {expected:?} belongs")));
                    }
                    let log_id: LogId = postcard::take_from_bytes(&body)
                        .map_err(|e| invalid(format!("raft log entry {index}: {e}")))?
                        .0;
                    locs.insert(index, Loc { log_id, segment: first, offset, len });
                    expected = Some(index + 1);
                }
                last = Some(index);
                offset += HEADER as u64 + u64::from(len);
            }
            drop(r);
            segments.insert(first, Segment { path, file: Arc::new(file), len: offset, allocated, last });
        }
        let committed_path = dir.join(COMMITTED_FILE);
        let committed = read_committed(&committed_path);
        let committed_file =
            fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&committed_path)?;
        let inner = Inner {
            segments,
            locs,
            cache: BTreeMap::new(),
            cache_bytes: 0,
            committed,
            committed_saved: committed,
            committed_file,
        };
        let held = record_bytes(inner.locs.values());
        Ok(Self {
            dir: dir.to_path_buf(),
            segment_bytes,
            inner: Mutex::new(inner),
            appended: AtomicU64::new(held),
            scratch: Mutex::default(),
        })
    }

    /// Writes a new log holding `entries` into `dir` (replacing whatever is there) and syncs it:
    /// the migration of a store whose log was in redb. Built beside `dir` and renamed into
    /// place, so a crash leaves either no log or the whole one.
    pub(crate) fn create(dir: &Path, entries: &[Entry]) -> io::Result<()> {
        let tmp = dir.with_extension("new");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        if let Some(first) = entries.first() {
            let mut buf = Vec::new();
            for e in entries {
                encode_record(&mut buf, e)?;
            }
            let file = fs::File::create(tmp.join(segment_name(first.log_id.index)))?;
            file.write_all_at(&buf, 0)?;
            file.sync_all()?;
        }
        sync_dir(&tmp)?;
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::rename(&tmp, dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Inner>> {
        self.inner.lock().map_err(|_| io::Error::other("raft log lock poisoned"))
    }

    /// See [`LogFiles::appended`]; only ever grows.
    pub(crate) fn appended_bytes(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Record bytes (headers included) of the entries after `index` (all of them for `None`).
    pub(crate) fn bytes_after(&self, index: Option<u64>) -> io::Result<u64> {
        let start = index.map_or(0, |i| i.saturating_add(1));
        Ok(record_bytes(self.lock()?.locs.range(start..).map(|(_, l)| l)))
    }

    /// The id of the newest entry, if any entry is left after the last purge.
    pub(crate) fn last_log_id(&self) -> io::Result<Option<LogId>> {
        Ok(self.lock()?.locs.last_key_value().map(|(_, l)| l.log_id))
    }

    /// Entries in `[start, end)` if every one present is in memory.
    pub(crate) fn cached(&self, start: u64, end: u64) -> io::Result<Option<Vec<Entry>>> {
        let inner = self.lock()?;
        let present = inner.locs.range(start..end).count();
        let cached: Vec<Entry> = inner.cache.range(start..end).map(|(_, (e, _))| e.clone()).collect();
        Ok((cached.len() == present).then_some(cached))
    }

    /// Entries in `[start, end)` that are present, from memory or from the files.
    pub(crate) fn read(&self, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        let inner = self.lock()?;
        let mut out = Vec::new();
        for (&index, loc) in inner.locs.range(start..end) {
            if let Some((e, _)) = inner.cache.get(&index) {
                out.push(e.clone());
                continue;
            }
            let seg = inner
                .segments
                .get(&loc.segment)
                .ok_or_else(|| invalid(format!("raft log segment of entry {index} is missing")))?;
            let mut record = vec![0u8; HEADER + loc.len as usize];
            seg.file.read_exact_at(&mut record, loc.offset)?;
            let Some((read, body)) = read_record(&mut record.as_slice(), record.len() as u64)? else {
                return Err(invalid(format!("raft log entry {index} is corrupt")));
            };
            out.push(decode_entry(read, &body)?);
        }
        Ok(out)
    }

    /// Appends `entries` (which follow the newest entry, or start a log after a purge) and
    /// makes them durable.
    #[cfg(test)]
    pub(crate) fn append(&self, entries: Vec<Entry>) -> io::Result<()> {
        match self.write(entries)? {
            Some(file) => Self::sync(&file),
            None => Ok(()),
        }
    }

    /// Makes what was written to `file` (a segment [`LogFiles::write`] returned) durable.
    pub(crate) fn sync(file: &fs::File) -> io::Result<()> {
        crate::fault::fsync()?;
        file.sync_data()?;
        crate::fault::crash_point("log-appended");
        Ok(())
    }

    /// Writes `entries` (which follow the newest entry, or start a log after a purge) to the
    /// newest segment without syncing it, and returns that segment's file for [`LogFiles::sync`]
    /// (`None` for no entries). Readers see the entries at once; a segment that filled up was
    /// synced before the next one started, so syncing the returned file makes every entry so
    /// far durable.
    pub(crate) fn write(&self, entries: Vec<Entry>) -> io::Result<Option<Arc<fs::File>>> {
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(None);
        };
        let mut buf = self.take_scratch();
        let mut placed = Vec::with_capacity(entries.len());
        for e in &entries {
            let at = buf.len() as u64;
            let len = encode_record(&mut buf, e)?;
            placed.push((at, len));
        }
        let file = {
            let mut guard = self.lock()?;
            let inner = &mut *guard;
            self.make_room(inner, first)?;
            let Some((&seg_first, seg)) = inner.segments.iter_mut().next_back() else {
                return Err(io::Error::other("raft log has no segment to append to"));
            };
            let base = seg.len;
            let end = base + buf.len() as u64;
            if end > seg.allocated {
                let allocated = end.next_multiple_of(PREALLOC_BYTES);
                grow(&seg.file, seg.allocated, allocated)?;
                seg.allocated = allocated;
            }
            seg.file.write_all_at(&buf, base)?;
            seg.len = end;
            seg.last = entries.last().map(|e| e.log_id.index);
            let file = seg.file.clone();
            for (e, (at, len)) in entries.into_iter().zip(placed) {
                let index = e.log_id.index;
                inner.locs.insert(index, Loc { log_id: e.log_id, segment: seg_first, offset: base + at, len });
                inner.cache_bytes += len as usize;
                inner.cache.insert(index, (e, len as usize));
            }
            while inner.cache_bytes > CACHE_BYTES {
                match inner.cache.pop_first() {
                    Some((_, (_, len))) => inner.cache_bytes -= len,
                    None => break,
                }
            }
            Self::save_committed(inner)?;
            file
        };
        self.appended.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.return_scratch(buf);
        Ok(Some(file))
    }

    /// The buffer appends encode into, empty. Kept between appends: a fresh one for each large
    /// append (a snapshot restore's entries are a megabyte each) cost more in growing it, and in
    /// the kernel zeroing its new pages, than encoding the entries into it.
    fn take_scratch(&self) -> Vec<u8> {
        let mut buf = self.scratch.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        buf.clear();
        buf
    }

    fn return_scratch(&self, mut buf: Vec<u8>) {
        if buf.capacity() > SCRATCH_KEPT_BYTES {
            buf = Vec::new();
        }
        if let Ok(mut s) = self.scratch.lock() {
            *s = buf;
        }
    }

    /// Makes the newest segment one that an append starting at `first` can go to: a new one
    /// when there is none, when it is full, or when `first` does not follow its last entry.
    fn make_room(&self, inner: &mut Inner, first: u64) -> io::Result<()> {
        if let Some((&seg_first, seg)) = inner.segments.last_key_value() {
            let follows = match seg.last {
                Some(last) => last + 1 == first,
                None => seg_first == first,
            };
            if follows && seg.len < self.segment_bytes {
                return Ok(());
            }
            if seg.last.is_none() {
                // An empty segment named for another index.
                fs::remove_file(&seg.path)?;
                inner.segments.remove(&seg_first);
            } else {
                // Only the newest segment may be torn after a crash.
                crate::fault::fsync()?;
                seg.file.sync_data()?;
                crate::fault::crash_point("segment-roll-synced");
            }
        }
        let path = self.dir.join(segment_name(first));
        let file = fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path)?;
        crate::fault::crash_point("segment-roll-created");
        sync_dir(&self.dir)?;
        inner.segments.insert(first, Segment { path, file: Arc::new(file), len: 0, allocated: 0, last: None });
        Ok(())
    }

    /// Removes the entries from `index` on, durably.
    pub(crate) fn truncate(&self, index: u64) -> io::Result<()> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        let cut = inner.locs.get(&index).copied();
        inner.locs.split_off(&index);
        for (_, (_, len)) in inner.cache.split_off(&index) {
            inner.cache_bytes -= len;
        }
        let Some(cut) = cut else {
            return Ok(());
        };
        let later: Vec<u64> = inner.segments.range(cut.segment + 1..).map(|(&f, _)| f).collect();
        for first in &later {
            if let Some(seg) = inner.segments.remove(first) {
                fs::remove_file(&seg.path)?;
            }
        }
        if let Some(seg) = inner.segments.get_mut(&cut.segment) {
            // Cut, not zeroed in place: no stale record may follow the next, shorter ones.
            seg.file.set_len(cut.offset)?;
            seg.len = cut.offset;
            seg.allocated = cut.offset;
            seg.last = (cut.offset > 0).then(|| index - 1);
            seg.file.sync_all()?;
        }
        if !later.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Forgets the entries up to `upto` and removes the segments that hold nothing newer (the
    /// newest always stays). The caller has recorded `upto` durably first.
    pub(crate) fn purge(&self, upto: u64) -> io::Result<()> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        inner.locs = inner.locs.split_off(&(upto + 1));
        let kept = inner.cache.split_off(&(upto + 1));
        for (_, (_, len)) in std::mem::replace(&mut inner.cache, kept) {
            inner.cache_bytes -= len;
        }
        let newest = inner.segments.last_key_value().map(|(&f, _)| f);
        let gone: Vec<u64> = inner
            .segments
            .iter()
            .filter(|(&f, s)| Some(f) != newest && s.last.is_none_or(|l| l <= upto))
            .map(|(&f, _)| f)
            .collect();
        for first in &gone {
            if let Some(seg) = inner.segments.remove(first) {
                fs::remove_file(&seg.path)?;
            }
        }
        Self::save_committed(inner)
    }

    /// Notes the committed id; it is written (not fsynced) with the next append or purge.
    pub(crate) fn set_committed(&self, committed: Option<LogId>) -> io::Result<()> {
        self.lock()?.committed = committed;
        Ok(())
    }

    pub(crate) fn committed(&self) -> io::Result<Option<LogId>> {
        Ok(self.lock()?.committed)
    }

    fn save_committed(inner: &mut Inner) -> io::Result<()> {
        if inner.committed == inner.committed_saved {
            return Ok(());
        }
        let body = postcard::to_stdvec(&inner.committed).map_err(io::Error::other)?;
        let mut buf = Vec::with_capacity(8 + body.len());
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        buf.extend_from_slice(&body);
        inner.committed_file.write_all_at(&buf, 0)?;
        inner.committed_saved = inner.committed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::vote::RaftLeaderId;

    use crate::raft::CommittedLeaderId;
    use openraft::EntryPayload;
    use tempfile::TempDir;

    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        Entry { log_id: LogId::new(CommittedLeaderId::new(term, 1), index), payload: EntryPayload::Blank }
    }

    fn indexes(log: &LogFiles, start: u64, end: u64) -> Vec<(u64, u64)> {
        log.read(start, end).unwrap().iter().map(|e| (e.log_id.leader_id.term, e.log_id.index)).collect()
    }

    /// Where the newest segment's records end.
    fn end(log: &LogFiles) -> u64 {
        log.lock().unwrap().segments.last_key_value().map_or(0, |(_, s)| s.len)
    }

    fn segments(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".seg"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn appends_roll_segments_and_survive_a_reopen() {
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 100).unwrap();
        for i in 1..=20 {
            log.append(vec![entry(1, i)]).unwrap();
        }
        assert!(segments(dir.path()).len() > 1, "small segments roll over");
        assert_eq!(indexes(&log, 1, 100), (1..=20).map(|i| (1, i)).collect::<Vec<_>>());
        drop(log);
        let log = LogFiles::open(dir.path(), None, 100).unwrap();
        assert_eq!(indexes(&log, 5, 8), vec![(1, 5), (1, 6), (1, 7)], "read from the files");
        assert_eq!(log.last_log_id().unwrap().map(|l| l.index), Some(20));
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_torn_middle_is_corruption() {
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        log.append((1..=3).map(|i| entry(1, i)).collect()).unwrap();
        let len = end(&log);
        assert_eq!(fs::metadata(dir.path().join(segment_name(1))).unwrap().len(), PREALLOC_BYTES, "zeros ahead");
        drop(log);
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!((indexes(&log, 0, 10).len(), end(&log)), (3, len), "zeros end the records");
        drop(log);
        let seg = dir.path().join(segment_name(1));
        // A half-written fourth record, then a flipped byte inside the third.
        let f = fs::OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&[9, 0, 0, 0, 1, 2], len).unwrap();
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!(indexes(&log, 0, 10).len(), 3);
        assert_eq!(fs::metadata(&seg).unwrap().len(), len, "the torn record is cut off");
        drop(log);
        f.write_all_at(&[0xff], len - 1).unwrap();
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!(indexes(&log, 0, 10).len(), 2, "a record failing its CRC ends the newest segment");
        log.append(vec![entry(2, 3)]).unwrap();
        assert_eq!(indexes(&log, 0, 10), vec![(1, 1), (1, 2), (2, 3)]);
        drop(log);

        // The same damage in a segment that is not the newest is refused.
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 10).unwrap();
        log.append(vec![entry(1, 1)]).unwrap();
        let len = end(&log);
        log.append(vec![entry(1, 2)]).unwrap();
        drop(log);
        let first = dir.path().join(segment_name(1));
        fs::OpenOptions::new().write(true).open(&first).unwrap().write_all_at(&[0xff], len - 1).unwrap();
        assert_eq!(LogFiles::open(dir.path(), None, 10).err().map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }

    #[test]
    fn truncate_and_purge_across_segments() {
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 100).unwrap();
        for i in 1..=30 {
            log.append(vec![entry(1, i)]).unwrap();
        }
        log.truncate(12).unwrap();
        log.append(vec![entry(2, 12)]).unwrap();
        assert_eq!(indexes(&log, 10, 100), vec![(1, 10), (1, 11), (2, 12)]);
        drop(log);
        let log = LogFiles::open(dir.path(), None, 100).unwrap();
        assert_eq!(indexes(&log, 10, 100), vec![(1, 10), (1, 11), (2, 12)], "no stale entry comes back");

        let before = segments(dir.path()).len();
        log.purge(9).unwrap();
        assert!(segments(dir.path()).len() < before, "segments wholly purged are removed");
        assert_eq!(indexes(&log, 0, 100), vec![(1, 10), (1, 11), (2, 12)]);
        drop(log);
        let log = LogFiles::open(dir.path(), Some(9), 100).unwrap();
        assert_eq!(indexes(&log, 0, 100), vec![(1, 10), (1, 11), (2, 12)]);

        // Purged past the end (a snapshot installed): the log goes on after a gap.
        log.purge(50).unwrap();
        assert_eq!(log.last_log_id().unwrap(), None);
        log.append(vec![entry(3, 51)]).unwrap();
        drop(log);
        let log = LogFiles::open(dir.path(), Some(50), 100).unwrap();
        assert_eq!(indexes(&log, 0, 100), vec![(3, 51)]);
    }

    #[test]
    fn appended_bytes_follow_the_records_across_a_reopen() {
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!(log.appended_bytes(), 0);
        log.append((1..=3).map(|i| entry(1, i)).collect()).unwrap();
        let three = log.appended_bytes();
        assert_eq!(three, end(&log), "headers and bodies, not the space allocated ahead");
        assert_eq!(log.bytes_after(Some(1)).unwrap(), three / 3 * 2, "records of equal size");
        drop(log);
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!(log.appended_bytes(), three, "what the log holds counts at open");
        assert_eq!((log.bytes_after(None).unwrap(), log.bytes_after(Some(3)).unwrap()), (three, 0));
        log.append(vec![entry(1, 4)]).unwrap();
        assert_eq!(log.appended_bytes(), three / 3 * 4);
    }

    #[test]
    fn committed_is_written_with_the_next_append() {
        let dir = TempDir::new().unwrap();
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        log.append(vec![entry(1, 1)]).unwrap();
        let c = Some(LogId::new(CommittedLeaderId::new(1, 1), 1));
        log.set_committed(c).unwrap();
        log.append(vec![entry(1, 2)]).unwrap();
        drop(log);
        let log = LogFiles::open(dir.path(), None, 1 << 20).unwrap();
        assert_eq!(log.committed().unwrap(), c);
    }
}
