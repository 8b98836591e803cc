//! Help texts of the `license` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "license",
        synopsis: "Interact with Nomad Enterprise License",
        source: "command/license.go",
        text: r#"Usage: raftwarden license <subcommand> [options] [args]

This command has subcommands for managing the Nomad Enterprise license.
For more detailed examples see:
https://developer.hashicorp.com/nomad/commands/license

Retrieve the server's license:

	$ raftwarden license get"#,
    },
    Entry {
        path: "license get",
        synopsis: "Retrieve the current Nomad Enterprise License",
        source: "command/license_get.go",
        text: r#"Usage: raftwarden license get [options]

  Gets the license loaded by the server. The command is not forwarded to the
  Nomad leader, and will return the license from the specific server being
  contacted.

  When ACLs are enabled, this command requires a token with the
  'operator:read' capability.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
];
