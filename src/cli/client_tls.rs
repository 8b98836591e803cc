//! The CLI's side of TLS, as Nomad's `api.ConfigureTLS` sets it up: which CA verifies the
//! server (`-ca-cert` / `NOMAD_CACERT`, else `-ca-path` / `NOMAD_CAPATH`, else the system's),
//! which certificate proves the caller (`-client-cert` and `-client-key`, or their
//! `NOMAD_CLIENT_*` variables), which name the server's certificate must carry
//! (`-tls-server-name` / `NOMAD_TLS_SERVER_NAME`, else the address's host) and whether to check
//! at all (`-tls-skip-verify`, `-insecure`, `NOMAD_SKIP_VERIFY`), with Nomad's error texts.
//! The result is a rustls [`ClientConfig`] on the ring provider that the one HTTP client
//! ([`super::client`]) is built with, for `http://` addresses too, so a bad CA file fails every
//! command as it does in Nomad.
//!
//! Failures of a handshake are told in Go's words ([`go_tls_error`]), so scripts that match
//! Nomad's `x509: certificate signed by unknown authority` keep working.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::client::danger::ServerCertVerified;
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::ServerName;
use rustls::pki_types::UnixTime;
use rustls::CertificateError;
use rustls::ClientConfig;
use rustls::DigitallySignedStruct;
use rustls::RootCertStore;
use rustls::SignatureScheme;

use super::opts::GlobalOpts;
use crate::go;

/// Nomad's `api.TLSConfig`: where the CLI's TLS material comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub ca_cert: Option<String>,
    pub ca_path: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub server_name: Option<String>,
    /// No verification of the server's certificate at all.
    pub insecure: bool,
    /// Verify the server's chain but not the name it is issued for: the agent's scheduled
    /// snapshots call the agent's own listener, whose certificate need not name its address.
    pub any_server_name: bool,
    /// Trust exactly the first certificate of this file instead of a CA: the agent calling
    /// itself when it has no `ca_file`.
    pub pinned_cert: Option<String>,
}

impl TlsSettings {
    /// Flags over environment, as Nomad's `Meta.clientConfig` over `api.DefaultConfig`: a
    /// non-empty flag wins, else a non-empty variable; `NOMAD_SKIP_VERIFY` counts when Go's
    /// `ParseBool` accepts it, and the skip flags can only turn verification off.
    pub fn resolve(opts: &GlobalOpts, env: impl Fn(&str) -> Option<String>) -> Self {
        let pick = |flag: &Option<String>, var: &str| {
            flag.clone().filter(|v| !v.is_empty()).or_else(|| env(var).filter(|v| !v.is_empty()))
        };
        let env_insecure = env("NOMAD_SKIP_VERIFY").and_then(|v| go::parse_bool(&v)).unwrap_or(false);
        Self {
            ca_cert: pick(&opts.ca_cert, "NOMAD_CACERT"),
            ca_path: pick(&opts.ca_path, "NOMAD_CAPATH"),
            client_cert: pick(&opts.client_cert, "NOMAD_CLIENT_CERT"),
            client_key: pick(&opts.client_key, "NOMAD_CLIENT_KEY"),
            server_name: pick(&opts.tls_server_name, "NOMAD_TLS_SERVER_NAME"),
            insecure: opts.tls_skip_verify || opts.insecure || env_insecure,
            any_server_name: false,
            pinned_cert: None,
        }
    }

