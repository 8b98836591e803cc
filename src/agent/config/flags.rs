//! The agent's flags: a clap grammar behind the same Go-style rewrite as the CLI
//! (`-config=x`, `-retry-join a -retry-join b`, `-dev`), its errors in this agent's words, and
//! a `-help` laid out like `nomad agent -h`.

use std::path::PathBuf;

use clap::error::ContextKind;
use clap::error::ContextValue;
use clap::error::ErrorKind;
use clap::ArgAction;
use clap::CommandFactory;
use clap::Parser;

use super::file::AclBlock;
use super::file::AgentFile;
use super::file::ServerBlock;
use super::ConfigError;
use crate::go::argv::go_style;
use crate::go::flag::go_bool;
use crate::go::flag::parse_go_style;

const GENERAL: &str = "General Options";
const SERVER: &str = "Server Options";
const ACL: &str = "ACL Options";

/// `raftwarden agent` flags, in the order and with the words of `nomad agent -h` for the
/// flags raftwarden supports. `None` (or empty) means "not given", so files keep their values.
#[derive(Debug, Parser)]
#[command(name = "raftwarden agent", disable_version_flag = true)]
pub struct AgentArgs {
    /// The address the agent will bind to for all of its various network
    /// services. The individual services that run bind to individual
    /// ports on this address. Defaults to 0.0.0.0 (127.0.0.1 with -dev).
    #[arg(long, value_name = "addr", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub bind: Option<String>,

    /// The path to either a single config file or a directory of config
    /// files to use for configuring the agent. This option may be
    /// specified multiple times. If multiple config files are used, the
    /// values from each will be merged together. During merging, values
    /// from files found later in the list are merged over values from
    /// previously parsed files.
    #[arg(long = "config", value_name = "path", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub configs: Vec<PathBuf>,

    /// The data directory used to store state and other persistent data.
    /// It holds the server's identity and the replicated log. Required
    /// unless -dev is given.
    #[arg(long, value_name = "path", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub data_dir: Option<PathBuf>,

    /// The name of the datacenter this agent is a member of. By
    /// default this is set to "dc1".
    #[arg(long, value_name = "datacenter", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub dc: Option<String>,

    /// Specify the verbosity level of the agent's logs. Valid values include
    /// TRACE, DEBUG, INFO, WARN and ERROR, in decreasing order of verbosity.
    /// The default is INFO.
    #[arg(long, value_name = "level", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub log_level: Option<String>,

    /// Output logs in a JSON format. The default is false.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "bool", value_parser = go_bool, help_heading = GENERAL, verbatim_doc_comment)]
    pub log_json: Option<bool>,

    /// The name of the local agent. This name is used to identify the node
    /// in the cluster. The name must be unique per region. The default is
    /// the current hostname of the machine.
    #[arg(long, value_name = "name", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub node: Option<String>,

    /// Name of the region the agent will be a member of. By default
    /// this value is set to "global".
    #[arg(long, value_name = "region", help_heading = GENERAL, allow_hyphen_values = true, verbatim_doc_comment)]
    pub region: Option<String>,

    /// Start the agent in development mode: a single server on 127.0.0.1
    /// with a throw-away data directory, removed when the agent stops.
    /// No other configuration is required to start the agent in this mode.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool, help_heading = GENERAL,
          verbatim_doc_comment)]
    pub dev: bool,

    /// Enable server mode for the agent. raftwarden agents are always
    /// servers: this flag (or server { enabled = true }) is required
    /// unless -dev is given.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "bool", value_parser = go_bool, help_heading = SERVER, verbatim_doc_comment)]
    pub server: Option<bool>,

    /// Configures the expected number of servers nodes to wait for before
    /// bootstrapping the cluster. Once <num> servers have joined each other,
    /// the bootstrap process starts.
    #[arg(long, value_name = "num", help_heading = SERVER, allow_hyphen_values = true, verbatim_doc_comment)]
    pub bootstrap_expect: Option<u32>,

    /// Provides the gossip encryption key
    #[arg(long, value_name = "key", help_heading = SERVER, allow_hyphen_values = true, verbatim_doc_comment)]
    pub encrypt: Option<String>,

    /// Address of an agent to join at start time with retries enabled.
    /// Can be specified multiple times.
    #[arg(long, value_name = "address", help_heading = SERVER, allow_hyphen_values = true, verbatim_doc_comment)]
    pub retry_join: Vec<String>,

    /// Specifies whether the agent should enable ACLs.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "bool", value_parser = go_bool, help_heading = ACL, verbatim_doc_comment)]
    pub acl_enabled: Option<bool>,
}

impl AgentArgs {
    /// The flags as the last configuration layer.
    pub fn into_layer(self) -> AgentFile {
        AgentFile {
            name: self.node,
            region: self.region,
            datacenter: self.dc,
            data_dir: self.data_dir,
            bind_addr: self.bind,
            log_level: self.log_level,
            log_json: self.log_json,
            server: Some(ServerBlock {
                enabled: self.server,
                bootstrap_expect: self.bootstrap_expect,
                encrypt: self.encrypt,
                retry_join: self.retry_join,
                ..ServerBlock::default()
            }),
            acl: Some(AclBlock { enabled: self.acl_enabled, ..AclBlock::default() }),
            ..AgentFile::default()
        }
    }
}

/// What `-dev` puts in place of the defaults (under the files and the other flags, as in
/// Nomad): one server on loopback that bootstraps alone.
pub fn dev_layer() -> AgentFile {
    AgentFile {
        bind_addr: Some("127.0.0.1".into()),
        server: Some(ServerBlock { enabled: Some(true), bootstrap_expect: Some(1), ..ServerBlock::default() }),
        ..AgentFile::default()
    }
}

