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
    Entry {
        path: "license put",
        synopsis: "Install a new Nomad Enterprise License",
        source: "command/license_get.go (layout); no put in Nomad's open source",
        text: r#"Usage: raftwarden license put [options] <path>

  Puts a new license in the servers. The license is read from <path>, or from
  stdin if path is "-". The license must be signed by one of the keys in the
  servers' license_public_keys, and not be older than the installed license
  unless -force is given.

  When ACLs are enabled, this command requires a token with the
  'operator:write' capability.

General Options:

  @GENERAL_NO_NAMESPACE@

License Put Options:

  -force
    Install the license even if it was issued before the installed one."#,
    },
    Entry {
        path: "license inspect",
        synopsis: "Inspect a license file offline",
        source: "command/license_get.go (layout); no inspect in Nomad's open source",
        text: r#"Usage: raftwarden license inspect [options] <path>

  Verifies a license file without a server and displays it. The license is
  read from <path>, or from stdin if path is "-".

General Options:

  @GENERAL_NO_NAMESPACE@

License Inspect Options:

  -public-key=<key>
    A public key (base64, or a file holding it) that must have signed the
    license. May be specified multiple times.

  -product=<name>
    The product the license must be for. Defaults to "raftwarden".

  -json
    Output the license in its JSON format."#,
    },
    Entry {
        path: "license keygen",
        synopsis: "Generate a key pair that signs licenses",
        source: "command/license_get.go (layout); raftwarden's own",
        text: r#"Usage: raftwarden license keygen [options]

  Writes a new ed25519 key pair for signing licenses. The public key goes into
  the servers' license_public_keys.

License Keygen Options:

  -private-key=<file>
    Where to write the private key (base64 seed, mode 0600). Defaults to
    "license.key".

  -public-key=<file>
    Where to write the public key (base64). Defaults to "license.pub"."#,
    },
    Entry {
        path: "license issue",
        synopsis: "Sign a new license",
        source: "command/license_get.go (layout); raftwarden's own",
        text: r#"Usage: raftwarden license issue [options]

  Signs a new license with a private key from "raftwarden license keygen" and
  prints it.

License Issue Options:

  -key=<file>
    The private key file that signs the license. Required.

  -customer=<id>
    The license's CustomerID. Required.

  -product=<name>
    The product the license is for. Defaults to "raftwarden".

  -ttl=<duration>
    Validity from the start time to the ExpirationTime. Defaults to "720h".

  -termination-grace=<duration>
    Extra time after expiry until the TerminationTime. Defaults to "0s".

  -issued=<time>
    The IssueTime, in RFC 3339. Defaults to now.

  -start=<time>
    The StartTime, in RFC 3339. Defaults to the issue time.

  -license-id=<id>
    The LicenseID. Defaults to a random UUID.

  -installation=<id>
    The InstallationID. Defaults to "*".

  -non-production
    Mark the license NonProduction.

  -module=<name>
    A licensed module. May be specified multiple times.

  -feature=<name>
    A licensed feature. May be specified multiple times.

  -flag=<key=value>
    A flag of the license; the value is read as JSON when it parses, as a
    string otherwise. May be specified multiple times."#,
    },
];
