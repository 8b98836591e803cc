//! Nomad's help texts for our commands, printed as Nomad's CLI (`hashicorp/cli`) prints them.
//!
//! Each command's text is an [`Entry`] in the file of its area (`operator.rs`, `acl.rs`, ...,
//! `var.rs`), written in the wording and layout of the Nomad command's `Help()` for the flags we
//! support, with `@GENERAL@` / `@GENERAL_NO_NAMESPACE@` where Nomad inserts
//! `generalOptionsUsage(...)`. [`render`] trims the text as Nomad's `strings.TrimSpace` does,
//! appends the `Subcommands:` list `hashicorp/cli` builds for a command group (from the
//! synopses of the entries one word below it) and a final newline; [`top_level`] is Nomad's
//! `groupedHelpFunc`. A command without an entry falls back to clap's generated text
//! (`args::help_of`).

mod acl;
mod license;
mod operator;
mod server;
mod snapshot;
mod tls;
mod var;

/// One command's help, as Nomad's `Help()` and `Synopsis()` give it.
pub struct Entry {
    /// The command's words after the program name, e.g. `operator raft list-peers`.
    pub path: &'static str,
    /// Nomad's `Synopsis()`: the line shown in its group's `Subcommands:` list.
    pub synopsis: &'static str,
    /// The Nomad source file the text follows (for the reader and the tests).
    #[allow(dead_code)]
    pub source: &'static str,
    /// Nomad's `Help()` text, with the general options as placeholders.
    pub text: &'static str,
}

const TABLES: &[&[Entry]] = &[
    operator::ENTRIES,
    snapshot::ENTRIES,
    server::ENTRIES,
    acl::ENTRIES,
    tls::ENTRIES,
    license::ENTRIES,
    var::ENTRIES,
];

/// Commands listed by the top-level help that have no entry of their own here.
const TOP_LEVEL_EXTRA: &[(&str, &str)] = &[("agent", "Runs a Nomad agent"), ("version", "Prints the Nomad version")];

/// Commands kept for old scripts that their group's `Subcommands:` list leaves out (as Nomad
/// hides its deprecated commands).
const HIDDEN: &[&str] = &["operator keygen"];

/// Nomad's `groupedHelpFunc` puts these first, under "Common commands".
const COMMON: &[&str] = &["run", "stop", "status", "alloc", "job", "node", "agent"];

fn entries() -> impl Iterator<Item = &'static Entry> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// The entry of the command named by `path`, if it has one.
pub fn entry(path: &[String]) -> Option<&'static Entry> {
    let key = path.join(" ");
    entries().find(|e| e.path == key)
}

/// The help `hashicorp/cli` prints for the command at `path`: its text, its subcommands, a
/// newline. `None` when the command has no entry.
pub fn render(path: &[String]) -> Option<String> {
    let entry = entry(path)?;
    let mut out = expand(entry.text);
    let children = children(entry.path);
    if !children.is_empty() {
        // hashicorp/cli aligns on the longest full key; siblings share their prefix, so the
        // padding is the same as aligning on the last word.
        let longest = children.iter().map(|c| c.path.len()).max().unwrap_or(0);
        out.push_str("\n\nSubcommands:");
        for child in children {
            let name = child.path.rsplit(' ').next().unwrap_or(child.path);
            let pad = " ".repeat(longest - child.path.len());
            out.push_str(&format!("\n    {name}{pad}    {}", child.synopsis));
        }
    }
    out.push('\n');
    Some(out)
}

/// The entries one word below `parent`, sorted by name as `hashicorp/cli` sorts its keys.
fn children(parent: &str) -> Vec<&'static Entry> {
    let prefix = format!("{parent} ");
    let mut children: Vec<&Entry> =
        entries().filter(|e| e.path.strip_prefix(&prefix).is_some_and(|rest| !rest.contains(' '))).collect();
    children.retain(|e| !HIDDEN.contains(&e.path));
    children.sort_by_key(|e| e.path);
    children
}

fn expand(text: &str) -> String {
    text.replace("@GENERAL_NO_NAMESPACE@", &general_options(false))
        .replace("@GENERAL@", &general_options(true))
        .trim()
        .to_string()
}

/// Nomad's top-level help (`main.go` `groupedHelpFunc` over `cli.BasicHelpFunc`): the usage
/// line, the common commands, then the others, each block aligned as Go's `tabwriter`
/// (minwidth 0, padding 6) aligns it.
pub fn top_level() -> String {
    let mut commands: Vec<(&str, &str)> =
        entries().filter(|e| !e.path.contains(' ')).map(|e| (e.path, e.synopsis)).collect();
    commands.extend(TOP_LEVEL_EXTRA.iter().copied());
    commands.sort();
    let (common, other): (Vec<_>, Vec<_>) = commands.into_iter().partition(|(name, _)| COMMON.contains(name));
    let block = |rows: &[(&str, &str)]| {
        let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        rows.iter().map(|(name, synopsis)| format!("    {name:<width$}      {synopsis}\n")).collect::<String>()
    };
    format!(
        "Usage: raftwarden [-version] [-help] [-autocomplete-(un)install] <command> [args]\n\n\
         Common commands:\n{}\nOther commands:\n{}",
        block(&common),
        block(&other)
    )
}

