//! The command line grammar (clap derive) and [`parse`], which accepts Nomad's Go-style flags
//! by running them through [`argv::rewrite`] first.
//!
//! Every boolean flag is a Go `BoolVar`: `-json` alone means true and `-json=false` is
//! accepted, but `-json false` is not (the `false` would be a stray argument). Boolean flags of
//! the `set-config` commands are `Option<bool>`: only flags actually given change the
//! configuration.

use std::collections::BTreeSet;

use clap::ArgAction;
use clap::Args;
use clap::CommandFactory;
use clap::Parser;
use clap::Subcommand;

use super::argv;
use crate::go;

#[derive(Debug, Parser)]
#[command(
    name = "raftwarden",
    bin_name = "raftwarden",
    about = "Nomad-compatible operator CLI for raftwarden servers",
    after_help = "Also: `raftwarden agent -config=<file>` runs a server; `raftwarden version` prints the version.",
    disable_help_subcommand = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, as Nomad's `FlagSetClient` does.
#[derive(Debug, Default, Args)]
pub struct GlobalOpts {
    /// Address of the server's HTTP API [default: http://127.0.0.1:4646]
    #[arg(
        long,
        global = true,
        env = "NOMAD_ADDR",
        value_name = "addr",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub address: Option<String>,
    /// ACL token, sent as X-Nomad-Token
    #[arg(
        long,
        global = true,
        env = "NOMAD_TOKEN",
        value_name = "token",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub token: Option<String>,
    /// Region to forward the request to, sent as ?region=
    #[arg(
        long,
        global = true,
        env = "NOMAD_REGION",
        value_name = "region",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub region: Option<String>,
    /// The target namespace for queries and actions bound to a namespace
    #[arg(
        long,
        global = true,
        env = "NOMAD_NAMESPACE",
        value_name = "namespace",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub namespace: Option<String>,
    /// Disables colored command output (this CLI never colours its output)
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub no_color: bool,
    /// Forces colored command output (accepted for compatibility; output is never coloured)
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub force_color: bool,
    /// Path to a PEM CA certificate (only used with https, which this build does not support)
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub ca_cert: Option<String>,
    /// Path to a directory of PEM CA certificates (https only)
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub ca_path: Option<String>,
    /// Path to a PEM client certificate (https only)
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub client_cert: Option<String>,
    /// Path to the client certificate's private key (https only)
    #[arg(long, global = true, value_name = "path", allow_hyphen_values = true)]
    pub client_key: Option<String>,
    /// Server name to use as the SNI host (https only)
    #[arg(long, global = true, value_name = "name", allow_hyphen_values = true)]
    pub tls_server_name: Option<String>,
    /// Do not verify the server's certificate (https only)
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub tls_skip_verify: bool,
    /// Same as -tls-skip-verify
    #[arg(long, global = true, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub insecure: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cluster operator commands: raft, autopilot, scheduler
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Operator(Operator),
    /// Server commands
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Server(Server),
    /// Variable commands: get, put, list, purge
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Var(super::var::Var),
    /// License commands: get, put, inspect, and keygen/issue for the license's signer
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    License(super::license::License),
    /// ACL commands: bootstrap, policy, token
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Acl(super::acl::Acl),
}

#[derive(Debug, Subcommand)]
pub enum Operator {
    /// Raft peer set commands
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Raft(Raft),
    /// Autopilot configuration and health
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Autopilot(Autopilot),
    /// Scheduler configuration
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Scheduler(Scheduler),
    /// Snapshot archives: save, restore, inspect, and the scheduled snapshot agent
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Snapshot(super::snapshot::Snapshot),
}

#[derive(Debug, Subcommand)]
pub enum Raft {
    /// Display the current Raft peer configuration
    ListPeers(ListPeers),
    /// Remove a server from the Raft configuration
    RemovePeer(RemovePeer),
    /// Transfer leadership to another server
    TransferLeadership(TransferLeadership),
}

#[derive(Debug, Subcommand)]
pub enum Autopilot {
    /// Display the current Autopilot configuration
    GetConfig(GetConfig),
    /// Modify the current Autopilot configuration
    SetConfig(AutopilotSetConfig),
    /// Display the current Autopilot health
    Health(Health),
}

#[derive(Debug, Subcommand)]
pub enum Scheduler {
    /// Display the current scheduler configuration
    GetConfig(GetConfig),
    /// Modify the current scheduler configuration
    SetConfig(SchedulerSetConfig),
}

