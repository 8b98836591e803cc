//! Black-box tests of the command line: the Nomad-compatible commands (`operator`, `acl`,
//! `var`, `server`, `operator snapshot`, `tls`) run as processes against a real agent on 127.40.x.y,
//! or against a scripted HTTP server where an agent cannot be made to answer that way, and the
//! `agent` command's own flags, file errors and logs.

#[path = "../support/mod.rs"]
mod support;

mod t60_tls_certs;
mod t61_tls_cli;
mod t62_gossip_keyring;
mod t67_cli_exactness;
mod t68_nomad_help_and_json;
mod t70_cli;
mod t80_agent_cli;
mod t81_nomad_configs;
mod t88_acl_cli;
mod t95_var_cli;
mod t97_snapshot_archive;
mod t98_snapshot_cli;

/// Loopback block of this test binary (127.40.x.y).
pub const BLOCK: u8 = 40;

pub fn net() -> support::Net {
    support::Net::new(BLOCK)
}