/// Nomad's `generalOptionsUsage` (`command/meta.go`), with or without `-namespace`, trimmed.
pub fn general_options(namespace: bool) -> String {
    let mut text = String::from(GENERAL_ADDRESS);
    if namespace {
        text.push_str(GENERAL_NAMESPACE);
    }
    text.push_str(GENERAL_REST);
    text.trim().to_string()
}

const GENERAL_ADDRESS: &str = r#"
  -address=<addr>
    The address of the Nomad server.
    Overrides the NOMAD_ADDR environment variable if set.
    Default = http://127.0.0.1:4646

  -region=<region>
    The region of the Nomad servers to forward commands to.
    Overrides the NOMAD_REGION environment variable if set.
    Defaults to the Agent's local region.
"#;

const GENERAL_NAMESPACE: &str = r#"
  -namespace=<namespace>
    The target namespace for queries and actions bound to a namespace.
    Overrides the NOMAD_NAMESPACE environment variable if set.
    If set to '*', subcommands which support this functionality query
    all namespaces authorized to user.
    Defaults to the "default" namespace.
"#;

const GENERAL_REST: &str = r#"
  -no-color
    Disables colored command output. Alternatively, NOMAD_CLI_NO_COLOR may be
    set. This option takes precedence over -force-color.

  -force-color
    Forces colored command output. This can be used in cases where the usual
    terminal detection fails. Alternatively, NOMAD_CLI_FORCE_COLOR may be set.
    This option has no effect if -no-color is also used.

  -ca-cert=<path>
    Path to a PEM encoded CA cert file to use to verify the
    Nomad server SSL certificate. Overrides the NOMAD_CACERT
    environment variable if set.

  -ca-path=<path>
    Path to a directory of PEM encoded CA cert files to verify
    the Nomad server SSL certificate. If both -ca-cert and
    -ca-path are specified, -ca-cert is used. Overrides the
    NOMAD_CAPATH environment variable if set.

  -client-cert=<path>
    Path to a PEM encoded client certificate for TLS authentication
    to the Nomad server. Must also specify -client-key. Overrides
    the NOMAD_CLIENT_CERT environment variable if set.

  -client-key=<path>
    Path to an unencrypted PEM encoded private key matching the
    client certificate from -client-cert. Overrides the
    NOMAD_CLIENT_KEY environment variable if set.

  -tls-server-name=<value>
    The server name to use as the SNI host when connecting via
    TLS. Overrides the NOMAD_TLS_SERVER_NAME environment variable if set.

  -tls-skip-verify
    Do not verify TLS certificate. This is highly not recommended. Verification
    will also be skipped if NOMAD_SKIP_VERIFY is set.

  -token
    The SecretID of an ACL token to use to authenticate API requests with.
    Overrides the NOMAD_TOKEN environment variable if set.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(path: &str) -> Vec<String> {
        path.split(' ').map(String::from).collect()
    }

    #[test]
    fn every_entry_names_a_command_of_the_grammar() {
        use clap::CommandFactory;
        let root = crate::cli::args::Cli::command();
        for e in entries() {
            let mut cmd = &root;
            for word in e.path.split(' ') {
                cmd = cmd.find_subcommand(word).unwrap_or_else(|| panic!("{}: no command {word}", e.path));
            }
            assert!(
                e.text.starts_with(&format!("Usage: raftwarden {}", e.path)) || e.text.contains("Usage:"),
                "{}",
                e.path
            );
            assert!(!e.text.contains("nomad "), "{}: a command named nomad", e.path);
            assert!(e.source.starts_with("command/"), "{}", e.path);
        }
    }

    #[test]
    fn a_group_lists_its_subcommands_aligned() {
        let help = render(&words("operator raft")).unwrap();
        assert!(help.starts_with("Usage: raftwarden operator raft <subcommand> [options]\n"), "{help}");
        assert!(help.ends_with(
            "\n\nSubcommands:\n    list-peers             Display the current Raft peer configuration\n    \
             remove-peer            Remove a Nomad server from the Raft configuration\n    \
             transfer-leadership    Transfer leadership to a specified Nomad server\n"
        ));
    }

    #[test]
    fn a_command_carries_the_general_options() {
        let help = render(&words("operator raft list-peers")).unwrap();
        assert!(help.contains("General Options:\n\n  -address=<addr>\n"), "{help}");
        assert!(!help.contains("-namespace=<namespace>"));
        assert!(help.ends_with("to set -stale to \"true\" to get the configuration from a non-leader server.\n"));
        assert!(render(&words("operator nothing")).is_none());
    }

    #[test]
    fn top_level_aligns_each_block() {
        let help = top_level();
        assert!(help.starts_with("Usage: raftwarden [-version] [-help] [-autocomplete-(un)install] <command> [args]\n\nCommon commands:\n    agent      Runs a Nomad agent\n\nOther commands:\n    acl         "), "{help}");
    }
}
