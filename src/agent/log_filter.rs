//! The one change the agent makes to what openraft logs: its lines per raft RPC that could not
//! reach a peer.
//!
//! While a follower is down, openraft logs `timeout while confirming leadership for read
//! request ... Unreachable node: ...` at error for every linearizable read (hundreds of lines a
//! minute under load, while the reads succeed), and three warnings (`error replication to
//! target=..`, `update progress error`, `heartbeat error: ..`) for every replication retry (two
//! a second). The raft network layer (`raftwarden_actors::raft::network::Contacts`) logs
//! instead one warning when a peer goes unreachable and one line when it answers again, and
//! counts it (`nomad.raft.peer.unreachable`). Only openraft lines that carry an `Unreachable`
//! error (a refused or timed-out connect, which the network layer has seen and reported) are
//! dropped: every other openraft line, including a timeout of a peer that was reached, is
//! logged as before.

use tracing::field::Field;
use tracing::field::Visit;
use tracing::Event;
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// How openraft's `Unreachable` error displays.
const UNREACHABLE: &str = "Unreachable node:";

/// Whether an openraft event with these field texts (its message and its `error`, `err` or
/// `result` field) reports an unreachable peer.
pub(crate) fn is_per_rpc_unreachable(target: &str, texts: &[&str]) -> bool {
    target.starts_with("openraft") && texts.iter().any(|t| t.contains(UNREACHABLE))
}

/// A layer that only vetoes: see the module documentation.
pub(crate) struct QuietUnreachablePeers;

/// The fields that can carry the error's text.
const ERROR_FIELDS: &[&str] = &["message", "error", "err", "result"];

#[derive(Default)]
struct Fields {
    texts: Vec<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if ERROR_FIELDS.contains(&field.name()) {
            self.texts.push(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if ERROR_FIELDS.contains(&field.name()) {
            self.texts.push(value.to_string());
        }
    }
}

impl<S: Subscriber> Layer<S> for QuietUnreachablePeers {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if !meta.target().starts_with("openraft") || *meta.level() > tracing::Level::WARN {
            return true;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let texts: Vec<&str> = fields.texts.iter().map(String::as_str).collect();
        !is_per_rpc_unreachable(meta.target(), &texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_openraft_lines_about_an_unreachable_peer_are_dropped() {
        let read = "timeout while confirming leadership for read request";
        let unreachable = "Unreachable node: error sending request for url (http://127.0.0.2:4647/raft/append)";
        let heartbeat = format!("heartbeat error: {unreachable}, no update to inflight data");
        let cases: &[(&str, &[&str], bool)] = &[
            ("openraft::core::raft_core", &[read, unreachable], true),
            ("openraft::replication", &["RPCError", unreachable], true),
            ("openraft::replication", &["error replication to target=2", unreachable], true),
            ("openraft::engine::handler::replication_handler", &["update progress error", unreachable], true),
            ("openraft::engine::handler::replication_handler", &[&heartbeat], true),
            // A peer that was reached but did not answer in time: still logged.
            ("openraft::core::raft_core", &[read, "timeout after 150ms when AppendEntries 1->2"], false),
            ("openraft::replication", &["RPCError", "NetworkError: connection reset"], false),
            // Any other openraft error.
            ("openraft::core::raft_core", &["fail to send HigherVote to RaftCore"], false),
            ("openraft::storage", &["error replication to target=2", "StorageError: disk full"], false),
            // Not openraft.
            ("raftwarden_actors::raft::network", &[read, unreachable], false),
        ];
        for (target, texts, dropped) in cases {
            assert_eq!(is_per_rpc_unreachable(target, texts), *dropped, "{target}: {texts:?}");
        }
    }
}
