//! Reading an archive: Nomad's `snapshot.read` over the tar entries and its `SHA256SUMS` check,
//! under Go's gzip reader with nothing left unread.

use std::io;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;

use sha2::Digest;
use sha2::Sha256;

use super::error::ArchiveError;
use super::error::IntegrityError;
use super::error::ReadError;
use super::error::StreamFault;
use super::gzip::Gunzip;
use super::meta::SnapshotMetaJson;
use super::tar::read_entries;
use super::CHUNK;
use super::META_JSON;
use super::STATE_BIN;

/// `meta.json` and `SHA256SUMS` are read into memory; anything larger is not an archive.
const MAX_SMALL_ENTRY: u64 = 1 << 20;
/// Go's `bufio.Scanner` limit on one `SHA256SUMS` line.
const MAX_SUMS_LINE: usize = 64 * 1024;

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
fn copy(src: &mut (impl Read + ?Sized), dst: &mut impl Write) -> Result<u64, StreamFault> {
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
fn read_small(entry: &mut (impl Read + ?Sized), size: u64, into: &mut Vec<u8>) -> Result<(), StreamFault> {
    if size > MAX_SMALL_ENTRY || into.len() as u64 + size > MAX_SMALL_ENTRY {
        return Err(StreamFault::TarFieldTooLong);
    }
    copy(entry, into).map(|_| ())
}

/// Checks `SHA256SUMS` against the hashes of what was read (raft's `DecodeAndVerify`): every
/// line must name a known file with its hash, and both files must be listed.
pub(super) fn verify_sums(sums: &[u8], meta: &[u8; 32], state: &[u8; 32]) -> Result<(), IntegrityError> {
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
    let mut meta_sha = Sha256::new();
    let mut state_sha = Sha256::new();
    let mut meta = SnapshotMetaJson::default();
    let mut sums = Vec::new();
    read_entries(input, ReadError::Tar, |entry, data| {
        match entry.name.as_slice() {
            b"meta.json" => {
                let mut buf = Vec::new();
                read_small(data, entry.size, &mut buf).map_err(ReadError::MetaRead)?;
                meta_sha.update(&buf);
                meta = SnapshotMetaJson::from_json(&buf).map_err(ReadError::MetaDecode)?;
            }
            b"state.bin" => {
                let mut out = TeeHash { out: &mut state_out, sha: &mut state_sha };
                copy(data, &mut out).map_err(ReadError::StateData)?;
            }
            b"SHA256SUMS" => read_small(data, entry.size, &mut sums).map_err(ReadError::SumsRead)?,
            _ => return Err(ReadError::UnexpectedFile(entry.name)),
        }
        Ok(())
    })?;
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
