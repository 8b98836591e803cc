//! Help texts of the `operator` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "operator",
        synopsis: "Provides cluster-level tools for Nomad operators",
        source: "command/operator.go",
        text: r#"Usage: raftwarden operator <subcommand> [options]

  Provides cluster-level tools for Nomad operators, such as interacting with
  the Raft subsystem. NOTE: Use this command with extreme caution, as improper
  use could lead to a Nomad outage and even loss of data.

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "operator raft",
        synopsis: "Provides access to the Raft subsystem",
        source: "command/operator_raft.go",
        text: r#"Usage: raftwarden operator raft <subcommand> [options]

  This command groups subcommands for interacting with Nomad's Raft subsystem.
  The command can be used to verify Raft peers or in rare cases to recover
  quorum by removing invalid peers.

  List Raft peers:

      $ raftwarden operator raft list-peers

  Remove a Raft peer:

      $ raftwarden operator raft remove-peer -peer-address "IP:Port"

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "operator raft list-peers",
        synopsis: "Display the current Raft peer configuration",
        source: "command/operator_raft_list.go",
        text: r#"Usage: raftwarden operator raft list-peers [options]

  Displays the current Raft peer configuration.

  If ACLs are enabled, this command requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@

List Peers Options:

  -stale=[true|false]
    The -stale argument defaults to "false" which means the leader provides the
    result. If the cluster is in an outage state without a leader, you may need
    to set -stale to "true" to get the configuration from a non-leader server."#,
    },
    Entry {
        path: "operator raft remove-peer",
        synopsis: "Remove a Nomad server from the Raft configuration",
        source: "command/operator_raft_remove.go",
        text: r#"Usage: raftwarden operator raft remove-peer [options]

  Remove the Nomad server with given -peer-id from the Raft configuration.

  There are rare cases where a peer may be left behind in the Raft quorum even
  though the server is no longer present and known to the cluster. This command
  can be used to remove the failed server so that it is no longer affects the
  Raft quorum. If the server still shows in the output of the "nomad
  server-members" command, it is preferable to clean up by simply running "nomad
  server-force-leave" instead of this command.

  If ACLs are enabled, this command requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@

Remove Peer Options:

  -peer-id="id"
	Remove a Nomad server with the given ID from the Raft configuration."#,
    },
    Entry {
        path: "operator raft transfer-leadership",
        synopsis: "Transfer leadership to a specified Nomad server",
        source: "command/operator_raft_leadership_transfer.go",
        text: r#"Usage: raftwarden operator raft transfer-leadership [options]

  Transfer leadership to the Nomad server with given -peer-address or
  -peer-id in the Raft configuration. All server nodes in the cluster
  must be running at least Raft protocol v3 in order to use this command.

  There are cases where you might desire transferring leadership from one
  cluster member to another, for example, during a rolling upgrade. This
  command allows you to designate a new server to be cluster leader.

  Note: This command requires a currently established leader to function.

  If ACLs are enabled, this command requires a management token.

General Options:

  @GENERAL_NO_NAMESPACE@

Transfer Leadership Options:

  -peer-address="IP:port"
    Transfer leadership to the Nomad server with given Raft address.

  -peer-id="id"
    Transfer leadership to the Nomad server with given Raft ID."#,
    },
    Entry {
        path: "operator autopilot",
        synopsis: "Provides tools for modifying Autopilot configuration",
        source: "command/operator_autopilot.go",
        text: r#"Usage: raftwarden operator autopilot <subcommand> [options]

  This command groups subcommands for interacting with Nomad's Autopilot
  subsystem. Autopilot provides automatic, operator-friendly management of Nomad
  servers. The command can be used to view or modify the current Autopilot
  configuration. For a full guide see: https://developer.hashicorp.com/nomad/docs/manage/autopilot

  Get the current Autopilot configuration:

      $ raftwarden operator autopilot get-config

  Set a new Autopilot configuration, enabling automatic dead server cleanup:

      $ raftwarden operator autopilot set-config -cleanup-dead-servers=true

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "operator autopilot get-config",
        synopsis: "Display the current Autopilot configuration",
        source: "command/operator_autopilot_get.go",
        text: r#"Usage: raftwarden operator autopilot get-config [options]

  Displays the current Autopilot configuration.

  If ACLs are enabled, this command requires a token with the 'operator:read'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Get Config Options:

  -json
    Output the Autopilot configuration in JSON format.

  -t
    Format and display the Autopilot configuration using a Go template."#,
    },
    Entry {
        path: "operator autopilot set-config",
        synopsis: "Modify the current Autopilot configuration",
        source: "command/operator_autopilot_set.go",
        text: r#"Usage: raftwarden operator autopilot set-config [options]

  Modifies the current Autopilot configuration.

  If ACLs are enabled, this command requires a token with the 'operator:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Set Config Options:

  -cleanup-dead-servers=[true|false]
     Controls whether Nomad will automatically remove dead servers when
     new ones are successfully added. Must be one of [true|false].

  -disable-upgrade-migration=[true|false]
     (Enterprise-only) Controls whether Nomad will avoid promoting
     new servers until it can perform a migration. Must be one of
     "true|false".

  -last-contact-threshold=200ms
     Controls the maximum amount of time a server can go without contact
     from the leader before being considered unhealthy. Must be a
     duration value such as "200ms".

  -max-trailing-logs=<value>
     Controls the maximum number of log entries that a server can trail
     the leader by before being considered unhealthy.

  -min-quorum=<value>
      Controls the minimum number of servers required in a cluster
      before autopilot can prune dead servers.

  -server-stabilization-time=<10s>
     Controls the minimum amount of time a server must be stable in
     the 'healthy' state before being added to the cluster. Only takes
     effect if all servers are running Raft protocol version 3 or
     higher. Must be a duration value such as "10s"."#,
    },
    Entry {
        path: "operator autopilot health",
        synopsis: "Display the current Autopilot health",
        source: "command/operator_autopilot_health.go",
        text: r#"Usage: raftwarden operator autopilot health [options]

  Displays the current Autopilot state.

  If ACLs are enabled, this command requires a token with the 'operator:read'
  capability.

General Options:

Output Options:

	-json
	Output the autopilot health in JSON format.

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator scheduler",
        synopsis: "Provides access to the scheduler configuration",
        source: "command/operator_scheduler.go",
        text: r#"Usage: raftwarden operator scheduler <subcommand> [options]

  This command groups subcommands for interacting with Nomad's scheduler
  subsystem.

  Get the scheduler configuration:

      $ raftwarden operator scheduler get-config

  Set the scheduler to use the spread algorithm:

      $ raftwarden operator scheduler set-config -scheduler-algorithm=spread

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "operator scheduler get-config",
        synopsis: "Display the current scheduler configuration",
        source: "command/operator_scheduler_get_config.go",
        text: r#"Usage: raftwarden operator scheduler get-config [options]

  Displays the current scheduler configuration.

  If ACLs are enabled, this command requires a token with the 'operator:read'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Scheduler Get Config Options:

  -json
    Output the scheduler config in its JSON format.

  -t
    Format and display the scheduler config using a Go template."#,
    },
    Entry {
        path: "operator scheduler set-config",
        synopsis: "Modify the current scheduler configuration",
        source: "command/operator_scheduler_set_config.go",
        text: r#"Usage: raftwarden operator scheduler set-config [options]

  Modifies the current scheduler configuration.

  If ACLs are enabled, this command requires a token with the 'operator:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Scheduler Set Config Options:

  -check-index
    If set, the scheduler config is only updated if the passed modify index
    matches the current server side version. If a non-zero value is passed, it
    ensures that the scheduler config is being updated from a known state.

  -scheduler-algorithm=["binpack"|"spread"]
    Specifies whether scheduler binpacks or spreads allocations on available
    nodes.

  -memory-oversubscription=[true|false]
    When true, tasks may exceed their reserved memory limit, if the client has
    excess memory capacity. Tasks must specify memory_max to take advantage of
    memory oversubscription.

  -reject-job-registration=[true|false]
    When true, the server will return permission denied errors for job registration,
    job dispatch, and job scale APIs, unless the ACL token for the request is a
    management token. If ACLs are disabled, no user will be able to register jobs.
    This allows operators to shed load from automated processes during incident
    response.

  -pause-eval-broker=[true|false]
    When set to true, the eval broker which usually runs on the leader will be
    disabled. This will prevent the scheduler workers from receiving new work.

  -preempt-batch-scheduler=[true|false]
    Specifies whether preemption for batch jobs is enabled. Note that if this
    is set to true, then batch jobs can preempt any other jobs.

  -preempt-service-scheduler=[true|false]
    Specifies whether preemption for service jobs is enabled. Note that if this
    is set to true, then service jobs can preempt any other jobs.

  -preempt-sysbatch-scheduler=[true|false]
    Specifies whether preemption for system batch jobs is enabled. Note that if
    this is set to true, then system batch jobs can preempt any other jobs.

  -preempt-system-scheduler=[true|false]
    Specifies whether preemption for system jobs is enabled. Note that if this
    is set to true, then system jobs can preempt any other jobs.

  -node-limit-for-feasibility-checks=<count>
    Limits the number of feasible nodes to consider when scheduling a job that
	specifies spread and/or affinity. Defaults to 100 nodes if unset. Lower
	numbers result in better scheduler performance and more randomization of jobs
	across nodes. Higher numbers result in more deterministic application of
	feasibility checks."#,
    },
    Entry {
        path: "operator gossip",
        synopsis: "Provides access to the Gossip protocol",
        source: "command/operator_gossip.go",
        text: r#"Usage: raftwarden operator gossip <subcommand> [options] [args]
	
  This command is accessed by using one of the subcommands below."#,
    },
    Entry {
        path: "operator gossip keyring",
        synopsis: "Manages gossip layer encryption keys",
        source: "command/operator_gossip_keyring.go",
        text: r#"Usage: raftwarden operator gossip keyring [options]

  Manages encryption keys used for gossip messages between Nomad servers. Gossip
  encryption is optional. When enabled, this command may be used to examine
  active encryption keys in the cluster, add new keys, and remove old ones. When
  combined, this functionality provides the ability to perform key rotation
  cluster-wide, without disrupting the cluster.

  Generate an encryption key:

      $ raftwarden operator gossip keyring generate

  List all gossip encryption keys:

      $ raftwarden operator gossip keyring list

  Remove an encryption key from the keyring:

      $ raftwarden operator gossip keyring remove <key>

  Install an encryption key from backup:

      $ raftwarden operator gossip keyring install <key>

  Use an already-installed encryption key:

      $ raftwarden operator gossip keyring use <key>

  Please see individual subcommand help for detailed usage information.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator gossip keyring generate",
        synopsis: "Generates a new encryption key",
        source: "command/operator_gossip_keyring_generate.go",
        text: r#"Usage: raftwarden operator gossip keying generate

  Generates a new 32-byte encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects."#,
    },
    Entry {
        path: "operator gossip keyring install",
        synopsis: "Install a gossip encryption key",
        source: "command/operator_gossip_keyring_install.go",
        text: r#"Usage: raftwarden operator gossip keyring install [options] <key>

  Install a new encryption key used for gossip. This will broadcast the new key
  to all members in the cluster.

  This command can only be run against server nodes. It returns 0 if all nodes
  reply and there are no errors. If any node fails to reply or reports failure,
  the exit code will be 1.

  If ACLs are enabled, this command requires a token with the 'agent:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator gossip keyring list",
        synopsis: "List gossip encryption keys",
        source: "command/operator_gossip_keyring_list.go",
        text: r#"Usage: raftwarden operator gossip keyring list [options]

  List all gossip keys currently in use within the cluster.

  This command can only be run against server nodes. It returns 0 if all nodes
  reply and there are no errors. If any node fails to reply or reports failure,
  the exit code will be 1.

  If ACLs are enabled, this command requires a token with the 'agent:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator gossip keyring remove",
        synopsis: "Remove a gossip encryption key",
        source: "command/operator_gossip_keyring_remove.go",
        text: r#"Usage: raftwarden operator gossip keyring remove [options] <key>

  Remove the given key from the cluster. This operation may only be performed
  on keys which are not currently the primary key.

  This command can only be run against server nodes. It returns 0 if all nodes
  reply and there are no errors. If any node fails to reply or reports failure,
  the exit code will be 1.

  If ACLs are enabled, this command requires a token with the 'agent:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator gossip keyring use",
        synopsis: "Change the gossip encryption key",
        source: "command/operator_gossip_keyring_use.go",
        text: r#"Usage: raftwarden operator gossip keyring use [options] <key>

  Change the encryption key used for gossip. The key must already be installed
  before this operator can succeed.

  This command can only be run against server nodes. It returns 0 if all nodes
  reply and there are no errors. If any node fails to reply or reports failure,
  the exit code will be 1.

  If ACLs are enabled, this command requires a token with the 'agent:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "operator keygen",
        synopsis: "Generates a new encryption key",
        source: "command/operator_gossip_keyring_generate.go (the deprecated operator keygen)",
        text: r#"Usage: raftwarden operator keygen

  Generates a new 32-byte encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects.

  This command is deprecated: use "raftwarden operator gossip keyring generate"."#,
    },
];
