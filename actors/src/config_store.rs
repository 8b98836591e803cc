//! The config store actor: typed reads and writes of the autopilot and scheduler tables.
//!
//! It owns no state of its own. A write becomes one raft command on the leader, and CAS is
//! decided by the state machine when that command is applied. A read without `stale` is
//! answered by the leader after it confirms its leadership; a follower forwards the read
//! itself and gets back the one row, never the state.

use std::sync::Arc;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::leader_read;
use crate::forward::on_leader;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::Origin;
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

impl Forwardable for GetAutopilotConfig {
    const PATH: &'static str = paths::GET_AUTOPILOT;
    type Output = Fetched<AutopilotConfig>;
}

impl LeaderOp for GetAutopilotConfig {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Self::Output> {
        leader_read(ctx, local_read)
    }
}

impl Forwardable for GetSchedulerConfig {
    const PATH: &'static str = paths::GET_SCHEDULER;
    type Output = Fetched<SchedulerConfig>;
}

impl LeaderOp for GetSchedulerConfig {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Self::Output> {
        leader_read(ctx, local_read)
    }
}

impl Forwardable for SetAutopilotConfig {
    const PATH: &'static str = paths::SET_AUTOPILOT;
    type Output = Applied;
}

impl LeaderOp for SetAutopilotConfig {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Applied> {
        write(ctx, Command::SetAutopilot { config: self.config, cas: self.cas })
    }
}

impl Forwardable for SetSchedulerConfig {
    const PATH: &'static str = paths::SET_SCHEDULER;
    type Output = Applied;
}

impl LeaderOp for SetSchedulerConfig {
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<Applied> {
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

impl Handler<GetAutopilotConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Fetched<AutopilotConfig>, OpError>>;

    fn handle(&mut self, msg: GetAutopilotConfig, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        if msg.stale {
            return Box::pin(async move { local_read(&ctx) });
        }
        Box::pin(on_leader(ctx, Origin::Client, msg))
    }
}

impl Handler<GetSchedulerConfig> for ConfigStore {
    type Result = ResponseFuture<Result<Fetched<SchedulerConfig>, OpError>>;

    fn handle(&mut self, msg: GetSchedulerConfig, _: &mut Self::Context) -> Self::Result {
        let ctx = self.ctx.clone();
        if msg.stale {
            return Box::pin(async move { local_read(&ctx) });
        }
        Box::pin(on_leader(ctx, Origin::Client, msg))
    }
}

client_ops!(ConfigStore => SetAutopilotConfig, SetSchedulerConfig);
leader_actor!(ConfigStore);
