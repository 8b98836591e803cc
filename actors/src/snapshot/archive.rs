//! Nomad's snapshot archive, pure and streamed: what `GET /v1/operator/snapshot` sends and
//! `PUT /v1/operator/snapshot` and `operator snapshot inspect` read.
//!
//! ```text
//! gzip( tar( meta.json    Go encoding/json of raft's SnapshotMeta + "\n"
//!            state.bin    our state stream (crate::raft::snapfile), exactly Size bytes
//!            SHA256SUMS   "<hex sha256>  <name>\n" for meta.json and state.bin ) )
//! ```
//!
//! Entries are mode 0600 USTAR records (PAX for a state of 8 GiB or more), as Go's
//! `archive/tar` writes them. `state.bin` is the same file format as a raft snapshot, so a
//! verified archive installs through the store's snapshot install.
//!
//! Nothing here holds an archive or a state in memory: [`write_archive`] and [`read_archive`]
//! work over `Read`/`Write` with fixed buffers; only `meta.json` and `SHA256SUMS` (small, and
//! capped) are buffered. The gzip and tar layers are written here rather than taken from
//! crates so that every failure is Nomad's error text and every length is bounded, which a
//! fuzz target (`fuzz/`) checks.
//!
//! **The `Digest` header.** Nomad's server writes the whole archive to a temporary file while
//! hashing the compressed bytes (`helper/snapshot.New`: `io.MultiWriter(hash, file)` under the
//! gzip writer), then answers the streaming RPC with `SnapshotChecksum` before it streams the
//! file; the HTTP handler sets `Digest: sha-256=<base64>` from that checksum and copies the body.
//! The Go client (`api.Operator.Snapshot`) checks the digest when the body reaches EOF. The same
//! here: write the archive to a file with [`write_archive`], whose [`ArchiveSummary`] carries the
//! body's SHA-256 ([`ArchiveSummary::digest_header`]), then send the header and the file.

use crate::go::quote_bytes as go_quote;
use std::io;
use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use base64::Engine;
use serde::Deserialize;
use sha2::Digest;
use sha2::Sha256;

use crate::raft::snapfile;
pub use crate::raft::snapfile::Writer as StateWriter;

const META_JSON: &str = "meta.json";
const STATE_BIN: &str = "state.bin";
const SHA256SUMS: &str = "SHA256SUMS";

/// raft's `SnapshotVersionMax`: the only snapshot version Nomad writes.
pub const SNAPSHOT_VERSION: i64 = 1;

/// The gzip level: Go's `gzip.DefaultCompression`, which Nomad uses.
const GZIP_LEVEL: u32 = 6;

/// `meta.json` and `SHA256SUMS` are read into memory; anything larger is not an archive.
const MAX_SMALL_ENTRY: u64 = 1 << 20;
/// Go's `bufio.Scanner` limit on one `SHA256SUMS` line.
const MAX_SUMS_LINE: usize = 64 * 1024;
/// Go's `archive/tar` limit on PAX and GNU long-name records.
const MAX_SPECIAL_FILE: u64 = 1 << 20;
/// Copy buffer for the state stream.
const CHUNK: usize = 64 * 1024;

/// One server of the raft configuration in `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigServer {
    /// raft's `ServerSuffrage`: 0 voter, 1 nonvoter, 2 staging.
    pub suffrage: i64,
    pub id: String,
    pub address: String,
}

/// raft's `SnapshotMeta` as Nomad writes it into `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMetaJson {
    pub version: i64,
    /// `<term>-<index>-<unix milliseconds>` in Nomad; `inspect` reads the creation time from it.
    pub id: String,
    pub index: u64,
    pub term: u64,
    /// raft's legacy peer list (msgpack of the voters' addresses, [`encode_peers`]).
    pub peers: Vec<u8>,
    pub configuration: Vec<ConfigServer>,
    pub configuration_index: u64,
    /// Bytes in `state.bin`.
    pub size: u64,
}

impl SnapshotMetaJson {
    /// The snapshot ID Nomad's raft gives a snapshot: `<term>-<index>-<unix ms>`.
    pub fn id_for(term: u64, index: u64, at: SystemTime) -> String {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        format!("{term}-{index}-{ms}")
    }

    /// When the snapshot was taken (unix milliseconds), from an ID of the form
    /// `<term>-<index>-<unix ms>`; `None` for any other ID (Nomad then prints nothing).
    pub fn created_unix_ms(&self) -> Option<i64> {
        let parts: Vec<&str> = self.id.split('-').collect();
        match parts.as_slice() {
            [_, _, ms] => ms.parse().ok(),
            _ => None,
        }
    }

