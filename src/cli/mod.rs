//! The Nomad-compatible command line: `raftwarden operator raft|autopilot|scheduler ...`,
//! `raftwarden server members`, `raftwarden acl ...`, with Nomad's flags, output texts and exit codes.
//!
//! ```text
//! argv (Go flag syntax) ─> argv::rewrite ─> clap (args) ─> commands (async, one HTTP client)
//!                                                            ├─> update: set-config merges, CAS index
//!                                                            └─> render / format: tables, -json, -t
//! ```
//!
//! Success prints to stdout and exits 0; errors go to stderr and exit 1. Help goes to stdout, as
//! Nomad's CLI writes it: exit 0 for `-help`, 1 for a command group without its command, 127
//! for an unknown command; a bad flag prints Go's message on stderr and the help on stdout.

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
        Err(failure) => return failure.report(),
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
        // Nomad prints these outcomes with `Ui.Output`, yet exits 1.
        Err(e) if e.is_output() => {
            println!("{e}");
            1
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
