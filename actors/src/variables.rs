//! The variables actor: Nomad's variables (`/v1/var`, `/v1/vars`), one typed message per
//! operation.
//!
//! It owns no state of its own: the variables live in the replicated `sm_variables` table. A
//! write is validated on the leader (Nomad's `svePreApply`), stamped with the leader's clock and
//! becomes one raft command; check-and-set is decided when that command is applied, and a
//! conflict comes back as an outcome carrying the current variable, not as an error. A read
//! without `stale` is answered by the leader after it confirms its leadership; a follower
//! forwards the read itself and gets back one variable or one page, never the table.
//!
//! Each operation needs the variable capability of its path in its namespace (Nomad's
//! `read`, `write`, `destroy`); a listing needs a variables rule in the namespace and shows
//! only the paths the caller may `list`, decided where the listing is read.

use std::sync::Arc;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::bexpr;
use crate::clock::now_nanos;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::read_on_leader;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::StaleRead;
use crate::state::variables;
use crate::state::variables::Keep;
use crate::state::variables::DEFAULT_NAMESPACE;
use crate::state::Command;
use crate::state::VarOutcome;
use crate::state::Variable;
use crate::state::VariableMetadata;
use crate::wire::paths;
use crate::wire::Attempt;
use crate::wire::Codec;
use crate::wire::Forwardable;

/// Reads one variable, from the leader unless `stale`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<VariableRead, OpError>")]
pub struct GetVariable {
    pub namespace: String,
    pub path: String,
    pub stale: bool,
}

/// A variable read with how fresh the answer is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariableRead {
    pub variable: Option<Variable>,
    /// The variable's `ModifyIndex`, or the variables table index when there is none.
    pub index: u64,
    pub known_leader: bool,
    /// Milliseconds since the answering server last heard from the leader; 0 on the leader.
    pub last_contact_ms: u64,
}

/// Sets a variable: `var` gives namespace (empty: `default`), path and items; with `cas`, only
/// if its `ModifyIndex` equals it (0: only if absent).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<VariableWrite, OpError>")]
pub struct PutVariable {
    pub var: Variable,
    pub cas: Option<u64>,
}

/// Deletes a variable; with `cas`, only if its `ModifyIndex` equals it (0: only if absent).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<VariableWrite, OpError>")]
pub struct DeleteVariable {
    pub namespace: String,
    pub path: String,
    pub cas: Option<u64>,
}

/// What a write did: written, deleted or a conflict (never `Invalid`: that is an error), and
/// the raft index of its entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariableWrite {
    pub outcome: VarOutcome,
    pub index: u64,
}

/// Lists variable metadata under `prefix` in `namespace` (`*`: every namespace), one page of
/// `per_page` (0: all) from `next_token`, from the leader unless `stale`. A non-empty `filter`
/// is a go-bexpr expression on the metadata ([`crate::bexpr`]); entries it leaves out do not
/// count toward the page.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<VariableList, OpError>")]
pub struct ListVariables {
    pub namespace: String,
    pub prefix: String,
    pub per_page: i32,
    pub next_token: String,
    pub stale: bool,
    pub filter: String,
}

/// One page of a listing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariableList {
    pub variables: Vec<VariableMetadata>,
    /// The token of the next page; empty when this page is the last.
    pub next_token: String,
    /// The variables table index.
    pub index: u64,
    pub known_leader: bool,
    pub last_contact_ms: u64,
}

fn local_get(ctx: &ServerContext, namespace: &str, path: &str) -> Result<VariableRead, OpError> {
    let variable = ctx.reader.variable(namespace, path)?;
    let index = match &variable {
        Some(v) => v.modify_index,
        None => ctx.reader.variables_index()?,
    };
    let (known_leader, last_contact_ms) = ctx.freshness();
    Ok(VariableRead { variable, index, known_leader, last_contact_ms })
}

/// One page of the variables that pass the filter and that `who` may list, counted after both
/// (Nomad's paginator: the filter, then the prefix and ACL selector, then the page size).
fn local_list(ctx: &ServerContext, op: &ListVariables, who: &Authority) -> Result<VariableList, OpError> {
    let namespace = (op.namespace != variables::ALL_NAMESPACES).then_some(op.namespace.as_str());
    let filter = match op.filter.as_str() {
        "" => None,
        text => Some(bexpr::parse(text).map_err(|e| {
            OpError::BadListing(format!("failed to create result paginator: failed to read filter expression: {e}"))
        })?),
    };
    let mut failed = None;
    let mut keep = |m: &VariableMetadata| {
        if let Some(f) = &filter {
            match f.evaluate(m) {
                Ok(true) => {}
                Ok(false) => return Keep::No,
                Err(e) => {
                    failed = Some(e);
                    return Keep::Stop;
                }
            }
        }
        if who.allows(&Requirement::Variable { namespace: &m.namespace, path: &m.path, op: "list" }) {
            Keep::Yes
        } else {
            Keep::No
        }
    };
    let (variables, next_token, index) =
        ctx.reader.list_variables_where(namespace, &op.prefix, op.per_page, &op.next_token, &mut keep)?;
    if let Some(e) = failed {
        return Err(OpError::BadListing(format!("failed to read result page: {e}")));
    }
    let (known_leader, last_contact_ms) = ctx.freshness();
    Ok(VariableList { variables, next_token, index, known_leader, last_contact_ms })
}

