//! The Nomad-compatible command line.

/// Runs a CLI command line (without the program name); returns the process exit code.
pub fn run(_args: Vec<String>) -> i32 {
    1
}
