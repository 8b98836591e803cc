//! Multi-server tests: real agent processes on 127.30.x.y forming, forwarding, failing over,
//! and losing nothing that was acknowledged, also when a server runs out of disk.

#[path = "../support/mod.rs"]
mod support;

mod nemesis;

mod t10_forming;
mod t20_forwarding;
mod t25_concurrent_writers;
mod t30_failover;
mod t40_membership;
mod t50_snapshot_install;
mod t60_storage_fault;
mod t62_clock_jump;
mod t70_variables;
mod t80_snapshot;
mod t85_acl;
mod t86_acl_on_the_leader;
mod t87_license;
mod t90_gossip;
mod t91_python_nomad;
mod t92_tls_rpc;
mod t93_gossip_keyring;
mod t94_seen_faults;
mod t95_autopilot;
mod t96_peer_connections;
mod t97_nemesis;
mod t97_soak;
mod t98_crash_points;
mod t99_ui;

/// Loopback block of this test binary (127.30.x.y).
pub const BLOCK: u8 = 30;

pub fn net() -> support::Net {
    support::Net::new(BLOCK)
}
