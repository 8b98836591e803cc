//! The Nomad-compatible command line: `raftwarden operator ...` and `raftwarden server members`,
//! with Nomad's flags (Go `flag` syntax), output texts and exit codes.

mod client;
mod commands;
pub mod flags;
pub mod format;

/// Runs a CLI command line (without the program name); returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    let words: Vec<&str> = args.iter().take_while(|a| !a.starts_with('-')).map(String::as_str).collect();
    let rest = &args[words.len()..];
    let cmd = match words.as_slice() {
        ["operator", "raft", "list-peers"] => commands::raft_list_peers,
        ["operator", "raft", "remove-peer"] => commands::raft_remove_peer,
        ["operator", "raft", "transfer-leadership"] => commands::raft_transfer_leadership,
        ["operator", "autopilot", "get-config"] => commands::autopilot_get_config,
        ["operator", "autopilot", "set-config"] => commands::autopilot_set_config,
        ["operator", "autopilot", "health"] => commands::autopilot_health,
        ["operator", "scheduler", "get-config"] => commands::scheduler_get_config,
        ["operator", "scheduler", "set-config"] => commands::scheduler_set_config,
        ["server", "members"] => commands::server_members,
        [] if rest.iter().any(|a| a == "-h" || a == "-help" || a == "--help") => {
            println!("{}", USAGE);
            return 0;
        }
        _ => {
            eprintln!("{}", USAGE);
            return 1;
        }
    };
    cmd(rest)
}

const USAGE: &str = "Usage: raftwarden <command> [options]

Commands:
    agent                                 Run a raftwarden server agent
    operator raft list-peers              Display the current Raft peer configuration
    operator raft remove-peer             Remove a server from the Raft configuration
    operator raft transfer-leadership     Move leadership to another server
    operator autopilot get-config         Display the current Autopilot configuration
    operator autopilot set-config         Modify the current Autopilot configuration
    operator autopilot health             Display the current Autopilot health
    operator scheduler get-config         Display the current scheduler configuration
    operator scheduler set-config         Modify the current scheduler configuration
    server members                        Display the servers of the cluster
    version                               Print the version

Global options: -address=<addr> (NOMAD_ADDR), -token=<token> (NOMAD_TOKEN), -region=<region> (NOMAD_REGION)";