    /// The rustls config for these settings; the error is Nomad's text for what is wrong.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let provider = raftwarden_actors::crypto::provider();
        let identity = match (&self.client_cert, &self.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(load_key_pair(Path::new(cert), Path::new(key))?),
            _ => return Err("Both client cert and client key must be provided".into()),
        };
        let roots = match (&self.pinned_cert, &self.ca_cert, &self.ca_path) {
            (Some(pin), _, _) => {
                let pem = read(Path::new(pin))?;
                let cert = CertificateDer::pem_slice_iter(&pem)
                    .find_map(Result::ok)
                    .ok_or_else(|| format!("tls: failed to find any PEM data in {pin}"))?;
                Roots::Pinned(cert)
            }
            (None, Some(file), _) => Roots::Pool(pool_verifier(load_ca_file(Path::new(file))?, &provider)?),
            (None, None, Some(dir)) => Roots::Pool(pool_verifier(load_ca_path(Path::new(dir))?, &provider)?),
            (None, None, None) => Roots::System { provider: provider.clone(), verifier: OnceLock::new() },
        };
        let server_name = match &self.server_name {
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|_| format!("invalid TLS server name {}", go::quote(name)))?,
            ),
            None => None,
        };
        let verifier = NomadVerifier {
            roots,
            server_name,
            insecure: self.insecure,
            any_name: self.any_server_name,
            provider: provider.clone(),
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        match identity {
            None => Ok(builder.with_no_client_auth()),
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => "tls: private key does not match public key".to_string(),
                other => format!("tls: {other}"),
            }),
        }
    }
}

/// Go's `os.ReadFile` failure: `open <path>: no such file or directory`.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {}: {}", path.display(), go::os_error(&e)))
}

/// Go's `tls.LoadX509KeyPair`: every certificate of the chain file and the first private key
/// of the key file, which must belong together.
fn load_key_pair(cert: &Path, key: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&cert_pem).filter_map(Result::ok).collect();
    if chain.is_empty() {
        return Err("tls: failed to find any PEM data in certificate input".into());
    }
    match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => Ok((chain, key)),
        Err(_) if CertificateDer::pem_slice_iter(&key_pem).next().is_some() => {
            Err("tls: found a certificate rather than a key in the PEM for the private key".into())
        }
        Err(_) => Err("tls: failed to find any PEM data in key input".into()),
    }
}

/// The certificates of one PEM file; `None` when none parses (Go's `AppendCertsFromPEM`).
fn pem_certificates(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs.iter().cloned());
    (added > 0).then_some(certs)
}

/// go-rootcerts' `LoadCAFile`.
fn load_ca_file(file: &Path) -> Result<RootCertStore, String> {
    let pem = std::fs::read(file)
        .map_err(|e| format!("Error loading CA File: open {}: {}", file.display(), go::os_error(&e)))?;
    let certs = pem_certificates(&pem)
        .ok_or_else(|| format!("Error loading CA File: Couldn't parse PEM in: {}", file.display()))?;
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(certs);
    Ok(store)
}

/// go-rootcerts' `LoadCAPath`: every file under `dir`, in lexical order as Go's
/// `filepath.Walk`, must hold a certificate.
fn load_ca_path(dir: &Path) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    // Bounded: a directory tree deeper or wider than this is not a CA directory.
    let mut budget = 100_000usize;
    while let Some(path) = pending.pop() {
        budget = budget
            .checked_sub(1)
            .ok_or_else(|| format!("Error loading CA Path: too many files under {}", dir.display()))?;
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| format!("lstat {}: {}", path.display(), go::os_error(&e)))?;
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| format!("open {}: {}", path.display(), go::os_error(&e)))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect();
            children.sort();
            pending.extend(children.into_iter().rev());
            continue;
        }
        let pem = std::fs::read(&path)
            .map_err(|e| format!("Error loading file from CAPath: open {}: {}", path.display(), go::os_error(&e)))?;
        let certs = pem_certificates(&pem)
            .ok_or_else(|| format!("Error loading CA Path: Couldn't parse PEM in: {}", path.display()))?;
        store.add_parsable_certificates(certs);
    }
    Ok(store)
}

fn pool_verifier(store: RootCertStore, provider: &Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| e.to_string())
}