    /// Go `json.Encoder` output for raft's `SnapshotMeta`, newline included: fields in Go's
    /// declaration order, `Peers` as base64 (`null` when empty), HTML-escaped strings.
    pub fn to_go_json(&self) -> String {
        let peers = if self.peers.is_empty() {
            "null".to_string()
        } else {
            go_string(&base64::engine::general_purpose::STANDARD.encode(&self.peers))
        };
        let servers = if self.configuration.is_empty() {
            "null".to_string()
        } else {
            let items: Vec<String> = self
                .configuration
                .iter()
                .map(|s| {
                    format!(
                        "{{\"Suffrage\":{},\"ID\":{},\"Address\":{}}}",
                        s.suffrage,
                        go_string(&s.id),
                        go_string(&s.address)
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        format!(
            "{{\"Version\":{},\"ID\":{},\"Index\":{},\"Term\":{},\"Peers\":{},\"Configuration\":{{\"Servers\":{}}},\"ConfigurationIndex\":{},\"Size\":{}}}\n",
            self.version,
            go_string(&self.id),
            self.index,
            self.term,
            peers,
            servers,
            self.configuration_index,
            self.size
        )
    }

    /// Parses `meta.json` as Go's `json.Unmarshal` does for the fields raft declares: missing
    /// fields stay zero, unknown ones are ignored, `null` is zero.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Server {
            #[serde(rename = "Suffrage", default)]
            suffrage: Option<i64>,
            #[serde(rename = "ID", default)]
            id: Option<String>,
            #[serde(rename = "Address", default)]
            address: Option<String>,
        }
        #[derive(Deserialize)]
        struct Configuration {
            #[serde(rename = "Servers", default)]
            servers: Option<Vec<Server>>,
        }
        #[derive(Deserialize)]
        struct Meta {
            #[serde(rename = "Version", default)]
            version: Option<i64>,
            #[serde(rename = "ID", default)]
            id: Option<String>,
            #[serde(rename = "Index", default)]
            index: Option<u64>,
            #[serde(rename = "Term", default)]
            term: Option<u64>,
            #[serde(rename = "Peers", default)]
            peers: Option<String>,
            #[serde(rename = "Configuration", default)]
            configuration: Option<Configuration>,
            #[serde(rename = "ConfigurationIndex", default)]
            configuration_index: Option<u64>,
            #[serde(rename = "Size", default)]
            size: Option<u64>,
        }
        let m: Meta = serde_json::from_slice(bytes)?;
        let peers = match m.peers {
            Some(p) => base64::engine::general_purpose::STANDARD
                .decode(p.as_bytes())
                .map_err(|e| <serde_json::Error as serde::de::Error>::custom(format!("Peers: {e}")))?,
            None => Vec::new(),
        };
        let configuration = m
            .configuration
            .and_then(|c| c.servers)
            .unwrap_or_default()
            .into_iter()
            .map(|s| ConfigServer {
                suffrage: s.suffrage.unwrap_or(0),
                id: s.id.unwrap_or_default(),
                address: s.address.unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            version: m.version.unwrap_or(0),
            id: m.id.unwrap_or_default(),
            index: m.index.unwrap_or(0),
            term: m.term.unwrap_or(0),
            peers,
            configuration,
            configuration_index: m.configuration_index.unwrap_or(0),
            size: m.size.unwrap_or(0),
        })
    }
}

/// raft's `encodePeers`: the voters' addresses as a msgpack array of raw strings (go-msgpack's
/// default handle), what `SnapshotMeta.Peers` holds.
pub fn encode_peers<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let addresses: Vec<&str> = addresses.into_iter().collect();
    let mut out = Vec::new();
    let n = addresses.len();
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xdc);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    for a in addresses {
        let len = a.len();
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(0xda);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        out.extend_from_slice(a.as_bytes());
    }
    out
}

/// A string as Go's `encoding/json` writes it (HTML-safe escaping, `\u2028`/`\u2029`).
fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Errors, with Go's texts.

/// A failure of the byte stream under the archive, as Go's `compress/gzip`, `compress/flate`
/// and `archive/tar` name it.
#[derive(Debug, thiserror::Error)]
pub enum StreamFault {
    /// No byte at all where a gzip header was expected.
    #[error("EOF")]
    Eof,
    #[error("unexpected EOF")]
    UnexpectedEof,
    #[error("gzip: invalid header")]
    GzipHeader,
    #[error("gzip: invalid checksum")]
    GzipChecksum,
    #[error("flate: corrupt input before offset {0}")]
    Flate(u64),
    #[error("archive/tar: invalid tar header")]
    TarHeader,
    #[error("archive/tar: header field too long")]
    TarFieldTooLong,
    /// Reading the input or writing the state failed.
    #[error("{0}")]
    Io(io::Error),
}

