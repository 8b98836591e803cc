//! Help texts of the `server` commands, in the wording and layout of Nomad's `Help()` for the
//! flags this CLI supports (the Nomad file each follows is named in `source`).

use super::Entry;

pub const ENTRIES: &[Entry] = &[
    Entry {
        path: "server",
        synopsis: "Interact with servers",
        source: "command/server.go",
        text: r#"Usage: raftwarden server <subcommand> [options] [args]

  This command groups subcommands for interacting with Nomad servers. Users can
  list Servers, join a server to the cluster, and force leave a server.

  List Nomad servers:

      $ raftwarden server members

  Join a new server to another:

      $ raftwarden server join "IP:Port"

  Force a server to leave:

      $ raftwarden server force-leave <name>

  Please see the individual subcommand help for detailed usage information."#,
    },
    Entry {
        path: "server members",
        synopsis: "Display a list of known servers and their status",
        source: "command/server_members.go",
        text: r#"Usage: raftwarden server members [options]

  Display a list of the known servers and their status. Only Nomad servers are
  able to service this command.

  If ACLs are enabled, this option requires a token with the 'node:read'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Server Members Options:

  -verbose
    Show detailed information about each member. This dumps a raw set of tags
    which shows more information than the default output format.

 -json
    Output the latest information about each member in a JSON format.

  -t
    Format and display latest information about each member using a Go template."#,
    },
    Entry {
        path: "server join",
        synopsis: "Join server nodes together",
        source: "command/server_join.go",
        text: r#"Usage: raftwarden server join [options] <addr> [<addr>...]

  Joins the local server to one or more Nomad servers. Joining is
  only required for server nodes, and only needs to succeed
  against one or more of the provided addresses. Once joined, the
  gossip layer will handle discovery of the other server nodes in
  the cluster.

General Options:

  @GENERAL_NO_NAMESPACE@"#,
    },
    Entry {
        path: "server force-leave",
        synopsis: "Force a server into the 'left' state",
        source: "command/server_force_leave.go",
        text: r#"Usage: raftwarden server force-leave [options] <node>

  Forces an server to enter the "left" state. This can be used to
  eject nodes which have failed and will not rejoin the cluster.
  Note that if the member is actually still alive, it will
  eventually rejoin the cluster again. The failed or left server will
  be garbage collected after 24h.

  If ACLs are enabled, this option requires a token with the 'agent:write'
  capability.

General Options:

  @GENERAL_NO_NAMESPACE@

Server Force-Leave Options:

  -prune
    Removes failed or left server from the Serf member list immediately.
	If member is actually still alive, it will eventually rejoin the cluster again."#,
    },
];
