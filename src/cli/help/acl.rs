//! Help texts of the `acl` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "acl",
        synopsis: "Interact with ACL policies and tokens",
        source: "command/acl.go",
        text: r#"Usage: raftwarden acl <subcommand> [options] [args]

  This command groups subcommands for interacting with ACL policies and tokens.
  Users can bootstrap Nomad's ACL system, create policies that restrict access,
  and generate tokens from those policies.

  Bootstrap ACLs:

      $ raftwarden acl bootstrap

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "acl bootstrap",
        synopsis: "Bootstrap the ACL system for initial token",
        source: "command/acl_bootstrap.go",
        text: r#"Usage: raftwarden acl bootstrap [options] [<path>]

  Bootstrap is used to bootstrap the ACL system and get an initial token.

  The acl bootstrap command can be used in two ways:

   - If you provide no arguments it will return a system generated bootstrap
     token.

   - If you would like to provide an operator generated token it is possible to
     provide the token using a file located at <path>. The Token can be read
     from stdin by setting <path> to "-". Please make sure you secure this token
     in an appropriate manner as it could be written to your terminal history.

General Options:

  @GENERAL_NO_NAMESPACE@

Bootstrap Options:

  -json
    Output the bootstrap response in JSON format.

  -t
    Format and display the bootstrap response using a Go template."#,
    },
    Entry {
        path: "acl policy",
        synopsis: "Interact with ACL policies",
        source: "command/acl_policy.go",
        text: r#"Usage: raftwarden acl policy <subcommand> [options] [args]

  This command groups subcommands for interacting with ACL policies. Nomad's ACL
  system can be used to control access to data and APIs. ACL policies allow a
  set of capabilities or actions to be granted or allowlisted. For a full guide
  see: https://developer.hashicorp.com/nomad/docs/secure/acl

  Create an ACL policy:

      $ raftwarden acl policy apply <name> <policy-file>

  List ACL policies:

      $ raftwarden acl policy list

  Inspect an ACL policy:

      $ raftwarden acl policy info <policy>

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "acl policy apply",
        synopsis: "Create or update an ACL policy",
        source: "command/acl_policy_apply.go",
        text: r#"Usage: raftwarden acl policy apply [options] <name> <path>

  Apply is used to create or update an ACL policy. The policy is
  sourced from <path> or from stdin if path is "-".

  This command requires a management ACL token.

General Options:

  @GENERAL_NO_NAMESPACE@

Apply Options:

  -description
    Specifies a human readable description for the policy."#,
    },
    Entry {
        path: "acl policy list",
        synopsis: "List ACL policies",
        source: "command/acl_policy_list.go",
        text: r#"Usage: raftwarden acl policy list

  List is used to list available ACL policies.

  This command requires a management ACL token to view all policies. A
  non-management token can query its own policies.

General Options:

  @GENERAL_NO_NAMESPACE@

List Options:

  -json
    Output the ACL policies in a JSON format.

  -t
    Format and display the ACL policies using a Go template."#,
    },
    Entry {
        path: "acl policy info",
        synopsis: "Fetch info on an existing ACL policy",
        source: "command/acl_policy_info.go",
        text: r#"Usage: raftwarden acl policy info [options] <name>

  Info is used to fetch information on an existing ACL policy.

  This command requires a management ACL token or a token that has the
  associated policy.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "acl policy delete",
        synopsis: "Delete an existing ACL policy",
        source: "command/acl_policy_delete.go",
        text: r#"Usage: raftwarden acl policy delete <name>

  Delete is used to delete an existing ACL policy.

  This command requires a management ACL token.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "acl token",
        synopsis: "Interact with ACL tokens",
        source: "command/acl_token.go",
        text: r#"Usage: raftwarden acl token <subcommand> [options] [args]

  This command groups subcommands for interacting with ACL tokens. Nomad's ACL
  system can be used to control access to data and APIs. ACL tokens are
  associated with one or more ACL policies which grant specific capabilities.
  For a full guide see: https://developer.hashicorp.com/nomad/docs/secure/acl

  Create an ACL token:

      $ raftwarden acl token create -name "my-token" -policy foo -policy bar

  Lookup a token and display its associated policies:

      $ raftwarden acl policy info <token_accessor_id>

  Revoke an ACL token:

      $ raftwarden acl policy delete <token_accessor_id>

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "acl token create",
        synopsis: "Create a new ACL token",
        source: "command/acl_token_create.go",
        text: r#"Usage: raftwarden acl token create [options] [<path>]

  Create is used to issue new ACL tokens. Requires a management token.

  By default, Nomad generates the AccessorID and SecretID automatically. To
  upload (restore) a client token with pre-specified IDs — for example, when
  recovering tokens from a backup — provide -accessor and supply the SecretID
  via a file at <path>, or pass "-" to read it from stdin. Only client tokens
  may be uploaded; management tokens must always be created fresh.

General Options:

  @GENERAL_NO_NAMESPACE@

Create Options:

  -name=""
    Sets the human readable name for the ACL token.

  -type="client"
    Sets the type of token. Must be one of "client" (default), or "management".

  -global=false
    Toggles the global mode of the token. Global tokens are replicated to all regions.

  -policy=""
    Specifies a policy to associate with the token. Can be specified multiple times,
    but only with client type tokens.

  -ttl
    Specifies the time-to-live of the created ACL token. This takes the form of
    a time duration such as "5m" and "1h". By default, tokens will be created
    without a TTL and therefore never expire.

  -json
    Output the ACL token information in JSON format.

  -t
    Format and display the ACL token information using a Go template."#,
    },
    Entry {
        path: "acl token list",
        synopsis: "List ACL tokens",
        source: "command/acl_token_list.go",
        text: r#"Usage: raftwarden acl token list

  List is used to list existing ACL tokens.

General Options:

  @GENERAL_NO_NAMESPACE@

List Options:

  -json
    Output the ACL tokens in a JSON format.

  -t
    Format and display the ACL tokens using a Go template."#,
    },
    Entry {
        path: "acl token info",
        synopsis: "Fetch information on an existing ACL token",
        source: "command/acl_token_info.go",
        text: r#"Usage: raftwarden acl token info <token_accessor_id>

  Info is used to fetch information on an existing ACL tokens. Requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "acl token self",
        synopsis: "Lookup self ACL token",
        source: "command/acl_token_self.go",
        text: r#"Usage: raftwarden acl token self

  Self is used to fetch information about the currently set ACL token.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "acl token update",
        synopsis: "Update an existing ACL token",
        source: "command/acl_token_update.go",
        text: r#"Usage: raftwarden acl token update <token_accessor_id>

  Update is used to update an existing ACL token. Requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@

Update Options:

  -name=""
    Sets the human readable name for the ACL token.

  -type="client"
    Sets the type of token. Must be one of "client" or "management".

  -policy=""
    Specifies a policy to associate with the token. Can be specified multiple
    times, but only with client type tokens. If any policies are specified, they
    completely replace the policies on the existing token."#,
    },
    Entry {
        path: "acl token delete",
        synopsis: "Delete an existing ACL token",
        source: "command/acl_token_delete.go",
        text: r#"Usage: raftwarden acl token delete <token_accessor_id>

  Delete is used to delete an existing ACL token. Requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
];
