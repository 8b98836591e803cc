//! The ACL actor: Nomad's ACL tokens and policies (`/v1/acl/*`), one typed message per
//! operation.
//!
//! It owns no state of its own: tokens and policies live in the replicated `sm_acl_*` tables.
//! Writes are validated and completed on the leader (fresh accessor and secret IDs, the
//! leader's clock, the bootstrap reset file in the leader's data dir), then become one raft
//! command; the one-time bootstrap is decided inside apply. Who may do what is Nomad's
//! `nomad/acl_endpoint.go`, decided where each operation runs with the caller resolved there:
//! writes and the token list need a management token; a policy read or list shows a
//! non-management caller its own policies (and the anonymous one); a token read shows a
//! non-management caller its own token; bootstrap needs nothing. The policy language and the
//! capability checks are the pure functions of [`crate::authz`].

use std::sync::Arc;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use crate::authz::policy;
use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::authz::Unresolved;
use crate::clock::now_nanos;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::read_on_leader;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::StaleRead;
use crate::state::acl;
use crate::state::AclOutcome;
use crate::state::AclPolicy;
use crate::state::AclToken;
use crate::state::Command;
use crate::wire::paths;
use crate::wire::Attempt;
use crate::wire::Forwardable;

/// The file an operator writes the reset index into to allow one more bootstrap (Nomad's
/// name), in `<data_dir>/server/`.
pub const BOOTSTRAP_RESET_FILE: &str = "acl-bootstrap-reset";

/// Creates the first management token, once (again only with the reset file). `secret` is the
/// operator's chosen secret (a UUID), or `None` for a generated one.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<TokenWrite, OpError>")]
pub struct Bootstrap {
    pub secret: Option<String>,
}

/// Creates or replaces policies; the leader validates them (Nomad's `ACLPolicy.Validate`).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<u64, OpError>")]
pub struct UpsertPolicies {
    pub policies: Vec<AclPolicy>,
}

/// Deletes policies by name.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<u64, OpError>")]
pub struct DeletePolicies {
    pub names: Vec<String>,
}

/// Creates (empty accessor) or updates tokens; the leader completes and validates them.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<TokenWrite, OpError>")]
pub struct UpsertTokens {
    pub tokens: Vec<AclToken>,
}

/// Deletes tokens by accessor ID; all must exist.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<u64, OpError>")]
pub struct DeleteTokens {
    pub accessors: Vec<String>,
}

/// The tokens as stored and the raft index of the write.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenWrite {
    pub tokens: Vec<AclToken>,
    pub index: u64,
}

/// Reads one policy, from the leader unless `stale`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<AclRead<Option<AclPolicy>>, OpError>")]
pub struct GetPolicy {
    pub name: String,
    pub stale: bool,
}

/// Lists the policies whose name starts with `prefix`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<AclRead<Vec<AclPolicy>>, OpError>")]
pub struct ListPolicies {
    pub prefix: String,
    pub stale: bool,
}

/// Reads one token by accessor ID.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<AclRead<Option<AclToken>>, OpError>")]
pub struct GetToken {
    pub accessor: String,
    pub stale: bool,
}

/// Lists the tokens whose accessor ID starts with `prefix`.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<AclRead<Vec<AclToken>>, OpError>")]
pub struct ListTokens {
    pub prefix: String,
    pub stale: bool,
}

/// A read with the index that answers it and how fresh it is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AclRead<T> {
    pub value: T,
    pub index: u64,
    pub known_leader: bool,
    pub last_contact_ms: u64,
}

/// The caller's own token (`None`: the anonymous caller), resolved on the leader unless
/// `stale`; an unknown or expired secret answers as such.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Option<AclToken>, OpError>")]
pub struct TokenSelf {
    pub stale: bool,
}

fn enabled(ctx: &ServerContext) -> Result<(), OpError> {
    if ctx.settings.acl.enabled {
        Ok(())
    } else {
        Err(OpError::AclDisabled)
    }
}

fn done<T: 'static>(r: Result<T, OpError>) -> LocalRun<T> {
    Box::pin(async move { Attempt::Done(r) })
}

fn read<T>(ctx: &ServerContext, value: T, index: u64) -> AclRead<T> {
    let (known_leader, last_contact_ms) = ctx.freshness();
    AclRead { value, index, known_leader, last_contact_ms }
}

fn get_policy(ctx: &ServerContext, name: &str) -> Result<AclRead<Option<AclPolicy>>, OpError> {
    let policy = ctx.reader.acl_policy(name)?;
    let index = match &policy {
        Some(p) => p.modify_index,
        None => ctx.reader.acl_index(false)?,
    };
    Ok(read(ctx, policy, index))
}

