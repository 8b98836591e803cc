//! Help texts of the `var` commands (Nomad's `command/var*.go`). The `var` group's entry is
//! here so the top-level help lists it; each `var <command>` adds its own [`Entry`] below.

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
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
    },
    Entry {
        path: "var get",
        synopsis: "Read a variable",
        source: "command/var_get.go",
        text: r#"Usage: raftwarden var get [options] <path>

  The 'var get' command is used to get the contents of an existing variable.

  If ACLs are enabled, this command requires a token with the 'variables:read'
  capability for the target variable's namespace and path.

General Options:

  @GENERAL@

Get Options:

  -item <item key>
     Print only the value of the given item. Specifying this option will
     take precedence over other formatting directives. The result will not
     have a trailing newline making it ideal for piping to other processes.

  -out ( go-template | hcl | json | none | table )
     Format to render the variable in. When using "go-template", you must
     provide the template content with the "-template" option. Defaults
     to "table" when stdout is a terminal and to "json" when stdout is
     redirected.

  -template
     Template to render output with. Required when output is "go-template"."#,
    },
    Entry {
        path: "var list",
        synopsis: "List variable metadata",
        source: "command/var_list.go",
        text: r#"Usage: raftwarden var list [options] <prefix>

  List is used to list available variables. Supplying an optional prefix,
  filters the list to variables having a path starting with the prefix.
  When using pagination, the next page token is provided in the JSON output
  or as a message to standard error to leave standard output for the listed
  variables from that page.

  If ACLs are enabled, this command will only return variables stored in
  namespaces and paths where the token has the 'variables:list' capability.

General Options:

  @GENERAL@

List Options:

  -per-page
    How many results to show per page.

  -page-token
    Where to start pagination.

  -filter
    Specifies an expression used to filter query results. Queries using this
    option are less efficient than using the prefix parameter; therefore,
    the prefix parameter should be used whenever possible.

  -out (go-template | json | table | terse )
    Format to render created or updated variable. Defaults to "none" when
    stdout is a terminal and "json" when the output is redirected. The "terse"
	format outputs as little information as possible to uniquely identify a
	variable depending on whether or not the wildcard namespace was passed.

 -template
    Template to render output with. Required when format is "go-template",
    invalid for other formats."#,
    },
    Entry {
        path: "var purge",
        synopsis: "Purge a variable",
        source: "command/var_purge.go",
        text: r#"Usage: raftwarden var purge [options] <path>

  Purge is used to permanently delete an existing variable.

  If ACLs are enabled, this command requires a token with the 'variables:destroy'
  capability for the target variable's namespace and path.

General Options:

  @GENERAL@

Purge Options:

  -check-index
    If set, the variable is only acted upon if the server side version's modify
    index matches the provided value."#,
    },
    Entry {
        path: "var put",
        synopsis: "Create or update a variable",
        source: "command/var_put.go",
        text: r#"Usage:
raftwarden var put [options] <variable spec file reference> [<key>=<value>]...
raftwarden var put [options] <path to store variable> [<variable spec file reference>] [<key>=<value>]...

  The 'var put' command is used to create or update an existing variable.
  Variable metadata and items can be supplied using a variable specification,
  by using command arguments, or by a combination of the two techniques.

  An entire variable specification can be provided to the command via standard
  input (stdin) by setting the first argument to "-" or from a file by using an
  @-prefixed path to a variable specification file. When providing variable
  data via stdin, you must provide the "-in" flag with the format of the
  specification, either "hcl" or "json"

  Items to be stored in the variable can be supplied using the specification,
  as a series of key-value pairs, or both. The value for a key-value pair can
  be a string, an @-prefixed file reference, or a '-' to get the value from
  stdin. Item values provided from file references or stdin are consumed as-is
  with no additional processing and do not require the input format to be
  specified.

  Values supplied as command line arguments supersede values provided in
  any variable specification piped into the command or loaded from file.

  If ACLs are enabled, this command requires the 'variables:write' capability
  for the destination namespace and path.

General Options:

  @GENERAL@

Apply Options:

  -check-index
     If set, the variable is only acted upon if the server-side version's index
     matches the provided value. When a variable specification contains
     a modify index, that modify index is used as the check-index for the
     check-and-set operation and can be overridden using this flag.

  -force
     Perform this operation regardless of the state or index of the variable
     on the server-side.

  -in (hcl | json)
     Parser to use for data supplied via standard input or when the variable
     specification's type can not be known using the file extension. Defaults
     to "json".

  -out (go-template | hcl | json | none | table)
     Format to render created or updated variable. Defaults to "none" when
     stdout is a terminal and "json" when the output is redirected.

  -template
     Template to render output with. Required when format is "go-template",
     invalid for other formats.

  -verbose
     Provides additional information via standard error to preserve standard
     output (stdout) for redirected output."#,
    },
];
