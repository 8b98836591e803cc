"""Drives python-nomad against a running raftwarden cluster.

Usage: python python_nomad.py <host> <port> <servers>
Exits 0 and prints one JSON line of what it saw when every call works and agrees with the
cluster; any exception or mismatch exits non-zero with the reason.
"""
import json
import sys

import nomad

host, port, servers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = nomad.Nomad(host=host, port=port, timeout=10)

members = n.agent.get_members()
alive = [m for m in members["Members"] if m["Status"] == "alive"]
assert len(alive) == servers, members
assert all(m["Port"] == 4648 and m["Tags"]["role"] == "nomad" for m in alive), members

leader = n.status.leader.get_leader()
assert leader.endswith(":4647"), leader

peers = n.status.peers.get_peers()
assert len(peers) == servers and leader in peers, (leader, peers)

config = n.operator.get_configuration()
assert len(config["Servers"]) == servers, config
assert [s["Address"] for s in config["Servers"] if s["Leader"]] == [leader], config

print(json.dumps({"members": sorted(m["Name"] for m in alive), "leader": leader, "peers": sorted(peers)}))
