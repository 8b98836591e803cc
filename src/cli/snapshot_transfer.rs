//! Snapshot transfer, the client half of `GET|PUT /v1/operator/snapshot`: `save` streams the
//! archive to `<file>.tmp`, checks it against the `Digest` header and renames it into place;
//! `restore` streams a file up. Neither holds an archive in memory.
//!
//! ```text
//! GET  ─ chunks ─> bounded channel ─> blocking writer (SHA-256 + file) ─> Digest check ─> rename
//! file ─ 64 KiB reads ─> request body stream ─> PUT
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::io::IsTerminal;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use futures_util::stream;
use reqwest::Method;
use sha2::Digest as _;
use sha2::Sha256;
use tokio::io::AsyncReadExt;

use super::client::Client;
use super::client::ClientError;
use super::format::human_bytes;
use crate::go::quote as go_quote;

pub const SNAPSHOT: &str = "/v1/operator/snapshot";

/// Chunks in flight between the socket and the writer thread.
const CHANNEL_DEPTH: usize = 16;
/// Bytes per read of a file being restored.
const READ_CHUNK: usize = 64 * 1024;

/// Why a save failed, with the texts of Nomad's `operator snapshot save` (as of Nomad 1.7, which
/// fixed its "Filed to" typos).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("Failed to create file: open {path}: {}", crate::go::os_error(.source))]
    Create { path: String, source: std::io::Error },
    #[error("Failed to get snapshot file: {0}")]
    Get(#[source] ClientError),
    /// The `Digest` header is missing or names another algorithm (the texts of Nomad's Go
    /// `api` package).
    #[error("Failed to get snapshot file: {0}")]
    Digest(&'static str),
    #[error("Failed to download snapshot file: {0}")]
    Download(String),
    #[error("Failed to finalize snapshot file: {0}")]
    Finalize(#[source] std::io::Error),
}

/// Why a restore failed, with Nomad's texts.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// Go prints the error with `%q`.
    #[error("Error opening snapshot file: {}", go_quote(&format!("open {path}: {}", crate::go::os_error(.source))))]
    Open { path: String, source: std::io::Error },
    #[error("Failed to get restore snapshot: {0}")]
    Put(#[source] ClientError),
}

/// What a save wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: [u8; 32],
}

/// Nomad's default name for `operator snapshot save` without a file:
/// `nomad-state-<YYYY><MM><D>-<unix>.snap`. Go's `%0d` does not pad the day, and Nomad uses
/// local time; this uses UTC (no time zone database here).
pub fn default_file_name(unix_secs: u64) -> String {
    let date = crate::go::rfc3339(unix_secs);
    let (year, month, day) = (&date[0..4], &date[5..7], &date[8..10]);
    let day = day.trim_start_matches('0');
    format!("nomad-state-{year}{month}{day}-{unix_secs}.snap")
}

/// Removes a temporary file when dropped, unless it was renamed into place: a failed,
/// refused or interrupted save leaves nothing behind.
struct TmpFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `<file>.tmp`, as Nomad names it.
pub fn tmp_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// What the `Digest` header asks for: `Ok(None)` is a SHA-256 whose base64 does not decode,
/// which can only end in a mismatch (the Go client compares the base64 texts at the end).
fn expected_sha256(header: Option<&str>) -> Result<Option<[u8; 32]>, SaveError> {
    let value = header.unwrap_or("");
    let Some((algo, _)) = value.split_once('=') else {
        return Err(SaveError::Digest("invalid digest format"));
    };
    if algo != "sha-256" {
        return Err(SaveError::Digest("unsupported checksum format"));
    }
    Ok(raftwarden_actors::snapshot::archive::parse_digest_header(value))
}

/// Streams `GET /v1/operator/snapshot[?stale]` into `<dest>.tmp`, checks the SHA-256 of the
/// bytes against the `Digest` header, syncs and renames to `dest`. The caller has checked that
/// `dest` does not exist.
pub async fn save(client: &Client, stale: bool, dest: &Path, show_progress: bool) -> Result<Saved, SaveError> {
    let tmp = TmpFile { path: tmp_path(dest), armed: true };
    let file =
        File::create(&tmp.path).map_err(|source| SaveError::Create { path: tmp.path.display().to_string(), source })?;
    let query: &[(&str, &str)] = if stale { &[("stale", "")] } else { &[] };
    let mut resp = client.stream(Method::GET, SNAPSHOT, query, None).await.map_err(SaveError::Get)?;
    let digest = resp.headers().get("Digest").and_then(|v| v.to_str().ok()).map(str::to_string);
    let expected = expected_sha256(digest.as_deref())?;

    let mut progress = Progress::new("Saving snapshot", resp.content_length(), show_progress);
    // Hashing and disk writes run on the blocking pool; the socket is read here.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, [u8; 32])> {
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut sha = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = rx.blocking_recv() {
            sha.update(&chunk);
            out.write_all(&chunk)?;
            bytes += chunk.len() as u64;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((bytes, sha.finalize().into()))
    });
    let mut read_error = None;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                progress.add(chunk.len() as u64);
                if tx.send(chunk.to_vec()).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(client.transport_error(&Method::GET, SNAPSHOT, &e));
                break;
            }
        }
    }
    drop(tx);
    progress.finish();
    let written = writer.await.map_err(|e| SaveError::Download(e.to_string()))?;
    if let Some(e) = read_error {
        return Err(SaveError::Download(e.to_string()));
    }
    let (bytes, sha256) = written.map_err(|e| SaveError::Download(e.to_string()))?;
    if expected != Some(sha256) {
        return Err(SaveError::Download("mismatch checksum".into()));
    }
    std::fs::rename(&tmp.path, dest).map_err(SaveError::Finalize)?;
    let mut tmp = tmp;
    tmp.armed = false;
    Ok(Saved { path: dest.to_path_buf(), bytes, sha256 })
}

