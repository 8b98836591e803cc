//! Operator snapshots: Nomad's snapshot archive format ([`archive`], pure and streamed) and the
//! snapshot actor, which saves the replicated state as an archive and restores one.
//!
//! ```text
//! save:    redb read txn ─> state.bin (temp file) ─> archive (temp file, SHA-256) ─> caller
//! restore: archive (temp file) ─> gunzip + SHA-256 ─> state.bin (pipe) ─> rows
//!          ─> raft: RestoreBegin, RestoreRows x N (~1 MiB each, a few in flight),
//!             RestoreCommit once every hash verified, RestoreRetire after the answer
//! ```
//!
//! Archive work (tar, gzip, SHA-256) runs on the blocking pool, never on the raft or web
//! threads, and archives live in anonymous temporary files under `<data_dir>/server/tmp`, never
//! in memory: memory stays flat whatever the state size. A save without `stale` comes from the
//! leader (a follower fetches the leader's archive and checks its digest); a restore always
//! runs on the leader, which makes it a sequence of raft entries ordered with every other
//! write (see `raft::store::restore`).
//!
//! A save needs `operator` write or the `snapshot-save` capability, a restore a management
//! token, checked by the server that saves or restores: a follower fetching the leader's
//! archive, or sending it one, passes its client's token on (`wire::CALLER_HEADER`).

pub mod archive;

use openraft::async_runtime::watch::WatchReceiver;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::io::BufWriter;
use std::io::Seek;
use std::io::SeekFrom;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use std::time::SystemTime;

use actix::prelude::*;
use sha2::Digest;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use crate::authz::Caller;
use crate::authz::Requirement;
use crate::context::stops_on_request;
use crate::context::ServerContext;
use crate::defaults::write_defaults_if_missing;
use crate::error::OpError;
use crate::forward::admit;
use crate::forward::anonymous_calls;
use crate::forward::wire_token;
use crate::forward::Call;
use crate::forward::HOLD_TIMEOUT;
use crate::raft::snapfile;
use crate::raft::store::restore::RowSetBuilder;
use crate::raft::ServerNode;
use crate::state::Command;
use crate::state::RestoreRowSet;
use crate::wire::paths;
use crate::wire::CALLER_HEADER;

/// Rows of one restore entry stop growing past this many bytes: one entry stays well under
/// the RPC body limit, and the leader holds the rows of only a few entries in memory.
const RESTORE_ENTRY_BYTES: usize = 1 << 20;

/// Restore entries in raft at a time: enough that appends share fsyncs and overlap applies,
/// few enough that the entries between append and apply stay in the log's memory cache.
const RESTORE_IN_FLIGHT: usize = 3;

/// `state.bin` passes from the archive reader to the row parser in chunks of this size, at
/// most this many at a time.
const STATE_PIPE_CHUNK: usize = 256 << 10;
const STATE_PIPE_CHUNKS: usize = 4;

/// While waiting for a leader, re-check this often.
const LEADER_POLL: Duration = Duration::from_millis(100);

/// `GET /v1/operator/snapshot`: saves the replicated state as Nomad's archive, from the
/// leader unless `stale`.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<SavedArchive, OpError>")]
pub struct SaveSnapshot {
    pub stale: bool,
}

/// A saved archive: an anonymous temporary file (gone once dropped), positioned at its start.
#[derive(Debug)]
pub struct SavedArchive {
    pub file: File,
    pub len: u64,
    /// The value of the `Digest` header: `sha-256=<base64 of the archive's SHA-256>`.
    pub digest: String,
}

/// `PUT /v1/operator/snapshot`: verifies the archive in `archive` and restores it on every
/// server through the leader.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), OpError>")]
pub struct RestoreSnapshot {
    pub archive: File,
}

/// A save or restore that another server sent here, with its client's caller, because this
/// one leads; never sent on.
#[derive(Message, Debug)]
#[rtype(result = "Result<SavedArchive, OpError>")]
pub(crate) struct SaveHere(pub Caller);