fn list_policies(ctx: &ServerContext, prefix: &str) -> Result<AclRead<Vec<AclPolicy>>, OpError> {
    let (policies, index) = ctx.reader.list_acl_policies(prefix)?;
    // Nomad floors the list index at 1 so that a blocking query can use it.
    Ok(read(ctx, policies, index.max(1)))
}

fn get_token(ctx: &ServerContext, accessor: &str) -> Result<AclRead<Option<AclToken>>, OpError> {
    let token = ctx.reader.acl_token(accessor)?;
    let index = match &token {
        Some(t) => t.modify_index,
        None => ctx.reader.acl_index(true)?,
    };
    Ok(read(ctx, token, index))
}

fn list_tokens(ctx: &ServerContext, prefix: &str) -> Result<AclRead<Vec<AclToken>>, OpError> {
    let (tokens, index) = ctx.reader.list_acl_tokens(prefix)?;
    Ok(read(ctx, tokens, index))
}

/// Proposes `command` and turns its ACL outcome into `T`.
fn write<T: 'static>(
    ctx: Arc<ServerContext>,
    command: Command,
    outcome: impl FnOnce(AclOutcome, u64) -> Result<T, OpError> + 'static,
) -> LocalRun<T> {
    Box::pin(async move {
        match ctx.proposer.propose(command).await {
            Attempt::Done(Ok(applied)) => Attempt::Done(match applied.acl {
                Some(o) => outcome(o, applied.index),
                None => Err(OpError::Internal("an ACL command applied without an outcome".into())),
            }),
            Attempt::Done(Err(e)) => Attempt::Done(Err(e)),
            Attempt::NotLeader => Attempt::NotLeader,
        }
    })
}

fn tokens_written(o: AclOutcome, index: u64) -> Result<TokenWrite, OpError> {
    match o {
        AclOutcome::Tokens(tokens) => Ok(TokenWrite { tokens, index }),
        AclOutcome::BootstrapDone { reset_index } => Err(OpError::AclBootstrapDone(reset_index)),
        AclOutcome::Done => Ok(TokenWrite { tokens: Vec::new(), index }),
    }
}

/// The reset index in `<data_dir>/server/acl-bootstrap-reset` (0: none or unreadable), read
/// as Nomad does (`%d` of the file's text).
fn reset_index_file(ctx: &ServerContext) -> u64 {
    let path = ctx.settings.data_dir.join("server").join(BOOTSTRAP_RESET_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return 0 };
    let digits: String = text.trim_start().chars().take_while(char::is_ascii_digit).collect();
    match digits.parse() {
        Ok(index) => {
            tracing::warn!(path = %path.display(), reset_index = index, "bootstrap file parsed");
            index
        }
        Err(_) => {
            tracing::error!(path = %path.display(), "failed to parse bootstrap file");
            0
        }
    }
}

impl Forwardable for Bootstrap {
    const PATH: &'static str = paths::ACL_BOOTSTRAP;
    type Output = TokenWrite;
}

/// The policies a non-management caller may read: its token's, or the anonymous policy.
fn own_policies(who: &Authority) -> Vec<String> {
    match who.token() {
        Ok(Some(t)) => t.policies.clone(),
        _ => vec![acl::ANONYMOUS_POLICY.to_string()],
    }
}

fn management(who: &Authority) -> Result<(), Denied> {
    who.require(&Requirement::Management)
}

impl Guarded for Bootstrap {
    /// Anyone may try: only the first bootstrap (or one the reset file allows) succeeds.
    fn authorize(&self, _: &Authority) -> Result<(), Denied> {
        Ok(())
    }
}

impl LeaderOp for Bootstrap {
    /// Nomad's `ACL.Bootstrap`: an early refusal when bootstrap is done and the reset file does
    /// not name its index; the decision itself is made again, linearised, in apply.
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<TokenWrite> {
        if let Err(e) = enabled(&ctx) {
            return done(Err(e));
        }
        let mut reset_index = 0;
        match ctx.reader.acl_bootstrap() {
            Err(e) => return done(Err(e.into())),
            Ok(None) => {}
            Ok(Some(reset)) => {
                let specified = reset_index_file(&ctx);
                if specified == 0 {
                    return done(Err(OpError::AclBootstrapDone(reset)));
                }
                if specified != reset {
                    return done(Err(OpError::AclBadResetIndex { specified, reset }));
                }
                reset_index = reset;
            }
        }
        let secret = match self.secret.filter(|s| !s.is_empty()) {
            Some(s) if uuid::Uuid::parse_str(&s).is_ok() && s.len() == 36 => s,
            Some(_) => return done(Err(OpError::AclInvalid("invalid acl token".into()))),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let mut token = AclToken {
            accessor_id: uuid::Uuid::new_v4().to_string(),
            secret_id: secret,
            name: "Bootstrap Token".into(),
            token_type: acl::MANAGEMENT.into(),
            global: true,
            create_time: now_nanos(),
            ..Default::default()
        };
        token.set_hash();
        write(ctx, Command::AclBootstrap { token, reset_index }, tokens_written)
    }
}

impl Forwardable for UpsertPolicies {
    const PATH: &'static str = paths::ACL_UPSERT_POLICIES;
    type Output = u64;
}

impl Guarded for UpsertPolicies {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        management(who)
    }
}

