//! One function per command. Each parses its flags, makes its HTTP calls and prints Nomad's
//! texts; errors go to stderr with exit code 1.

use serde_json::json;
use serde_json::Value;

use super::client::Client;
use super::flags;
use super::flags::Kind;
use super::flags::Parsed;
use super::format;

const GLOBAL: &[(&str, Kind)] =
    &[("address", Kind::Value), ("token", Kind::Value), ("region", Kind::Value), ("namespace", Kind::Value)];

/// Parses global plus command flags and builds the client; prints usage errors itself.
fn setup(args: &[String], own: &[(&str, Kind)], usage: &str) -> Result<(Parsed, Client), i32> {
    let spec: Vec<(&str, Kind)> = GLOBAL.iter().chain(own.iter()).copied().collect();
    let parsed = match flags::parse(args, &spec) {
        Ok(p) => p,
        Err(flags::FlagError::Help) => {
            println!("{usage}");
            return Err(0);
        }
        Err(e) => {
            eprintln!("{e}\n\n{usage}");
            return Err(1);
        }
    };
    if !parsed.args.is_empty() {
        eprintln!("This command takes no arguments\n\n{usage}");
        return Err(1);
    }
    match Client::new(parsed.get("address"), parsed.get("token"), parsed.get("region")) {
        Ok(c) => Ok((parsed, c)),
        Err(e) => {
            eprintln!("Error initializing client: {e}");
            Err(1)
        }
    }
}

fn fail(msg: String) -> i32 {
    eprintln!("{msg}");
    1
}

