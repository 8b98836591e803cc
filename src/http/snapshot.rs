//! `GET /v1/operator/snapshot` (save) and `PUT|POST /v1/operator/snapshot` (restore): the
//! archive streams out of and into files, never whole in memory (spec §2.9, §2.10).

use actix_web::http::header::HeaderName;
use actix_web::http::header::HeaderValue;
use actix_web::http::header::CONTENT_ENCODING;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::Method;
use actix_web::web;
use actix_web::HttpResponse;
use futures_util::Stream;
use futures_util::StreamExt;
use raftwarden_actors::snapshot::RestoreSnapshot;
use raftwarden_actors::snapshot::SaveSnapshot;
use raftwarden_actors::snapshot::SavedArchive;
use raftwarden_actors::Server;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;

use super::request::Reply;
use super::request::Req;
use super::respond::ApiError;

/// Bytes read from the archive file per body chunk.
const CHUNK: usize = 64 * 1024;

/// What Go's content sniffing names a gzip body, which is what Nomad's handler sends.
const GZIP: &str = "application/x-gzip";

pub async fn snapshot(r: Req<'_>, payload: web::Payload) -> Reply {
    match *r.http.method() {
        Method::GET => {
            let opts = r.read()?;
            let saved = r.state.server().snapshots().send(r.call(SaveSnapshot { stale: opts.stale })).await??;
            Ok(archive_response(saved))
        }
        Method::PUT | Method::POST => {
            r.write()?;
            // Checked here first, by this server's own tables, so that a caller who may not
            // restore cannot fill the disk with an upload; the leader checks again before it
            // restores.
            super::auth::authorize(&r, raftwarden_actors::snapshot::RESTORE)?;
            let archive = spool(r.state.server(), payload).await?;
            r.state.server().snapshots().send(r.call(RestoreSnapshot { archive })).await??;
            Ok(HttpResponse::Ok().finish())
        }
        _ => Err(ApiError::coded(405, "Invalid method")),
    }
}

/// The archive as a 200 with its `Digest` header, streamed from its file.
pub fn archive_response(saved: SavedArchive) -> HttpResponse {
    let mut resp = HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, GZIP))
        // Already compressed: the server's gzip middleware must leave it alone.
        .insert_header((CONTENT_ENCODING, "identity"))
        .no_chunking(saved.len)
        .streaming(file_stream(saved.file));
    if let Ok(v) = HeaderValue::from_str(&saved.digest) {
        resp.headers_mut().insert(HeaderName::from_static("digest"), v);
    }
    resp
}

fn file_stream(file: std::fs::File) -> impl Stream<Item = Result<web::Bytes, std::io::Error>> {
    let file = tokio::fs::File::from_std(file);
    futures_util::stream::unfold(Some((file, vec![0u8; CHUNK])), |state| async move {
        let (mut file, mut buf) = state?;
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => Some((Ok(web::Bytes::copy_from_slice(&buf[..n])), Some((file, buf)))),
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Writes a request body to an anonymous temporary file on the data disk, whatever its size,
/// and returns the file positioned at its start.
pub async fn spool(server: &Server, mut payload: web::Payload) -> Result<std::fs::File, ApiError> {
    let spool_failed = |e: std::io::Error| ApiError::coded(500, format!("failed to spool the snapshot: {e}"));
    let std_file = server.temp_file().map_err(spool_failed)?;
    let mut file = tokio::fs::File::from_std(std_file.try_clone().map_err(spool_failed)?);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("failed to read stream: {e}")))?;
        file.write_all(&chunk).await.map_err(spool_failed)?;
    }
    file.flush().await.map_err(spool_failed)?;
    let mut std_file = std_file;
    std::io::Seek::seek(&mut std_file, std::io::SeekFrom::Start(0)).map_err(spool_failed)?;
    Ok(std_file)
}