impl StreamFault {
    fn into_io(self) -> io::Error {
        let kind = match &self {
            StreamFault::Io(e) => e.kind(),
            StreamFault::Eof | StreamFault::UnexpectedEof => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// Recovers the fault from an `io::Error` that crossed a `Read`; a bare short read is
    /// Go's `unexpected EOF`.
    fn from_io(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<StreamFault>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(fault) = inner.downcast::<StreamFault>() {
                    return *fault;
                }
            }
            return StreamFault::Io(io::Error::other("stream error"));
        }
        if e.kind() == io::ErrorKind::UnexpectedEof {
            StreamFault::UnexpectedEof
        } else {
            StreamFault::Io(e)
        }
    }
}

/// A `SHA256SUMS` check failure (raft snapshot `hashList.DecodeAndVerify`).
#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    #[error("list missing hash for {}", go_quote(.0.as_bytes()))]
    ListMissingHash(String),
    #[error("hash check failed for {}", go_quote(.0.as_bytes()))]
    HashCheckFailed(String),
    #[error("file missing for {}", go_quote(.0.as_bytes()))]
    FileMissing(String),
    /// A line that is not `<hex>  <name>`: Go's `fmt.Sscanf` texts.
    #[error("{0}")]
    Malformed(&'static str),
}

/// Why the tar inside the archive is not a snapshot (Nomad's `snapshot.read`).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("failed reading snapshot: {0}")]
    Tar(StreamFault),
    #[error("failed to read snapshot metadata: {0}")]
    MetaRead(StreamFault),
    #[error("failed to decode snapshot metadata: {0}")]
    MetaDecode(serde_json::Error),
    #[error("failed to read or write snapshot data: {0}")]
    StateData(StreamFault),
    #[error("failed to read snapshot hashes: {0}")]
    SumsRead(StreamFault),
    #[error("unexpected file {} in snapshot", go_quote(.0))]
    UnexpectedFile(Vec<u8>),
    #[error("failed checking integrity of snapshot: {0}")]
    Integrity(IntegrityError),
}

/// Why an archive was refused; the texts are Nomad's `snapshot.CopySnapshot` errors (the
/// restore endpoint prefixes them with `failed to restore from snapshot: `).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("failed to decompress snapshot: {0}")]
    Decompress(StreamFault),
    #[error("failed to read snapshot file: {0}")]
    Read(ReadError),
    /// The gzip stream failed after the tar ended (its trailer, or a later member).
    #[error("{0}")]
    Trailer(StreamFault),
    #[error("{0} unread uncompressed bytes remain")]
    UnreadBytes(u64),
}

// ---------------------------------------------------------------------------------------------
// gzip (RFC 1952) over raw deflate, multistream as Go's gzip.Reader.

/// Reads exactly `buf.len()` bytes; a short read is `unexpected EOF`.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> Result<(), StreamFault> {
    let mut at = 0;
    while at < buf.len() {
        match src.read(&mut buf[at..]) {
            Ok(0) => return Err(StreamFault::UnexpectedEof),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StreamFault::from_io(e)),
        }
    }
    Ok(())
}

/// Like [`read_full`], but zero bytes read is a clean end (`Ok(false)`).
fn read_full_or_eof(src: &mut impl Read, buf: &mut [u8]) -> Result<bool, StreamFault> {
    loop {
        match src.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                read_full(src, &mut buf[n..])?;
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StreamFault::from_io(e)),
        }
    }
}

