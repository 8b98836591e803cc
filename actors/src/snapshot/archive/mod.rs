//! Nomad's snapshot archive, pure and streamed: what `GET /v1/operator/snapshot` sends and
//! `PUT /v1/operator/snapshot` and `operator snapshot inspect` read.
//!
//! ```text
//! gzip( tar( meta.json    Go encoding/json of raft's SnapshotMeta + "\n"
//!            state.bin    our state stream (crate::raft::snapfile), exactly Size bytes
//!            SHA256SUMS   "<hex sha256>  <name>\n" for meta.json and state.bin ) )
//!
//! write_archive: state ─> tar::TarWriter ─> flate2 GzEncoder ─> hash + count ─> out
//! read_archive:  input ─> gzip::Gunzip (flate2) ─> tar::read_entries (tar crate) ─> read_tar
//!                          └ meta.json, SHA256SUMS in memory (capped); state.bin ─> state_out
//! ```
//!
//! Entries are mode 0600 USTAR records (PAX for a state of 8 GiB or more), as Go's
//! `archive/tar` writes them. `state.bin` is the same file format as a raft snapshot, so a
//! verified archive installs through the store's snapshot install.
//!
//! Nothing here holds an archive or a state in memory: [`write_archive`] and [`read_archive`]
//! work over `Read`/`Write` with fixed buffers; only `meta.json` and `SHA256SUMS` (small, and
//! capped) are buffered. The tar and gzip formats are the `tar` and `flate2` crates'; the
//! modules `tar` and `gzip` here turn their errors into Nomad's texts and keep every length
//! bounded (the `tar` crate reads PAX and long-name records whole), which a fuzz target
//! (`fuzz/`) checks.
//!
//! **The `Digest` header.** Nomad's server writes the whole archive to a temporary file while
//! hashing the compressed bytes (`helper/snapshot.New`: `io.MultiWriter(hash, file)` under the
//! gzip writer), then answers the streaming RPC with `SnapshotChecksum` before it streams the
//! file; the HTTP handler sets `Digest: sha-256=<base64>` from that checksum and copies the body.
//! The Go client (`api.Operator.Snapshot`) checks the digest when the body reaches EOF. The same
//! here: write the archive to a file with [`write_archive`], whose [`ArchiveSummary`] carries the
//! body's SHA-256 ([`ArchiveSummary::digest_header`]), then send the header and the file.

mod error;
mod gzip;
mod inspect;
mod meta;
mod pipe;
mod read;
mod tar;
mod write;

pub use error::ArchiveError;
pub use error::IntegrityError;
pub use error::ReadError;
pub use error::StreamFault;
pub use inspect::inspect;
pub use inspect::InspectError;
pub use inspect::Inspection;
pub use inspect::TableStats;
pub use meta::encode_peers;
pub use meta::ConfigServer;
pub use meta::SnapshotMetaJson;
pub use meta::SNAPSHOT_VERSION;
pub(crate) use pipe::pipe;
pub use read::read_archive;
pub use read::read_tar;
pub use write::digest_header;
pub use write::parse_digest_header;
pub use write::write_archive;
pub use write::ArchiveSummary;

pub use crate::raft::snapfile::Writer as StateWriter;

const META_JSON: &str = "meta.json";
const STATE_BIN: &str = "state.bin";
const SHA256SUMS: &str = "SHA256SUMS";

/// Copy buffer for the state stream.
const CHUNK: usize = 64 * 1024;

#[cfg(test)]
mod test_support;
#[cfg(test)]
use test_support::*;
#[cfg(test)]
mod tests;
