//! The `raftwarden` binary: `agent` runs a server, everything else is the Nomad-style CLI.

use std::process::ExitCode;

/// The server allocates and frees many small buffers per request (HTTP, JSON, raft entries);
/// mimalloc's per-thread free lists cost less CPU per write than glibc's malloc. Embedders pick
/// their own allocator; this is the binary's choice.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    raftwarden_actors::crypto::install_default_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("agent") => raftwarden::agent::main(&args[1..]),
        // Nomad's `version` command has an empty Help(): hashicorp/cli prints just a newline.
        Some("version")
            if args.iter().take_while(|a| *a != "--").any(|a| matches!(a.as_str(), "-h" | "-help" | "--help")) =>
        {
            println!();
            0
        }
        Some("version" | "-version" | "--version" | "-v") => {
            println!("raftwarden v{}", env!("CARGO_PKG_VERSION"));
            0
        }
        _ => raftwarden::cli::run(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