/// Parses the words after `raftwarden agent`.
pub fn parse(args: &[String]) -> Result<AgentArgs, ConfigError> {
    parse_go_style::<AgentArgs>("raftwarden agent", args).map_err(|e| error(&e))
}

/// clap's error in this agent's words (which name flags Go-style, `-node`).
fn error(e: &clap::Error) -> ConfigError {
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // clap names a flag with its value placeholder, `--node <name>`.
    let flag = || context(ContextKind::InvalidArg).map(|a| go_style(a.split([' ', '=', '[']).next().unwrap_or(&a)));
    match e.kind() {
        ErrorKind::DisplayHelp => ConfigError::Help(help()),
        ErrorKind::UnknownArgument => match context(ContextKind::InvalidArg) {
            Some(arg) if arg.starts_with('-') => ConfigError::UnknownFlag(go_style(&arg)),
            Some(arg) => ConfigError::Argument(arg),
            None => ConfigError::Invalid(go_style(&e.render().to_string())),
        },
        ErrorKind::InvalidValue if context(ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) => {
            ConfigError::MissingValue(flag().unwrap_or_default())
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => ConfigError::BadFlag {
            flag: flag().unwrap_or_default(),
            value: context(ContextKind::InvalidValue).unwrap_or_default(),
            reason: std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| "invalid value".into()),
        },
        _ => ConfigError::Invalid(go_style(e.render().to_string().trim_end())),
    }
}

/// `raftwarden agent -help`: usage and every flag by section, laid out like `nomad agent -h`.
pub fn help() -> String {
    let cmd = AgentArgs::command();
    let mut out = String::from(
        "Usage: raftwarden agent [options]

  Starts the raftwarden agent and runs until an interrupt is received.
  The agent is always a server: raftwarden has no client mode.

  The agent's configuration primarily comes from the config files used,
  but a subset of the options may also be passed directly as CLI
  arguments, listed below.
",
    );
    for heading in [GENERAL, SERVER, ACL] {
        out.push_str(&format!("\n{heading}:\n"));
        for arg in cmd.get_arguments().filter(|a| a.get_help_heading() == Some(heading)) {
            let Some(long) = arg.get_long() else { continue };
            let switch = arg.is_require_equals_set();
            match arg.get_value_names().and_then(|v| v.first()) {
                Some(value) if !switch => out.push_str(&format!("\n  -{long}=<{value}>\n")),
                _ => out.push_str(&format!("\n  -{long}\n")),
            }
            for line in arg.get_help().map(|h| h.to_string()).unwrap_or_default().lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_is_consistent() {
        AgentArgs::command().debug_assert();
    }

    #[test]
    fn help_lists_every_flag_by_section() {
        let h = help();
        assert!(h.starts_with("Usage: raftwarden agent [options]\n"), "{h}");
        let order = [
            "General Options:",
            "  -bind=<addr>\n",
            "  -config=<path>\n",
            "  -data-dir=<path>\n",
            "  -dc=<datacenter>\n",
            "  -log-level=<level>\n",
            "  -log-json\n",
            "  -node=<name>\n",
            "  -region=<region>\n",
            "  -dev\n",
            "Server Options:",
            "  -server\n",
            "  -bootstrap-expect=<num>\n",
            "  -encrypt=<key>\n",
            "  -retry-join=<address>\n",
            "ACL Options:",
            "  -acl-enabled\n",
        ];
        let mut at = 0;
        for item in order {
            let found = h[at..].find(item).unwrap_or_else(|| panic!("{item:?} missing or out of order in\n{h}"));
            at += found + item.len();
        }
        assert!(h.contains("\n    The address the agent will bind to"), "{h}");
        assert!(!h.contains("--"), "flags are shown Go-style: {h}");
    }

    #[test]
    fn help_is_asked_for_in_every_spelling() {
        for flag in ["-help", "--help", "-h"] {
            match parse(&[flag.to_string()]) {
                Err(ConfigError::Help(text)) => assert!(text.contains("-retry-join=<address>"), "{text}"),
                other => panic!("{flag}: {other:?}"),
            }
        }
    }

    #[test]
    fn flag_errors_in_our_words() {
        let err = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_err().to_string();
        assert_eq!(err(&["-bogus"]), "unknown flag -bogus");
        assert_eq!(err(&["--bogus=1"]), "unknown flag -bogus");
        assert_eq!(err(&["-node"]), "flag -node needs a value");
        assert_eq!(err(&["-dev", "stray"]), "unexpected argument \"stray\" (flags are written -name=value)");
        assert_eq!(
            err(&["-bootstrap-expect=x"]),
            "invalid value \"x\" for flag -bootstrap-expect: invalid digit found in string"
        );
        assert_eq!(
            err(&["-dev=maybe"]),
            "invalid value \"maybe\" for flag -dev: parse error: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }

    #[test]
    fn values_and_switches() {
        let a = parse(
            &[
                "-dev=false",
                "-server",
                "-log-json=false",
                "-config",
                "a.hcl",
                "-config=b",
                "-retry-join",
                "x",
                "-node",
                "-n-",
            ]
            .map(String::from),
        )
        .unwrap();
        assert!(!a.dev);
        assert_eq!((a.server, a.log_json), (Some(true), Some(false)));
        assert_eq!(a.configs, vec![PathBuf::from("a.hcl"), PathBuf::from("b")]);
        assert_eq!(a.retry_join, vec!["x"]);
        assert_eq!(a.node.as_deref(), Some("-n-"));
        assert_eq!(a.acl_enabled, None);
    }
}
