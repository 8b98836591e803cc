//! The agent's side of TLS: the `tls { }` block made into [`Tls`], what the agent warns about
//! at start, and the reload a SIGHUP asks for.

use super::config::AgentConfig;
use super::config::TlsConfig;
use super::config::TlsVersion;
use crate::tls::Policy;
use crate::tls::Tls;
use crate::tls::TlsError;
use crate::tls::TlsFiles;

/// Logged at start when ACLs guard the API but the RPC port speaks plain text.
pub const PLAIN_RPC_WARNING: &str = "ACLs are enabled but tls { rpc = true } is not: RPC traffic between servers, \
    including raft, is unauthenticated and ACL tokens travel in clear text on the RPC port; see docs/security.md";

fn files(tls: &TlsConfig) -> Result<TlsFiles, TlsError> {
    let missing = |what: &str| TlsError::Settings(format!("{what} is required when http or rpc is enabled"));
    Ok(TlsFiles {
        ca_file: tls.ca_file.clone(),
        cert_file: tls.cert_file.clone().ok_or_else(|| missing("cert_file"))?,
        key_file: tls.key_file.clone().ok_or_else(|| missing("key_file"))?,
    })
}

/// The agent's certificates, when `tls { http = true }` or `tls { rpc = true }`.
pub fn load(config: &AgentConfig) -> Result<Option<Tls>, TlsError> {
    let tls = &config.tls;
    if !tls.http && !tls.rpc {
        return Ok(None);
    }
    let policy = Policy {
        tls13_only: tls.min_version == TlsVersion::Tls13,
        cipher_suites: tls.cipher_suites.clone(),
        prefer_server_cipher_suites: tls.prefer_server_cipher_suites,
        verify_server_hostname: tls.verify_server_hostname,
        region: config.region.clone(),
    };
    Tls::load(files(tls)?, policy).map(Some)
}

/// What the operator should know about the TLS settings, logged once at start.
pub fn warn_at_start(config: &AgentConfig) {
    if config.acl_enabled && !config.tls.rpc {
        tracing::warn!("{PLAIN_RPC_WARNING}");
    }
    if (config.tls.http || config.tls.rpc) && matches!(config.tls.min_version, TlsVersion::Tls10 | TlsVersion::Tls11) {
        tracing::warn!("tls_min_version below tls12 is served as TLS 1.2: raftwarden speaks nothing older");
    }
    if config.tls.rpc && !config.tls.verify_server_hostname {
        tracing::warn!(
            "tls {{ rpc = true }} without verify_server_hostname: any certificate signed by ca_file, a client's \
             too, is taken as a server's on the RPC port"
        );
    }
}

/// Applies a configuration re-read on SIGHUP: the certificates and CAs are read again (from
/// the paths the new configuration names); everything else waits for a restart, as do
/// turning `http` or `rpc` on or off. A reload that fails keeps what was loaded and says why.
pub async fn reload(tls: Option<&Tls>, running: &TlsConfig, new: AgentConfig) {
    if new.tls.http != running.http || new.tls.rpc != running.rpc {
        tracing::warn!("tls: turning http or rpc on or off takes a restart; the running agent keeps its listeners");
    }
    let Some(tls) = tls.cloned() else { return };
    let files = match files(&new.tls) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "failed to reload the config");
            return;
        }
    };
    match tokio::task::spawn_blocking(move || tls.reload(Some(files))).await {
        Ok(Ok(())) => tracing::info!("tls: reloaded the certificates and CAs; new connections use them"),
        Ok(Err(e)) => tracing::error!(error = %e, "failed to reload the config; keeping the loaded certificates"),
        Err(e) => tracing::error!(error = %e, "failed to reload the config"),
    }
}