/// Reads one gzip member header; `Ok(false)` when the input ends before its first byte.
fn read_gzip_header(src: &mut impl Read) -> Result<bool, StreamFault> {
    const FHCRC: u8 = 1 << 1;
    const FEXTRA: u8 = 1 << 2;
    const FNAME: u8 = 1 << 3;
    const FCOMMENT: u8 = 1 << 4;
    let mut head = [0u8; 10];
    if !read_full_or_eof(src, &mut head)? {
        return Ok(false);
    }
    if head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 {
        return Err(StreamFault::GzipHeader);
    }
    let flags = head[3];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    if flags & FEXTRA != 0 {
        let mut len = [0u8; 2];
        read_full(src, &mut len)?;
        crc.update(&len);
        let mut left = usize::from(u16::from_le_bytes(len));
        let mut buf = [0u8; 512];
        while left > 0 {
            let n = left.min(buf.len());
            read_full(src, &mut buf[..n])?;
            crc.update(&buf[..n]);
            left -= n;
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // Go reads these NUL-terminated strings up to 512 bytes.
            let mut found = false;
            for _ in 0..512 {
                let mut b = [0u8; 1];
                read_full(src, &mut b)?;
                crc.update(&b);
                if b[0] == 0 {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(StreamFault::GzipHeader);
            }
        }
    }
    if flags & FHCRC != 0 {
        let mut sum = [0u8; 2];
        read_full(src, &mut sum)?;
        if u16::from_le_bytes(sum) != (crc.finalize() & 0xffff) as u16 {
            return Err(StreamFault::GzipHeader);
        }
    }
    Ok(true)
}

/// A gzip decoder that reports Go's errors and leaves nothing unchecked: each member's CRC-32
/// and size are verified at its end, and a truncated deflate stream is `unexpected EOF` (not a
/// silent end of data).
struct Gunzip<R: BufRead> {
    src: R,
    inflate: flate2::Decompress,
    crc: crc32fast::Hasher,
    size: u32,
    done: bool,
    /// An error found after the data of the same read (a bad trailer): reported by the next
    /// read, as Go's gzip reader returns it with the data and then keeps returning it.
    pending: Option<StreamFault>,
}

impl<R: BufRead> Gunzip<R> {
    /// Reads the first member header (Go's `gzip.NewReader`).
    fn new(mut src: R) -> Result<Self, StreamFault> {
        if !read_gzip_header(&mut src)? {
            return Err(StreamFault::Eof);
        }
        Ok(Self {
            src,
            inflate: flate2::Decompress::new(false),
            crc: crc32fast::Hasher::new(),
            size: 0,
            done: false,
            pending: None,
        })
    }

    /// Checks the member trailer and starts the next member, if any.
    fn end_member(&mut self) -> Result<(), StreamFault> {
        let mut trailer = [0u8; 8];
        read_full(&mut self.src, &mut trailer)?;
        let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc || u32::from_le_bytes([s0, s1, s2, s3]) != self.size {
            return Err(StreamFault::GzipChecksum);
        }
        self.size = 0;
        self.inflate.reset(false);
        if !read_gzip_header(&mut self.src)? {
            self.done = true;
        }
        Ok(())
    }

    fn read_inner(&mut self, out: &mut [u8]) -> Result<usize, StreamFault> {
        loop {
            if let Some(fault) = self.pending.take() {
                return Err(fault);
            }
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let input = match self.src.fill_buf() {
                Ok(input) => input,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamFault::from_io(e)),
            };
            let eof = input.is_empty();
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(input, out, flate2::FlushDecompress::None)
                .map_err(|_| StreamFault::Flate(self.inflate.total_in()))?;
            let used = (self.inflate.total_in() - in_before) as usize;
            let produced = (self.inflate.total_out() - out_before) as usize;
            self.src.consume(used);
            self.crc.update(&out[..produced]);
            self.size = self.size.wrapping_add(produced as u32);
            if status == flate2::Status::StreamEnd {
                if let Err(fault) = self.end_member() {
                    if produced == 0 {
                        return Err(fault);
                    }
                    self.pending = Some(fault);
                }
                if produced > 0 {
                    return Ok(produced);
                }
                continue;
            }
            if produced > 0 {
                return Ok(produced);
            }
            if eof {
                return Err(StreamFault::UnexpectedEof);
            }
            if used == 0 {
                return Err(StreamFault::Flate(self.inflate.total_in()));
            }
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_inner(out).map_err(StreamFault::into_io)
    }
}

// ---------------------------------------------------------------------------------------------
// tar, as Go's archive/tar reads and writes it.

const BLOCK: usize = 512;

/// Parses a numeric tar field: octal (spaces and NULs trimmed) or GNU base-256.
fn tar_number(field: &[u8]) -> Result<u64, StreamFault> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256: the first byte's top bit is the marker, its next bit the sign.
        if field[0] & 0x40 != 0 {
            return Err(StreamFault::TarHeader);
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v.checked_mul(256).and_then(|v| v.checked_add(u64::from(b))).ok_or(StreamFault::TarHeader)?;
        }
        return Ok(v);
    }
    let text = field.split(|&b| b == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(text).map_err(|_| StreamFault::TarHeader)?.trim_matches(' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| StreamFault::TarHeader)
}

fn tar_string(field: &[u8]) -> &[u8] {
    field.split(|&b| b == 0).next().unwrap_or_default()
}

/// Checks a header block's checksum the way Go does (unsigned or signed sum).
fn tar_checksum_ok(block: &[u8; BLOCK]) -> Result<bool, StreamFault> {
    let stored = tar_number(&block[148..156])?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    Ok(stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed))
}

