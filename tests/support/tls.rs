//! TLS for black-box tests: a CA and certificates on disk under Nomad's file names, the
//! `tls { }` block that points an agent at them, and HTTPS clients that present a chosen
//! certificate (or none) as the CLI or another server would.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;

pub use super::certs::Ca;

/// A CA and, in `dir`, its certificate plus a server certificate valid for `ips` (as
/// `nomad tls cert create -server -additional-ipaddress ...`), a client and a CLI certificate,
/// all for region `global`.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: Ca,
}

impl Pki {
    pub fn new(dir: &Path, ips: &[String]) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let ca = Ca::new(&dir.display().to_string());
        ca.write(dir);
        let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
        ca.write_leaf(dir, "server", "global", &ips);
        ca.write_leaf(dir, "client", "global", &[]);
        ca.write_leaf(dir, "cli", "global", &[]);
        Pki { dir: dir.to_path_buf(), ca }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `(certificate, key)` of `role` (`server`, `client`, `cli`).
    pub fn pair(&self, role: &str) -> (PathBuf, PathBuf) {
        (self.path(&format!("global-{role}-nomad.pem")), self.path(&format!("global-{role}-nomad-key.pem")))
    }

    /// A `tls { }` block with the server certificate and `settings` (HCL lines).
    pub fn hcl(&self, settings: &str) -> String {
        let (cert, key) = self.pair("server");
        format!(
            "tls {{\n  ca_file = \"{}\"\n  cert_file = \"{}\"\n  key_file = \"{}\"\n  {settings}\n}}\n",
            self.path("nomad-agent-ca.pem").display(),
            cert.display(),
            key.display()
        )
    }

    /// A blocking HTTPS client that trusts this CA (checking the address it dials against the
    /// server certificate) and presents `identity` (a role's certificate) when given; it
    /// records the server's certificate (`tls_info`).
    pub fn client(&self, identity: Option<&str>) -> reqwest::blocking::Client {
        client_for(&self.ca.pem, identity.map(|r| self.pair(r)))
    }
}

fn chain(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path).expect("certificate file").collect::<Result<Vec<_>, _>>().expect("PEM")
}

/// An HTTPS client trusting `ca_pem`, presenting the certificate and key at `identity`.
pub fn client_for(ca_pem: &str, identity: Option<(PathBuf, PathBuf)>) -> reqwest::blocking::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let builder = rustls::ClientConfig::builder_with_provider(raftwarden_actors::crypto::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(chain(&cert), PrivateKeyDer::from_pem_file(&key).expect("key"))
            .expect("client certificate"),
    };
    with_config(Arc::new(config))
}

/// A blocking client over a prepared rustls config (e.g. `raftwarden::tls::Tls::rpc_client`).
pub fn with_config(config: Arc<rustls::ClientConfig>) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured((*config).clone())
        .tls_info(true)
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTPS client")
}

/// The certificate the server presented on `resp`'s connection (DER).
pub fn peer_certificate(resp: &reqwest::blocking::Response) -> Option<Vec<u8>> {
    resp.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate()).map(<[u8]>::to_vec)
}

/// The first certificate of a PEM file (DER).
pub fn first_certificate(path: &Path) -> Vec<u8> {
    chain(path).first().expect("a certificate").to_vec()
}
