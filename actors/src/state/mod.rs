//! The replicated state machine as plain data.
//!
//! Every write reaches the state only through [`State::apply`], which runs on every server in
//! raft log order. Compare-and-set is decided here, inside apply, so that two competing CAS
//! writes are linearised by the log and never by a read-check-write across messages.

mod config;

pub use config::AutopilotConfig;
pub use config::PreemptionConfig;
pub use config::SchedulerAlgorithm;
pub use config::SchedulerConfig;

use serde::Deserialize;
use serde::Serialize;

/// A stored configuration row: the value plus the raft indexes of its creation and last change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row<T> {
    pub value: T,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Everything the cluster replicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub autopilot: Option<Row<AutopilotConfig>>,
    pub scheduler: Option<Row<SchedulerConfig>>,
}

/// One replicated write. Each variant is one raft log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Written by the first leader: sets each row only if it is still absent.
    InitDefaults { autopilot: AutopilotConfig, scheduler: SchedulerConfig },
    /// Full replacement of the autopilot row; with `cas`, only if `modify_index == cas`.
    SetAutopilot { config: AutopilotConfig, cas: Option<u64> },
    /// Full replacement of the scheduler row; with `cas`, only if `modify_index == cas`.
    SetScheduler { config: SchedulerConfig, cas: Option<u64> },
    /// No state change; used to commit a barrier entry (e.g. after a leader change).
    Noop,
}

/// What applying one command did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Whether the state changed (false for a failed CAS).
    pub updated: bool,
    /// The raft log index of the entry.
    pub index: u64,
}

impl State {
    /// Applies `cmd`, which sits at raft log `index`. Pure: same state, command and index give
    /// the same result on every server.
    pub fn apply(&mut self, cmd: &Command, index: u64) -> Applied {
        let updated = match cmd {
            Command::InitDefaults { autopilot, scheduler } => {
                let mut changed = false;
                if self.autopilot.is_none() {
                    self.autopilot = Some(Row { value: autopilot.clone(), create_index: index, modify_index: index });
                    changed = true;
                }
                if self.scheduler.is_none() {
                    let value = scheduler.clone().canonical();
                    self.scheduler = Some(Row { value, create_index: index, modify_index: index });
                    changed = true;
                }
                changed
            }
            Command::SetAutopilot { config, cas } => set_row(&mut self.autopilot, config.clone(), *cas, index),
            Command::SetScheduler { config, cas } => {
                set_row(&mut self.scheduler, config.clone().canonical(), *cas, index)
            }
            Command::Noop => false,
        };
        Applied { updated, index }
    }
}

/// The CAS rule of both config tables: without `cas` always write; with it, write only if a row
/// exists and its `modify_index` equals `cas` (so `cas=0` never succeeds on a live cluster).
fn set_row<T>(row: &mut Option<Row<T>>, value: T, cas: Option<u64>, index: u64) -> bool {
    if let Some(expected) = cas {
        match row {
            Some(existing) if existing.modify_index == expected => {}
            _ => return false,
        }
    }
    let create_index = row.as_ref().map_or(index, |r| r.create_index);
    *row = Some(Row { value, create_index, modify_index: index });
    true
}
