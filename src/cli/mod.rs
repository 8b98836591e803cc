//! The Nomad-compatible command line: `raftwarden operator raft|autopilot|scheduler|snapshot ...`,
//! `raftwarden server ...`, `var ...`, `license ...`, `acl ...` and `tls ...`, with Nomad's
//! flags, output texts and exit codes.
//!
//! ```text
//! argv (Go flag syntax) ─> go::argv ─> clap (args: root grammar) ─> execute ─> one command file
//!   operator (+ set_config decisions), server, var, license, acl, snapshot (+ transfer, agent),
//!   tls (certificates, offline)
//!     each: its grammar, its HTTP calls (client, with TLS from client_tls), its texts (render /
//!     format), its errors (error)
//! ```
//!
//! Modules point down: `args` (root grammar) ─> command files ─> `render` ─> `error` ─>
//! `snapshot` ─> `snapshot_agent` ─> `snapshot_transfer` ─> `client` ─> `client_tls` ─> `opts`,
//! and `format` is used by all and uses none; `tls` uses `client_tls` for Go's x509 texts. `error` sits above `snapshot` because `CliError` wraps the snapshot
//! commands' own `SnapshotError`.
//!
//! Success prints to stdout and exits 0; errors go to stderr and exit 1. Help goes to stdout, as
//! Nomad's CLI writes it: exit 0 for `-help`, 1 for a command group without its command, 127
//! for an unknown command; a bad flag prints Go's message on stderr and the help on stdout.

mod acl;
mod args;
mod client;
mod client_tls;
mod error;
mod format;
mod gossip;
mod gotemplate;
mod help;
mod license;
mod operator;
mod opts;
mod render;
mod server;
mod snapshot;
pub(crate) mod snapshot_agent;
mod snapshot_transfer;
mod tls;
mod var;

use args::Cli;
use args::Command;
use error::CliError;

/// Parses argv as [`run`] does, without running anything; `false`: a parse failure (help
/// included). For the fuzz targets (`crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_parse(args: &[String]) -> bool {
    args::parse(args).is_ok()
}

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
        .and_then(|runtime| runtime.block_on(execute(cli)));
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

/// Runs a parsed command line; `Ok` is the text for stdout.
async fn execute(cli: Cli) -> Result<String, CliError> {
    let g = &cli.global;
    match cli.command {
        Command::Operator(o) => operator::execute(g, o).await,
        Command::Server(s) => server::execute(g, s).await,
        Command::Var(v) => var::execute(g, v).await,
        Command::License(l) => license::execute(g, l).await,
        Command::Acl(a) => acl::execute(g, a).await,
        Command::Tls(t) => tls::execute(g, t),
    }
}