fn write(ctx: Arc<ServerContext>, command: Command) -> LocalRun<VariableWrite> {
    Box::pin(async move {
        match ctx.proposer.propose(command).await {
            Attempt::Done(Ok(applied)) => Attempt::Done(match applied.variable {
                Some(VarOutcome::Invalid(e)) => Err(OpError::InvalidVariable(e)),
                Some(outcome) => Ok(VariableWrite { outcome, index: applied.index }),
                None => Err(OpError::Internal("a variable command applied without an outcome".into())),
            }),
            Attempt::Done(Err(e)) => Attempt::Done(Err(e)),
            Attempt::NotLeader => Attempt::NotLeader,
        }
    })
}

/// A namespace as operations name it: empty is `default`.
fn canonical(namespace: &str) -> &str {
    if namespace.is_empty() {
        DEFAULT_NAMESPACE
    } else {
        namespace
    }
}

fn variable_op<'a>(namespace: &'a str, path: &'a str, op: &'a str) -> Requirement<'a> {
    Requirement::Variable { namespace: canonical(namespace), path, op }
}

impl Forwardable for GetVariable {
    const PATH: &'static str = paths::GET_VARIABLE;
    const CODEC: Codec = Codec::Postcard;
    const BATCHED: bool = true;
    type Output = VariableRead;
}

impl Guarded for GetVariable {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&variable_op(&self.namespace, &self.path, "read"))
    }
}

impl StaleRead for GetVariable {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, _: &Authority) -> Result<VariableRead, OpError> {
        local_get(ctx, &self.namespace, &self.path)
    }
}

impl LeaderOp for GetVariable {
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<VariableRead> {
        read_on_leader(ctx, self, who)
    }
}

impl Forwardable for ListVariables {
    const PATH: &'static str = paths::LIST_VARIABLES;
    const CODEC: Codec = Codec::Postcard;
    type Output = VariableList;
}

impl Guarded for ListVariables {
    /// Nomad's `AllowVariableSearch`: any variables rule in the namespace; the listing then
    /// shows only what the caller may list.
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::VariableSearch { namespace: canonical(&self.namespace) })
    }
}

impl StaleRead for ListVariables {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, who: &Authority) -> Result<VariableList, OpError> {
        local_list(ctx, self, who)
    }
}

impl LeaderOp for ListVariables {
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<VariableList> {
        read_on_leader(ctx, self, who)
    }
}

impl Forwardable for PutVariable {
    const PATH: &'static str = paths::PUT_VARIABLE;
    const CODEC: Codec = Codec::Postcard;
    const BATCHED: bool = true;
    type Output = VariableWrite;
}

impl Guarded for PutVariable {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&variable_op(&self.var.namespace, &self.var.path, "write"))
    }
}

impl LeaderOp for PutVariable {
    /// Nomad's `Variables.Apply` for a set: canonicalise, validate (an invalid variable never
    /// reaches the log), stamp the time, apply.
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<VariableWrite> {
        let mut var = self.var;
        if var.namespace.is_empty() {
            var.namespace = DEFAULT_NAMESPACE.into();
        }
        if let Err(e) = variables::validate(&var) {
            return Box::pin(async move { Attempt::Done(Err(OpError::InvalidVariable(e))) });
        }
        let now = now_nanos();
        var.create_time = now;
        var.modify_time = now;
        var.create_index = 0;
        var.modify_index = 0;
        write(ctx, Command::VarSet { var, cas: self.cas })
    }
}

impl Forwardable for DeleteVariable {
    const PATH: &'static str = paths::DELETE_VARIABLE;
    const CODEC: Codec = Codec::Postcard;
    const BATCHED: bool = true;
    type Output = VariableWrite;
}

impl Guarded for DeleteVariable {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&variable_op(&self.namespace, &self.path, "destroy"))
    }
}

impl LeaderOp for DeleteVariable {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<VariableWrite> {
        if self.path.is_empty() {
            let e = OpError::InvalidVariable(variables::VarInvalid::DeleteWithoutPath);
            return Box::pin(async move { Attempt::Done(Err(e)) });
        }
        let namespace = if self.namespace.is_empty() { DEFAULT_NAMESPACE.to_string() } else { self.namespace };
        write(ctx, Command::VarDelete { namespace, path: self.path, cas: self.cas })
    }
}

/// The variables actor.
pub struct Variables {
    ctx: Arc<ServerContext>,
}

impl Variables {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl Actor for Variables {
    type Context = Context<Self>;
}

client_ops!(read: Variables => GetVariable, ListVariables);
client_ops!(run: Variables => PutVariable, DeleteVariable);
leader_actor!(Variables);
