"""Drives python-nomad's ACL methods against a raftwarden agent with ACLs on.

Usage: python acl_python.py <host> <port>
Bootstraps the ACL system, then creates, reads, lists, updates and deletes policies and
tokens through python-nomad, checking every answer. Exits 0 and prints one JSON line of what
it saw; any exception or mismatch exits non-zero with the reason.
"""
import json
import sys

import nomad
import nomad.api.exceptions as exc

host, port = sys.argv[1], int(sys.argv[2])


def client(token=None):
    return nomad.Nomad(host=host, port=port, timeout=10, token=token)


def refused(call, kind):
    """`call()` raises python-nomad's exception of `kind`; returns the response text."""
    try:
        call()
    except kind as e:
        return e.nomad_resp.text
    raise AssertionError(f"expected {kind.__name__}")


anonymous = client()

# Without a token nothing but bootstrap is allowed.
assert refused(anonymous.acl.get_tokens, exc.URLNotAuthorizedNomadException) == "Permission denied"

boot = anonymous.acl.generate_bootstrap()
assert boot["Type"] == "management" and boot["Name"] == "Bootstrap Token", boot
assert boot["AccessorID"] and boot["SecretID"], boot
# Only once.
again = refused(anonymous.acl.generate_bootstrap, exc.BadRequestNomadException)
assert again.startswith("ACL bootstrap already done (reset index: "), again

mgmt = client(boot["SecretID"])

# Policies.
rules = 'operator {\n  policy = "read"\n}\n'
resp = mgmt.acl.create_policy("ops", {"Name": "ops", "Description": "Operators", "Rules": rules})
assert resp.status_code == 200, resp.text
policy = mgmt.acl.get_policy("ops")
assert (policy["Name"], policy["Description"], policy["Rules"]) == ("ops", "Operators", rules), policy
created_index = policy["CreateIndex"]
resp = mgmt.acl.update_policy("ops", {"Name": "ops", "Description": "Readers", "Rules": rules})
assert resp.status_code == 200, resp.text
policy = mgmt.acl.get_policy("ops")
assert policy["Description"] == "Readers" and policy["ModifyIndex"] > created_index, policy
assert policy["CreateIndex"] == created_index, policy
bad = refused(
    lambda: mgmt.acl.create_policy("bad", {"Name": "bad", "Rules": 'operator { policy = "x" }'}),
    exc.BadRequestNomadException,
)
assert bad.startswith("policy 0 invalid: "), bad
mgmt.acl.create_policy("scratch", {"Name": "scratch", "Rules": rules})
names = sorted(p["Name"] for p in mgmt.acl.get_policies())
assert names == ["ops", "scratch"], names
assert refused(lambda: mgmt.acl.get_policy("nope"), exc.URLNotFoundNomadException) == "ACL policy not found"

# Tokens.
token = mgmt.acl.create_token({"Name": "reader", "Type": "client", "Policies": ["ops"]})
assert token["Name"] == "reader" and token["Policies"] == ["ops"] and token["SecretID"], token
accessor = token["AccessorID"]
got = mgmt.acl.get_token(accessor)
assert got["SecretID"] == token["SecretID"] and got["Type"] == "client", got
listed = mgmt.acl.get_tokens()
assert sorted(t["AccessorID"] for t in listed) == sorted([boot["AccessorID"], accessor]), listed
assert all("SecretID" not in t for t in listed), listed

reader = client(token["SecretID"])
own = reader.acl.get_self_token()
assert own["AccessorID"] == accessor and own["SecretID"] == token["SecretID"], own
assert mgmt.acl.get_self_token()["AccessorID"] == boot["AccessorID"]
# A client token reads its own policies and token, nothing more.
assert [p["Name"] for p in reader.acl.get_policies()] == ["ops"]
assert reader.acl.get_policy("ops")["Name"] == "ops"
assert reader.acl.get_token(accessor)["AccessorID"] == accessor
refused(lambda: reader.acl.get_policy("scratch"), exc.URLNotAuthorizedNomadException)
refused(reader.acl.get_tokens, exc.URLNotAuthorizedNomadException)
refused(lambda: reader.acl.create_token({"Type": "management"}), exc.URLNotAuthorizedNomadException)

updated = mgmt.acl.update_token(
    accessor, {"AccessorID": accessor, "Name": "renamed", "Type": "client", "Policies": ["ops", "scratch"]}
)
assert updated["Name"] == "renamed" and updated["Policies"] == ["ops", "scratch"], updated
assert updated["SecretID"] == token["SecretID"] and updated["ModifyIndex"] > token["ModifyIndex"], updated
mismatch = refused(
    lambda: mgmt.acl.update_token(accessor, {"AccessorID": boot["AccessorID"], "Type": "client"}),
    exc.BadRequestNomadException,
)
assert mismatch == "ACL token accessor does not match request path", mismatch

# Deletes.
assert mgmt.acl.delete_token(accessor) is True
refused(lambda: mgmt.acl.get_token(accessor), exc.URLNotFoundNomadException)
refused(reader.acl.get_self_token, exc.URLNotAuthorizedNomadException)
assert mgmt.acl.delete_policy("scratch") is True
assert [p["Name"] for p in mgmt.acl.get_policies()] == ["ops"]

print(json.dumps({"bootstrap": boot["AccessorID"], "token": accessor, "policies": ["ops"]}))