/// Where trusted roots come from. The system's are loaded at the first handshake, so an
/// `http://` address never needs them.
#[derive(Debug)]
enum Roots {
    Pool(Arc<dyn ServerCertVerifier>),
    Pinned(CertificateDer<'static>),
    System { provider: Arc<CryptoProvider>, verifier: OnceLock<Result<Arc<dyn ServerCertVerifier>, String>> },
}

impl Roots {
    fn verifier(&self) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> {
        match self {
            Roots::Pool(v) => Ok(v.clone()),
            Roots::Pinned(_) => Err(rustls::Error::General("a pinned certificate has no roots".into())),
            Roots::System { provider, verifier } => verifier
                .get_or_init(|| {
                    rustls_platform_verifier::Verifier::new(provider.clone())
                        .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
                        .map_err(|e| e.to_string())
                })
                .clone()
                .map_err(rustls::Error::General),
        }
    }
}

/// Checks the server's certificate as Nomad's client does: against the roots, for the
/// `-tls-server-name` when given, or not at all with `-tls-skip-verify`. Handshake signatures
/// are always checked, so even an unverified peer must hold its certificate's key.
#[derive(Debug)]
struct NomadVerifier {
    roots: Roots,
    server_name: Option<ServerName<'static>>,
    insecure: bool,
    any_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NomadVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        if let Roots::Pinned(expected) = &self.roots {
            return match end_entity.as_ref() == expected.as_ref() {
                true => Ok(ServerCertVerified::assertion()),
                false => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            };
        }
        let name = self.server_name.as_ref().unwrap_or(server_name);
        let result = self.roots.verifier()?.verify_server_cert(end_entity, intermediates, name, ocsp_response, now);
        match result {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.any_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The rustls error somewhere under `e`: reqwest wraps hyper's error, which wraps an
/// `io::Error` that may wrap another before the one that carries it (an `io::Error`'s
/// `source()` skips what it wraps, so its inner error is followed instead).
pub fn find_tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded: error chains are short; a cycle must not hang the CLI.
    for _ in 0..32 {
        let err = current?;
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match err.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A TLS failure as Go's `crypto/tls` and `crypto/x509` word it.
pub fn go_tls_error(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    let verify = |why: String| format!("tls: failed to verify certificate: {why}");
    match e {
        rustls::Error::InvalidCertificate(cert) => verify(go_x509_error(cert)),
        rustls::Error::AlertReceived(alert) => {
            let text = match alert {
                A::BadCertificate => "bad certificate".to_string(),
                A::UnknownCA => "unknown certificate authority".to_string(),
                A::CertificateRequired => "certificate required".to_string(),
                A::CertificateExpired => "expired certificate".to_string(),
                A::CertificateUnknown => "unknown certificate".to_string(),
                A::UnsupportedCertificate => "unsupported certificate".to_string(),
                A::HandshakeFailure => "handshake failure".to_string(),
                A::ProtocolVersion => "protocol version not supported".to_string(),
                A::AccessDenied => "access denied".to_string(),
                A::DecryptError => "error decrypting message".to_string(),
                A::IllegalParameter => "illegal parameter".to_string(),
                A::InternalError => "internal error".to_string(),
                other => format!("{other:?}"),
            };
            format!("remote error: tls: {text}")
        }
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "http: server gave HTTP response to HTTPS client".into()
        }
        other => other.to_string(),
    }
}

/// A certificate that does not verify, as Go's `x509` errors print.
pub fn go_x509_error(e: &CertificateError) -> String {
    let rfc3339 = |t: &UnixTime| go::rfc3339(t.as_secs());
    match e {
        CertificateError::UnknownIssuer => "x509: certificate signed by unknown authority".into(),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(time),
            rfc3339(not_after)
        ),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(time),
            rfc3339(not_before)
        ),
        CertificateError::Expired | CertificateError::NotValidYet => {
            "x509: certificate has expired or is not yet valid".into()
        }
        CertificateError::NotValidForNameContext { expected, presented } => {
            let host = match expected {
                ServerName::DnsName(d) => d.as_ref().to_string(),
                ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                other => format!("{other:?}"),
            };
            let is_ip = matches!(expected, ServerName::IpAddress(_));
            // Go lists the names of the kind asked for: IP SANs for an address, else DNS names.
            let valid: Vec<String> =
                presented.iter().map(|p| presented_name(p)).filter(|(ip, _)| *ip == is_ip).map(|(_, n)| n).collect();
            if is_ip && valid.is_empty() {
                format!("x509: cannot validate certificate for {host} because it doesn't contain any IP SANs")
            } else if valid.is_empty() {
                format!("x509: certificate is not valid for any names, but wanted to match {host}")
            } else {
                format!("x509: certificate is valid for {}, not {host}", valid.join(", "))
            }
        }
        CertificateError::NotValidForName => "x509: certificate is not valid for the requested name".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "x509: certificate specifies an incompatible key usage".into()
        }
        CertificateError::BadSignature => "x509: signature verification failure".into(),
        other => format!("x509: {other:?}"),
    }
}

