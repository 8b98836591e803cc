//! What a leader makes sure exists when it takes office, and again after a snapshot restore
//! (as Nomad's leader re-runs its leadership actions): the config rows, with the agent's
//! defaults, and a license (the configured one when it verifies and is newer, else a temporary
//! one on a cluster without any). One raft entry carries all of it.

use std::collections::BTreeSet;

use openraft::ChangeMembers;

use crate::clock::unix_now;
use crate::context::ServerContext;
use crate::error::OpError;
use crate::license::document;
use crate::state::Command;
use crate::state::InstalledLicense;

/// Writes whatever of the config rows and the license is missing (see the module doc).
pub(crate) async fn write_defaults_if_missing(ctx: &ServerContext) -> Result<(), OpError> {
    ctx.raft.ensure_linearizable(openraft::ReadPolicy::ReadIndex).await.map_err(|e| OpError::Raft(e.to_string()))?;
    // openraft writes the bootstrap configuration at log index 0, which Nomad's clients read
    // as "no configuration" (hashicorp/raft numbers entries from 1). Committing the same
    // configuration again gives it a real index; adding no voters cannot race a join.
    if ctx.metrics().membership_config.log_id().is_some_and(|l| l.index == 0) {
        ctx.raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::new()), true)
            .await
            .map_err(|e| OpError::Raft(e.to_string()))?;
    }
    let missing = ctx.reader.autopilot()?.is_none() || ctx.reader.scheduler()?.is_none();
    let mut commands = Vec::new();
    if missing {
        commands.push(Command::InitDefaults {
            autopilot: ctx.settings.autopilot_defaults.clone(),
            scheduler: ctx.settings.scheduler_defaults.clone(),
        });
    }
    commands.extend(license_command(ctx, unix_now())?);
    // One entry for all of them: whoever can read the config rows can read the license too.
    let cmd = match commands.len() {
        0 => return Ok(()),
        1 => commands.remove(0),
        _ => Command::Batch(commands),
    };
    ctx.raft.client_write(cmd).await.map_err(|e| OpError::Raft(e.to_string()))?;
    Ok(())
}

/// What a leader writes about the license when it takes office, if anything: the configured
/// license when it verifies and is newer than the installed one; else, on a cluster without a
/// license, a temporary one from this leader's clock.
fn license_command(ctx: &ServerContext, now: i64) -> Result<Option<Command>, OpError> {
    let current = ctx.reader.license()?;
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