#[derive(Message, Debug)]
#[rtype(result = "Result<(), OpError>")]
pub(crate) struct RestoreHere(pub Caller, pub File);

/// What a save needs (Nomad's `snapshot-save` operator capability, which `operator` write
/// includes).
pub const SAVE: Requirement<'static> = Requirement::OperatorCapability("snapshot-save");
/// What a restore needs: a management token.
pub const RESTORE: Requirement<'static> = Requirement::Management;

/// The snapshot actor.
pub struct Snapshots {
    ctx: Arc<ServerContext>,
}

impl Snapshots {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl Actor for Snapshots {
    type Context = Context<Self>;
}

impl Handler<Call<SaveSnapshot>> for Snapshots {
    type Result = ResponseFuture<Result<SavedArchive, OpError>>;

    fn handle(&mut self, msg: Call<SaveSnapshot>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            if msg.op.stale {
                admit(&ctx, &msg.caller, &SAVE)?;
                return save_here(ctx).await;
            }
            match leader_or_me(&ctx).await? {
                None => {
                    admit(&ctx, &msg.caller, &SAVE)?;
                    save_here(ctx).await
                }
                Some(leader) => fetch_from(&ctx, &leader, &msg.caller).await,
            }
        })
    }
}

impl Handler<SaveHere> for Snapshots {
    type Result = ResponseFuture<Result<SavedArchive, OpError>>;

    fn handle(&mut self, msg: SaveHere, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            admit(&ctx, &msg.0, &SAVE)?;
            save_here(ctx).await
        })
    }
}

impl Handler<Call<RestoreSnapshot>> for Snapshots {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, msg: Call<RestoreSnapshot>, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            match leader_or_me(&ctx).await? {
                None => {
                    admit(&ctx, &msg.caller, &RESTORE)?;
                    restore_here(ctx, msg.op.archive).await
                }
                Some(leader) => send_to(&ctx, &leader, &msg.caller, msg.op.archive).await,
            }
        })
    }
}

impl Handler<RestoreHere> for Snapshots {
    type Result = ResponseFuture<Result<(), OpError>>;

    fn handle(&mut self, msg: RestoreHere, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        Box::pin(async move {
            if !ctx.is_leader() {
                return Err(OpError::NotLeader);
            }
            admit(&ctx, &msg.0, &RESTORE)?;
            restore_here(ctx, msg.1).await
        })
    }
}

anonymous_calls!(Snapshots => SaveSnapshot, RestoreSnapshot);

stops_on_request!(Snapshots);

/// `None` when this server leads, else the leader; waits up to the hold time for one.
async fn leader_or_me(ctx: &ServerContext) -> Result<Option<ServerNode>, OpError> {
    let deadline = Instant::now() + HOLD_TIMEOUT;
    let mut metrics = ctx.raft.metrics();
    loop {
        if ctx.is_leader() {
            return Ok(None);
        }
        if let Some(leader) = ctx.leader() {
            return Ok(Some(leader));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(OpError::NoLeader);
        }
        let _ = tokio::time::timeout((deadline - now).min(LEADER_POLL), metrics.changed()).await;
    }
}

fn blocking_err(e: tokio::task::JoinError) -> OpError {
    OpError::Internal(format!("snapshot task failed: {e}"))
}

/// Saves this server's state: a consistent point in time (one redb read transaction).
async fn save_here(ctx: Arc<ServerContext>) -> Result<SavedArchive, OpError> {
    tokio::task::spawn_blocking(move || save_blocking(&ctx)).await.map_err(blocking_err)?
}

