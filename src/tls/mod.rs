//! TLS as Nomad's `tls { }` block configures it: HTTPS on the HTTP port, mutual TLS on the RPC
//! port and on every call one server makes to another, certificates re-read on SIGHUP.
//!
//! ```text
//!   ca_file, cert_file, key_file --files--> Loaded --Current (swapped by reload)--+
//!                                                                               |
//!   https_server(verify_https_client)  ServerConfig: Resolver [+ ClientVerifier]  <-+
//!   rpc_server()                       ServerConfig: Resolver + ClientVerifier (always)
//!   rpc_client()                       ClientConfig: Resolver + ServerVerifier
//! ```
//!
//! Every config reads the files' current contents at each handshake ([`verify::Current`]), so
//! [`Tls::reload`] changes what new connections present and accept while open connections go
//! on. Only the ring provider is used, never the process-wide default. The listeners that serve
//! these configs are `http::listen`; the actors crate dials peers with [`Tls::rpc_client`].

pub mod files;
pub mod suites;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::ClientConfig;
use rustls::ServerConfig;
use rustls::SignatureAlgorithm;

use self::suites::KeyKind;
use self::verify::ClientVerifier;
use self::verify::Current;
use self::verify::Loaded;
use self::verify::Resolver;
use self::verify::ServerVerifier;

/// Why the TLS files or settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds nothing usable.
    #[error("tls: {what} {}: {reason}", path.display())]
    File { what: &'static str, path: PathBuf, reason: String },
    /// The key cannot sign, or is not the key of the certificate.
    #[error("tls: key_file {} does not fit cert_file {}: {reason}", key.display(), cert.display())]
    KeyPair { cert: PathBuf, key: PathBuf, reason: String },
    /// `tls_cipher_suites`, `tls_min_version` or a missing file the settings need.
    #[error("tls: {0}")]
    Settings(String),
}

/// Where the agent's certificates are (`ca_file`, `cert_file`, `key_file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// What the `tls { }` block says beyond the files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `tls_min_version = "tls13"`; anything lower means TLS 1.2 and 1.3.
    pub tls13_only: bool,
    /// `tls_cipher_suites`, Go's names; empty: every suite rustls has.
    pub cipher_suites: Vec<String>,
    /// `tls_prefer_server_cipher_suites`: the server's suite order wins.
    pub prefer_server_cipher_suites: bool,
    /// `verify_server_hostname`: servers must present a certificate for
    /// `server.<region>.nomad`, and the RPC port takes only servers' and clients' certificates.
    pub verify_server_hostname: bool,
    pub region: String,
}

/// The agent's TLS identity: its files as last loaded, and the configs built over them.
#[derive(Clone)]
pub struct Tls {
    inner: Arc<Inner>,
}

struct Inner {
    policy: Policy,
    provider: Arc<CryptoProvider>,
    current: Current,
    /// The paths of the last successful load; a reload reads these unless given new ones.
    files: Mutex<TlsFiles>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("policy", &self.inner.policy).finish_non_exhaustive()
    }
}

fn key_kind(alg: SignatureAlgorithm) -> KeyKind {
    if alg == SignatureAlgorithm::RSA {
        KeyKind::Rsa
    } else {
        KeyKind::Ecdsa
    }
}

fn load(files: &TlsFiles, policy: &Policy, provider: &Arc<CryptoProvider>) -> Result<Loaded, TlsError> {
    let chain = files::load_chain(&files.cert_file)?;
    let key = files::load_key(&files.key_file)?;
    let pair_error = |e: rustls::Error| TlsError::KeyPair {
        cert: files.cert_file.clone(),
        key: files.key_file.clone(),
        reason: e.to_string(),
    };
    let key = CertifiedKey::from_der(chain, key, provider).map_err(pair_error)?;
    suites::check_key_fits(&policy.cipher_suites, key_kind(key.key.algorithm())).map_err(TlsError::Settings)?;
    let (roots, clients) = match &files.ca_file {
        Some(path) => {
            let roots = Arc::new(files::load_ca(path)?);
            let clients = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| TlsError::File { what: "ca_file", path: path.clone(), reason: e.to_string() })?;
            (Some(roots), Some(clients))
        }
        None => (None, None),
    };
    Ok(Loaded { key: Arc::new(key), roots, clients })
}

