//! The leader's duties: on every leadership gain, make sure the config rows and a license
//! exist ([`crate::defaults`]). Runs on every server for the server's life; it ends when raft
//! stops.

use openraft::async_runtime::watch::WatchReceiver;
use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;

use crate::context::ServerContext;
use crate::defaults::write_defaults_if_missing;

/// After a failed write of the default config rows, try again after this pause (the failure is
/// usually a leadership change in progress).
const DEFAULTS_RETRY: Duration = Duration::from_millis(200);

/// On every leadership gain: make sure the config rows and a license exist (the first leader
/// writes the defaults and a temporary license through raft; see [`crate::license`]).
pub(crate) async fn run(ctx: Arc<ServerContext>) {
    // The server metrics change with the role and the vote only, not with every write.
    let mut metrics = ctx.raft.server_metrics();
    let mut handled_term = None;
    loop {
        let (is_leader, term) = {
            let m = metrics.borrow_watched();
            (m.state == ServerState::Leader, m.vote.leader_id.term)
        };
        if is_leader && handled_term != Some(term) {
            match write_defaults_if_missing(&ctx).await {
                Ok(()) => handled_term = Some(term),
                Err(e) => {
                    tracing::warn!(error = %e, "writing default configuration failed; will retry");
                    tokio::time::sleep(DEFAULTS_RETRY).await;
                    continue;
                }
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
