//! The root of the command line grammar (clap derive): [`Cli`] and its commands, whose own
//! grammars live with their code (`operator`, `server`, `var`, `license`, `acl`, `tls`), and [`parse`],
//! which accepts Nomad's Go-style flags by running them through [`argv::rewrite`] first and
//! reports a command line that does not parse as Nomad does ([`ParseFailure`]).
//!
//! Every boolean flag is a Go `BoolVar`: `-json` alone means true and `-json=false` is
//! accepted, but `-json false` is not (the `false` would be a stray argument). Boolean flags of
//! the `set-config` commands are `Option<bool>`: only flags actually given change the
//! configuration.

use clap::CommandFactory;
use clap::Parser;
use clap::Subcommand;

use super::acl::Acl;
use super::help;
use super::license::License;
use super::operator::Operator;
use super::opts::GlobalOpts;
use super::server::Server;
use super::tls::Tls;
use super::var::Var;
use crate::go;
use crate::go::argv;
use crate::go::flag::value_flags;

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
    Var(Var),
    /// License commands: get, put, inspect, and keygen/issue for the license's signer
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    License(License),
    /// ACL commands: bootstrap, policy, token
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Acl(Acl),
    /// Generate self-signed TLS certificates for Nomad: ca create|info, cert create|info
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Tls(Tls),
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
    /// Flags before the command's name: `hashicorp/cli`'s refusal, then the command's help, on
    /// stdout; exit 1.
    TopFlags(String),
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
            ParseFailure::TopFlags(help) => {
                print!(
                    "Invalid flags before the subcommand. If these flags are for\n\
                     the subcommand, please put them after the subcommand.\n\n{help}"
                );
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
    let line = split(&root, args);
    // As in hashicorp/cli, `-help` without a command is the top-level help (exit 0), and an
    // unknown command wins over `-help`.
    if line.help && (!line.path.is_empty() || !line.named) {
        return Err(ParseFailure::Help(help_of(&line.path)));
    }
    if line.path.is_empty() {
        return Err(ParseFailure::NoCommand(help_of(&[])));
    }
    if !line.top_flags.is_empty() {
        return Err(ParseFailure::TopFlags(help_of(&line.path)));
    }
    let path = line.path;
    // The longest known command is a group: hashicorp/cli runs it, and Nomad's group commands
    // answer RunResultHelp whatever follows (`operator raft -stale` included).
    let named = path.iter().try_fold(&root, |cmd, word| cmd.find_subcommand(word));
    if named.is_some_and(clap::Command::has_subcommands) {
        return Err(ParseFailure::Group(help_of(&path)));
    }
    let value_flags = value_flags(&root);
    let takes_value = |name: &str| value_flags.contains(name);
    let mut words = path.clone();
    words.extend(argv::rewrite_flags_then_args(&args[path.len()..], takes_value));
    Cli::try_parse_from(std::iter::once("raftwarden".to_string()).chain(words)).map_err(|e| classify(&e, &path))
}

/// A command line as `hashicorp/cli`'s `processArgs` splits it before the command runs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Line {
    /// `-h`, `-help` or `--help` appears before `--`.
    help: bool,
    /// Words starting with `-` before the command's name.
    top_flags: Vec<String>,
    /// A word that is not a flag was found (it may name no command).
    named: bool,
    /// The words naming the command (the longest known command at the first non-flag word).
    path: Vec<String>,
}

/// Splits `args` as `hashicorp/cli` does: help flags anywhere before `--`, flags before the
/// command's name, and the command named by the longest run of known words from the first
/// word that is not a flag.
fn split(root: &clap::Command, args: &[String]) -> Line {
    let mut line = Line::default();
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        if matches!(arg.as_str(), "-h" | "-help" | "--help") {
            line.help = true;
            continue;
        }
        if line.named || arg.is_empty() {
            continue;
        }
        if arg.starts_with('-') {
            line.top_flags.push(arg.clone());
            continue;
        }
        line.named = true;
        line.path = command_path(root, &args[i..]);
    }
    line
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

/// The help text of the command named by `path` (the top level when empty): Nomad's text
/// where the command has one ([`help`]), clap's otherwise.
fn help_of(path: &[String]) -> String {
    if path.is_empty() {
        return help::top_level();
    }
    if let Some(text) = help::render(path) {
        return text;
    }
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

/// Parses a command line written as string literals, for the grammar tests here and in the
/// subcommand files.
#[cfg(test)]
pub(crate) fn parse_strs(args: &[&str]) -> Result<Cli, ParseFailure> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    parse(&args)
}

/// [`parse_strs`] that must succeed.
#[cfg(test)]
pub(crate) fn parse_ok(args: &[&str]) -> Cli {
    parse_strs(args).unwrap_or_else(|e| panic!("{args:?}: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::operator::ListPeers;
    use crate::cli::operator::Raft;

    use super::parse_ok as ok;
    use super::parse_strs as p;

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
        assert!(matches!(fail(&["operator", "raft", "-stale"]), ParseFailure::Group(h) if h.contains("Subcommands:")));
        assert!(matches!(fail(&[]), ParseFailure::NoCommand(_)));
        assert!(matches!(fail(&["nothing"]), ParseFailure::NoCommand(h) if h.contains("Usage: raftwarden")));
    }
}