impl Tls {
    /// Reads the files and checks the settings; every error names the file or setting.
    pub fn load(files: TlsFiles, policy: Policy) -> Result<Self, TlsError> {
        let tls12 = suites::tls12_suites(&policy.cipher_suites).map_err(TlsError::Settings)?;
        let provider = Arc::new(suites::provider(&tls12));
        let loaded = load(&files, &policy, &provider)?;
        let inner = Inner { policy, provider, current: Current::new(loaded), files: Mutex::new(files) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Reads the files again (at `files` when given, else where they were) and, if all of them
    /// are usable, makes them what every new connection uses. On an error nothing changes.
    pub fn reload(&self, files: Option<TlsFiles>) -> Result<(), TlsError> {
        let mut last = self.inner.files.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let files = files.unwrap_or_else(|| last.clone());
        let loaded = load(&files, &self.inner.policy, &self.inner.provider)?;
        self.inner.current.set(loaded);
        *last = files;
        Ok(())
    }

    /// The certificate we present now (the first of `cert_file`).
    pub fn certificate(&self) -> CertificateDer<'static> {
        let loaded = self.inner.current.get();
        loaded.key.cert.first().cloned().unwrap_or_else(|| CertificateDer::from(Vec::new()))
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    fn names(&self, names: &[String]) -> Result<Vec<ServerName<'static>>, TlsError> {
        names
            .iter()
            .map(|n| {
                verify::dns_name(n.clone()).ok_or_else(|| {
                    TlsError::Settings(format!("region {:?} makes no DNS name ({n})", self.inner.policy.region))
                })
            })
            .collect()
    }

    fn require_ca(&self, why: &str) -> Result<(), TlsError> {
        match self.inner.current.get().roots {
            Some(_) => Ok(()),
            None => Err(TlsError::Settings(format!("ca_file is required {why}"))),
        }
    }

    fn server_builder(&self) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>, TlsError> {
        ServerConfig::builder_with_provider(self.inner.provider.clone())
            .with_protocol_versions(suites::versions(self.inner.policy.tls13_only))
            .map_err(|e| TlsError::Settings(e.to_string()))
    }

    fn finish_server(&self, mut config: ServerConfig) -> Arc<ServerConfig> {
        config.ignore_client_order = self.inner.policy.prefer_server_cipher_suites;
        Arc::new(config)
    }

    /// HTTPS on the HTTP port. With `verify_clients` (`verify_https_client`) a client must
    /// present a certificate signed by `ca_file`; without it none is asked for, as Nomad.
    pub fn https_server(&self, verify_clients: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = self.server_builder()?;
        let resolver = Arc::new(Resolver(self.inner.current.clone()));
        let config = if verify_clients {
            self.require_ca("when verify_https_client is enabled")?;
            let verifier = ClientVerifier {
                current: self.inner.current.clone(),
                names: None,
                algs: self.inner.provider.signature_verification_algorithms,
            };
            builder.with_client_cert_verifier(Arc::new(verifier)).with_cert_resolver(resolver)
        } else {
            builder.with_no_client_auth().with_cert_resolver(resolver)
        };
        Ok(self.finish_server(config))
    }

    /// The RPC port: a client certificate signed by `ca_file` is always required; with
    /// `verify_server_hostname` it must name `server.<region>.nomad` or
    /// `client.<region>.nomad`.
    pub fn rpc_server(&self) -> Result<Arc<ServerConfig>, TlsError> {
        self.require_ca("when rpc is enabled (servers verify each other)")?;
        let policy = &self.inner.policy;
        let names = match policy.verify_server_hostname {
            true => Some(self.names(&[verify::server_name(&policy.region), verify::client_name(&policy.region)])?),
            false => None,
        };
        let verifier = ClientVerifier {
            current: self.inner.current.clone(),
            names,
            algs: self.inner.provider.signature_verification_algorithms,
        };
        let resolver = Arc::new(Resolver(self.inner.current.clone()));
        let config = self.server_builder()?.with_client_cert_verifier(Arc::new(verifier)).with_cert_resolver(resolver);
        Ok(self.finish_server(config))
    }

    /// How this server calls another's RPC port: the peer's certificate must be signed by
    /// `ca_file` and, with `verify_server_hostname`, name `server.<region>.nomad`; we present
    /// our own certificate.
    pub fn rpc_client(&self) -> Result<Arc<ClientConfig>, TlsError> {
        self.require_ca("when rpc is enabled (servers verify each other)")?;
        let policy = &self.inner.policy;
        let name = match policy.verify_server_hostname {
            true => self.names(&[verify::server_name(&policy.region)])?.pop(),
            false => None,
        };
        let verifier = ServerVerifier {
            current: self.inner.current.clone(),
            name,
            algs: self.inner.provider.signature_verification_algorithms,
        };
        let config = ClientConfig::builder_with_provider(self.inner.provider.clone())
            .with_protocol_versions(suites::versions(policy.tls13_only))
            .map_err(|e| TlsError::Settings(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(Resolver(self.inner.current.clone())));
        Ok(Arc::new(config))
    }

    /// Whether a verified RPC client certificate proves a server of this region: with
    /// `verify_server_hostname` it must name `server.<region>.nomad` (a `client.` certificate
    /// is no server); without it, any certificate of the CA does, as Nomad's raft check is
    /// then off too.
    pub fn is_server(&self, end_entity: &CertificateDer<'_>) -> bool {
        let policy = &self.inner.policy;
        if !policy.verify_server_hostname {
            return true;
        }
        match verify::dns_name(verify::server_name(&policy.region)) {
            Some(name) => verify::names_any(end_entity, &[name]),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