impl LeaderOp for UpsertPolicies {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<u64> {
        if let Err(e) = enabled(&ctx) {
            return done(Err(e));
        }
        if self.policies.is_empty() {
            return done(Err(OpError::AclInvalid("must specify as least one policy".into())));
        }
        for (i, p) in self.policies.iter().enumerate() {
            let errors = policy::validate(&p.name, &p.description, &p.rules);
            if !errors.is_empty() {
                return done(Err(OpError::AclInvalid(format!("policy {i} invalid: {}", acl::multierror(&errors)))));
            }
        }
        let mut policies = self.policies;
        for p in &mut policies {
            p.set_hash();
        }
        write(ctx, Command::AclPolicyUpsert { policies }, |_, index| Ok(index))
    }
}

impl Forwardable for DeletePolicies {
    const PATH: &'static str = paths::ACL_DELETE_POLICIES;
    type Output = u64;
}

impl Guarded for DeletePolicies {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        management(who)
    }
}

impl LeaderOp for DeletePolicies {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<u64> {
        if let Err(e) = enabled(&ctx) {
            return done(Err(e));
        }
        if self.names.is_empty() {
            return done(Err(OpError::AclInvalid("must specify as least one policy".into())));
        }
        write(ctx, Command::AclPolicyDelete { names: self.names }, |_, index| Ok(index))
    }
}

impl Forwardable for UpsertTokens {
    const PATH: &'static str = paths::ACL_UPSERT_TOKENS;
    type Output = TokenWrite;
}

impl Guarded for UpsertTokens {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        management(who)
    }
}

impl LeaderOp for UpsertTokens {
    /// Nomad's `upsertTokens`: an update names an existing token; a new one gets its accessor,
    /// secret, creation time and expiration here; each is validated; the write is one entry.
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<TokenWrite> {
        if let Err(e) = enabled(&ctx) {
            return done(Err(e));
        }
        if self.tokens.is_empty() {
            return done(Err(OpError::AclInvalid("must specify as least one token".into())));
        }
        let (min_ttl, max_ttl) = (ctx.settings.acl.token_min_ttl, ctx.settings.acl.token_max_ttl);
        let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let mut tokens = self.tokens;
        for (i, token) in tokens.iter_mut().enumerate() {
            let existing = if token.accessor_id.is_empty() {
                token.accessor_id = uuid::Uuid::new_v4().to_string();
                token.secret_id = uuid::Uuid::new_v4().to_string();
                token.create_time = now_nanos();
                if token.expiration_time.is_none() && token.expiration_ttl != 0 {
                    token.expiration_time = Some(token.create_time.saturating_add(token.expiration_ttl));
                }
                None
            } else {
                match ctx.reader.acl_token(&token.accessor_id) {
                    Err(e) => return done(Err(e.into())),
                    Ok(None) => {
                        let e = format!("cannot find token {}", token.accessor_id);
                        return done(Err(OpError::AclInvalid(e)));
                    }
                    Ok(Some(t)) => Some(t),
                }
            };
            let errors = acl::validate_token(token, existing.as_ref(), nanos(min_ttl), nanos(max_ttl));
            if !errors.is_empty() {
                let e = format!("token {i} invalid: {}", acl::multierror(&errors));
                return done(Err(OpError::AclInvalid(e)));
            }
            token.set_hash();
        }
        write(ctx, Command::AclTokenUpsert { tokens }, tokens_written)
    }
}

impl Forwardable for DeleteTokens {
    const PATH: &'static str = paths::ACL_DELETE_TOKENS;
    type Output = u64;
}

impl Guarded for DeleteTokens {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        management(who)
    }
}

impl LeaderOp for DeleteTokens {
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<u64> {
        if let Err(e) = enabled(&ctx) {
            return done(Err(e));
        }
        if self.accessors.is_empty() {
            return done(Err(OpError::AclInvalid("must specify as least one token".into())));
        }
        let mut missing = Vec::new();
        for accessor in &self.accessors {
            match ctx.reader.acl_token(accessor) {
                Err(e) => return done(Err(e.into())),
                Ok(None) => missing.push(accessor.clone()),
                Ok(Some(_)) => {}
            }
        }
        if !missing.is_empty() {
            let e = format!("Cannot delete nonexistent tokens: {}", missing.join(", "));
            return done(Err(OpError::AclInvalid(e)));
        }
        write(ctx, Command::AclTokenDelete { accessors: self.accessors }, |_, index| Ok(index))
    }
}

