//! The two operator configuration tables, with Nomad's defaults (spec §4).

use serde::Deserialize;
use serde::Serialize;

/// Autopilot configuration. Durations are Go `time.Duration` values: signed nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutopilotConfig {
    pub cleanup_dead_servers: bool,
    pub last_contact_threshold: i64,
    pub max_trailing_logs: u64,
    pub min_quorum: u64,
    pub server_stabilization_time: i64,
    pub enable_redundancy_zones: bool,
    pub disable_upgrade_migration: bool,
    pub enable_custom_upgrades: bool,
}

impl Default for AutopilotConfig {
    fn default() -> Self {
        Self {
            cleanup_dead_servers: true,
            last_contact_threshold: 200_000_000,
            max_trailing_logs: 250,
            min_quorum: 0,
            server_stabilization_time: 10_000_000_000,
            enable_redundancy_zones: false,
            disable_upgrade_migration: false,
            enable_custom_upgrades: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerAlgorithm {
    #[default]
    Binpack,
    Spread,
}

impl SchedulerAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SchedulerAlgorithm::Binpack => "binpack",
            SchedulerAlgorithm::Spread => "spread",
        }
    }

    /// Nomad's accepted spellings: `""` (meaning binpack), `binpack`, `spread`; case-sensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "" | "binpack" => Some(SchedulerAlgorithm::Binpack),
            "spread" => Some(SchedulerAlgorithm::Spread),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreemptionConfig {
    pub system_scheduler_enabled: bool,
    pub sysbatch_scheduler_enabled: bool,
    pub batch_scheduler_enabled: bool,
    pub service_scheduler_enabled: bool,
}

impl Default for PreemptionConfig {
    fn default() -> Self {
        Self {
            system_scheduler_enabled: true,
            sysbatch_scheduler_enabled: false,
            batch_scheduler_enabled: false,
            service_scheduler_enabled: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    pub scheduler_algorithm: SchedulerAlgorithm,
    pub preemption_config: PreemptionConfig,
    pub memory_oversubscription_enabled: bool,
    pub reject_job_registration: bool,
    pub pause_eval_broker: bool,
    /// 0 means "use the default of 100".
    pub node_limit_for_feasibility_checks: u32,
}

impl SchedulerConfig {
    /// The form stored by apply. The algorithm enum already maps `""` to binpack, so this is
    /// the identity today; it stays the single place to canonicalise future fields.
    pub fn canonical(self) -> Self {
        self
    }
}
