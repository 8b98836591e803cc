//! The license actor: reads and installs the cluster's license, and warns as it nears its end.
//!
//! State it owns: which warning it last logged for which license, so that each stage (an hour
//! left, ten minutes left, expired, terminated) is logged once per server.
//!
//! The license itself is one replicated row (`sm_license`). A new cluster's first leader
//! installs the license of the agent configuration (`server { license_path }`) if it verifies,
//! else a temporary license valid for six hours ([`document::temporary`]; the leader's side is
//! [`crate::defaults`]). An install is
//! verified on the leader against its configured public keys, product and clock, then becomes
//! one raft command; whether it may replace the installed one (not issued earlier, unless
//! forced) is decided when that command is applied. A read answers from this server's own
//! state, as Nomad's license endpoint does (it is never forwarded), to a caller with `operator`
//! read or the `license-read` capability; an install needs `operator` write.

pub mod document;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use self::document::Expiry;
use self::document::License;
use self::document::LicenseInvalid;
use crate::authz::Authority;
use crate::authz::Denied;
use crate::authz::Guarded;
use crate::authz::Requirement;
use crate::clock::unix_now;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::forward::admit;
use crate::forward::anonymous_calls;
use crate::forward::client_ops;
use crate::forward::leader_actor;
use crate::forward::Call;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
pub use crate::settings::LicenseSettings;
use crate::state::Command;
use crate::state::InstalledLicense;
use crate::wire::paths;
use crate::wire::Attempt;
use crate::wire::Forwardable;

/// How often each server looks at how long its license has left.
const EXPIRY_CHECK: Duration = Duration::from_secs(5);

/// `GET /v1/operator/license`: the installed license as this server has it.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<LicenseRead, OpError>")]
pub struct GetLicense;

/// The installed license with how fresh the answer is.
#[derive(Clone, Debug)]
pub struct LicenseRead {
    pub license: License,
    /// Whether the license of this server's configuration differs from the installed one.
    pub config_outdated: bool,
    /// The raft index of the license row's last change.
    pub index: u64,
    pub known_leader: bool,
    /// Milliseconds since this server last heard from the leader; 0 on the leader.
    pub last_contact_ms: u64,
}

/// `PUT /v1/operator/license`: installs a license file; `force` allows one issued before the
/// installed license.
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<LicenseWrite, OpError>")]
pub struct PutLicense {
    pub text: String,
    pub force: bool,
}

/// What an install did: the raft index of its entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LicenseWrite {
    pub index: u64,
}

fn local_read(ctx: &ServerContext) -> Result<LicenseRead, OpError> {
    let row = ctx.reader.license()?.ok_or_else(|| OpError::NotInitialized("license".into()))?;
    let license = row.value.license().map_err(OpError::InvalidLicense)?;
    let config_outdated = ctx
        .settings
        .license
        .configured
        .as_deref()
        .and_then(|text| document::decode_unverified(text).ok())
        .is_some_and(|configured| configured.license_id != license.license_id);
    let (known_leader, last_contact_ms) = ctx.freshness();
    Ok(LicenseRead { license, config_outdated, index: row.modify_index, known_leader, last_contact_ms })
}

impl Forwardable for PutLicense {
    const PATH: &'static str = paths::PUT_LICENSE;
    type Output = LicenseWrite;
}

impl Guarded for GetLicense {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::LicenseRead)
    }
}

impl Guarded for PutLicense {
    fn authorize(&self, who: &Authority) -> Result<(), Denied> {
        who.require(&Requirement::OperatorWrite)
    }
}

impl LeaderOp for PutLicense {
    /// Verified here, on the leader, with its keys, product and clock: an invalid license
    /// never reaches the log.
    fn run(self, ctx: Arc<ServerContext>, _: Authority) -> LocalRun<LicenseWrite> {
        let settings = &ctx.settings.license;
        let verified = match document::verify(&self.text, &settings.public_keys, &settings.product, unix_now()) {
            Ok(v) => v,
            Err(e) => return Box::pin(async move { Attempt::Done(Err(OpError::InvalidLicense(e))) }),
        };
        let license = InstalledLicense::signed(&self.text, &verified);
        Box::pin(async move {
            match ctx.proposer.propose(Command::LicenseSet { license, force: self.force }).await {
                Attempt::Done(Ok(applied)) if applied.updated => {
                    Attempt::Done(Ok(LicenseWrite { index: applied.index }))
                }
                Attempt::Done(Ok(_)) => {
                    let current = match ctx.reader.license() {
                        Ok(row) => row.and_then(|r| r.value.license().ok()).map(|l| l.issue_time),
                        Err(e) => return Attempt::Done(Err(e.into())),
                    };
                    Attempt::Done(Err(OpError::InvalidLicense(LicenseInvalid::Older {
                        new: verified.license.issue_time,
                        current: current.unwrap_or_default(),
                    })))
                }
                Attempt::Done(Err(e)) => Attempt::Done(Err(e)),
                Attempt::NotLeader => Attempt::NotLeader,
            }
        })
    }
}

/// The license actor.
pub struct LicenseActor {
    ctx: Arc<ServerContext>,
    /// The last stage warned about, by license ID.
    warned: Option<(String, Expiry)>,
}

impl LicenseActor {
    pub(crate) fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx, warned: None }
    }

    /// Logs once per stage as the installed license nears its end.
    fn check_expiry(&mut self) {
        let Ok(Some(row)) = self.ctx.reader.license() else { return };
        let Ok(license) = row.value.license() else { return };
        let Ok(times) = license.times() else { return };
        let stage = document::expiry(&times, unix_now());
        if self.warned.as_ref().is_some_and(|(id, s)| *id == license.license_id && *s == stage) {
            return;
        }
        let (id, expires) = (&license.license_id, &license.expiration_time);
        match stage {
            Expiry::Valid => {}
            Expiry::WithinHour => tracing::warn!(license_id = %id, %expires, "license expires within the hour"),
            Expiry::WithinTenMinutes => {
                tracing::warn!(license_id = %id, %expires, "license expires within ten minutes")
            }
            Expiry::Expired => tracing::warn!(license_id = %id, %expires, "license has expired; install a new one"),
            Expiry::Terminated => tracing::warn!(
                license_id = %id,
                terminated = %license.termination_time,
                "license has terminated; install a new one"
            ),
        }
        self.warned = Some((license.license_id, stage));
    }
}

impl Actor for LicenseActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(EXPIRY_CHECK, |act, _| act.check_expiry());
    }
}

impl Handler<Call<GetLicense>> for LicenseActor {
    type Result = Result<LicenseRead, OpError>;

    fn handle(&mut self, msg: Call<GetLicense>, _: &mut Self::Context) -> Self::Result {
        admit(&self.ctx, &msg.caller, &msg.op)?;
        local_read(&self.ctx)
    }
}

anonymous_calls!(LicenseActor => GetLicense);
client_ops!(run: LicenseActor => PutLicense);
leader_actor!(LicenseActor);
