//! The archive's errors, with the texts of Go's `compress/gzip`, `compress/flate` and
//! `archive/tar` and of Nomad's `snapshot.CopySnapshot`.

use std::io;

use crate::go::quote_bytes as go_quote;

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
    /// Carries the fault through a `Read` (the `flate2` and `tar` crates pass their input's
    /// errors on untouched), so that [`Self::from_io`] finds it on the other side.
    pub(super) fn into_io(self) -> io::Error {
        let kind = match &self {
            StreamFault::Io(e) => e.kind(),
            StreamFault::Eof | StreamFault::UnexpectedEof => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// The fault an `io::Error` carries ([`Self::into_io`]); `Err` gives back an error that
    /// carries none, for the caller to name.
    pub(super) fn carried(e: io::Error) -> Result<Self, io::Error> {
        if !e.get_ref().is_some_and(|inner| inner.is::<StreamFault>()) {
            return Err(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<StreamFault>()) {
            Some(Ok(fault)) => Ok(*fault),
            _ => Ok(StreamFault::Io(io::Error::other("stream error"))),
        }
    }

    /// Recovers the fault from an `io::Error` that crossed a `Read`; a bare short read is
    /// Go's `unexpected EOF`.
    pub(super) fn from_io(e: io::Error) -> Self {
        match Self::carried(e) {
            Ok(fault) => fault,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => StreamFault::UnexpectedEof,
            Err(e) => StreamFault::Io(e),
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
