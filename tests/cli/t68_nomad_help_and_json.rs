//! Help texts, flags before the command and two `-json` outputs compared with Nomad's:
//! `command/*.go` `Help()` and `command/meta.go` `generalOptionsUsage` for the texts,
//! `hashicorp/cli` `cli.go` (`Run`, `processArgs`, `commandHelp`, `defaultHelpTemplate`) for
//! streams, exit codes and the `Subcommands:` list, `main.go` `groupedHelpFunc` for the top level,
//! `command/operator_autopilot_get.go` and `command/operator_scheduler_get_config.go` with
//! `command/data_format.go` and `api/operator.go` for the `-json` outputs. The help cases need
//! no server (the address is a closed port); the `-json` cases run an agent on 127.40.1.x.

use crate::net;
use crate::support::*;

const NOWHERE: &str = "http://127.0.0.1:1";

/// Every command we have, as `hashicorp/cli` names it.
const COMMANDS: &[&str] = &[
    "operator",
    "operator raft",
    "operator raft list-peers",
    "operator raft remove-peer",
    "operator raft transfer-leadership",
    "operator autopilot",
    "operator autopilot get-config",
    "operator autopilot set-config",
    "operator autopilot health",
    "operator scheduler",
    "operator scheduler get-config",
    "operator scheduler set-config",
    "operator snapshot",
    "operator snapshot save",
    "operator snapshot restore",
    "operator snapshot inspect",
    "operator snapshot agent",
    "operator gossip",
    "operator gossip keyring",
    "operator gossip keyring generate",
    "operator gossip keyring install",
    "operator gossip keyring list",
    "operator gossip keyring remove",
    "operator gossip keyring use",
    "operator keygen",
    "server",
    "server members",
    "server join",
    "server force-leave",
    "license",
    "license get",
    "license put",
    "license inspect",
    "license keygen",
    "license issue",
    "acl",
    "acl bootstrap",
    "acl policy",
    "acl policy apply",
    "acl policy list",
    "acl policy info",
    "acl policy delete",
    "acl token",
    "acl token create",
    "acl token list",
    "acl token info",
    "acl token self",
    "acl token update",
    "acl token delete",
    "tls",
    "tls ca",
    "tls ca create",
    "tls ca info",
    "tls cert",
    "tls cert create",
    "tls cert info",
];

/// `nomad operator raft list-peers -h`, word for word (`command/operator_raft_list.go` with
/// `generalOptionsUsage(usageOptsDefault|usageOptsNoNamespace)`), the program named raftwarden.
const LIST_PEERS_HELP: &str = r#"Usage: raftwarden operator raft list-peers [options]

  Displays the current Raft peer configuration.

  If ACLs are enabled, this command requires a management token.

General Options:

  -address=<addr>
    The address of the Nomad server.
    Overrides the NOMAD_ADDR environment variable if set.
    Default = http://127.0.0.1:4646

  -region=<region>
    The region of the Nomad servers to forward commands to.
    Overrides the NOMAD_REGION environment variable if set.
    Defaults to the Agent's local region.

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

List Peers Options:

  -stale=[true|false]
    The -stale argument defaults to "false" which means the leader provides the
    result. If the cluster is in an outage state without a leader, you may need
    to set -stale to "true" to get the configuration from a non-leader server.
"#;

