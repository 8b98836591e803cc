//! Writing an archive: meta, state and sums through tar and gzip, hashed on the way out for
//! the `Digest` header.

use std::io;
use std::io::Read;
use std::io::Write;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use base64::Engine;
use sha2::Digest;
use sha2::Sha256;

use super::meta::SnapshotMetaJson;
use super::tar::TarWriter;
use super::CHUNK;
use super::META_JSON;
use super::SHA256SUMS;
use super::STATE_BIN;

/// The gzip level: Go's `gzip.DefaultCompression`, which Nomad uses.
const GZIP_LEVEL: u32 = 6;

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

pub(super) fn hex(bytes: &[u8]) -> String {
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
