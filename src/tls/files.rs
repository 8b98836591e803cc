//! Reading `ca_file`, `cert_file` and `key_file`: PEM as `nomad tls cert create` writes it (an
//! EC key in SEC1, "EC PRIVATE KEY"), and PKCS#8 or PKCS#1 RSA keys from other tools. Every
//! error names the file it is about.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivateKeyDer;
use rustls::RootCertStore;

use super::TlsError;

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File { what, path: path.to_path_buf(), reason: e.to_string() })
}

fn bad(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File { what, path: path.to_path_buf(), reason: reason.to_string() }
}

/// Every certificate in a PEM file, in order; at least one.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(what, path, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(what, path, "no CERTIFICATE block found"));
    }
    Ok(certs)
}

/// The CAs of `ca_file` (it may hold several, e.g. the old and the new CA during a rotation).
/// As Nomad: a file in which no certificate parses is an error.
pub fn load_ca(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates("ca_file", path)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| bad("ca_file", path, format!("certificate {} is not a usable CA: {e}", i + 1)))?;
    }
    Ok(roots)
}

/// `cert_file`: our certificate first, then any intermediates.
pub fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates("cert_file", path)
}

/// `key_file`: the first private key in the file, PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read("key_file", path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            bad("key_file", path, "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block found")
        }
        e => bad("key_file", path, format!("not PEM: {e}")),
    })
}
