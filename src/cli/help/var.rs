//! Help texts of the `var` commands (Nomad's `command/var*.go`). The `var` group's entry is
//! here so the top-level help lists it; each `var <command>` adds its own [`Entry`] below.

use super::Entry;

pub const ENTRIES: &[Entry] = &[Entry {
    path: "var",
    synopsis: "Interact with variables",
    source: "command/var.go",
    text: r#"Usage: raftwarden var <subcommand> [options] [args]

  This command groups subcommands for interacting with variables. Variables
  allow operators to provide credentials and otherwise sensitive material to
  Nomad jobs at runtime via the template block or directly through
  the Nomad API and CLI.

  Users can create new variables; list, inspect, and delete existing
  variables, and more. For a full guide on variables see:
  https://developer.hashicorp.com/nomad/docs/concepts/variables

  Create a variable specification file:

      $ raftwarden var init

  Upsert a variable:

      $ raftwarden var put <path>

  Examine a variable:

      $ raftwarden var get <path>

  List existing variables:

      $ raftwarden var list <prefix>

  Purge a variable:

      $ raftwarden var purge <path>

  Please see the individual subcommand help for detailed usage information."#,
}];
