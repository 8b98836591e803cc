//! Black-box tests of the HTTP API, each case against one real agent process (or, for the
//! embedding cases, servers in this process): every status code, header, body and error text
//! of the operator, status, ACL, license, variables, snapshot and metrics endpoints (spec §10
//! items named in each case), durability across kill -9 and a full disk, replay on restart, bad
//! input, and the embedding API. The command line has its own binary, `tests/cli`; the license
//! cases keep their `license` commands next to the endpoint those drive, and a scheduled save
//! is checked with `snapshot inspect`.

#[path = "../support/mod.rs"]
mod support;

mod t10_raft_configuration;
mod t20_autopilot;
mod t30_scheduler;
mod t40_common_http;
mod t41_conn_limits;
mod t50_durability;
mod t51_replay;
mod t60_bad_input;
mod t65_exactness;
mod t66_metrics;
mod t68_agent_stats_and_odd_input;
mod t85_acl;
mod t86_acl_python;
mod t87_acl_scheduled_snapshots;
mod t88_rpc_authorization;
mod t89_license;
mod t90_embedding;
mod t92_tls;
mod t95_variables;
mod t99_snapshot_api;

/// Loopback block of this test binary (127.20.x.y).
pub const BLOCK: u8 = 20;

pub fn net() -> support::Net {
    support::Net::new(BLOCK)
}
