//! Client writes on the leader: each write is its own raft entry, with its own index (its
//! `ModifyIndex`, what CAS compares), as in Nomad.
//!
//! Writes go to raft as they come, many in flight at once. openraft 0.10 merges the writes
//! that reach it together into one append, the log store writes them and one sync thread makes
//! every append written meanwhile durable with one `fdatasync` (`raft/store/flusher.rs`), and a
//! replication stream sends each follower everything appended since its last request. So 64
//! writers share fsyncs and round trips whether they write 64 rows or one. (With openraft 0.9,
//! which appended, synced and replicated one entry at a time, this module packed writes to
//! distinct rows into one `Command::Batch` entry, and writes to one row queued behind each
//! other.)
//!
//! A leadership transfer holds new writes (and leadership confirmations) here for a while
//! ([`Proposer::hold`]).

use std::time::Duration;

use openraft::error::ClientWriteError;
use openraft::error::RaftError;
use tokio::sync::watch;

use crate::error::OpError;
use crate::raft::Raft;
use crate::raft::TypeConfig;
use crate::state::Applied;
use crate::state::Command;
use crate::wire::Attempt;

/// The longest a leadership transfer holds writes and leadership confirmations: past it they go
/// on, whatever became of the transfer (its own deadline is shorter).
const HOLD_LIMIT: Duration = Duration::from_secs(10);

/// The leader's way into raft for client writes.
pub(crate) struct Proposer {
    raft: Raft,
    /// Set while a leadership transfer runs: every entry and every leadership confirmation
    /// sent to the followers renews their leader lease, and a follower whose lease holds
    /// refuses the transfer target's vote, so under load a transfer could never win.
    held: watch::Sender<bool>,
    /// Set once the server stops: writes then fail at once.
    stopped: watch::Sender<bool>,
}

/// Holds the leader's writes and leadership confirmations until dropped (see
/// [`Proposer::hold`]).
pub(crate) struct Hold<'a>(&'a watch::Sender<bool>);

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl Proposer {
    pub(crate) fn start(raft: Raft) -> Self {
        Self { raft, held: watch::channel(false).0, stopped: watch::channel(false).0 }
    }

    /// Holds new entries and leadership confirmations (queued, not refused) until the returned
    /// guard is dropped, or for at most [`HOLD_LIMIT`]; then they go to raft, which refuses them
    /// if leadership has moved, and the caller routes them to the new leader.
    pub(crate) fn hold(&self) -> Hold<'_> {
        self.held.send_replace(true);
        Hold(&self.held)
    }

    /// Waits while a [`Proposer::hold`] lasts.
    pub(crate) async fn released(&self) {
        let _ = tokio::time::timeout(HOLD_LIMIT, self.held.subscribe().wait_for(|held| !held)).await;
    }

    /// Writes `command` through raft as an entry of its own.
    pub(crate) async fn propose(&self, command: Command) -> Attempt<Applied> {
        let stopped = || Attempt::Done(Err(OpError::Internal("the write queue has stopped".into())));
        if *self.stopped.borrow() {
            return stopped();
        }
        self.released().await;
        let mut stop = self.stopped.subscribe();
        tokio::select! {
            r = self.raft.client_write(command) => raft_outcome(r.map(|r| r.data)),
            _ = stop.wait_for(|s| *s) => stopped(),
        }
    }

    pub(crate) fn stop(&self) {
        self.stopped.send_replace(true);
    }
}

/// Maps an openraft write outcome: a lost leadership is retried elsewhere, anything else is final.
pub(crate) fn raft_outcome<T>(r: Result<T, RaftError<TypeConfig, ClientWriteError<TypeConfig>>>) -> Attempt<T> {
    match r {
        Ok(v) => Attempt::Done(Ok(v)),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => Attempt::NotLeader,
        Err(e) => Attempt::Done(Err(OpError::Raft(e.to_string()))),
    }
}