fn save_blocking(ctx: &ServerContext) -> Result<SavedArchive, OpError> {
    let failed = |e: &dyn std::fmt::Display| OpError::SnapshotSave(e.to_string());
    let mut state = ctx.temp_file().map_err(|e| failed(&e))?;
    let meta = ctx.reader.export(BufWriter::new(&mut state)).map_err(|e| failed(&e))?;
    let state_len = state.seek(SeekFrom::End(0)).map_err(|e| failed(&e))?;
    state.seek(SeekFrom::Start(0)).map_err(|e| failed(&e))?;

    let (term, index) = meta.last_log_id.map_or((0, 0), |l| (l.leader_id.term, l.index));
    let membership = meta.last_membership.membership();
    let voters: BTreeSet<_> = membership.voter_ids().collect();
    let configuration = membership
        .nodes()
        .map(|(id, n)| archive::ConfigServer {
            suffrage: if voters.contains(id) { 0 } else { 1 },
            id: n.id.clone(),
            address: n.rpc_addr.clone(),
        })
        .collect();
    let voter_addrs: Vec<&str> =
        membership.nodes().filter(|(id, _)| voters.contains(id)).map(|(_, n)| n.rpc_addr.as_str()).collect();
    let json = archive::SnapshotMetaJson {
        version: archive::SNAPSHOT_VERSION,
        id: archive::SnapshotMetaJson::id_for(term, index, SystemTime::now()),
        index,
        term,
        peers: archive::encode_peers(voter_addrs),
        configuration,
        configuration_index: meta.last_membership.log_id().map_or(0, |l| l.index),
        size: state_len,
    };
    let mut file = ctx.temp_file().map_err(|e| failed(&e))?;
    let summary = {
        let mut out = BufWriter::new(&mut file);
        let summary =
            archive::write_archive(&json, BufReader::new(&mut state), state_len, &mut out).map_err(|e| failed(&e))?;
        out.into_inner().map_err(|e| failed(&e.into_error()))?;
        summary
    };
    file.seek(SeekFrom::Start(0)).map_err(|e| failed(&e))?;
    Ok(SavedArchive { file, len: summary.archive_len, digest: summary.digest_header() })
}

/// A call to the leader on behalf of `caller`, its token in the caller header.
fn to_leader(ctx: &ServerContext, url: &str, caller: &Caller) -> Result<reqwest::RequestBuilder, OpError> {
    let token = wire_token(caller)?;
    let request = ctx.http.client().post(url);
    Ok(if token.is_empty() { request } else { request.header(CALLER_HEADER, token) })
}

/// Fetches the leader's archive for `caller` (the leader checks it) into a local temporary
/// file and checks its digest.
async fn fetch_from(ctx: &ServerContext, leader: &ServerNode, caller: &Caller) -> Result<SavedArchive, OpError> {
    let rpc =
        |e: &dyn std::fmt::Display| OpError::Rpc(format!("failed to fetch the leader's snapshot: {e}")).forwarded();
    let url = ctx.http.url(&leader.rpc_addr, paths::SNAPSHOT_SAVE);
    let mut resp = to_leader(ctx, &url, caller)?.send().await.map_err(|e| rpc(&e))?;
    if !resp.status().is_success() {
        let answer: Result<(), OpError> = resp.json().await.map_err(|e| rpc(&e))?;
        return Err(answer.err().unwrap_or_else(|| OpError::Rpc("the leader sent no snapshot".into())).forwarded());
    }
    let digest = resp
        .headers()
        .get("digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| rpc(&"no Digest header"))?;
    let expected = archive::parse_digest_header(&digest).ok_or_else(|| rpc(&format!("bad Digest {digest:?}")))?;
    let std_file = ctx.temp_file().map_err(|e| rpc(&e))?;
    let mut file = tokio::fs::File::from_std(std_file.try_clone().map_err(|e| rpc(&e))?);
    let mut hash = sha2::Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|e| rpc(&e))? {
        hash.update(&chunk);
        len += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| rpc(&e))?;
    }
    file.flush().await.map_err(|e| rpc(&e))?;
    let got: [u8; 32] = hash.finalize().into();
    if got != expected {
        return Err(rpc(&"the archive does not match its Digest header"));
    }
    let mut std_file = std_file;
    std_file.seek(SeekFrom::Start(0)).map_err(|e| rpc(&e))?;
    Ok(SavedArchive { file: std_file, len, digest })
}

