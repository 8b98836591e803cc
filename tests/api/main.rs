//! Black-box tests of one real agent process: every status code, header, body and error text
//! of the operator endpoints (spec §10 items named in each case), durability across kill -9,
//! and bad input.

#[path = "../support/mod.rs"]
mod support;

mod t10_raft_configuration;
mod t20_autopilot;
mod t30_scheduler;
mod t40_common_http;
mod t50_durability;
mod t51_replay;
mod t60_bad_input;
mod t65_exactness;
mod t66_metrics;
mod t67_cli_exactness;
mod t70_cli;
mod t80_agent_cli;
mod t85_acl;
mod t86_acl_python;
mod t87_acl_scheduled_snapshots;
mod t87_license;
mod t88_acl_cli;
mod t90_embedding;
mod t95_variables;
mod t97_snapshot_archive;
mod t98_snapshot_cli;
mod t99_snapshot_api;

/// Loopback block of this test binary (127.20.x.y).
pub const BLOCK: u8 = 20;

pub fn net() -> support::Net {
    support::Net::new(BLOCK)
}
