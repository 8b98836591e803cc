//! The config store actor: typed reads and writes of the autopilot and scheduler tables.
//!
//! It owns no state of its own. A write becomes one raft command on the leader, and CAS is
//! decided by the state machine when that command is applied. A read without `stale` is
//! answered by the leader after it confirms its leadership; a follower forwards the read
//! itself and gets back the one row, never the state. Reads need `operator` read, writes
//! `operator` write.

use std::sync::Arc;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::read_on_leader;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::StaleRead;
use crate::state::Applied;
use crate::state::AutopilotConfig;
use crate::state::Command;
use crate::state::Row;
use crate::state::SchedulerConfig;
use crate::wire::paths;
use crate::wire::Forwardable;

/// A config row together with how fresh the answer is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fetched<T> {
    pub row: Row<T>,
    pub known_leader: bool,
    /// Milliseconds since the answering server last heard from the leader; 0 on the leader.
    pub last_contact_ms: u64,
}

/// Reads the autopilot configuration, from the leader unless `stale`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Fetched<AutopilotConfig>, OpError>")]
pub struct GetAutopilotConfig {
    pub stale: bool,
}

/// Replaces the autopilot configuration; with `cas`, only if its `ModifyIndex` equals it.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Applied, OpError>")]
pub struct SetAutopilotConfig {
    pub config: AutopilotConfig,
    pub cas: Option<u64>,
}

/// Reads the scheduler configuration, from the leader unless `stale`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Fetched<SchedulerConfig>, OpError>")]
pub struct GetSchedulerConfig {
    pub stale: bool,
}

/// Replaces the scheduler configuration; with `cas`, only if its `ModifyIndex` equals it.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Applied, OpError>")]
pub struct SetSchedulerConfig {
    pub config: SchedulerConfig,
    pub cas: Option<u64>,
}

/// One config table: its name in errors and how to read its row.
trait Table: Sized + 'static {
    const NAME: &'static str;
    fn read(ctx: &ServerContext) -> Result<Option<Row<Self>>, OpError>;
}

impl Table for AutopilotConfig {
    const NAME: &'static str = "autopilot";
    fn read(ctx: &ServerContext) -> Result<Option<Row<Self>>, OpError> {
        Ok(ctx.reader.autopilot()?)
    }
}

impl Table for SchedulerConfig {
    const NAME: &'static str = "scheduler";
    fn read(ctx: &ServerContext) -> Result<Option<Row<Self>>, OpError> {
        Ok(ctx.reader.scheduler()?)
    }
}

/// Reads a row from the local store, with this server's freshness.
fn local_read<T: Table>(ctx: &ServerContext) -> Result<Fetched<T>, OpError> {
    let row = T::read(ctx)?.ok_or_else(|| OpError::NotInitialized(T::NAME.into()))?;
    let (known_leader, last_contact_ms) = ctx.freshness();
    Ok(Fetched { row, known_leader, last_contact_ms })
}

fn write(ctx: Arc<ServerContext>, command: Command) -> LocalRun<Applied> {
    Box::pin(async move { ctx.proposer.propose(command).await })
}

/// What a config operation needs: `operator` read or write.
macro_rules! guarded {
    ($requirement:expr => $($op:ty),+) => {$(
        impl Guarded for $op {
            fn authorize(&self, who: &Authority) -> Result<(), Denied> {
                who.require(&$requirement)
            }
        }
    )+};
}

guarded!(Requirement::OperatorRead => GetAutopilotConfig, GetSchedulerConfig);
guarded!(Requirement::OperatorWrite => SetAutopilotConfig, SetSchedulerConfig);

impl Forwardable for GetAutopilotConfig {
    const PATH: &'static str = paths::GET_AUTOPILOT;
    const BATCHED: bool = true;
    type Output = Fetched<AutopilotConfig>;
}

impl StaleRead for GetAutopilotConfig {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, _: &Authority) -> Result<Self::Output, OpError> {
        local_read(ctx)
    }
}

impl LeaderOp for GetAutopilotConfig {
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<Self::Output> {
        read_on_leader(ctx, self, who)
    }
}

impl Forwardable for GetSchedulerConfig {
    const PATH: &'static str = paths::GET_SCHEDULER;
    const BATCHED: bool = true;
    type Output = Fetched<SchedulerConfig>;
}

impl StaleRead for GetSchedulerConfig {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, _: &Authority) -> Result<Self::Output, OpError> {
        local_read(ctx)
    }
}

impl LeaderOp for GetSchedulerConfig {
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<Self::Output> {
        read_on_leader(ctx, self, who)
    }
}

impl Forwardable for SetAutopilotConfig {
    const PATH: &'static str = paths::SET_AUTOPILOT;
    const BATCHED: bool = true;
    type Output = Applied;
}

impl LeaderOp for SetAutopilotConfig {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<Applied> {
        write(ctx, Command::SetAutopilot { config: self.config, cas: self.cas })
    }
}

impl Forwardable for SetSchedulerConfig {
    const PATH: &'static str = paths::SET_SCHEDULER;
    const BATCHED: bool = true;
    type Output = Applied;
}

impl LeaderOp for SetSchedulerConfig {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<Applied> {
        write(ctx, Command::SetScheduler { config: self.config, cas: self.cas })
    }
}

/// The config store actor.
pub struct ConfigStore {
    ctx: Arc<ServerContext>,
}

impl ConfigStore {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl Actor for ConfigStore {
    type Context = Context<Self>;
}

client_ops!(read: ConfigStore => GetAutopilotConfig, GetSchedulerConfig);
client_ops!(run: ConfigStore => SetAutopilotConfig, SetSchedulerConfig);
leader_actor!(ConfigStore);
