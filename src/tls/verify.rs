//! The certificate resolver and the two verifiers behind every TLS config the agent builds.
//! Each reads the current certificates and CAs through [`Current`] on every handshake, so a
//! reload changes what new connections see while open ones go on with what they started with.

use std::sync::Arc;
use std::sync::RwLock;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::client::danger::ServerCertVerified;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::ResolvesClientCert;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::ServerName;
use rustls::pki_types::UnixTime;
use rustls::server::danger::ClientCertVerified;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::ClientHello;
use rustls::server::ParsedCertificate;
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use rustls::CertificateError;
use rustls::DigitallySignedStruct;
use rustls::DistinguishedName;
use rustls::Error;
use rustls::RootCertStore;
use rustls::SignatureScheme;

/// What one load of the files produced.
pub struct Loaded {
    /// Our certificate chain and key.
    pub key: Arc<CertifiedKey>,
    /// `ca_file`'s CAs; `None` when no `ca_file` is configured (HTTPS without client checks).
    pub roots: Option<Arc<RootCertStore>>,
    /// Verifies a client's chain against `roots` (built once per load, not per handshake).
    pub clients: Option<Arc<dyn ClientCertVerifier>>,
}

/// The loaded files, swapped whole by a reload.
#[derive(Clone)]
pub struct Current(Arc<RwLock<Arc<Loaded>>>);

impl Current {
    pub fn new(loaded: Loaded) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(loaded))))
    }

    pub fn get(&self) -> Arc<Loaded> {
        // A writer never panics while holding the lock (it only assigns), so a poisoned lock
        // still holds a whole value.
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn set(&self, loaded: Loaded) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(loaded);
    }
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Current")
    }
}

/// Nomad's name for the servers of `region`.
pub fn server_name(region: &str) -> String {
    format!("server.{region}.nomad")
}

/// Nomad's name for the clients (nodes) of `region`.
pub fn client_name(region: &str) -> String {
    format!("client.{region}.nomad")
}

/// Whether `cert` (already verified) names one of `names` in its subject alternative names.
pub fn names_any(cert: &CertificateDer<'_>, names: &[ServerName<'static>]) -> bool {
    let Ok(parsed) = ParsedCertificate::try_from(cert) else { return false };
    names.iter().any(|n| rustls::client::verify_server_name(&parsed, n).is_ok())
}

/// A DNS name as rustls takes it; `None` when `name` is not one (a region with odd characters).
pub fn dns_name(name: String) -> Option<ServerName<'static>> {
    ServerName::try_from(name).ok()
}

/// Hands out our certificate to every handshake, as a server and as a client.
#[derive(Debug)]
pub struct Resolver(pub Current);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get().key.clone())
    }
}

impl ResolvesClientCert for Resolver {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.get().key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Checks the certificate a client presents: signed by `ca_file` (required), and, when
/// `names` is set (the RPC port with `verify_server_hostname`), naming one of them, as
/// Nomad's `rpcNameAndRegionValidator` refuses other roles (a `cli.` certificate) and regions.
#[derive(Debug)]
pub struct ClientVerifier {
    pub current: Current,
    pub names: Option<Vec<ServerName<'static>>>,
    pub algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: they would have to outlive a reload. A client with one certificate sends it
    /// anyway (Go, rustls and OpenSSL all do), and the chain is checked either way.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let loaded = self.current.get();
        let Some(clients) = &loaded.clients else {
            return Err(Error::General("no ca_file to verify client certificates against".into()));
        };
        let verified = clients.verify_client_cert(end_entity, intermediates, now)?;
        match &self.names {
            Some(names) if !names_any(end_entity, names) => {
                tracing::debug!("refused a TLS client: invalid role or region for certificate");
                Err(Error::InvalidCertificate(CertificateError::NotValidForName))
            }
            _ => Ok(verified),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Checks the certificate a server we call presents: signed by `ca_file`, and, when `name` is
/// set (`verify_server_hostname`), valid for `server.<region>.nomad` whatever address we dialled.
/// Without it any certificate of the CA is accepted, as Nomad's `WrapTLSClient` does.
#[derive(Debug)]
pub struct ServerVerifier {
    pub current: Current,
    pub name: Option<ServerName<'static>>,
    pub algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _dialled: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let loaded = self.current.get();
        let Some(roots) = &loaded.roots else {
            return Err(Error::General("no ca_file to verify servers against".into()));
        };
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(&parsed, roots, intermediates, now, self.algs.all)?;
        if let Some(name) = &self.name {
            rustls::client::verify_server_name(&parsed, name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}