#[derive(Debug, Subcommand)]
pub enum Server {
    /// Display a list of known servers and their status
    Members(Members),
    /// Join server nodes together
    Join(ServerJoin),
    /// Force a server into the 'left' state
    ForceLeave(ForceLeave),
}

#[derive(Debug, Args)]
pub struct ListPeers {
    /// Let any server answer, even without a leader
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub stale: bool,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RemovePeer {
    /// Raft ID of the server to remove
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TransferLeadership {
    /// Raft ID of the server to transfer leadership to
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
    /// Raft address (ip:port) of the server to transfer leadership to
    #[arg(long, value_name = "ip:port", allow_hyphen_values = true)]
    pub peer_address: Option<String>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

/// `-json` / `-t`: print the response object instead of the text form.
#[derive(Debug, Args)]
pub struct Output {
    /// Output the response in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// Format the response with a Go template, e.g. '{{.Field}}'
    #[arg(short = 't', value_name = "template", allow_hyphen_values = true)]
    pub template: Option<String>,
}

#[derive(Debug, Args)]
pub struct GetConfig {
    #[command(flatten)]
    pub output: Output,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Health {
    /// Output the autopilot health in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct AutopilotSetConfig {
    /// Remove dead servers automatically when new ones are added
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub cleanup_dead_servers: Option<bool>,
    /// Log entries a server may trail the leader by and still be healthy
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub max_trailing_logs: Option<u64>,
    /// Minimum number of servers before autopilot prunes dead servers
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub min_quorum: Option<u64>,
    /// Time without leader contact before a server is unhealthy, e.g. 200ms
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub last_contact_threshold: Option<i64>,
    /// Time a new server must be healthy before it is promoted, e.g. 10s
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub server_stabilization_time: Option<i64>,
    /// (Enterprise in Nomad) Enable redundancy zones
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub enable_redundancy_zones: Option<bool>,
    /// (Enterprise in Nomad) Disable upgrade migrations
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub disable_upgrade_migration: Option<bool>,
    /// (Enterprise in Nomad) Enable custom upgrades
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub enable_custom_upgrades: Option<bool>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct SchedulerSetConfig {
    /// Only update if the current ModifyIndex equals this value (0 = no check)
    #[arg(long, value_name = "n", allow_hyphen_values = true)]
    pub check_index: Option<String>,
    /// binpack or spread (the server checks the value)
    #[arg(long, value_name = "algorithm", allow_hyphen_values = true)]
    pub scheduler_algorithm: Option<String>,
    /// Let tasks exceed their reserved memory when the client has spare memory
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub memory_oversubscription: Option<bool>,
    /// Reject job registration, dispatch and scale for non-management tokens
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub reject_job_registration: Option<bool>,
    /// Pause the eval broker
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub pause_eval_broker: Option<bool>,
    /// Enable preemption for batch jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_batch_scheduler: Option<bool>,
    /// Enable preemption for service jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_service_scheduler: Option<bool>,
    /// Enable preemption for system batch jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_sysbatch_scheduler: Option<bool>,
    /// Enable preemption for system jobs
    #[arg(long, value_name = "bool", allow_hyphen_values = true, value_parser = go_bool_value)]
    pub preempt_system_scheduler: Option<bool>,
    /// Nodes to check for feasibility per placement (0 = default 100)
    #[arg(long, value_name = "n", allow_hyphen_values = true, value_parser = go_uint)]
    pub node_limit_for_feasibility_checks: Option<u64>,
    /// Words after the flags, which Nomad ignores
    #[arg(hide = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Members {
    /// Show detailed information about each member (same as -verbose)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub detailed: bool,
    /// Show detailed information about each member, with its raw tags
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub verbose: bool,
    #[command(flatten)]
    pub output: Output,
    /// Nomad takes no arguments; any given is reported as an error
    #[arg(hide = true, allow_hyphen_values = true)]
    pub extra: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServerJoin {
    /// Gossip addresses of servers to join, host[:port] (port 4648 by default)
    #[arg(value_name = "addr", allow_hyphen_values = true)]
    pub addresses: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ForceLeave {
    /// Remove the server from the member list at once instead of leaving it `left`
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub prune: bool,
    /// The member name, `<name>.<region>`
    #[arg(value_name = "node", allow_hyphen_values = true)]
    pub node: Vec<String>,
}

/// Why a command line did not parse, reported as Nomad's CLI (`hashicorp/cli` with its help
/// writer on stdout, and Go's `flag` package) reports it.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseFailure {
    /// `-h`, `-help` or `--help` anywhere before `--`: the command's help on stdout, exit 0.
    Help(String),
    /// No command, or an unknown one: the top-level help on stdout, exit 127.
    NoCommand(String),
    /// A command group without one of its commands: the group's help on stdout, exit 1.
    Group(String),
    /// A flag Go's `flag` package rejects: its message on stderr, the command's help on stdout,
    /// then the command's own line about it (if it prints one) on stderr; exit 1.
    Flag { message: String, help: String, then: Option<String> },
    /// Anything else: clap's text on stderr, exit 1.
    Other(String),
}

impl ParseFailure {
    /// Prints the failure as Nomad does and returns the exit code.
    pub fn report(&self) -> i32 {
        match self {
            ParseFailure::Help(help) => {
                print!("{help}");
                0
            }
            ParseFailure::NoCommand(help) => {
                print!("{help}");
                127
            }
            ParseFailure::Group(help) => {
                print!("{help}");
                1
            }
            ParseFailure::Flag { message, help, then } => {
                eprintln!("{message}");
                print!("{help}");
                if let Some(line) = then {
                    eprintln!("{line}");
                }
                1
            }
            ParseFailure::Other(text) => {
                eprint!("{text}");
                1
            }
        }
    }
}

/// Parses argv (without the program name) written in Go flag syntax. As in Go, a command's
/// flags end at its first argument.
pub fn parse(args: &[String]) -> Result<Cli, ParseFailure> {
    let root = Cli::command();
    let path = command_path(&root, args);
    let before_terminator = args.iter().take_while(|a| *a != "--");
    if before_terminator.clone().any(|a| matches!(a.as_str(), "-h" | "-help" | "--help")) {
        return Err(ParseFailure::Help(help_of(&path)));
    }
    let value_flags = value_flags(&root);
    let takes_value = |name: &str| value_flags.contains(name);
    let words = if path.is_empty() {
        argv::rewrite(args, takes_value)
    } else {
        let mut words = path.clone();
        words.extend(argv::rewrite_flags_then_args(&args[path.len()..], takes_value));
        words
    };
    Cli::try_parse_from(std::iter::once("raftwarden".to_string()).chain(words)).map_err(|e| classify(&e, &path))
}

/// The leading words of `args` that name a command and its subcommands.
fn command_path(root: &clap::Command, args: &[String]) -> Vec<String> {
    let mut path = Vec::new();
    let mut cmd = root;
    for word in args {
        let Some(sub) = cmd.find_subcommand(word) else { break };
        path.push(word.clone());
        cmd = sub;
    }
    path
}

/// The help text of the command named by `path` (the top level when empty).
fn help_of(path: &[String]) -> String {
    let args = std::iter::once("raftwarden".to_string()).chain(path.iter().cloned()).chain(["--help".to_string()]);
    match Cli::try_parse_from(args) {
        Err(e) => argv::go_style(&e.render().to_string()),
        Ok(_) => String::new(),
    }
}

/// clap's error as Nomad's CLI would have reported the same command line.
fn classify(e: &clap::Error, path: &[String]) -> ParseFailure {
    use clap::error::ContextKind;
    use clap::error::ContextValue;
    use clap::error::ErrorKind;
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // clap names a flag with its placeholder (`--peer-id <id>`, `--stale[=<bool>]`); Go with
    // the name as typed without its dashes or value.
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    let name = arg.trim_start_matches('-').split([' ', '=', '[']).next().unwrap_or_default().to_string();
    let flag = |message: String| ParseFailure::Flag {
        message: message.clone(),
        help: help_of(path),
        then: then_line(path, &message),
    };
    match e.kind() {
        ErrorKind::DisplayHelp => ParseFailure::Help(help_of(path)),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        | ErrorKind::MissingSubcommand
        | ErrorKind::InvalidSubcommand => {
            if path.is_empty() {
                ParseFailure::NoCommand(help_of(path))
            } else {
                ParseFailure::Group(help_of(path))
            }
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') => flag(format!("flag provided but not defined: -{name}")),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if !name.is_empty() => {
            match context(ContextKind::InvalidValue).filter(|v| !v.is_empty()) {
                None => flag(format!("flag needs an argument: -{name}")),
                // Go's bool flags (our `-flag[=<bool>]` switches) say only "parse error".
                Some(value) if arg.contains("[=") => {
                    flag(format!("invalid boolean value {} for -{name}: parse error", go::quote(&value)))
                }
                Some(value) => {
                    let reason =
                        std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| "parse error".into());
                    flag(format!("invalid value {} for flag -{name}: {reason}", go::quote(&value)))
                }
            }
        }
        _ => ParseFailure::Other(argv::go_style(&e.render().to_string())),
    }
}

/// What a command prints on stderr after Go's flag error and its help: most print
/// `Failed to parse args: <error>`, `var put` where to get help, the others nothing.
fn then_line(path: &[String], message: &str) -> Option<String> {
    match path.join(" ").as_str() {
        "operator raft list-peers"
        | "operator raft remove-peer"
        | "operator raft transfer-leadership"
        | "operator autopilot get-config"
        | "operator autopilot set-config"
        | "operator autopilot health"
        | "operator snapshot save"
        | "operator snapshot restore" => Some(format!("Failed to parse args: {message}")),
        "var put" => Some("For additional help try 'raftwarden var put -help'".into()),
        _ => None,
    }
}

/// Parses argv (without the program name) written in Go flag syntax into any clap grammar;
/// `bin` names the program in clap's texts. The agent's flags use it too.
pub(crate) fn parse_go_style<P: Parser>(bin: &str, args: &[String]) -> Result<P, clap::Error> {
    let value_flags = value_flags(&P::command());
    let rewritten = argv::rewrite(args, |name| value_flags.contains(name));
    P::try_parse_from(std::iter::once(bin.to_string()).chain(rewritten))
}

/// Names of the flags, in any command, that take the next word as their value when written
/// without `=` (boolean flags require `=`, so they never do).
fn value_flags(cmd: &clap::Command) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for arg in cmd.get_arguments() {
        if arg.get_action().takes_values() && !arg.is_require_equals_set() {
            names.extend(arg.get_long().map(str::to_string));
            names.extend(arg.get_short().map(String::from));
        }
    }
    for sub in cmd.get_subcommands() {
        names.extend(value_flags(sub));
    }
    names
}

/// Go's `strconv.ParseBool`, with the text Go's `flag` package gives a bad boolean.
pub(crate) fn go_bool(s: &str) -> Result<bool, String> {
    go::parse_bool(s).ok_or_else(|| format!("parse error: strconv.ParseBool: parsing {}: invalid syntax", go::quote(s)))
}

/// A boolean flag that takes a value (Nomad's `flaghelper.BoolValue`): `-flag true` and
/// `-flag=true`, never `-flag` alone; errors carry `strconv`'s text.
pub(crate) fn go_bool_value(s: &str) -> Result<bool, String> {
    go::parse_bool(s).ok_or_else(|| format!("strconv.ParseBool: parsing {}: invalid syntax", go::quote(s)))
}

/// Go's `strconv.ParseUint(s, 0, 64)` (Nomad's `flaghelper.UintValue`): decimal, `0x`, `0o`,
/// `0b` or leading-`0` octal, with `_` between digits; `strconv`'s error texts.
pub(crate) fn go_uint(s: &str) -> Result<u64, String> {
    let fail = |why: &str| format!("strconv.ParseUint: parsing {}: {why}", go::quote(s));
    if s.is_empty() {
        return Err(fail("invalid syntax"));
    }
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = match lower.as_bytes() {
        [b'0', b'b', _, ..] => (&s[2..], 2),
        [b'0', b'o', _, ..] => (&s[2..], 8),
        [b'0', b'x', _, ..] => (&s[2..], 16),
        [b'0', ..] => (&s[1..], 8),
        _ => (s, 10),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(36).filter(|&d| d < radix).ok_or_else(|| fail("invalid syntax"))?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or_else(|| fail("value out of range"))?;
    }
    if underscores && !underscore_ok(s) {
        return Err(fail("invalid syntax"));
    }
    Ok(n)
}

/// Go's `underscoreOK`: underscores only between digits, or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `time.ParseDuration`, in nanoseconds.
fn go_duration(s: &str) -> Result<i64, go::duration::DurationError> {
    go::duration::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Cli, ParseFailure> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args)
    }

    fn ok(args: &[&str]) -> Cli {
        p(args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"))
    }

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn value_flags_are_known() {
        let names = value_flags(&Cli::command());
        for n in ["address", "token", "region", "peer-id", "peer-address", "t", "check-index", "min-quorum"] {
            assert!(names.contains(n), "{n}");
        }
        for n in ["cleanup-dead-servers", "pause-eval-broker", "namespace", "ca-cert"] {
            assert!(names.contains(n), "{n}");
        }
        for n in ["stale", "json", "no-color", "tls-skip-verify"] {
            assert!(!names.contains(n), "{n}");
        }
    }

    #[test]
    fn global_flags_in_go_syntax() {
        let cli = ok(&["operator", "raft", "list-peers", "-address=http://x:1", "-token", "abc", "-region", "r1"]);
        assert_eq!(cli.global.address.as_deref(), Some("http://x:1"));
        assert_eq!(cli.global.token.as_deref(), Some("abc"));
        assert_eq!(cli.global.region.as_deref(), Some("r1"));
        assert!(matches!(
            cli.command,
            Command::Operator(Operator::Raft(Raft::ListPeers(ListPeers { stale: false, .. })))
        ));
    }

    #[test]
    fn boolean_switches() {
        for (args, want) in [(&["-stale"][..], true), (&["-stale=false"], false), (&["-stale=T"], true), (&[], false)] {
            let cli = ok(&[&["operator", "raft", "list-peers"][..], args].concat());
            let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
            assert_eq!(lp.stale, want, "{args:?}");
        }
        assert!(p(&["operator", "raft", "list-peers", "-stale=maybe"]).is_err());
        // Go never lets a switch take the next word: `false` is the first argument.
        let cli = ok(&["operator", "raft", "list-peers", "-stale", "false"]);
        let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
        assert!(lp.stale && lp.extra == ["false"]);
    }

    #[test]
    fn template_flag_is_short() {
        for args in [&["-t", "{{.A}}"][..], &["-t={{.A}}"], &["--t", "{{.A}}"]] {
            let cli = ok(&[&["operator", "scheduler", "get-config"][..], args].concat());
            let Command::Operator(Operator::Scheduler(Scheduler::GetConfig(g))) = cli.command else { panic!() };
            assert_eq!(g.output.template.as_deref(), Some("{{.A}}"), "{args:?}");
            assert!(!g.output.json);
        }
        let cli = ok(&["operator", "autopilot", "get-config", "-json"]);
        let Command::Operator(Operator::Autopilot(Autopilot::GetConfig(g))) = cli.command else { panic!() };
        assert!(g.output.json);
    }

    #[test]
    fn autopilot_set_config_flags() {
        let cli = ok(&[
            "operator",
            "autopilot",
            "set-config",
            "-cleanup-dead-servers=false",
            "-max-trailing-logs=99",
            "-min-quorum",
            "3",
            "-last-contact-threshold=123ms",
            "-server-stabilization-time=1m30s",
            "-enable-redundancy-zones",
            "true",
        ]);
        let Command::Operator(Operator::Autopilot(Autopilot::SetConfig(s))) = cli.command else { panic!() };
        assert_eq!(s.cleanup_dead_servers, Some(false));
        assert_eq!(s.max_trailing_logs, Some(99));
        assert_eq!(s.min_quorum, Some(3));
        assert_eq!(s.last_contact_threshold, Some(123_000_000));
        assert_eq!(s.server_stabilization_time, Some(90_000_000_000));
        assert_eq!(s.enable_redundancy_zones, Some(true));
        assert_eq!(s.disable_upgrade_migration, None);
        assert_eq!(s.enable_custom_upgrades, None);
        let err = p(&["operator", "autopilot", "set-config", "-last-contact-threshold=12x"]).unwrap_err();
        let ParseFailure::Flag { message, .. } = err else { panic!("{err:?}") };
        assert!(
            message.starts_with("invalid value \"12x\" for flag -last-contact-threshold: time: unknown unit"),
            "{message}"
        );
        // Nomad's set-config booleans take a value: alone they are an error, as in Go.
        let err = p(&["operator", "autopilot", "set-config", "-cleanup-dead-servers"]).unwrap_err();
        let ParseFailure::Flag { message, then, .. } = err else { panic!("{err:?}") };
        assert_eq!(message, "flag needs an argument: -cleanup-dead-servers");
        assert_eq!(then.as_deref(), Some("Failed to parse args: flag needs an argument: -cleanup-dead-servers"));
        let err = p(&["operator", "autopilot", "set-config", "-min-quorum=0x1_0", "-max-trailing-logs=x"]).unwrap_err();
        let ParseFailure::Flag { message, .. } = err else { panic!("{err:?}") };
        assert_eq!(
            message,
            "invalid value \"x\" for flag -max-trailing-logs: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert!(p(&["operator", "autopilot", "set-config", "-max-trailing-logs=-1"]).is_err());
    }

    #[test]
    fn scheduler_set_config_flags() {
        let cli = ok(&[
            "operator",
            "scheduler",
            "set-config",
            "-check-index=7",
            "-scheduler-algorithm=spread",
            "-preempt-system-scheduler=false",
            "-memory-oversubscription",
            "true",
            "-node-limit-for-feasibility-checks=200",
        ]);
        let Command::Operator(Operator::Scheduler(Scheduler::SetConfig(s))) = cli.command else { panic!() };
        assert_eq!(s.check_index.as_deref(), Some("7"));
        assert_eq!(s.scheduler_algorithm.as_deref(), Some("spread"));
        assert_eq!(s.preempt_system_scheduler, Some(false));
        assert_eq!(s.memory_oversubscription, Some(true));
        assert_eq!(s.pause_eval_broker, None);
        assert_eq!(s.node_limit_for_feasibility_checks, Some(200));
        // The server, not the CLI, checks the algorithm, as in Nomad.
        assert!(p(&["operator", "scheduler", "set-config", "-scheduler-algorithm=random"]).is_ok());
    }

    #[test]
    fn usage_errors() {
        let fail = |args: &[&str]| p(args).map(|_| ()).unwrap_err();
        let flag_message = |args: &[&str]| match fail(args) {
            ParseFailure::Flag { message, help, then } => {
                assert!(help.contains("Usage: raftwarden"), "{help}");
                (message, then)
            }
            other => panic!("{args:?}: {other:?}"),
        };
        assert_eq!(
            flag_message(&["operator", "scheduler", "get-config", "-yaml"]),
            ("flag provided but not defined: -yaml".into(), None)
        );
        assert_eq!(
            flag_message(&["operator", "scheduler", "set-config", "--scheduler-algorithmm=spread"]).0,
            "flag provided but not defined: -scheduler-algorithmm"
        );
        assert_eq!(
            flag_message(&["operator", "raft", "remove-peer", "-peer-id"]),
            (
                "flag needs an argument: -peer-id".into(),
                Some("Failed to parse args: flag needs an argument: -peer-id".into())
            )
        );
        assert_eq!(
            flag_message(&["operator", "raft", "list-peers", "-stale=maybe"]).0,
            "invalid boolean value \"maybe\" for -stale: parse error"
        );
        // Flags end at the first argument; commands that take none ignore them, as in Nomad.
        let cli = ok(&["operator", "raft", "list-peers", "extra", "-yaml"]);
        let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
        assert_eq!(lp.extra, ["extra", "-yaml"]);
        assert!(!lp.stale);
        // Help: stdout, exit 0 for -help anywhere; 1 for a group; 127 for no or an unknown command.
        for args in
            [&["operator", "raft", "list-peers", "-help"][..], &["operator", "raft", "list-peers", "-yaml", "-h"]]
        {
            let ParseFailure::Help(help) = fail(args) else { panic!("{args:?}") };
            assert!(help.contains("Usage: raftwarden operator raft list-peers"), "{help}");
        }
        assert!(
            matches!(fail(&["operator", "nothing"]), ParseFailure::Group(h) if h.contains("Usage: raftwarden operator"))
        );
        assert!(matches!(fail(&["operator", "raft"]), ParseFailure::Group(_)));
        assert!(matches!(fail(&[]), ParseFailure::NoCommand(_)));
        assert!(matches!(fail(&["nothing"]), ParseFailure::NoCommand(h) if h.contains("Usage: raftwarden")));
    }

    #[test]
    fn go_unsigned_integers() {
        let ok = [
            ("0", 0),
            ("10", 10),
            ("010", 8),
            ("0x1f", 31),
            ("0X1F", 31),
            ("0b101", 5),
            ("0o17", 15),
            ("1_000", 1000),
            ("0x_1", 1),
        ];
        for (s, want) in ok {
            assert_eq!(go_uint(s), Ok(want), "{s}");
        }
        for s in ["", "-1", "+1", "1_", "_1", "1__0", "0x", "09", "1e3", " 1"] {
            assert_eq!(go_uint(s), Err(format!("strconv.ParseUint: parsing {}: invalid syntax", go::quote(s))), "{s}");
        }
        assert!(go_uint("18446744073709551616").unwrap_err().ends_with("value out of range"));
        assert_eq!(go_uint("18446744073709551615"), Ok(u64::MAX));
    }
}