/// Sends an archive to the leader for `caller`; the leader checks it, then restores.
async fn send_to(ctx: &ServerContext, leader: &ServerNode, caller: &Caller, archive: File) -> Result<(), OpError> {
    let rpc =
        |e: &dyn std::fmt::Display| OpError::Rpc(format!("failed to send the snapshot to the leader: {e}")).forwarded();
    let url = ctx.http.url(&leader.rpc_addr, paths::SNAPSHOT_RESTORE);
    let body = reqwest::Body::from(tokio::fs::File::from_std(archive));
    let resp = to_leader(ctx, &url, caller)?.body(body).send().await.map_err(|e| rpc(&e))?;
    let answer: Result<(), OpError> = resp.json().await.map_err(|e| rpc(&e))?;
    answer.map_err(OpError::forwarded)
}

/// Verifies `archive` and restores its state through raft, as one pipeline on both cores:
/// one blocking thread decompresses and hashes the archive, a second parses `state.bin` into
/// entry-sized groups of rows, and up to [`RESTORE_IN_FLIGHT`] of them are in raft at a time
/// (their appends share fsyncs and overlap the staging applies). Rows only reach the staging
/// tables; the commit that makes them live is proposed only once every hash has verified, so
/// a tampered or truncated archive changes nothing that reads can see.
async fn restore_here(ctx: Arc<ServerContext>, archive: File) -> Result<(), OpError> {
    let failed = |e: &dyn std::fmt::Display| OpError::RestoreFailed(e.to_string());
    let started = Instant::now();
    let (state_in, state_out) = archive::pipe(STATE_PIPE_CHUNKS);
    let verify = tokio::task::spawn_blocking(move || -> Result<(), OpError> {
        let mut out = BufWriter::with_capacity(STATE_PIPE_CHUNK, state_in);
        archive::read_archive(BufReader::new(archive), &mut out).map_err(|e| failed(&e))?;
        out.into_inner().map_err(|e| failed(&e.into_error()))?;
        Ok(())
    });
    let (entries, mut next) = tokio::sync::mpsc::channel::<(String, RestoreRowSet)>(RESTORE_IN_FLIGHT);
    let reader = tokio::task::spawn_blocking(move || {
        let mut state = BufReader::with_capacity(STATE_PIPE_CHUNK, state_out);
        let read = read_entries(&mut state, &entries);
        // Drain what is left, so the archive is still verified to its end whatever happened
        // here: its verdict comes first.
        let _ = std::io::copy(&mut state, &mut std::io::sink());
        read
    });

    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut staging = Staging { ctx: ctx.clone(), id: id.clone(), begun: false, rows: 0, in_flight: JoinSet::new() };
    let mut staged = Ok(());
    while let Some((table, rows)) = next.recv().await {
        if let Err(e) = staging.stage(table, rows).await {
            staged = Err(e);
            break;
        }
    }
    drop(next);
    if staged.is_ok() {
        staged = staging.settle().await;
    }
    let staged_at = started.elapsed();
    // The archive's own verdict first (a stream cut short downstream is its consequence), then
    // raft's, then the state's.
    verify.await.map_err(blocking_err)??;
    staged?;
    reader.await.map_err(blocking_err)??;
    if !staging.begun {
        // An archive with no rows at all still replaces every table.
        staging.write(Command::RestoreBegin { id: id.clone() }).await?;
    }
    staging.write(Command::RestoreCommit { id: id.clone(), rows: staging.rows }).await?;
    // As Nomad's leader re-runs its leadership actions on the restored state: rows the archive
    // did not hold are written with their defaults.
    write_defaults_if_missing(&ctx).await.map_err(|e| failed(&e))?;
    tracing::info!(rows = staging.rows, ?staged_at, took = ?started.elapsed(), "snapshot restored");
    // The replaced tables are dropped after the answer: the restored state is live already.
    // Should this server lose its leadership first, the next restore's commit drops them.
    actix::spawn(async move {
        if let Err(e) = propose_restore(ctx, Command::RestoreRetire { id }).await {
            tracing::warn!(error = %e, "cannot drop the tables a snapshot restore replaced");
        }
    });
    Ok(())
}

