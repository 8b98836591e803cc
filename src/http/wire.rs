//! Response bodies in Nomad's wire shape: Go field names, Go struct field order, Go duration
//! strings where Nomad's custom marshallers emit them.

use raftwarden_actors::autopilot::HealthReply;
use raftwarden_actors::autopilot::ServerHealth;
use raftwarden_actors::membership::Transfer;
use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::Row;
use raftwarden_actors::state::SchedulerConfig;
use raftwarden_actors::RaftConfiguration;
use serde::Serialize;

use crate::go::duration;
use crate::go::rfc3339;

#[derive(Serialize)]
pub struct AutopilotConfiguration {
    #[serde(rename = "LastContactThreshold")]
    pub last_contact_threshold: String,
    #[serde(rename = "ServerStabilizationTime")]
    pub server_stabilization_time: String,
    #[serde(rename = "CleanupDeadServers")]
    pub cleanup_dead_servers: bool,
    #[serde(rename = "MaxTrailingLogs")]
    pub max_trailing_logs: u64,
    #[serde(rename = "MinQuorum")]
    pub min_quorum: u64,
    #[serde(rename = "EnableRedundancyZones")]
    pub enable_redundancy_zones: bool,
    #[serde(rename = "DisableUpgradeMigration")]
    pub disable_upgrade_migration: bool,
    #[serde(rename = "EnableCustomUpgrades")]
    pub enable_custom_upgrades: bool,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

impl From<&Row<AutopilotConfig>> for AutopilotConfiguration {
    fn from(r: &Row<AutopilotConfig>) -> Self {
        let c = &r.value;
        Self {
            last_contact_threshold: duration::format(c.last_contact_threshold),
            server_stabilization_time: duration::format(c.server_stabilization_time),
            cleanup_dead_servers: c.cleanup_dead_servers,
            max_trailing_logs: c.max_trailing_logs,
            min_quorum: c.min_quorum,
            enable_redundancy_zones: c.enable_redundancy_zones,
            disable_upgrade_migration: c.disable_upgrade_migration,
            enable_custom_upgrades: c.enable_custom_upgrades,
            create_index: r.create_index,
            modify_index: r.modify_index,
        }
    }
}

#[derive(Serialize)]
pub struct PreemptionConfig {
    #[serde(rename = "SystemSchedulerEnabled")]
    pub system: bool,
    #[serde(rename = "SysBatchSchedulerEnabled")]
    pub sysbatch: bool,
    #[serde(rename = "BatchSchedulerEnabled")]
    pub batch: bool,
    #[serde(rename = "ServiceSchedulerEnabled")]
    pub service: bool,
}

#[derive(Serialize)]
pub struct SchedulerConfiguration {
    #[serde(rename = "SchedulerAlgorithm")]
    pub scheduler_algorithm: &'static str,
    #[serde(rename = "PreemptionConfig")]
    pub preemption_config: PreemptionConfig,
    #[serde(rename = "MemoryOversubscriptionEnabled")]
    pub memory_oversubscription_enabled: bool,
    #[serde(rename = "RejectJobRegistration")]
    pub reject_job_registration: bool,
    #[serde(rename = "PauseEvalBroker")]
    pub pause_eval_broker: bool,
    #[serde(rename = "NodeLimitForFeasibilityChecks")]
    pub node_limit_for_feasibility_checks: u32,
    #[serde(rename = "CreateIndex")]
    pub create_index: u64,
    #[serde(rename = "ModifyIndex")]
    pub modify_index: u64,
}

impl From<&Row<SchedulerConfig>> for SchedulerConfiguration {
    fn from(r: &Row<SchedulerConfig>) -> Self {
        let c = &r.value;
        let p = &c.preemption_config;
        Self {
            scheduler_algorithm: c.scheduler_algorithm.as_str(),
            preemption_config: PreemptionConfig {
                system: p.system_scheduler_enabled,
                sysbatch: p.sysbatch_scheduler_enabled,
                batch: p.batch_scheduler_enabled,
                service: p.service_scheduler_enabled,
            },
            memory_oversubscription_enabled: c.memory_oversubscription_enabled,
            reject_job_registration: c.reject_job_registration,
            pause_eval_broker: c.pause_eval_broker,
            node_limit_for_feasibility_checks: c.node_limit_for_feasibility_checks,
            create_index: r.create_index,
            modify_index: r.modify_index,
        }
    }
}

#[derive(Serialize)]
pub struct SchedulerConfigurationResponse {
    #[serde(rename = "SchedulerConfig")]
    pub scheduler_config: SchedulerConfiguration,
    #[serde(rename = "Index")]
    pub index: u64,
    /// Go `time.Duration`: integer nanoseconds.
    #[serde(rename = "LastContact")]
    pub last_contact: i64,
    #[serde(rename = "KnownLeader")]
    pub known_leader: bool,
    #[serde(rename = "NextToken")]
    pub next_token: &'static str,
}

#[derive(Serialize)]
pub struct SchedulerSetConfigurationResponse {
    #[serde(rename = "Updated")]
    pub updated: bool,
    #[serde(rename = "Index")]
    pub index: u64,
}

#[derive(Serialize)]
pub struct RaftServer {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Node")]
    pub node: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "Leader")]
    pub leader: bool,
    #[serde(rename = "Voter")]
    pub voter: bool,
    #[serde(rename = "RaftProtocol")]
    pub raft_protocol: String,
}

