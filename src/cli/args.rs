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
}

#[derive(Debug, Args)]
pub struct RemovePeer {
    /// Raft ID of the server to remove
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct TransferLeadership {
    /// Raft ID of the server to transfer leadership to
    #[arg(long, value_name = "id", allow_hyphen_values = true)]
    pub peer_id: Option<String>,
    /// Raft address (ip:port) of the server to transfer leadership to
    #[arg(long, value_name = "ip:port", allow_hyphen_values = true)]
    pub peer_address: Option<String>,
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
}

#[derive(Debug, Args)]
pub struct Health {
    /// Output the autopilot health in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
}

#[derive(Debug, Default, Args)]
pub struct AutopilotSetConfig {
    /// Remove dead servers automatically when new ones are added
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub cleanup_dead_servers: Option<bool>,
    /// Log entries a server may trail the leader by and still be healthy
    #[arg(long, value_name = "n")]
    pub max_trailing_logs: Option<u64>,
    /// Minimum number of servers before autopilot prunes dead servers
    #[arg(long, value_name = "n")]
    pub min_quorum: Option<u64>,
    /// Time without leader contact before a server is unhealthy, e.g. 200ms
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub last_contact_threshold: Option<i64>,
    /// Time a new server must be healthy before it is promoted, e.g. 10s
    #[arg(long, value_name = "duration", allow_hyphen_values = true, value_parser = go_duration)]
    pub server_stabilization_time: Option<i64>,
    /// (Enterprise in Nomad) Enable redundancy zones
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub enable_redundancy_zones: Option<bool>,
    /// (Enterprise in Nomad) Disable upgrade migrations
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub disable_upgrade_migration: Option<bool>,
    /// (Enterprise in Nomad) Enable custom upgrades
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub enable_custom_upgrades: Option<bool>,
}

#[derive(Debug, Default, Args)]
pub struct SchedulerSetConfig {
    /// Only update if the current ModifyIndex equals this value (0 = no check)
    #[arg(long, value_name = "n")]
    pub check_index: Option<u64>,
    /// binpack or spread
    #[arg(long, value_name = "algorithm", value_parser = ["binpack", "spread"])]
    pub scheduler_algorithm: Option<String>,
    /// Let tasks exceed their reserved memory when the client has spare memory
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub memory_oversubscription: Option<bool>,
    /// Reject job registration, dispatch and scale for non-management tokens
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub reject_job_registration: Option<bool>,
    /// Pause the eval broker
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub pause_eval_broker: Option<bool>,
    /// Enable preemption for batch jobs
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub preempt_batch_scheduler: Option<bool>,
    /// Enable preemption for service jobs
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub preempt_service_scheduler: Option<bool>,
    /// Enable preemption for system batch jobs
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub preempt_sysbatch_scheduler: Option<bool>,
    /// Enable preemption for system jobs
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool",
          value_parser = go_bool)]
    pub preempt_system_scheduler: Option<bool>,
    /// Nodes to check for feasibility per placement (0 = default 100)
    #[arg(long, value_name = "n")]
    pub node_limit_for_feasibility_checks: Option<u64>,
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

/// Parses argv (without the program name) written in Go flag syntax.
pub fn parse(args: &[String]) -> Result<Cli, clap::Error> {
    parse_go_style("raftwarden", args)
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

/// Go's `time.ParseDuration`, in nanoseconds.
fn go_duration(s: &str) -> Result<i64, go::duration::DurationError> {
    go::duration::parse(s)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn p(args: &[&str]) -> Result<Cli, clap::Error> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        parse(&args)
    }

    fn ok(args: &[&str]) -> Cli {
        p(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
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
        for n in ["stale", "json", "cleanup-dead-servers", "pause-eval-broker"] {
            assert!(!names.contains(n), "{n}");
        }
    }

    #[test]
    fn global_flags_in_go_syntax() {
        let cli = ok(&["operator", "raft", "list-peers", "-address=http://x:1", "-token", "abc", "-region", "r1"]);
        assert_eq!(cli.global.address.as_deref(), Some("http://x:1"));
        assert_eq!(cli.global.token.as_deref(), Some("abc"));
        assert_eq!(cli.global.region.as_deref(), Some("r1"));
        assert!(matches!(cli.command, Command::Operator(Operator::Raft(Raft::ListPeers(ListPeers { stale: false })))));
    }

    #[test]
    fn boolean_switches() {
        for (args, want) in [(&["-stale"][..], true), (&["-stale=false"], false), (&["-stale=T"], true), (&[], false)] {
            let cli = ok(&[&["operator", "raft", "list-peers"][..], args].concat());
            let Command::Operator(Operator::Raft(Raft::ListPeers(lp))) = cli.command else { panic!() };
            assert_eq!(lp.stale, want, "{args:?}");
        }
        assert!(p(&["operator", "raft", "list-peers", "-stale=maybe"]).is_err());
        // Go never lets a switch take the next word.
        assert!(p(&["operator", "raft", "list-peers", "-stale", "false"]).is_err());
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
        assert!(err.to_string().contains("time: unknown unit"), "{err}");
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
            "-node-limit-for-feasibility-checks=200",
        ]);
        let Command::Operator(Operator::Scheduler(Scheduler::SetConfig(s))) = cli.command else { panic!() };
        assert_eq!(s.check_index, Some(7));
        assert_eq!(s.scheduler_algorithm.as_deref(), Some("spread"));
        assert_eq!(s.preempt_system_scheduler, Some(false));
        assert_eq!(s.memory_oversubscription, Some(true));
        assert_eq!(s.pause_eval_broker, None);
        assert_eq!(s.node_limit_for_feasibility_checks, Some(200));
        assert!(p(&["operator", "scheduler", "set-config", "-scheduler-algorithm=random"]).is_err());
    }

    #[test]
    fn usage_errors() {
        use clap::error::ErrorKind;
        let kind = |args: &[&str]| p(args).map(|_| ()).unwrap_err().kind();
        assert_eq!(kind(&["operator", "scheduler", "get-config", "-yaml"]), ErrorKind::UnknownArgument);
        assert_eq!(
            kind(&["operator", "scheduler", "set-config", "-scheduler-algorithmm=spread"]),
            ErrorKind::UnknownArgument
        );
        assert_eq!(kind(&["operator", "raft", "list-peers", "extra"]), ErrorKind::UnknownArgument);
        assert_eq!(kind(&["operator", "nothing"]), ErrorKind::InvalidSubcommand);
        assert_eq!(kind(&["operator", "raft", "list-peers", "-help"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["operator", "raft", "list-peers", "-h"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["operator", "raft"]), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(kind(&[]), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(kind(&["operator", "raft", "remove-peer", "-peer-id"]), ErrorKind::InvalidValue);
    }
}
