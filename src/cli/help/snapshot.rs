//! Help texts of the `snapshot` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "operator snapshot",
        synopsis: "Saves and inspects snapshots of Nomad server state",
        source: "command/operator_snapshot.go",
        text: r#"Usage: raftwarden operator snapshot <subcommand> [options]

  This command has subcommands for saving and inspecting the state
  of the Nomad servers for disaster recovery. These are atomic, point-in-time
  snapshots which include jobs, nodes, allocations, periodic jobs, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  Create a snapshot:

      $ raftwarden operator snapshot save backup.snap

  Inspect a snapshot:

      $ raftwarden operator snapshot inspect backup.snap

  Run a daemon process that locally saves a snapshot every hour (available only in
  Nomad Enterprise) :

      $ raftwarden operator snapshot agent

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "operator snapshot save",
        synopsis: "Saves snapshot of Nomad server state",
        source: "command/operator_snapshot_save.go",
        text: r#"Usage: raftwarden operator snapshot save [options] <file>

  Retrieves an atomic, point-in-time snapshot of the state of the Nomad servers
  which includes jobs, nodes, allocations, periodic jobs, and ACLs.

  If ACLs are enabled, a token with operator:write or the operator:snapshot-save
  capability must be supplied in order to perform snapshot operations.

  To create a snapshot from the leader server and save it to "backup.snap":

    $ raftwarden operator snapshot save backup.snap

  To create a potentially stale snapshot from any available server (useful if no
  leader is available):

    $ raftwarden operator snapshot save -stale backup.snap

  This is useful for situations where a cluster is in a degraded state and no
  leader is available. To target a specific server for a snapshot, you can run
  the 'raftwarden operator snapshot save' command on that specific server.


General Options:

  @GENERAL_NO_NAMESPACE@

Snapshot Save Options:

  -stale
    The -stale option defaults to "false" which means the leader provides the
    result. If the cluster is in an outage state without a leader, you may need
    to set -stale to "true" to get the configuration from a non-leader server."#,
    },
    Entry {
        path: "operator snapshot restore",
        synopsis: "Restore snapshot of Nomad server state",
        source: "command/operator_snapshot_restore.go",
        text: r#"Usage: raftwarden operator snapshot restore [options] <file>

  Restores an atomic, point-in-time snapshot of the state of the Nomad servers
  which includes jobs, nodes, allocations, periodic jobs, and ACLs.

  Restores involve a potentially dangerous low-level Raft operation that is not
  designed to handle server failures during a restore. This command is primarily
  intended to be used when recovering from a disaster, restoring into a fresh
  cluster of Nomad servers.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To restore a snapshot from the file "backup.snap":

    $ raftwarden operator snapshot restore backup.snap

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator snapshot inspect",
        synopsis: "Displays information about a Nomad snapshot file",
        source: "command/operator_snapshot_inspect.go",
        text: r#"Usage: raftwarden operator snapshot inspect [options] <file>

  Displays information about a snapshot file on disk.
  The output will include all snapshot types and their
  respective sizes, sorted in descending order.

  To inspect the file "backup.snap":
    $ raftwarden operator snapshot inspect backup.snap

Snapshot Inspect Options:

  -json
  	Output the snapshot inspect in its JSON format."#,
    },
    Entry {
        path: "operator snapshot agent",
        synopsis: "Periodically saves snapshots of Nomad server state",
        source: "command/operator_snapshot_save.go (layout); the agent is Enterprise-only in Nomad",
        text: r#"Usage: raftwarden operator snapshot agent [options]

  Starts a process that saves snapshots of the state of the servers on an
  interval, verifies each one and keeps the newest, as the snapshot agent of
  Nomad Enterprise does. Its settings are read from the snapshot block of the
  -config file; its block named nomad, if any, gives the address, token and TLS
  files. It runs until interrupted.

  If ACLs are enabled, a token with operator:write or the operator:snapshot-save
  capability must be supplied.

General Options:

  @GENERAL_NO_NAMESPACE@

Snapshot Agent Options:

  -config=<path>
    The agent's configuration file (HCL, or JSON when it ends in .json).

  -max-rounds=<count>
    Stop after this many rounds. Defaults to 0, which runs until SIGINT or
    SIGTERM."#,
    },
];