/// One entry of the tar stream: its name and data size.
struct TarEntry {
    name: Vec<u8>,
    size: u64,
}

/// Reads tar headers and entry data in sequence, never more than one block at a time.
struct TarReader<R: Read> {
    src: R,
    /// Data bytes of the current entry not yet read, then its padding.
    remaining: u64,
    padding: u64,
}

impl<R: Read> TarReader<R> {
    fn new(src: R) -> Self {
        Self { src, remaining: 0, padding: 0 }
    }

    /// Skips what is left of the current entry.
    fn skip_rest(&mut self) -> Result<(), StreamFault> {
        let mut left = self.remaining + self.padding;
        let mut buf = [0u8; BLOCK];
        while left > 0 {
            let n = left.min(BLOCK as u64) as usize;
            read_full(&mut self.src, &mut buf[..n])?;
            left -= n as u64;
        }
        self.remaining = 0;
        self.padding = 0;
        Ok(())
    }

    /// Reads a whole small entry (PAX records, GNU long names).
    fn read_special(&mut self, size: u64) -> Result<Vec<u8>, StreamFault> {
        if size > MAX_SPECIAL_FILE {
            return Err(StreamFault::TarFieldTooLong);
        }
        let mut data = vec![0u8; size as usize];
        read_full(&mut self.src, &mut data)?;
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        self.remaining = 0;
        self.padding = pad;
        self.skip_rest()?;
        Ok(data)
    }

    /// The next file entry, or `None` at the end of the archive (two zero blocks, or the input
    /// ending cleanly at a block boundary, as Go accepts).
    fn next(&mut self) -> Result<Option<TarEntry>, StreamFault> {
        self.skip_rest()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut pax_path: Option<Vec<u8>> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            let mut block = [0u8; BLOCK];
            if !read_full_or_eof(&mut self.src, &mut block)? {
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                if !read_full_or_eof(&mut self.src, &mut block)? {
                    return Ok(None);
                }
                if block.iter().all(|&b| b == 0) {
                    return Ok(None);
                }
                return Err(StreamFault::TarHeader);
            }
            if !tar_checksum_ok(&block)? {
                return Err(StreamFault::TarHeader);
            }
            let typeflag = block[156];
            let ustar = &block[257..263] == b"ustar\0" && &block[263..265] == b"00";
            let size = tar_number(&block[124..136])?;
            match typeflag {
                b'x' | b'X' => {
                    let records = self.read_special(size)?;
                    for (key, value) in parse_pax(&records)? {
                        match key.as_slice() {
                            b"path" => pax_path = Some(value),
                            b"size" => {
                                let v = std::str::from_utf8(&value).map_err(|_| StreamFault::TarHeader)?;
                                pax_size = Some(v.parse().map_err(|_| StreamFault::TarHeader)?);
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                b'L' => {
                    let name = self.read_special(size)?;
                    long_name = Some(tar_string(&name).to_vec());
                    continue;
                }
                b'K' => {
                    self.read_special(size)?;
                    continue;
                }
                _ => {}
            }
            let mut name = tar_string(&block[0..100]).to_vec();
            if ustar {
                let prefix = tar_string(&block[345..500]);
                if !prefix.is_empty() {
                    name = [prefix, b"/", &name].concat();
                }
            }
            let name = pax_path.or(long_name).unwrap_or(name);
            let mut size = pax_size.unwrap_or(size);
            // Header-only types carry no data whatever their size field says.
            if matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
                size = 0;
            }
            self.remaining = size;
            self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            return Ok(Some(TarEntry { name, size }));
        }
    }
}

/// The current entry's data as a `Read`; the end of the input inside it is `unexpected EOF`.
impl<R: Read> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.src.read(&mut buf[..want])?;
        if n == 0 {
            return Err(StreamFault::UnexpectedEof.into_io());
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// One PAX record: key and value.
type PaxRecord = (Vec<u8>, Vec<u8>);

/// Parses PAX records `"<len> <key>=<value>\n"`.
fn parse_pax(mut data: &[u8]) -> Result<Vec<PaxRecord>, StreamFault> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or(StreamFault::TarHeader)?;
        let len: usize =
            std::str::from_utf8(&data[..space]).ok().and_then(|s| s.parse().ok()).ok_or(StreamFault::TarHeader)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(StreamFault::TarHeader);
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or(StreamFault::TarHeader)?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// Writes tar entries as Go's `tar.Writer` does for a `Header{Name, Mode: 0600, Size, ModTime}`.
struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
}

/// Largest size a USTAR size field holds (11 octal digits).
const USTAR_MAX_SIZE: u64 = 0o77777777777;

impl<W: Write> TarWriter<W> {
    fn header(name: &str, size: u64, mtime: u64, typeflag: u8) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        let octal = |field: &mut [u8], v: u64| {
            let digits = field.len() - 1;
            let text = format!("{v:0digits$o}");
            field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
        };
        h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        octal(&mut h[100..108], 0o600);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], if size > USTAR_MAX_SIZE { 0 } else { size });
        octal(&mut h[136..148], mtime.min(USTAR_MAX_SIZE));
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        octal(&mut h[329..337], 0);
        octal(&mut h[337..345], 0);
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        octal(&mut h[148..155], sum);
        h[155] = b' ';
        h
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let pad = ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize;
        self.out.write_all(&[0u8; BLOCK][..pad])
    }

    /// Starts an entry; its `size` data bytes follow through [`Self::out`], then [`Self::pad`].
    fn begin(&mut self, name: &str, size: u64) -> io::Result<()> {
        if size > USTAR_MAX_SIZE {
            // Go switches to PAX for a size USTAR cannot hold.
            let body = pax_record("size", &size.to_string());
            let pax_name = format!("PaxHeaders.0/{name}");
            self.out.write_all(&Self::header(&pax_name, body.len() as u64, self.mtime, b'x'))?;
            self.out.write_all(body.as_bytes())?;
            self.pad(body.len() as u64)?;
        }
        self.out.write_all(&Self::header(name, size, self.mtime, b'0'))
    }

    fn small(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.begin(name, data.len() as u64)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)
    }

    /// The end of the archive: two zero blocks.
    fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }
}

fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    // The length prefix counts its own digits.
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

// ---------------------------------------------------------------------------------------------
// Write.

/// Passes writes through while hashing and counting them.
struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What [`write_archive`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// SHA-256 of the whole compressed archive: the HTTP `Digest` header.
    pub sha256: [u8; 32],
    /// Bytes of the compressed archive.
    pub archive_len: u64,
    /// SHA-256 of `state.bin` (as listed in `SHA256SUMS`).
    pub state_sha256: [u8; 32],
    pub state_len: u64,
}

impl ArchiveSummary {
    /// `sha-256=<standard base64>`, the value of Nomad's `Digest` header.
    pub fn digest_header(&self) -> String {
        digest_header(&self.sha256)
    }
}

/// `sha-256=<standard base64 with padding>` of a SHA-256.
pub fn digest_header(sha256: &[u8; 32]) -> String {
    format!("sha-256={}", base64::engine::general_purpose::STANDARD.encode(sha256))
}

/// The SHA-256 a `Digest: sha-256=<base64>` header names; `None` for another algorithm or a
/// malformed value (the Go client splits on the first `=`).
pub fn parse_digest_header(value: &str) -> Option<[u8; 32]> {
    let (algo, b64) = value.split_once('=')?;
    if algo != "sha-256" {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(b64).ok()?.try_into().ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes Nomad's snapshot archive of `state` (exactly `state_len` bytes) to `out`, hashing as
/// it goes; `meta.size` is set to `state_len`. `out` should be buffered (a `BufWriter` over a
/// file): the gzip layer writes in blocks, but the tar headers are small writes.
///
/// The returned [`ArchiveSummary`] has the SHA-256 of everything written to `out`, so a server
/// writes the archive to a file first and then sends it with its `Digest` header, as Nomad does.
pub fn write_archive(
    meta: &SnapshotMetaJson,
    mut state: impl Read,
    state_len: u64,
    out: impl Write,
) -> io::Result<ArchiveSummary> {
    let mtime = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let body = HashingWriter { inner: out, sha: Sha256::new(), bytes: 0 };
    let gz = flate2::write::GzEncoder::new(body, flate2::Compression::new(GZIP_LEVEL));
    let mut tar = TarWriter { out: gz, mtime };

    let meta = SnapshotMetaJson { size: state_len, ..meta.clone() };
    let json = meta.to_go_json();
    let meta_sha: [u8; 32] = Sha256::digest(json.as_bytes()).into();
    tar.small(META_JSON, json.as_bytes())?;

    tar.begin(STATE_BIN, state_len)?;
    let mut state_sha = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut left = state_len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match state.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("state ended {left} bytes before its length {state_len}"),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        state_sha.update(&buf[..n]);
        tar.out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    tar.pad(state_len)?;
    let state_sha: [u8; 32] = state_sha.finalize().into();

    let sums = format!("{}  {META_JSON}\n{}  {STATE_BIN}\n", hex(&meta_sha), hex(&state_sha));
    tar.small(SHA256SUMS, sums.as_bytes())?;
    let gz = tar.finish()?;
    let mut body = gz.finish()?;
    body.flush()?;
    Ok(ArchiveSummary {
        sha256: body.sha.finalize().into(),
        archive_len: body.bytes,
        state_sha256: state_sha,
        state_len,
    })
}

// ---------------------------------------------------------------------------------------------
// Read.

/// Passes writes through while hashing them.
struct TeeHash<'a, W: Write> {
    out: W,
    sha: &'a mut Sha256,
}

impl<W: Write> Write for TeeHash<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Copies `src` to `dst` with a fixed buffer, keeping read faults apart from write errors.
fn copy(src: &mut impl Read, dst: &mut impl Write) -> Result<u64, StreamFault> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamFault::from_io(e)),
        };
        dst.write_all(&buf[..n]).map_err(StreamFault::Io)?;
        total += n as u64;
    }
}