#[derive(Serialize)]
pub struct RaftConfigurationResponse {
    #[serde(rename = "Servers")]
    pub servers: Vec<RaftServer>,
    #[serde(rename = "Index")]
    pub index: u64,
}

impl From<RaftConfiguration> for RaftConfigurationResponse {
    fn from(c: RaftConfiguration) -> Self {
        let servers = c
            .servers
            .into_iter()
            .map(|s| RaftServer {
                id: s.id,
                node: s.node,
                address: s.address,
                leader: s.leader,
                voter: s.voter,
                raft_protocol: s.raft_protocol,
            })
            .collect();
        Self { servers, index: c.index }
    }
}

#[derive(Serialize)]
pub struct ServerHealthWire {
    #[serde(rename = "LastContact")]
    pub last_contact: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "SerfStatus")]
    pub serf_status: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Leader")]
    pub leader: bool,
    #[serde(rename = "LastTerm")]
    pub last_term: u64,
    #[serde(rename = "LastIndex")]
    pub last_index: u64,
    #[serde(rename = "Healthy")]
    pub healthy: bool,
    #[serde(rename = "Voter")]
    pub voter: bool,
    #[serde(rename = "StableSince")]
    pub stable_since: String,
}

impl From<&ServerHealth> for ServerHealthWire {
    fn from(s: &ServerHealth) -> Self {
        Self {
            last_contact: duration::format(s.last_contact_ns),
            id: s.id.clone(),
            name: s.name.clone(),
            address: s.address.clone(),
            serf_status: s.serf_status.clone(),
            version: s.version.clone(),
            leader: s.leader,
            last_term: s.last_term,
            last_index: s.last_index,
            healthy: s.healthy,
            voter: s.voter,
            stable_since: rfc3339(s.stable_since),
        }
    }
}

/// Health reply. Each server entry is emitted by Nomad's custom marshaller, so it stays compact
/// even when the response is pretty-printed; [`serde_json::value::RawValue`] reproduces that.
#[derive(Serialize)]
pub struct OperatorHealthReply {
    #[serde(rename = "Healthy")]
    pub healthy: bool,
    #[serde(rename = "FailureTolerance")]
    pub failure_tolerance: i64,
    #[serde(rename = "Servers")]
    pub servers: Vec<Box<serde_json::value::RawValue>>,
    #[serde(rename = "Leader")]
    pub leader: String,
    #[serde(rename = "Voters")]
    pub voters: Vec<String>,
}

impl OperatorHealthReply {
    pub fn new(h: &HealthReply) -> Result<Self, serde_json::Error> {
        let mut servers = Vec::with_capacity(h.servers.len());
        for s in &h.servers {
            servers.push(serde_json::value::to_raw_value(&ServerHealthWire::from(s))?);
        }
        Ok(Self {
            healthy: h.healthy,
            failure_tolerance: h.failure_tolerance,
            servers,
            leader: h.leader.clone(),
            voters: h.voters.clone(),
        })
    }
}

#[derive(Serialize)]
pub struct PeerAddr {
    #[serde(rename = "Address")]
    pub address: String,
    #[serde(rename = "ID")]
    pub id: String,
}

#[derive(Serialize)]
pub struct TransferResponse {
    #[serde(rename = "From")]
    pub from: PeerAddr,
    #[serde(rename = "To")]
    pub to: PeerAddr,
    #[serde(rename = "Noop")]
    pub noop: bool,
    #[serde(rename = "Err")]
    pub err: Option<String>,
}

impl From<Transfer> for TransferResponse {
    fn from(t: Transfer) -> Self {
        Self {
            from: PeerAddr { address: t.from.address, id: t.from.id },
            to: PeerAddr { address: t.to.address, id: t.to.id },
            noop: t.noop,
            err: None,
        }
    }
}
