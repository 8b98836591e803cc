//! Certificates made at test time, shaped as `nomad tls ca create` and `nomad tls cert create`
//! make them: an ECDSA P-256 CA, and leaf certificates whose names are
//! `<role>.<region>.nomad` and `localhost` (servers and clients also 127.0.0.1), with both
//! server and client auth, written under Nomad's file names. The root crate's unit tests
//! include this file too, so both build certificates one way.

#![allow(dead_code)]

use std::path::Path;
use std::path::PathBuf;

use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::DnType;
use rcgen::ExtendedKeyUsagePurpose;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyPair;
use rcgen::KeyUsagePurpose;
use rcgen::SanType;

/// A certificate authority.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
}

/// A leaf certificate and its key, PEM.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// A new CA whose subject says `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, format!("Nomad Agent CA {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("CA key");
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Ca { issuer: Issuer::new(params, key), pem }
    }

    /// A leaf for `role` (`server`, `client` or `cli`) in `region`, also valid for `extra`
    /// names (IP addresses or DNS names), as `-additional-ipaddress`/`-additional-dnsname`.
    pub fn leaf(&self, role: &str, region: &str, extra: &[&str]) -> Leaf {
        let common = format!("{role}.{region}.nomad");
        let mut names = vec![common.clone(), "localhost".to_string()];
        names.extend(extra.iter().filter(|e| e.parse::<std::net::IpAddr>().is_err()).map(|e| e.to_string()));
        let mut params = CertificateParams::new(names).expect("leaf params");
        let mut ips: Vec<&str> = extra.iter().copied().filter(|e| e.parse::<std::net::IpAddr>().is_ok()).collect();
        if role != "cli" {
            ips.push("127.0.0.1");
        }
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(ip.parse().expect("IP")));
        }
        params.distinguished_name.push(DnType::CommonName, common);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate").pem();
        Leaf { cert, key: key.serialize_pem() }
    }

    /// Writes the CA certificate as `nomad-agent-ca.pem` in `dir`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("nomad-agent-ca.pem");
        std::fs::write(&path, &self.pem).expect("write CA");
        path
    }

    /// Writes a new leaf as `<region>-<role>-nomad.pem` and `<region>-<role>-nomad-key.pem` in
    /// `dir`; returns (certificate, key) paths.
    pub fn write_leaf(&self, dir: &Path, role: &str, region: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
        let leaf = self.leaf(role, region, extra);
        let cert = dir.join(format!("{region}-{role}-nomad.pem"));
        let key = dir.join(format!("{region}-{role}-nomad-key.pem"));
        std::fs::write(&cert, leaf.cert).expect("write certificate");
        std::fs::write(&key, leaf.key).expect("write key");
        (cert, key)
    }
}