/// `-json` / `-t` output, shared by the read commands. `None` means "print the text form".
fn formatted(p: &Parsed, v: &Value) -> Option<i32> {
    if p.bool("json") == Some(true) {
        print!("{}", format::json(v));
        return Some(0);
    }
    let t = p.get("t")?;
    Some(match format::template(t, v) {
        Ok(s) => {
            println!("{s}");
            0
        }
        Err(e) => fail(format!("Error formatting the data: {e}")),
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn raft_list_peers(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator raft list-peers [options]\n\n  -stale  Allow any server to answer (no leader needed).";
    let (p, c) = match setup(args, &[("stale", Kind::Bool)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let query: Vec<(&str, String)> =
        if p.bool("stale") == Some(true) { vec![("stale", String::new())] } else { vec![] };
    let v = match c.get_json("/v1/operator/raft/configuration", &query) {
        Ok(v) => v,
        Err(e) => return fail(format!("Failed to retrieve raft configuration: {e}")),
    };
    let mut servers: Vec<&Value> = v["Servers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    servers.sort_by_key(|s| s["Node"].as_str().unwrap_or("").to_string());
    let mut rows =
        vec![vec!["Node", "ID", "Address", "State", "Voter", "RaftProtocol"].into_iter().map(String::from).collect()];
    for sv in servers {
        let state = if sv["Leader"] == true { "leader" } else { "follower" };
        rows.push(vec![
            s(&sv["Node"]),
            s(&sv["ID"]),
            s(&sv["Address"]),
            state.into(),
            s(&sv["Voter"]),
            s(&sv["RaftProtocol"]),
        ]);
    }
    print!("{}", format::columnize(&rows, "  "));
    0
}

pub fn raft_remove_peer(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator raft remove-peer -peer-id=<id>";
    let (p, c) = match setup(args, &[("peer-id", Kind::Value)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let Some(id) = p.get("peer-id").filter(|i| !i.is_empty()) else {
        return fail(format!("Missing peer id required\n\n{usage}"));
    };
    match c.send(reqwest::Method::DELETE, "/v1/operator/raft/peer", &[("id", id.to_string())], None) {
        Ok(_) => {
            println!("Removed peer with id {id:?}");
            0
        }
        Err(e) => fail(format!("Error removing peer: {e}")),
    }
}

pub fn raft_transfer_leadership(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator raft transfer-leadership [-peer-id=<id> | -peer-address=<ip:port>]";
    let (p, c) = match setup(args, &[("peer-id", Kind::Value), ("peer-address", Kind::Value)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (key, value, label) = match (p.get("peer-id"), p.get("peer-address")) {
        (Some(_), Some(_)) => return fail(format!("Must specify only one of -peer-id or -peer-address\n\n{usage}")),
        (Some(id), None) => ("id", id, "id"),
        (None, Some(addr)) => ("address", addr, "address"),
        (None, None) => return fail(format!("Missing peer id or address required\n\n{usage}")),
    };
    match c.send(reqwest::Method::PUT, "/v1/operator/raft/transfer-leadership", &[(key, value.to_string())], None) {
        Ok(_) => {
            println!("Transferred leadership to peer with {label} {value:?}");
            0
        }
        Err(e) => fail(format!("Error transferring leadership to peer: {e}")),
    }
}

pub fn autopilot_get_config(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator autopilot get-config [-json] [-t <template>]";
    let (p, c) = match setup(args, &[("json", Kind::Bool), ("t", Kind::Value)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let v = match c.get_json("/v1/operator/autopilot/configuration", &[]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying Autopilot configuration: {e}")),
    };
    if let Some(code) = formatted(&p, &v) {
        return code;
    }
    for k in [
        "CleanupDeadServers",
        "LastContactThreshold",
        "MaxTrailingLogs",
        "MinQuorum",
        "ServerStabilizationTime",
        "EnableRedundancyZones",
        "DisableUpgradeMigration",
        "EnableCustomUpgrades",
    ] {
        println!("{k} = {}", s(&v[k]));
    }
    0
}

pub fn autopilot_set_config(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator autopilot set-config [options]\n\n  -cleanup-dead-servers=<bool> -max-trailing-logs=<n> -min-quorum=<n>\n  -last-contact-threshold=<duration> -server-stabilization-time=<duration>\n  -enable-redundancy-zones=<bool> -disable-upgrade-migration=<bool> -enable-custom-upgrades=<bool>";
    let bools =
        ["cleanup-dead-servers", "enable-redundancy-zones", "disable-upgrade-migration", "enable-custom-upgrades"];
    let values = ["max-trailing-logs", "min-quorum", "last-contact-threshold", "server-stabilization-time"];
    let spec: Vec<(&str, Kind)> =
        bools.iter().map(|b| (*b, Kind::Bool)).chain(values.iter().map(|v| (*v, Kind::Value))).collect();
    let (p, c) = match setup(args, &spec, usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let mut v = match c.get_json("/v1/operator/autopilot/configuration", &[]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying Autopilot configuration: {e}")),
    };
    let field = |flag: &str| -> String { flag.split('-').map(capitalize).collect::<String>() };
    for b in bools {
        if let Some(x) = p.bool(b) {
            v[field(b)] = json!(x);
        }
    }
    for n in ["max-trailing-logs", "min-quorum"] {
        if let Some(x) = p.get(n) {
            match x.parse::<u64>() {
                Ok(x) => v[field(n)] = json!(x),
                Err(e) => return fail(format!("invalid value {x:?} for flag -{n}: {e}")),
            }
        }
    }
    for d in ["last-contact-threshold", "server-stabilization-time"] {
        if let Some(x) = p.get(d) {
            match raftwarden_actors::duration::parse(x) {
                Ok(ns) => v[field(d)] = json!(raftwarden_actors::duration::format(ns)),
                Err(e) => return fail(format!("invalid value {x:?} for flag -{d}: {e}")),
            }
        }
    }
    let cas = s(&v["ModifyIndex"]);
    match c.put_json("/v1/operator/autopilot/configuration", &[("cas", cas)], &v) {
        Ok(Value::Bool(true)) => {
            println!("Configuration updated!");
            0
        }
        Ok(_) => fail("Configuration could not be atomically updated, please try again".into()),
        Err(e) => fail(format!("Error setting Autopilot configuration: {e}")),
    }
}

/// `cleanup` → `Cleanup`; the flag words joined give the Go field name.
fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub fn autopilot_health(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator autopilot health [-json]";
    let (p, c) = match setup(args, &[("json", Kind::Bool)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let v = match c.get_json("/v1/operator/autopilot/health", &[]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying Autopilot configuration: {e}")),
    };
    if let Some(code) = formatted(&p, &v) {
        return code;
    }
    println!("Healthy: {}", s(&v["Healthy"]));
    println!("FailureTolerance: {}", s(&v["FailureTolerance"]));
    println!("Leader: {}", s(&v["Leader"]));
    println!("Voters:");
    for id in v["Voters"].as_array().into_iter().flatten() {
        println!("   {}", s(id));
    }
    println!("\nServers:");
    let cols = [
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
    let mut rows = vec![cols.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
    for sv in v["Servers"].as_array().into_iter().flatten() {
        rows.push(cols.iter().map(|c| s(&sv[*c])).collect());
    }
    print!("{}", format::columnize(&rows, "  "));
    0
}

pub fn scheduler_get_config(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator scheduler get-config [-json] [-t <template>]";
    let (p, c) = match setup(args, &[("json", Kind::Bool), ("t", Kind::Value)], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let v = match c.get_json("/v1/operator/scheduler/configuration", &[]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying scheduler configuration: {e}")),
    };
    if let Some(code) = formatted(&p, &v) {
        return code;
    }
    let sc = &v["SchedulerConfig"];
    let pc = &sc["PreemptionConfig"];
    print!(
        "{}",
        format::key_values(&[
            ("Scheduler Algorithm", s(&sc["SchedulerAlgorithm"])),
            ("Memory Oversubscription", s(&sc["MemoryOversubscriptionEnabled"])),
            ("Reject Job Registration", s(&sc["RejectJobRegistration"])),
            ("Pause Eval Broker", s(&sc["PauseEvalBroker"])),
            ("Preemption System Scheduler", s(&pc["SystemSchedulerEnabled"])),
            ("Preemption Service Scheduler", s(&pc["ServiceSchedulerEnabled"])),
            ("Preemption Batch Scheduler", s(&pc["BatchSchedulerEnabled"])),
            ("Preemption SysBatch Scheduler", s(&pc["SysBatchSchedulerEnabled"])),
            ("Node Limit For Feasibility Checks", s(&sc["NodeLimitForFeasibilityChecks"])),
            ("Modify Index", s(&sc["ModifyIndex"])),
        ])
    );
    0
}

pub fn scheduler_set_config(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden operator scheduler set-config [options]\n\n  -check-index=<n> -scheduler-algorithm=<binpack|spread> -memory-oversubscription=<bool>\n  -reject-job-registration=<bool> -pause-eval-broker=<bool> -preempt-batch-scheduler=<bool>\n  -preempt-service-scheduler=<bool> -preempt-sysbatch-scheduler=<bool> -preempt-system-scheduler=<bool>\n  -node-limit-for-feasibility-checks=<n>";
    let bools: [(&str, &[&str]); 7] = [
        ("memory-oversubscription", &["MemoryOversubscriptionEnabled"]),
        ("reject-job-registration", &["RejectJobRegistration"]),
        ("pause-eval-broker", &["PauseEvalBroker"]),
        ("preempt-batch-scheduler", &["PreemptionConfig", "BatchSchedulerEnabled"]),
        ("preempt-service-scheduler", &["PreemptionConfig", "ServiceSchedulerEnabled"]),
        ("preempt-sysbatch-scheduler", &["PreemptionConfig", "SysBatchSchedulerEnabled"]),
        ("preempt-system-scheduler", &["PreemptionConfig", "SystemSchedulerEnabled"]),
    ];
    let mut spec: Vec<(&str, Kind)> = bools.iter().map(|(f, _)| (*f, Kind::Bool)).collect();
    spec.extend([
        ("check-index", Kind::Value),
        ("scheduler-algorithm", Kind::Value),
        ("node-limit-for-feasibility-checks", Kind::Value),
    ]);
    let (p, c) = match setup(args, &spec, usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let v = match c.get_json("/v1/operator/scheduler/configuration", &[]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying scheduler configuration: {e}")),
    };
    let mut sc = v["SchedulerConfig"].clone();
    let current = sc["ModifyIndex"].as_u64().unwrap_or(0);
    if let Some(ci) = p.get("check-index") {
        let want: u64 = match ci.parse() {
            Ok(n) => n,
            Err(e) => return fail(format!("invalid value {ci:?} for flag -check-index: {e}")),
        };
        if want != current {
            return fail(format!(
                "Error performing check index set: check-index {want} does not match does not match current state value {current}"
            ));
        }
    }
    if let Some(a) = p.get("scheduler-algorithm") {
        if a != "binpack" && a != "spread" {
            return fail(format!("Invalid scheduler algorithm {a:?}: must be binpack or spread"));
        }
        sc["SchedulerAlgorithm"] = json!(a);
    }
    for (flag, path) in bools {
        if let Some(b) = p.bool(flag) {
            match path {
                [k] => sc[*k] = json!(b),
                [outer, inner] => sc[*outer][*inner] = json!(b),
                _ => {}
            }
        }
    }
    if let Some(n) = p.get("node-limit-for-feasibility-checks") {
        match n.parse::<u32>() {
            Ok(n) => sc["NodeLimitForFeasibilityChecks"] = json!(n),
            Err(e) => return fail(format!("invalid value {n:?} for flag -node-limit-for-feasibility-checks: {e}")),
        }
    }
    match c.put_json("/v1/operator/scheduler/configuration", &[("cas", current.to_string())], &sc) {
        Ok(r) if r["Updated"] == true => {
            println!("Scheduler configuration updated!");
            0
        }
        Ok(_) => fail("Scheduler configuration could not be atomically updated, please try again".into()),
        Err(e) => fail(format!("Error setting scheduler configuration: {e}")),
    }
}

pub fn server_members(args: &[String]) -> i32 {
    let usage = "Usage: raftwarden server members [options]";
    let (_, c) = match setup(args, &[], usage) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let v = match c.get_json("/v1/operator/raft/configuration", &[("stale", String::new())]) {
        Ok(v) => v,
        Err(e) => return fail(format!("Error querying servers: {e}")),
    };
    // Health (answered by the leader) gives status and version; without a leader, say so.
    let health = c.get_json("/v1/operator/autopilot/health", &[]).ok();
    let mut servers: Vec<&Value> = v["Servers"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
    servers.sort_by_key(|s| s["Node"].as_str().unwrap_or("").to_string());
    let mut rows = vec![["Name", "Address", "Port", "Status", "Leader", "Raft Version", "Build", "Region"]
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()];
    for sv in servers {
        let node = s(&sv["Node"]);
        let addr = s(&sv["Address"]);
        let (host, port) = addr.rsplit_once(':').unwrap_or((addr.as_str(), ""));
        let region = node.rsplit_once('.').map_or("", |(_, r)| r).to_string();
        let h = health
            .as_ref()
            .and_then(|h| h["Servers"].as_array().and_then(|a| a.iter().find(|x| x["ID"] == sv["ID"]).cloned()));
        let status = h.as_ref().map_or("unknown".to_string(), |h| s(&h["SerfStatus"]));
        let build = h.as_ref().map_or("unknown".to_string(), |h| s(&h["Version"]));
        rows.push(vec![
            node.clone(),
            host.into(),
            port.into(),
            status,
            s(&sv["Leader"]),
            s(&sv["RaftProtocol"]),
            build,
            region,
        ]);
    }
    print!("{}", format::columnize(&rows, "  "));
    0
}
