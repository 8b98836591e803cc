//! The process's one TLS crypto provider: rustls with *ring* (never aws-lc-rs).
//!
//! reqwest is built with `rustls-no-provider`, so a client built without a preconfigured rustls
//! config looks for the process-wide default provider and panics when there is none.
//! [`install_default_provider`] puts ring there; every entry point that may build such a client
//! (the raft network, the binary's `main`, tests, benches) calls it first. Configs this project
//! builds itself take [`provider`] explicitly.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// ring's provider, the one constructor of it in the workspace. rustls 0.23.48 deprecates it
/// because ring has no post-quantum key exchange; the project keeps ring (no aws-lc-rs) and
/// accepts that.
#[allow(deprecated)]
fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// ring's provider, for `ClientConfig::builder_with_provider` / `ServerConfig::builder_with_provider`.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring())
}

/// Makes ring the process-wide default provider. Idempotent: a default already installed (by
/// an earlier call, or by a host application) stays.
pub fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // A concurrent caller may win the race; its provider is ring too.
        let _ = ring().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_once_and_builds_clients() {
        install_default_provider();
        install_default_provider();
        assert!(CryptoProvider::get_default().is_some());
        assert!(reqwest::Client::builder().build().is_ok());
    }
}
