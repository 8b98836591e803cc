//! The config store actor: typed reads and writes of the autopilot and scheduler tables.
//!
//! It owns no state of its own; every write becomes one raft command through the membership
//! actor, and CAS is decided by the state machine when that command is applied.

use actix::prelude::*;

use crate::error::OpError;
use crate::membership::Membership;
use crate::membership::Read;
use crate::membership::ReadView;
use crate::membership::Write;
use crate::state::Applied;
use crate::state::AutopilotConfig;
use crate::state::Command;
use crate::state::Row;
use crate::state::SchedulerConfig;

/// A config row together with how fresh the answer is.
#[derive(Clone, Debug)]
pub struct Fetched<T> {
    pub row: Row<T>,
    pub known_leader: bool,
    pub last_contact_ms: u64,
}

#[derive(Message)]
#[rtype(result = "Result<Fetched<AutopilotConfig>, OpError>")]
pub struct GetAutopilotConfig {
    pub stale: bool,
}

#[derive(Message)]
#[rtype(result = "Result<Applied, OpError>")]
pub struct SetAutopilotConfig {
    pub config: AutopilotConfig,
    pub cas: Option<u64>,
}

#[derive(Message)]
#[rtype(result = "Result<Fetched<SchedulerConfig>, OpError>")]
pub struct GetSchedulerConfig {
    pub stale: bool,
}

#[derive(Message)]
#[rtype(result = "Result<Applied, OpError>")]
pub struct SetSchedulerConfig {
    pub config: SchedulerConfig,
    pub cas: Option<u64>,
}

pub struct ConfigStore {
    membership: Addr<Membership>,
}

impl ConfigStore {
    pub fn new(membership: Addr<Membership>) -> Self {
        Self { membership }
    }

    fn write(&self, command: Command) -> ResponseFuture<Result<Applied, OpError>> {
        let membership = self.membership.clone();
        Box::pin(async move { mailbox(membership.send(Write { command, forwarded: false }).await) })
    }

    fn read<T, F>(&self, stale: bool, pick: F, table: &'static str) -> ResponseFuture<Result<Fetched<T>, OpError>>
    where
        T: 'static,
        F: FnOnce(&ReadView) -> Option<Row<T>> + 'static,
    {
        let membership = self.membership.clone();
        Box::pin(async move {
            let view = mailbox(membership.send(Read { stale, forwarded: false }).await)?;
            let row = pick(&view).ok_or_else(|| OpError::NotInitialized(table.into()))?;
            Ok(Fetched { row, known_leader: view.known_leader, last_contact_ms: view.last_contact_ms })
        })
    }
}

/// A stopped actor is an internal error, never a panic.
pub(crate) fn mailbox<T>(r: Result<Result<T, OpError>, MailboxError>) -> Result<T, OpError> {
    r.unwrap_or_else(|e| Err(OpError::Plain(format!("internal error: {e}"))))
}

impl Actor for ConfigStore {
    type Context = Context<Self>;
}

impl Handler<GetAutopilotConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Fetched<AutopilotConfig>, OpError>>;

    fn handle(&mut self, msg: GetAutopilotConfig, _: &mut Self::Context) -> Self::Result {
        self.read(msg.stale, |v| v.state.autopilot.clone(), "autopilot")
    }
}

impl Handler<SetAutopilotConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Applied, OpError>>;

    fn handle(&mut self, msg: SetAutopilotConfig, _: &mut Self::Context) -> Self::Result {
        self.write(Command::SetAutopilot { config: msg.config, cas: msg.cas })
    }
}

impl Handler<GetSchedulerConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Fetched<SchedulerConfig>, OpError>>;

    fn handle(&mut self, msg: GetSchedulerConfig, _: &mut Self::Context) -> Self::Result {
        self.read(msg.stale, |v| v.state.scheduler.clone(), "scheduler")
    }
}

impl Handler<SetSchedulerConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Applied, OpError>>;

    fn handle(&mut self, msg: SetSchedulerConfig, _: &mut Self::Context) -> Self::Result {
        self.write(Command::SetScheduler { config: msg.config, cas: msg.cas })
    }
}