/// Reads a small entry whole, refusing one over [`MAX_SMALL_ENTRY`].
fn read_small(entry: &mut impl Read, size: u64, into: &mut Vec<u8>) -> Result<(), StreamFault> {
    if size > MAX_SMALL_ENTRY || into.len() as u64 + size > MAX_SMALL_ENTRY {
        return Err(StreamFault::TarFieldTooLong);
    }
    copy(entry, into).map(|_| ())
}

/// Checks `SHA256SUMS` against the hashes of what was read (raft's `DecodeAndVerify`): every
/// line must name a known file with its hash, and both files must be listed.
fn verify_sums(sums: &[u8], meta: &[u8; 32], state: &[u8; 32]) -> Result<(), IntegrityError> {
    let mut seen = [false, false];
    let mut lines: Vec<&[u8]> = sums.split(|&b| b == b'\n').collect();
    // A final newline ends the last line; it does not start an empty one.
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for line in lines {
        if line.len() > MAX_SUMS_LINE {
            return Err(IntegrityError::Malformed("bufio.Scanner: token too long"));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (sha, name) = parse_sums_line(line)?;
        let Some(i) = [META_JSON.as_bytes(), STATE_BIN.as_bytes()].iter().position(|n| *n == name) else {
            return Err(IntegrityError::ListMissingHash(String::from_utf8_lossy(name).into_owned()));
        };
        let name = if i == 0 { META_JSON } else { STATE_BIN };
        let expected = if i == 0 { meta } else { state };
        if sha != expected {
            return Err(IntegrityError::HashCheckFailed(name.into()));
        }
        seen[i] = true;
    }
    for (i, name) in [META_JSON, STATE_BIN].into_iter().enumerate() {
        if !seen[i] {
            return Err(IntegrityError::FileMissing(name.into()));
        }
    }
    Ok(())
}

/// `fmt.Sscanf(line, "%x  %s", &sha, &file)`: hex digits, spaces, a word.
fn parse_sums_line(line: &[u8]) -> Result<(Vec<u8>, &[u8]), IntegrityError> {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
    let rest = &line[start..];
    if rest.is_empty() {
        return Err(IntegrityError::Malformed("unexpected EOF"));
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let pairs = digits / 2;
    if pairs == 0 {
        return Err(IntegrityError::Malformed("no hex data for %x string"));
    }
    let sha: Vec<u8> = rest[..pairs * 2]
        .chunks(2)
        .map(|p| {
            let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            digit(p[0]) << 4 | digit(p[1])
        })
        .collect();
    let rest = &rest[pairs * 2..];
    let start = rest.iter().position(|b| !is_space(b)).unwrap_or(rest.len());
    let rest = &rest[start..];
    let end = rest.iter().position(is_space).unwrap_or(rest.len());
    if end == 0 {
        return Err(IntegrityError::Malformed("unexpected EOF"));
    }
    Ok((sha, &rest[..end]))
}

/// Nomad's `snapshot.read` over an uncompressed tar: streams `state.bin` to `state_out` and
/// checks `SHA256SUMS` once the tar ends.
pub fn read_tar(input: impl Read, mut state_out: impl Write) -> Result<SnapshotMetaJson, ReadError> {
    let mut tar = TarReader::new(input);
    let mut meta_sha = Sha256::new();
    let mut state_sha = Sha256::new();
    let mut meta = SnapshotMetaJson::default();
    let mut sums = Vec::new();
    while let Some(entry) = tar.next().map_err(ReadError::Tar)? {
        match entry.name.as_slice() {
            b"meta.json" => {
                let mut buf = Vec::new();
                read_small(&mut tar, entry.size, &mut buf).map_err(ReadError::MetaRead)?;
                meta_sha.update(&buf);
                meta = SnapshotMetaJson::from_json(&buf).map_err(ReadError::MetaDecode)?;
            }
            b"state.bin" => {
                let mut out = TeeHash { out: &mut state_out, sha: &mut state_sha };
                copy(&mut tar, &mut out).map_err(ReadError::StateData)?;
            }
            b"SHA256SUMS" => read_small(&mut tar, entry.size, &mut sums).map_err(ReadError::SumsRead)?,
            _ => return Err(ReadError::UnexpectedFile(entry.name)),
        }
    }
    state_out.flush().map_err(|e| ReadError::StateData(StreamFault::Io(e)))?;
    verify_sums(&sums, &meta_sha.finalize().into(), &state_sha.finalize().into()).map_err(ReadError::Integrity)?;
    Ok(meta)
}

/// Reads and verifies a snapshot archive, streaming `state.bin` into `state_out` (a temporary
/// file). Every hash, the gzip checksums and the archive structure are checked; only after
/// `Ok` may the caller use what `state_out` received.
pub fn read_archive(input: impl Read, state_out: impl Write) -> Result<SnapshotMetaJson, ArchiveError> {
    let mut gz = Gunzip::new(BufReader::with_capacity(CHUNK, input)).map_err(ArchiveError::Decompress)?;
    let meta = read_tar(&mut gz, state_out).map_err(ArchiveError::Read)?;
    // Go's concludeGzipRead: the gzip stream must end (checksums verified) with nothing left.
    let extra = copy(&mut gz, &mut io::sink()).map_err(ArchiveError::Trailer)?;
    if extra != 0 {
        return Err(ArchiveError::UnreadBytes(extra));
    }
    Ok(meta)
}

// ---------------------------------------------------------------------------------------------
// Inspect.

/// Rows and bytes of one table in `state.bin`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name in the store (`sm_autopilot`, ...).
    pub name: String,
    pub count: u64,
    /// Bytes of its row records.
    pub size: u64,
}

/// What `operator snapshot inspect` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub meta: SnapshotMetaJson,
    /// Tables in the order of `state.bin`.
    pub tables: Vec<TableStats>,
    /// Bytes of `state.bin`.
    pub state_size: u64,
}