/// Streams the file at `path` as the body of `PUT /v1/operator/snapshot`.
pub async fn restore(client: &Client, path: &Path, show_progress: bool) -> Result<(), RestoreError> {
    let open_error = |source| RestoreError::Open { path: path.display().to_string(), source };
    let file = tokio::fs::File::open(path).await.map_err(open_error)?;
    let len = file.metadata().await.map_err(open_error)?.len();
    let progress = Progress::new("Restoring snapshot", Some(len), show_progress);
    let chunks = stream::try_unfold((file, progress), |(mut file, mut progress)| async move {
        let mut buf = vec![0u8; READ_CHUNK];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            progress.finish();
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        progress.add(n as u64);
        Ok(Some((buf, (file, progress))))
    });
    client
        .stream(Method::PUT, SNAPSHOT, &[], Some(reqwest::Body::wrap_stream(chunks)))
        .await
        .map_err(RestoreError::Put)?;
    Ok(())
}

/// Whether progress lines may be drawn: only for a person watching a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// A one-line progress display on stderr (bytes, rate, and percent when the size is known),
/// redrawn at most every 200 ms and cleared at the end.
struct Progress {
    label: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    drawn: Option<Instant>,
    enabled: bool,
}

impl Progress {
    fn new(label: &'static str, total: Option<u64>, enabled: bool) -> Self {
        Self { label, total, done: 0, started: Instant::now(), drawn: None, enabled }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if self.enabled && self.drawn.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            self.drawn = Some(Instant::now());
            let line = progress_line(self.label, self.done, self.total, self.started.elapsed());
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    fn finish(&mut self) {
        if self.enabled && self.drawn.take().is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// `Saving snapshot: 12.5 MiB / 40 MiB (31%), 6.2 MiB/s`.
fn progress_line(label: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { (done as f64 / secs) as u64 } else { 0 };
    let rate = human_bytes(rate);
    match total {
        Some(total) if total > 0 => format!(
            "{label}: {} / {} ({}%), {rate}/s",
            human_bytes(done),
            human_bytes(total),
            done.saturating_mul(100) / total
        ),
        _ => format!("{label}: {}, {rate}/s", human_bytes(done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_as_nomad() {
        // 2017-03-06T22:07:51Z: the day is not zero-padded.
        assert_eq!(default_file_name(1_488_838_071), "nomad-state-2017036-1488838071.snap");
        // 2023-11-14T22:13:20Z
        assert_eq!(default_file_name(1_700_000_000), "nomad-state-20231114-1700000000.snap");
    }

    #[test]
    fn tmp_name_appends() {
        assert_eq!(tmp_path(Path::new("a/backup.snap")), PathBuf::from("a/backup.snap.tmp"));
    }

    #[test]
    fn digest_headers() {
        let sha = [7u8; 32];
        let good = raftwarden_actors::snapshot::archive::digest_header(&sha);
        assert_eq!(expected_sha256(Some(&good)).unwrap(), Some(sha));
        let text = |r: Result<Option<[u8; 32]>, SaveError>| r.unwrap_err().to_string();
        assert_eq!(text(expected_sha256(None)), "Failed to get snapshot file: invalid digest format");
        assert_eq!(text(expected_sha256(Some("sha256"))), "Failed to get snapshot file: invalid digest format");
        assert_eq!(text(expected_sha256(Some("md5=abc"))), "Failed to get snapshot file: unsupported checksum format");
        assert_eq!(expected_sha256(Some("sha-256=!!")).unwrap(), None);
    }

    #[test]
    fn progress_lines() {
        let s = Duration::from_secs(2);
        assert_eq!(progress_line("Saving", 2048, None, s), "Saving: 2.0 KiB, 1.0 KiB/s");
        assert_eq!(progress_line("Saving", 1024, Some(4096), s), "Saving: 1.0 KiB / 4.0 KiB (25%), 512 B/s");
    }

    #[test]
    fn restore_open_error_is_go_quoted() {
        let e = RestoreError::Open {
            path: "x.snap".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        };
        assert_eq!(e.to_string(), "Error opening snapshot file: \"open x.snap: no such file\"");
    }
}
