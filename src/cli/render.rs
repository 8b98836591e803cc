//! The text form of each read command, from the server's JSON as received. Missing fields
//! print as empty cells rather than failing: the output is for people, and Nomad's client
//! would show zero values too.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::CliError;
use super::format;
use super::format::cell;

/// `-json` / `-t` output of the whole response, or `None` for the command's text form. An
/// empty template counts as none, as in Nomad.
pub fn formatted(json: bool, template: Option<&str>, data: &Value) -> Result<Option<String>, CliError> {
    match (json, template.filter(|t| !t.is_empty())) {
        (true, Some(_)) => Err(CliError::JsonAndTemplate),
        (true, None) => Ok(Some(format::json(data)?)),
        (false, Some(t)) => Ok(Some(format::template(t, data)? + "\n")),
        (false, None) => Ok(None),
    }
}

fn servers(config: &Value) -> Vec<&Value> {
    let mut servers: Vec<&Value> = config["Servers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    servers.sort_by_cached_key(|s| cell(&s["Node"]));
    servers
}

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// `operator raft list-peers`: the raft configuration, sorted by node name.
pub fn raft_peers(config: &Value) -> String {
    let mut rows = vec![header(&["Node", "ID", "Address", "State", "Voter", "RaftProtocol"])];
    for s in servers(config) {
        let state = if s["Leader"] == true { "leader" } else { "follower" };
        rows.push(vec![
            cell(&s["Node"]),
            cell(&s["ID"]),
            cell(&s["Address"]),
            state.into(),
            cell(&s["Voter"]),
            cell(&s["RaftProtocol"]),
        ]);
    }
    format::columnize(&rows, "  ", "")
}

/// `operator autopilot get-config`; durations print as the server sent them (Go format).
pub fn autopilot_config(config: &Value) -> String {
    [
        "CleanupDeadServers",
        "LastContactThreshold",
        "MaxTrailingLogs",
        "MinQuorum",
        "ServerStabilizationTime",
        "EnableRedundancyZones",
        "DisableUpgradeMigration",
        "EnableCustomUpgrades",
    ]
    .iter()
    .map(|key| format!("{key} = {}\n", cell(&config[*key])))
    .collect()
}

/// `operator autopilot health`, as Nomad's `formatAutopilotState` prints it: its header lines
/// keep their trailing spaces, the voter list is a one-column table whose cells lose the tab
/// put before each (so only the first voter is indented), and the text ends with an empty line.
pub fn autopilot_health(health: &Value) -> String {
    let voters: Vec<Vec<String>> = health["Voters"].as_array().into_iter().flatten().map(|v| vec![cell(v)]).collect();
    let mut voters = format::columnize(&voters, "  ", "<none>");
    voters.pop();
    let columns = [
        "ID",
        "Name",
        "Address",
        "SerfStatus",
        "Version",
        "Leader",
        "Voter",
        "Healthy",
        "LastContact",
        "LastTerm",
        "LastIndex",
        "StableSince",
    ];
    let mut rows = vec![header(&columns)];
    for s in health["Servers"].as_array().into_iter().flatten() {
        rows.push(
            columns
                .iter()
                .map(|c| match *c {
                    "StableSince" => format::go_time(&cell(&s[*c])),
                    _ => cell(&s[*c]),
                })
                .collect(),
        );
    }
    format!(
        "Healthy: {}\nFailureTolerance: {}\nLeader: {}\nVoters:  \n\t{voters}\nServers: \n{}\n",
        cell(&health["Healthy"]),
        cell(&health["FailureTolerance"]),
        cell(&health["Leader"]),
        format::columnize(&rows, "  ", "<none>"),
    )
}

/// `operator scheduler get-config`: Nomad's `formatKV` table.
pub fn scheduler_config(response: &Value) -> String {
    let config = &response["SchedulerConfig"];
    let preemption = &config["PreemptionConfig"];
    format::key_values(&[
        ("Scheduler Algorithm", cell(&config["SchedulerAlgorithm"])),
        ("Memory Oversubscription", cell(&config["MemoryOversubscriptionEnabled"])),
        ("Reject Job Registration", cell(&config["RejectJobRegistration"])),
        ("Pause Eval Broker", cell(&config["PauseEvalBroker"])),
        ("Preemption System Scheduler", cell(&preemption["SystemSchedulerEnabled"])),
        ("Preemption Service Scheduler", cell(&preemption["ServiceSchedulerEnabled"])),
        ("Preemption Batch Scheduler", cell(&preemption["BatchSchedulerEnabled"])),
        ("Preemption SysBatch Scheduler", cell(&preemption["SysBatchSchedulerEnabled"])),
        ("Node Limit For Feasibility Checks", cell(&config["NodeLimitForFeasibilityChecks"])),
        ("Modify Index", cell(&config["ModifyIndex"])),
    ])
}

/// Whether `member` is its region's leader: its gossip IP with its RPC port (`port` tag) is the
/// address `/v1/status/leader` names (Nomad's `isLeader`).
pub fn is_leader(member: &Value, leaders: &BTreeMap<String, String>) -> bool {
    let addr = cell(&member["Addr"]);
    let port = cell(&member["Tags"]["port"]);
    let joined = if addr.contains(':') { format!("[{addr}]:{port}") } else { format!("{addr}:{port}") };
    leaders.get(&cell(&member["Tags"]["region"])).is_some_and(|l| *l == joined)
}

/// `server members` (`-verbose` adds the protocol and every tag): one row per gossip member,
/// in the order given (Nomad sorts by name first).
pub fn server_members(members: &[Value], leaders: &BTreeMap<String, String>, verbose: bool) -> String {
    let mut rows = vec![if verbose {
        header(&[
            "Name",
            "Address",
            "Port",
            "Status",
            "Leader",
            "Protocol",
            "Raft Version",
            "Build",
            "Datacenter",
            "Region",
            "Tags",
        ])
    } else {
        header(&["Name", "Address", "Port", "Status", "Leader", "Raft Version", "Build", "Datacenter", "Region"])
    }];
    for m in members {
        let tags = &m["Tags"];
        let mut row = vec![
            cell(&m["Name"]),
            cell(&m["Addr"]),
            cell(&m["Port"]),
            cell(&m["Status"]),
            is_leader(m, leaders).to_string(),
        ];
        if verbose {
            row.push(cell(&m["ProtocolCur"]));
        }
        row.extend([cell(&tags["raft_vsn"]), cell(&tags["build"]), cell(&tags["dc"]), cell(&tags["region"])]);
        if verbose {
            // Go prints its map in random order; sorted is as valid and stable.
            let mut pairs: Vec<String> = tags
                .as_object()
                .map(|t| t.iter().map(|(k, v)| format!("{k}={}", cell(v))).collect())
                .unwrap_or_default();
            pairs.sort();
            row.push(pairs.join(","));
        }
        rows.push(row);
    }
    format::columnize(&rows, "  ", "<none>")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raft_config() -> Value {
        json!({
            "Servers": [
                {"ID": "id-b", "Node": "beta.global", "Address": "10.0.0.2:4647", "Leader": false, "Voter": true, "RaftProtocol": "3"},
                {"ID": "id-a", "Node": "alpha.global", "Address": "10.0.0.1:4647", "Leader": true, "Voter": true, "RaftProtocol": "3"},
                {"ID": "id-c", "Node": "(unknown)", "Address": "[::1]:4647", "Leader": false, "Voter": false, "RaftProtocol": "unknown"}
            ],
            "Index": 12
        })
    }

    #[test]
    fn raft_peers_table() {
        assert_eq!(
            raft_peers(&raft_config()),
            "\
Node          ID    Address        State     Voter  RaftProtocol
(unknown)     id-c  [::1]:4647     follower  false  unknown
alpha.global  id-a  10.0.0.1:4647  leader    true   3
beta.global   id-b  10.0.0.2:4647  follower  true   3
"
        );
        assert_eq!(raft_peers(&json!({})), "Node  ID  Address  State  Voter  RaftProtocol\n");
    }

    #[test]
    fn autopilot_config_lines() {
        let config = json!({
            "LastContactThreshold": "200ms", "ServerStabilizationTime": "10s", "CleanupDeadServers": true,
            "MaxTrailingLogs": 250, "MinQuorum": 0, "EnableRedundancyZones": false,
            "DisableUpgradeMigration": false, "EnableCustomUpgrades": false, "CreateIndex": 4, "ModifyIndex": 4
        });
        assert_eq!(
            autopilot_config(&config),
            "\
CleanupDeadServers = true
LastContactThreshold = 200ms
MaxTrailingLogs = 250
MinQuorum = 0
ServerStabilizationTime = 10s
EnableRedundancyZones = false
DisableUpgradeMigration = false
EnableCustomUpgrades = false
"
        );
    }

    #[test]
    fn autopilot_health_text() {
        let health = json!({
            "Healthy": true, "FailureTolerance": 0,
            "Servers": [{
                "LastContact": "0s", "ID": "id-a", "Name": "alpha.global", "Address": "10.0.0.1:4647",
                "SerfStatus": "alive", "Version": "0.1.0", "Leader": true, "LastTerm": 2, "LastIndex": 10,
                "Healthy": true, "Voter": true, "StableSince": "2026-11-24T22:45:06Z"
            }],
            "Leader": "id-a", "Voters": ["id-a"]
        });
        assert_eq!(
            autopilot_health(&health),
            "\
Healthy: true
FailureTolerance: 0
Leader: id-a
Voters:  
\tid-a
Servers: 
ID    Name          Address        SerfStatus  Version  Leader  Voter  Healthy  LastContact  LastTerm  LastIndex  StableSince
id-a  alpha.global  10.0.0.1:4647  alive       0.1.0    true    true   true     0s           2         10         2026-11-24 22:45:06 +0000 UTC

"
        );
        let voters = json!({"Voters": ["id-a", "id-b"]});
        assert!(autopilot_health(&voters).contains("Voters:  \n\tid-a\nid-b\nServers: \n"));
        let text = autopilot_health(&json!({"Healthy": false}));
        assert!(
            text.starts_with("Healthy: false\nFailureTolerance: \nLeader: \nVoters:  \n\t\nServers: \nID  "),
            "{text}"
        );
    }

    #[test]
    fn scheduler_config_table() {
        let response = json!({
            "SchedulerConfig": {
                "SchedulerAlgorithm": "binpack",
                "PreemptionConfig": {"SystemSchedulerEnabled": true, "SysBatchSchedulerEnabled": false,
                                     "BatchSchedulerEnabled": false, "ServiceSchedulerEnabled": false},
                "MemoryOversubscriptionEnabled": false, "RejectJobRegistration": false, "PauseEvalBroker": false,
                "NodeLimitForFeasibilityChecks": 0, "CreateIndex": 5, "ModifyIndex": 5
            },
            "Index": 5, "LastContact": 0, "KnownLeader": true, "NextToken": ""
        });
        assert_eq!(
            scheduler_config(&response),
            "\
Scheduler Algorithm               = binpack
Memory Oversubscription           = false
Reject Job Registration           = false
Pause Eval Broker                 = false
Preemption System Scheduler       = true
Preemption Service Scheduler      = false
Preemption Batch Scheduler        = false
Preemption SysBatch Scheduler     = false
Node Limit For Feasibility Checks = 0
Modify Index                      = 5
"
        );
    }

    #[test]
    fn server_members_table() {
        let member = |name: &str, addr: &str, status: &str| {
            json!({"Name": name, "Addr": addr, "Port": 4648, "Status": status, "ProtocolCur": 2,
                   "Tags": {"port": "4647", "region": "global", "dc": "dc1", "build": "0.1.0", "raft_vsn": "3"}})
        };
        let members = [member("a.global", "10.0.0.1", "alive"), member("b.global", "::1", "failed")];
        let leaders = BTreeMap::from([("global".to_string(), "10.0.0.1:4647".to_string())]);
        assert_eq!(
            server_members(&members, &leaders, false),
            "\
Name      Address   Port  Status  Leader  Raft Version  Build  Datacenter  Region
a.global  10.0.0.1  4648  alive   true    3             0.1.0  dc1         global
b.global  ::1       4648  failed  false   3             0.1.0  dc1         global
"
        );
        let verbose = server_members(&members[..1], &BTreeMap::new(), true);
        assert!(verbose.starts_with("Name      Address   Port  Status  Leader  Protocol  Raft Version"), "{verbose}");
        assert!(
            verbose.contains("  2  ") && verbose.ends_with("build=0.1.0,dc=dc1,port=4647,raft_vsn=3,region=global\n"),
            "{verbose}"
        );
    }
}