/// Why an archive could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The archive verified, but `state.bin` is not our state stream (a Nomad archive, say).
    #[error("state.bin: {0}")]
    State(io::Error),
}

/// A `Write` half and a `Read` half joined by a bounded channel of chunks.
pub(crate) struct PipeWriter(std::sync::mpsc::SyncSender<Vec<u8>>);
pub(crate) struct PipeReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    read: u64,
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf.to_vec()).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.read += n as u64;
        Ok(n)
    }
}

/// A pipe that holds at most `chunks` writes: a state stream between two threads.
pub(crate) fn pipe(chunks: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(chunks);
    (PipeWriter(tx), PipeReader { rx, chunk: Vec::new(), at: 0, read: 0 })
}

/// Counts rows and bytes per table of a state stream.
fn table_stats(src: &mut impl Read) -> io::Result<Vec<TableStats>> {
    let (mut r, _header) = snapfile::Reader::new(src, io::sink())?;
    let mut tables: Vec<TableStats> = Vec::new();
    loop {
        match r.next()? {
            snapfile::Record::Table(name) => tables.push(TableStats { name, ..Default::default() }),
            snapfile::Record::Row => {
                let Some(t) = tables.last_mut() else {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "row outside a table"));
                };
                t.count += 1;
                t.size += (1 + 4 + r.key.len() + 4 + r.value.len()) as u64;
            }
            snapfile::Record::End => return Ok(tables),
        }
    }
}

/// Verifies an archive (as [`read_archive`]) and reads its `state.bin` as it streams: the meta
/// and the rows and bytes of each table. Memory stays flat: the state passes through a bounded
/// pipe to a second thread that parses it.
pub fn inspect(input: impl Read) -> Result<Inspection, InspectError> {
    let (tx, mut pipe) = pipe(4);
    let (archive, stats) = std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let stats = table_stats(&mut pipe);
            // Keep draining so the archive is still verified to its end.
            let _ = io::copy(&mut pipe, &mut io::sink());
            (stats, pipe.read)
        });
        let archive = read_archive(input, tx);
        let stats = parser.join().unwrap_or_else(|_| (Err(io::Error::other("state parser panicked")), 0));
        (archive, stats)
    });
    let meta = archive?;
    let (tables, state_size) = stats;
    let tables = tables.map_err(InspectError::State)?;
    Ok(Inspection { meta, tables, state_size })
}

#[cfg(test)]
mod tests;