/// One of webpki's presented names (`DnsName("a.b")`, `IpAddress(127.0.0.1)`): whether it is
/// an address, and the name.
fn presented_name(p: &str) -> (bool, String) {
    if let Some(ip) = p.strip_prefix("IpAddress(").and_then(|r| r.strip_suffix(')')) {
        return (true, ip.to_string());
    }
    if let Some(dns) = p.strip_prefix("DnsName(").and_then(|r| r.strip_suffix(')')) {
        return (false, dns.trim_matches('"').to_string());
    }
    (p.parse::<std::net::IpAddr>().is_ok(), p.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_win_over_the_environment() {
        let vars = [
            ("NOMAD_CACERT", "env-ca"),
            ("NOMAD_CAPATH", "env-dir"),
            ("NOMAD_CLIENT_CERT", "env-cert"),
            ("NOMAD_CLIENT_KEY", "env-key"),
            ("NOMAD_TLS_SERVER_NAME", "env.name"),
        ];
        let s = TlsSettings::resolve(&GlobalOpts::default(), env(&vars));
        assert_eq!(s.ca_cert.as_deref(), Some("env-ca"));
        assert_eq!(s.ca_path.as_deref(), Some("env-dir"));
        assert_eq!(s.client_cert.as_deref(), Some("env-cert"));
        assert_eq!(s.client_key.as_deref(), Some("env-key"));
        assert_eq!(s.server_name.as_deref(), Some("env.name"));
        assert!(!s.insecure);
        let opts = GlobalOpts {
            ca_cert: Some("flag-ca".into()),
            client_cert: Some("flag-cert".into()),
            // An empty flag is no flag: the variable still counts, as in Nomad.
            client_key: Some(String::new()),
            tls_server_name: Some("flag.name".into()),
            ..GlobalOpts::default()
        };
        let s = TlsSettings::resolve(&opts, env(&vars));
        assert_eq!(s.ca_cert.as_deref(), Some("flag-ca"));
        assert_eq!(s.client_cert.as_deref(), Some("flag-cert"));
        assert_eq!(s.client_key.as_deref(), Some("env-key"));
        assert_eq!(s.server_name.as_deref(), Some("flag.name"));
        assert_eq!(TlsSettings::resolve(&GlobalOpts::default(), env(&[])), TlsSettings::default());
    }

    #[test]
    fn skip_verify_from_flags_or_a_go_boolean() {
        let insecure = |opts: GlobalOpts, value: Option<&str>| {
            let vars: Vec<(&str, &str)> = value.map(|v| ("NOMAD_SKIP_VERIFY", v)).into_iter().collect();
            TlsSettings::resolve(&opts, env(&vars)).insecure
        };
        assert!(insecure(GlobalOpts::default(), Some("true")));
        assert!(insecure(GlobalOpts::default(), Some("1")));
        assert!(!insecure(GlobalOpts::default(), Some("0")));
        // Go ignores a value ParseBool rejects.
        assert!(!insecure(GlobalOpts::default(), Some("yes")));
        assert!(insecure(GlobalOpts { tls_skip_verify: true, ..GlobalOpts::default() }, None));
        assert!(insecure(GlobalOpts { insecure: true, ..GlobalOpts::default() }, None));
        // A false flag does not undo the variable.
        assert!(insecure(GlobalOpts::default(), Some("TRUE")));
    }

    #[test]
    fn configuration_errors_are_nomads() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let m = missing.display().to_string();
        let err = |s: TlsSettings| s.client_config().map(drop).unwrap_err();
        assert_eq!(
            err(TlsSettings { client_cert: Some("c".into()), ..TlsSettings::default() }),
            "Both client cert and client key must be provided"
        );
        assert_eq!(
            err(TlsSettings { client_key: Some("k".into()), ..TlsSettings::default() }),
            "Both client cert and client key must be provided"
        );
        assert_eq!(
            err(TlsSettings { ca_cert: Some(m.clone()), ..TlsSettings::default() }),
            format!("Error loading CA File: open {m}: no such file or directory")
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let j = junk.display().to_string();
        assert_eq!(
            err(TlsSettings { ca_cert: Some(j.clone()), ..TlsSettings::default() }),
            format!("Error loading CA File: Couldn't parse PEM in: {j}")
        );
        // -ca-cert wins over -ca-path: the broken directory is never read.
        let ca_dir = dir.path().join("cas");
        std::fs::create_dir(&ca_dir).unwrap();
        std::fs::write(ca_dir.join("bad.pem"), "junk").unwrap();
        let c = ca_dir.display().to_string();
        assert_eq!(
            err(TlsSettings { ca_path: Some(c.clone()), ..TlsSettings::default() }),
            format!("Error loading CA Path: Couldn't parse PEM in: {c}/bad.pem")
        );
        assert_eq!(
            err(TlsSettings { ca_cert: Some(j.clone()), ca_path: Some(c), ..TlsSettings::default() }),
            format!("Error loading CA File: Couldn't parse PEM in: {j}")
        );
        assert_eq!(
            err(TlsSettings { ca_path: Some(m.clone()), ..TlsSettings::default() }),
            format!("lstat {m}: no such file or directory")
        );
        assert_eq!(
            err(TlsSettings { client_cert: Some(m.clone()), client_key: Some(j.clone()), ..TlsSettings::default() }),
            format!("open {m}: no such file or directory")
        );
        assert_eq!(
            err(TlsSettings { client_cert: Some(j.clone()), client_key: Some(j), ..TlsSettings::default() }),
            "tls: failed to find any PEM data in certificate input"
        );
        // Nothing configured: system roots, loaded only at the first handshake.
        assert!(TlsSettings::default().client_config().is_ok());
    }

    #[test]
    fn go_texts_for_handshake_failures() {
        use rustls::AlertDescription;
        assert_eq!(
            go_tls_error(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        );
        assert_eq!(
            go_tls_error(&rustls::Error::AlertReceived(AlertDescription::CertificateRequired)),
            "remote error: tls: certificate required"
        );
        assert_eq!(
            go_tls_error(&rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)),
            "http: server gave HTTP response to HTTPS client"
        );
        let wrong_name = |expected: &str, presented: &[&str]| {
            go_x509_error(&CertificateError::NotValidForNameContext {
                expected: ServerName::try_from(expected.to_string()).unwrap(),
                presented: presented.iter().map(|s| s.to_string()).collect(),
            })
        };
        assert_eq!(
            wrong_name(
                "other.nomad",
                &["DnsName(\"server.global.nomad\")", "DnsName(\"localhost\")", "IpAddress(127.0.0.1)"]
            ),
            "x509: certificate is valid for server.global.nomad, localhost, not other.nomad"
        );
        assert_eq!(
            wrong_name("10.0.0.1", &["IpAddress(127.0.0.1)"]),
            "x509: certificate is valid for 127.0.0.1, not 10.0.0.1"
        );
        assert_eq!(
            wrong_name("10.0.0.1", &["DnsName(\"localhost\")"]),
            "x509: cannot validate certificate for 10.0.0.1 because it doesn't contain any IP SANs"
        );
        let expired = CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(86_400)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(0)),
        };
        assert_eq!(
            go_x509_error(&expired),
            "x509: certificate has expired or is not yet valid: current time 1970-01-02T00:00:00Z is after 1970-01-01T00:00:00Z"
        );
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(find_tls_error(&io), Some(rustls::Error::DecryptError)));
        // hyper-rustls wraps tokio-rustls's io::Error in another.
        let nested = std::io::Error::other(io);
        assert!(matches!(find_tls_error(&nested), Some(rustls::Error::DecryptError)));
        assert!(find_tls_error(&std::io::Error::other("plain")).is_none());
    }
}