/// A read of the ACL tables: one path, answered from this server's tables by `read_here`
/// (after `enabled`), on the leader unless `stale`.
macro_rules! acl_read {
    ($op:ty, $path:expr, $out:ty, |$msg:ident, $ctx:ident, $who:ident| $body:expr) => {
        impl Forwardable for $op {
            const PATH: &'static str = $path;
            type Output = $out;
        }

        impl StaleRead for $op {
            fn is_stale(&self) -> bool {
                self.stale
            }

            fn read_here(&self, $ctx: &ServerContext, $who: &Authority) -> Result<$out, OpError> {
                enabled($ctx)?;
                let $msg = self;
                $body
            }
        }

        impl LeaderOp for $op {
            fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<$out> {
                read_on_leader(ctx, self, who)
            }
        }
    };
}

acl_read!(GetPolicy, paths::ACL_GET_POLICY, AclRead<Option<AclPolicy>>, |msg, ctx, _who| get_policy(ctx, &msg.name));
acl_read!(ListPolicies, paths::ACL_LIST_POLICIES, AclRead<Vec<AclPolicy>>, |msg, ctx, who| {
    let mut list = list_policies(ctx, &msg.prefix)?;
    if !who.is_management() {
        let own = own_policies(who);
        list.value.retain(|p| own.contains(&p.name));
    }
    Ok(list)
});
acl_read!(GetToken, paths::ACL_GET_TOKEN, AclRead<Option<AclToken>>, |msg, ctx, who| {
    let got = get_token(ctx, &msg.accessor)?;
    let own = |t: &AclToken| matches!(who.token(), Ok(Some(c)) if c.accessor_id == t.accessor_id);
    match &got.value {
        Some(t) if who.is_management() || own(t) => Ok(got),
        // Only a management token learns that an accessor does not exist.
        None if who.is_management() => Ok(got),
        _ => Err(OpError::PermissionDenied),
    }
});
acl_read!(ListTokens, paths::ACL_LIST_TOKENS, AclRead<Vec<AclToken>>, |msg, ctx, _who| list_tokens(ctx, &msg.prefix));

impl Guarded for GetPolicy {
    /// A management token reads any policy; anyone else its own and the anonymous one.
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.known()?;
        if who.is_management() || self.name == acl::ANONYMOUS_POLICY || own_policies(who).contains(&self.name) {
            Ok(())
        } else {
            Err(Denied::Permission)
        }
    }
}

impl Guarded for ListPolicies {
    /// Anyone whose token resolves; the list shows what [`own_policies`] allows.
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.known()
    }
}

impl Guarded for GetToken {
    /// An unknown or expired caller token answers as itself, as Nomad's; whether the caller
    /// may see the token is decided once it is read.
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.token().map(|_| ())
    }
}

impl Guarded for ListTokens {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        management(who)
    }
}

impl Forwardable for TokenSelf {
    const PATH: &'static str = paths::ACL_TOKEN_SELF;
    type Output = Option<AclToken>;
}

impl Guarded for TokenSelf {
    /// Anyone: the answer is the caller itself. An unknown secret is `Permission denied`
    /// (Nomad 1.10.1 and later authenticate `token/self` first); an expired one says so.
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        own_token(who).map(|_| ())
    }
}

/// The caller's own token for `token/self`, an unknown secret refused as `Permission denied`.
fn own_token(who: &Authority) -> Result<Option<&AclToken>, Denied> {
    who.token().map_err(|denied| match denied {
        Denied::Unresolved(Unresolved::NotFound) => Denied::Permission,
        other => other,
    })
}

impl StaleRead for TokenSelf {
    fn is_stale(&self) -> bool {
        self.stale
    }

    fn read_here(&self, ctx: &ServerContext, who: &Authority) -> Result<Option<AclToken>, OpError> {
        enabled(ctx)?;
        Ok(own_token(who)?.cloned())
    }
}

impl LeaderOp for TokenSelf {
    /// The caller as the leader's own tables resolved it: every write the leader acknowledged
    /// is applied there, so a token just created resolves (no leadership round trip: a deposed
    /// leader answers at most as stale as a `stale` read).
    fn run(self, ctx: Arc<ServerContext>, who: Authority) -> LocalRun<Option<AclToken>> {
        done(self.read_here(&ctx, &who))
    }
}

/// The ACL actor.
pub struct Acl {
    ctx: Arc<ServerContext>,
}

impl Acl {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

impl Actor for Acl {
    type Context = Context<Self>;
}

client_ops!(run: Acl => Bootstrap, UpsertPolicies, DeletePolicies, UpsertTokens, DeleteTokens);
client_ops!(read: Acl => GetPolicy, ListPolicies, GetToken, ListTokens, TokenSelf);
leader_actor!(Acl);