/// `-h`, `-help` and `--help` print Nomad's text on stdout and exit 0, for every command: a
/// usage line naming the command, no clap text, the general options where Nomad prints them,
/// a group's subcommands listed as `hashicorp/cli` lists them.
#[test]
fn every_command_prints_nomads_help() {
    let (code, out, err) = cli(NOWHERE, &["operator", "raft", "list-peers", "-h"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, LIST_PEERS_HELP);
    for command in COMMANDS {
        let words: Vec<&str> = command.split(' ').collect();
        let mut first = None;
        for flag in ["-h", "-help", "--help"] {
            let args: Vec<&str> = words.iter().copied().chain([flag]).collect();
            let (code, out, err) = cli(NOWHERE, &args);
            assert_eq!((code, err.as_str()), (0, ""), "{args:?}: {out}");
            // Nomad's own typo ("keying") is kept, as its text is.
            let usage =
                format!("Usage: raftwarden {}", command.replace("gossip keyring generate", "gossip keying generate"));
            assert!(out.starts_with(&usage), "{args:?}: {out}");
            assert!(out.ends_with('\n') && !out.ends_with("\n\n"), "{args:?}: one final newline");
            for clap_word in ["[env: ", "Options:\n  --", "Print help", "[default: "] {
                assert!(!out.contains(clap_word), "{args:?}: clap's text {clap_word:?}: {out}");
            }
            match &first {
                None => first = Some(out),
                Some(first) => assert_eq!(first, &out, "{args:?}: the same text for each help flag"),
            }
        }
    }
    // A group: its text, then its subcommands sorted and aligned (hashicorp/cli commandHelp).
    let (code, out, _) = cli(NOWHERE, &["acl", "token", "-help"]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with(
            "\n\nSubcommands:\n    create    Create a new ACL token\n    delete    Delete an existing ACL token\n    \
             info      Fetch information on an existing ACL token\n    list      List ACL tokens\n    \
             self      Lookup self ACL token\n    update    Update an existing ACL token\n"
        ),
        "{out}"
    );
    // Commands that take a namespace print -namespace among the general options; the others not.
    let (_, out, _) = cli(NOWHERE, &["acl", "token", "create", "-h"]);
    assert!(out.contains("General Options:\n\n  -address=<addr>") && !out.contains("-namespace=<namespace>"));
    // A group without its command: the same text, exit 1 (RunResultHelp).
    let (code, out, err) = cli(NOWHERE, &["operator", "autopilot"]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert!(out.starts_with("Usage: raftwarden operator autopilot <subcommand> [options]\n"), "{out}");
    assert!(out.contains("\n\nSubcommands:\n    get-config    Display the current Autopilot configuration\n"), "{out}");
    // Whatever follows a group that names none of its commands, flags included.
    for args in [&["operator", "autopilot", "-json"][..], &["operator", "autopilot", "nothing", "-x"]] {
        let (code, again, err) = cli(NOWHERE, args);
        assert_eq!((code, err.as_str(), again.as_str()), (1, "", out.as_str()), "{args:?}");
    }
}

/// `nomad` alone, `nomad -h` and an unknown command: `groupedHelpFunc`'s text on stdout, exit 0
/// for help and 127 otherwise.
#[test]
fn top_level_help_is_nomads_layout() {
    let (code, out, err) = cli(NOWHERE, &["-h"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.starts_with(
            "Usage: raftwarden [-version] [-help] [-autocomplete-(un)install] <command> [args]\n\n\
             Common commands:\n    agent      Runs a Nomad agent\n\n\
             Other commands:\n    acl           Interact with ACL policies and tokens\n"
        ),
        "{out}"
    );
    assert!(out.contains("\n    operator      Provides cluster-level tools for Nomad operators\n"), "{out}");
    // Nomad's `version` has an empty Help(): `version -h` is one newline.
    let (code, version_help, err) = cli(NOWHERE, &["version", "-h"]);
    assert_eq!((code, version_help.as_str(), err.as_str()), (0, "\n", ""));
    for args in [&[][..], &["nothing"], &["nothing", "-h"]] {
        let (code, again, err) = cli(NOWHERE, args);
        assert_eq!((code, err.as_str(), again.as_str()), (127, "", out.as_str()), "{args:?}");
    }
}

/// Flags before the command's name are refused as `hashicorp/cli` refuses them: its two lines,
/// a blank line, the command's help, all on stdout, exit 1; a flag's value taken for the
/// command's name is an unknown command (127); `-help` still wins.
#[test]
fn flags_before_the_command_are_refused() {
    let (code, out, err) = cli(NOWHERE, &["-address=http://127.0.0.1:1", "operator", "raft", "list-peers"]);
    assert_eq!((code, err.as_str()), (1, ""));
    assert_eq!(
        out,
        format!(
            "Invalid flags before the subcommand. If these flags are for\n\
             the subcommand, please put them after the subcommand.\n\n{LIST_PEERS_HELP}"
        )
    );
    let (code, out, _) = cli(NOWHERE, &["-token", "x", "operator", "raft", "list-peers"]);
    assert_eq!(code, 127);
    assert!(out.starts_with("Usage: raftwarden [-version] [-help]"), "{out}");
    let (code, out, _) = cli(NOWHERE, &["-stale", "operator", "raft", "list-peers", "-help"]);
    assert_eq!((code, out.as_str()), (0, LIST_PEERS_HELP));
}

/// `operator autopilot get-config -json` prints the body's compact JSON and a newline
/// (`api.AutopilotConfiguration.MarshalJSON`, written as is by Nomad's indenting encoder);
/// `operator scheduler get-config -json` prints the Go client's `SchedulerConfigurationResponse`
/// with a 4-space indent: the config's fields, then `LastIndex`, `LastContact`, `KnownLeader`,
/// `RequestTime`, `NextToken` as decoded from the body (no `Index`).
#[test]
fn get_config_json_outputs_are_the_go_clients() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let body = call(&a, "GET", "/v1/operator/autopilot/configuration", None, None);
    assert_eq!(body.status, 200);
    let (code, out, err) = cli(&a.http(), &["operator", "autopilot", "get-config", "-json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("{}\n", body.text().trim_end()));

    let body = call(&a, "GET", "/v1/operator/scheduler/configuration", None, None).json();
    let config = &body["SchedulerConfig"];
    let (code, out, err) = cli(&a.http(), &["operator", "scheduler", "get-config", "-json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let want = format!(
        r#"{{
    "SchedulerConfig": {{
        "SchedulerAlgorithm": "binpack",
        "PreemptionConfig": {{
            "SystemSchedulerEnabled": true,
            "SysBatchSchedulerEnabled": false,
            "BatchSchedulerEnabled": false,
            "ServiceSchedulerEnabled": false
        }},
        "MemoryOversubscriptionEnabled": false,
        "RejectJobRegistration": false,
        "PauseEvalBroker": false,
        "NodeLimitForFeasibilityChecks": {},
        "CreateIndex": {},
        "ModifyIndex": {}
    }},
    "LastIndex": 0,
    "LastContact": 0,
    "KnownLeader": {},
    "RequestTime": 0,
    "NextToken": ""
}}
"#,
        config["NodeLimitForFeasibilityChecks"].as_u64().unwrap_or(0),
        config["CreateIndex"],
        config["ModifyIndex"],
        body["KnownLeader"].as_bool().unwrap_or(false),
    );
    assert_eq!(out, want);
    assert!(!out.contains("\"Index\""));
}
