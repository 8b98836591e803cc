//! The license actor: reads and installs the cluster's license, and warns as it nears its end.
//!
//! State it owns: which warning it last logged for which license, so that each stage (an hour
//! left, ten minutes left, expired, terminated) is logged once per server.
//!
//! The license itself is one replicated row (`sm_license`). A new cluster's first leader
//! installs the license of the agent configuration (`server { license_path }`) if it verifies,
//! else a temporary license valid for six hours ([`document::temporary`]). An install is
//! verified on the leader against its configured public keys, product and clock, then becomes
//! one raft command; whether it may replace the installed one (not issued earlier, unless
//! forced) is decided when that command is applied. A read answers from this server's own
//! state, as Nomad's license endpoint does (it is never forwarded).

pub mod document;

use std::sync::Arc;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use actix::prelude::*;
use serde::Deserialize;
use serde::Serialize;

use self::document::Expiry;
use self::document::License;
use self::document::LicenseInvalid;
use self::document::PublicKey;
use crate::error::OpError;
use crate::forward::on_leader;
use crate::forward::paths;
use crate::forward::Attempt;
use crate::forward::Forwarded;
use crate::forward::LeaderOp;
use crate::forward::LocalRun;
use crate::forward::Origin;
use crate::forward::Remote;
use crate::node::ServerContext;
use crate::state::Command;
use crate::state::InstalledLicense;

/// How often each server looks at how long its license has left.
const EXPIRY_CHECK: Duration = Duration::from_secs(5);

/// What a server licenses and whom it trusts to sign licenses.
#[derive(Clone, Debug)]
pub struct LicenseSettings {
    /// The product a license must name: [`document::DEFAULT_PRODUCT`] unless an application
    /// embedding the actors licenses its own.
    pub product: String,
    /// Keys whose signatures are trusted. Without any, the cluster runs on its temporary
    /// license and every install is refused.
    pub public_keys: Vec<PublicKey>,
    /// The license file of the agent configuration (`server { license_path }`): installed by a
    /// leader when it verifies and is newer than the installed license.
    pub configured: Option<String>,
}

impl Default for LicenseSettings {
    fn default() -> Self {
        Self { product: document::DEFAULT_PRODUCT.into(), public_keys: Vec::new(), configured: None }
    }
}

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

fn storage(e: crate::raft::StorageError) -> OpError {
    OpError::Storage(e.to_string())
}

/// The wall clock in unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn local_read(ctx: &ServerContext) -> Result<LicenseRead, OpError> {
    let row = ctx.reader.license().map_err(storage)?.ok_or_else(|| OpError::NotInitialized("license".into()))?;
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

impl Remote for PutLicense {
    const PATH: &'static str = paths::PUT_LICENSE;
    type Output = LicenseWrite;
}

impl LeaderOp for PutLicense {
    /// Verified here, on the leader, with its keys, product and clock: an invalid license
    /// never reaches the log.
    fn run(self, ctx: Arc<ServerContext>) -> LocalRun<LicenseWrite> {
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
                        Err(e) => return Attempt::Done(Err(storage(e))),
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

/// What a leader writes about the license when it takes office, if anything: the configured
/// license when it verifies and is newer than the installed one; else, on a cluster without a
/// license, a temporary one from this leader's clock.
pub(crate) fn leader_command(ctx: &ServerContext, now: i64) -> Result<Option<Command>, OpError> {
    let current = ctx.reader.license().map_err(storage)?;
    let settings = &ctx.settings.license;
    if let Some(text) = &settings.configured {
        match document::verify(text, &settings.public_keys, &settings.product, now) {
            Ok(v) => {
                let newer =
                    current.as_ref().is_none_or(|r| r.value.is_temporary() || v.times.issue > r.value.issue_time);
                if newer {
                    let license = InstalledLicense::signed(text, &v);
                    return Ok(Some(Command::LicenseSet { license, force: false }));
                }
            }
            Err(e) => tracing::warn!(error = %e, "the license of the agent configuration is not installed"),
        }
    }
    if current.is_none() {
        let id = format!("temporary-{}", uuid::Uuid::new_v4());
        let license = document::temporary(&settings.product, id, now);
        tracing::warn!(
            expires = %license.expiration_time,
            "no license installed: running on a temporary license valid for 6 hours"
        );
        return Ok(Some(Command::LicenseInit { license: InstalledLicense::temporary(&license, now) }));
    }
    Ok(None)
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

impl Handler<GetLicense> for LicenseActor {
    type Result = Result<LicenseRead, OpError>;

    fn handle(&mut self, _: GetLicense, _: &mut Self::Context) -> Self::Result {
        local_read(&self.ctx)
    }
}

impl Handler<PutLicense> for LicenseActor {
    type Result = ResponseFuture<Result<LicenseWrite, OpError>>;

    fn handle(&mut self, msg: PutLicense, _: &mut Self::Context) -> Self::Result {
        Box::pin(on_leader(self.ctx.clone(), Origin::Client, msg))
    }
}

impl Handler<Forwarded<PutLicense>> for LicenseActor {
    type Result = ResponseFuture<Result<LicenseWrite, OpError>>;

    fn handle(&mut self, msg: Forwarded<PutLicense>, _: &mut Self::Context) -> Self::Result {
        Box::pin(on_leader(self.ctx.clone(), Origin::Peer, msg.0))
    }
}

impl Handler<crate::membership::Stop> for LicenseActor {
    type Result = ();

    fn handle(&mut self, _: crate::membership::Stop, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
