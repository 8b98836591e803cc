//! The Nomad-compatible command line: `raftwarden operator raft|autopilot|scheduler ...`,
//! `raftwarden server members`, `raftwarden acl ...`, with Nomad's flags, output texts and exit codes.
//!
//! ```text
//! argv (Go flag syntax) ─> argv::rewrite ─> clap (args) ─> commands (async, one HTTP client)
//!                                                            ├─> update: set-config merges, CAS index
//!                                                            └─> render / format: tables, -json, -t
//! ```
//!
//! Success prints to stdout and exits 0; every error, usage text included, goes to stderr and
//! exits 1 (0 for an explicit `-help`).

mod acl;
pub(crate) mod args;
pub(crate) mod argv;
mod client;
mod commands;
mod error;
mod format;
mod license;
mod render;
mod snapshot;
pub(crate) mod snapshot_agent;
mod snapshot_transfer;
mod update;
mod var;

use error::CliError;

/// Runs a CLI command line (without the program name); returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let cli = match args::parse(&args) {
        Ok(cli) => cli,
        Err(e) => {
            eprint!("{}", argv::go_style(&e.render().to_string()));
            // clap's code is 0 for -help and 2 for usage errors; Nomad's CLI uses 1 for the latter.
            return if e.exit_code() == 0 { 0 } else { 1 };
        }
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(commands::execute(cli)));
    match result {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(CliError::Expired(out)) => {
            print!("{out}");
            1
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