/// The raft side of one restore: its begin, then its rows with a bounded number in flight.
struct Staging {
    ctx: Arc<ServerContext>,
    id: String,
    begun: bool,
    rows: u64,
    in_flight: JoinSet<Result<(), OpError>>,
}

impl Staging {
    fn raft_err(e: &dyn std::fmt::Display) -> OpError {
        OpError::RestoreFailed(format!("Raft error when restoring snapshot: {e}"))
    }

    async fn write(&self, cmd: Command) -> Result<(), OpError> {
        propose_restore(self.ctx.clone(), cmd).await
    }

    /// Proposes one group of rows once fewer than [`RESTORE_IN_FLIGHT`] are in raft. Groups
    /// may apply in any order: each holds distinct keys, and the commit counts them all.
    async fn stage(&mut self, table: String, rows: RestoreRowSet) -> Result<(), OpError> {
        if !self.begun {
            self.write(Command::RestoreBegin { id: self.id.clone() }).await?;
            self.begun = true;
        }
        while self.in_flight.len() >= RESTORE_IN_FLIGHT {
            self.join_one().await?;
        }
        self.rows += rows.len() as u64;
        let cmd = Command::RestoreRows { id: self.id.clone(), table, rows };
        self.in_flight.spawn(propose_restore(self.ctx.clone(), cmd));
        Ok(())
    }

    /// Waits until every group proposed so far has applied.
    async fn settle(&mut self) -> Result<(), OpError> {
        while !self.in_flight.is_empty() {
            self.join_one().await?;
        }
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), OpError> {
        match self.in_flight.join_next().await {
            Some(Ok(applied)) => applied,
            Some(Err(e)) => Err(blocking_err(e)),
            None => Ok(()),
        }
    }
}

/// Proposes one restore command and waits until it applied as part of this restore.
async fn propose_restore(ctx: Arc<ServerContext>, cmd: Command) -> Result<(), OpError> {
    let applied = ctx.raft.client_write(cmd).await.map_err(|e| Staging::raft_err(&e))?.data;
    if applied.updated {
        Ok(())
    } else {
        Err(Staging::raft_err(&"another restore began meanwhile"))
    }
}

/// Reads `state.bin` and sends its rows in entry-sized groups, per table; checks that every
/// table is one this server replicates and that the file's checksum holds at its end.
fn read_entries(
    state: &mut impl std::io::Read,
    entries: &tokio::sync::mpsc::Sender<(String, RestoreRowSet)>,
) -> Result<(), OpError> {
    let failed = |e: &dyn std::fmt::Display| OpError::RestoreFailed(e.to_string());
    let (mut r, _header) = snapfile::Reader::new(state, std::io::sink()).map_err(|e| failed(&e))?;
    let known: Vec<&str> = crate::raft::store::restore::replicated_names().collect();
    let mut table: Option<String> = None;
    // An entry ends at the row that takes it past RESTORE_ENTRY_BYTES: room for that row too
    // (most rows are small; a larger one grows the buffer once).
    let mut rows = RowSetBuilder::with_capacity(RESTORE_ENTRY_BYTES + (64 << 10), 1024);
    let send = |table: &Option<String>, rows: &mut RowSetBuilder| -> Result<(), OpError> {
        if let (Some(t), false) = (table, rows.is_empty()) {
            entries.blocking_send((t.clone(), rows.finish())).map_err(|_| failed(&"the restore stopped"))?;
        }
        Ok(())
    };
    loop {
        match r.next().map_err(|e| failed(&e))? {
            snapfile::Record::Table(name) => {
                send(&table, &mut rows)?;
                if !known.contains(&name.as_str()) {
                    return Err(failed(&format!("snapshot has unknown table {name:?}")));
                }
                table = Some(name);
            }
            snapfile::Record::Row => {
                if table.is_none() {
                    return Err(failed(&"snapshot row outside a table"));
                }
                rows.push(&r.key, &r.value);
                if rows.byte_len() >= RESTORE_ENTRY_BYTES {
                    send(&table, &mut rows)?;
                }
            }
            snapfile::Record::End => {
                send(&table, &mut rows)?;
                return Ok(());
            }
        }
    }
}
