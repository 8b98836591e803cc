//! Certificates as Nomad's `helper/tlsutil/generate.go` makes them, on rcgen and ring: ECDSA
//! P-256 keys written as SEC1 `EC PRIVATE KEY` PEM, 128-bit random serials, key identifiers
//! that are the SHA-256 of the public key, a CA with HashiCorp's subject and the key usages
//! Go sets, and leaf certificates for one role ([`Role`]) whose names
//! [`record_preparation`] decides as `nomad tls cert create` does.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;

use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::DistinguishedName;
use rcgen::DnType;
use rcgen::DnValue;
use rcgen::ExtendedKeyUsagePurpose;
use rcgen::GeneralSubtree;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyIdMethod;
use rcgen::KeyPair;
use rcgen::KeyUsagePurpose;
use rcgen::NameConstraints;
use rcgen::PublicKeyData;
use rcgen::SanType;
use rcgen::SerialNumber;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::ServerName;
use rustls::pki_types::UnixTime;
use sha2::Digest;

use super::der;
use super::der::tag;
use super::der::Reader;
use super::x509;
use crate::cli::client_tls;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A certificate and its new private key, both PEM.
#[derive(Debug)]
pub struct Generated {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The role a certificate is for (`-server`, `-client`, `-cli`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
    Cli,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Cli => "cli",
        }
    }
}

/// Which extended key usages a certificate carries, in Go's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtKeyUsage {
    ServerAuth,
    ClientAuth,
}

/// What `recordPreparation` decides for a certificate: its names and its file prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ip_addresses: Vec<IpAddr>,
    pub dns_names: Vec<String>,
    /// The subject CN, and the DNS name the new certificate is verified for.
    pub name: String,
    pub ext_key_usage: Vec<ExtKeyUsage>,
    /// `<region>-<role>-<domain>`: the file is `<prefix>.pem`, its key `<prefix>-key.pem`.
    pub prefix: String,
}

/// Nomad's `recordPreparation`: server and client certificates serve and call (and get
/// 127.0.0.1), CLI certificates call; every certificate names `<role>.<region>.nomad`, the
/// `global` region's name, its domain's name, and `localhost`, after the caller's own names.
pub fn record_preparation(
    role: Role,
    region: &str,
    domain: &str,
    mut dns_names: Vec<String>,
    mut ip_addresses: Vec<IpAddr>,
) -> Record {
    let kind = role.as_str();
    let ext_key_usage = match role {
        Role::Server | Role::Client => {
            ip_addresses.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
            vec![ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth]
        }
        Role::Cli => vec![ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth],
    };
    let prefix = format!("{region}-{kind}-{domain}");
    let region_url = format!("{kind}.{region}.nomad");
    let name = format!("{kind}.{region}.{domain}");
    let global = format!("{kind}.global.nomad");
    let localhost = "localhost".to_string();
    match (region != "global", domain != "nomad") {
        (true, true) => dns_names.extend([name.clone(), region_url, global, localhost]),
        (true, false) => dns_names.extend([region_url, global, localhost]),
        (false, true) => dns_names.extend([region_url, name.clone(), localhost]),
        (false, false) => dns_names.extend([name.clone(), localhost]),
    }
    Record { ip_addresses, dns_names, name, ext_key_usage, prefix }
}

/// `tlsutil.GenerateCA`'s options.
#[derive(Debug, Clone, Default)]
pub struct CaOptions {
    /// The CN; empty means `Nomad Agent CA <serial>`.
    pub name: String,
    /// Validity in days; 0 means 365, as in Go.
    pub days: i64,
    /// With name constraints: the only DNS zones the CA may sign for.
    pub permitted_dns_domains: Vec<String>,
}

/// `tlsutil.CertOpts`.
#[derive(Debug, Clone)]
pub struct CertOptions {
    pub name: String,
    pub days: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub ext_key_usage: Vec<ExtKeyUsage>,
}

/// A new self-signed CA and its key.
pub fn generate_ca(opts: &CaOptions) -> Result<Generated, String> {
    let (key, key_pem) = generate_private_key()?;
    let serial = random_serial()?;
    let name = if opts.name.is_empty() {
        format!("Nomad Agent CA {}", u128::from_be_bytes(serial))
    } else {
        opts.name.clone()
    };
    let days = if opts.days == 0 { 365 } else { opts.days };
    let mut params = base_params(serial, days)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, go_string_value("US"));
    dn.push(DnType::StateOrProvinceName, go_string_value("CA"));
    dn.push(DnType::LocalityName, go_string_value("San Francisco"));
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 9]), go_string_value("101 Second Street"));
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 17]), go_string_value("94105"));
    dn.push(DnType::OrganizationName, go_string_value("HashiCorp Inc."));
    dn.push(DnType::CommonName, go_string_value(&name));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id(&key));
    params.use_authority_key_identifier_extension = true;
    if !opts.permitted_dns_domains.is_empty() {
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: opts.permitted_dns_domains.iter().cloned().map(GeneralSubtree::DnsName).collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    let cert = params.self_signed(&key).map_err(|e| format!("error generating CA certificate: {e}"))?;
    Ok(Generated { cert_pem: x509::pem_encode("CERTIFICATE", cert.der()), key_pem })
}

/// A new certificate and key signed by the CA (`ca_pem`, `ca_key_pem`), then verified against
/// the CA for `opts.name` as Nomad's `tlsutil.Verify` does.
pub fn generate_cert(ca_pem: &[u8], ca_key_pem: &[u8], opts: &CertOptions) -> Result<Generated, String> {
    let signer = parse_signer(ca_key_pem)?;
    let (ca, _) = x509::parse_pem(ca_pem).map_err(|e| e.to_string())?;
    if ca.spki != signer.subject_public_key_info() {
        return Err("x509: provided PrivateKey doesn't match parent's PublicKey".into());
    }
    let (key, key_pem) = generate_private_key()?;
    let mut params = base_params(random_serial()?, opts.days)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, go_string_value(&opts.name));
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = opts
        .ext_key_usage
        .iter()
        .map(|u| match u {
            ExtKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
            ExtKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        })
        .collect();
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id(&key));
    params.use_authority_key_identifier_extension = ca.subject_key_id.is_some();
    let mut sans = Vec::new();
    for name in &opts.dns_names {
        let ia5 = name
            .as_str()
            .try_into()
            .map_err(|_| format!("x509: {} cannot be encoded as an IA5String", go_quote(name)))?;
        sans.push(SanType::DnsName(ia5));
    }
    sans.extend(opts.ip_addresses.iter().copied().map(SanType::IpAddress));
    params.subject_alt_names = sans;

    let mut issuer_params = CertificateParams::default();
    issuer_params.distinguished_name = rcgen_name(&ca.subject)?;
    issuer_params.key_identifier_method = match &ca.subject_key_id {
        Some(id) => KeyIdMethod::PreSpecified(id.clone()),
        None => KeyIdMethod::Sha256,
    };
    let issuer = Issuer::new(issuer_params, signer);
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    let cert_pem = x509::pem_encode("CERTIFICATE", cert.der());
    verify(ca_pem, cert_pem.as_bytes(), &opts.name)?;
    Ok(Generated { cert_pem, key_pem })
}

/// Nomad's `tlsutil.Verify`: the certificate chains to the CA and is valid for `dns` now.
pub fn verify(ca_pem: &[u8], cert_pem: &[u8], dns: &str) -> Result<(), String> {
    let (_, ca_der) = x509::parse_pem(ca_pem).map_err(|_| "failed to parse root certificate".to_string())?;
    let (_, cert_der) = x509::parse_pem(cert_pem).map_err(|_| "failed to parse certificate".to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der)).map_err(|_| "failed to parse root certificate".to_string())?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        raftwarden_actors::crypto::provider(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let name =
        ServerName::try_from(dns.to_string()).map_err(|_| format!("x509: invalid DNS name {}", go_quote(dns)))?;
    use rustls::client::danger::ServerCertVerifier;
    verifier.verify_server_cert(&CertificateDer::from(cert_der), &[], &name, &[], UnixTime::now()).map(drop).map_err(
        |e| match e {
            rustls::Error::InvalidCertificate(c) => client_tls::go_x509_error(&c),
            other => other.to_string(),
        },
    )
}

/// Go's `GeneratePrivateKey`: ECDSA P-256, as SEC1 `EC PRIVATE KEY` PEM.
fn generate_private_key() -> Result<(KeyPair, String), String> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("error generating ECDSA private key: {e}"))?;
    let sec1 = pkcs8_to_sec1(&key.serialize_der()).map_err(|e| format!("error marshaling ECDSA private key: {e}"))?;
    Ok((key, x509::pem_encode("EC PRIVATE KEY", &sec1)))
}

/// Go's `GenerateSerialNumber`: uniform in [0, 2^128).
fn random_serial() -> Result<[u8; 16], String> {
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| e.to_string())?;
    Ok(serial)
}

/// Serial and validity (from now for `days` days); the rest as rcgen's defaults.
fn base_params(serial: [u8; 16], days: i64) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).map_err(|e| e.to_string())?;
    params.not_before = now;
    params.not_after = days
        .checked_mul(86_400)
        .and_then(|secs| now.checked_add(time::Duration::seconds(secs)))
        .ok_or_else(|| format!("invalid validity of {days} days"))?;
    Ok(params)
}

/// Go's key identifier: SHA-256 of the DER SubjectPublicKeyInfo (not RFC 5280's SHA-1).
fn key_id(key: &impl PublicKeyData) -> Vec<u8> {
    sha2::Sha256::digest(key.subject_public_key_info()).to_vec()
}

/// How Go's `encoding/asn1` writes a Go string in a name: PrintableString when every
/// character allows it, else UTF8String.
fn go_string_value(s: &str) -> DnValue {
    match rcgen::string::PrintableString::try_from(s) {
        Ok(p) if !s.contains(['*', '&']) => DnValue::PrintableString(p),
        _ => DnValue::Utf8String(s.to_string()),
    }
}

/// The CA's subject as rcgen writes an issuer name, attribute by attribute with the string
/// types it had, so the new certificate's issuer matches the CA's subject byte for byte.
fn rcgen_name(name: &x509::Name) -> Result<DistinguishedName, String> {
    let unsupported = || "unsupported CA subject: it repeats an attribute type".to_string();
    let mut dn = DistinguishedName::new();
    for attribute in name.0.iter().flatten() {
        let ty = match attribute.oid.as_slice() {
            [0x55, 0x04, 0x03] => DnType::CommonName,
            [0x55, 0x04, 0x06] => DnType::CountryName,
            [0x55, 0x04, 0x07] => DnType::LocalityName,
            [0x55, 0x04, 0x08] => DnType::StateOrProvinceName,
            [0x55, 0x04, 0x0a] => DnType::OrganizationName,
            [0x55, 0x04, 0x0b] => DnType::OrganizationalUnitName,
            oid => DnType::CustomDnType(der::oid_arcs(oid)),
        };
        let text = attribute.text();
        let bad = |_| format!("unsupported CA subject value {}", go_quote(&text));
        let value = match attribute.tag {
            tag::PRINTABLE_STRING => DnValue::PrintableString(text.as_str().try_into().map_err(bad)?),
            tag::IA5_STRING => DnValue::Ia5String(text.as_str().try_into().map_err(bad)?),
            tag::TELETEX_STRING => DnValue::TeletexString(text.as_str().try_into().map_err(bad)?),
            tag::BMP_STRING => {
                DnValue::BmpString(rcgen::string::BmpString::from_utf16be(attribute.value.clone()).map_err(bad)?)
            }
            tag::UNIVERSAL_STRING => DnValue::UniversalString(
                rcgen::string::UniversalString::from_utf32be(attribute.value.clone()).map_err(bad)?,
            ),
            _ => DnValue::Utf8String(text.clone()),
        };
        if dn.get(&ty).is_some() {
            return Err(unsupported());
        }
        dn.push(ty, value);
    }
    Ok(dn)
}

/// Go's `tlsutil.ParseSigner`: the first PEM block, an `EC PRIVATE KEY`, `RSA PRIVATE KEY` or
/// PKCS#8 `PRIVATE KEY`.
pub fn parse_signer(pem: &[u8]) -> Result<KeyPair, String> {
    let (label, der) = x509::pem_decode(pem).ok_or("no PEM-encoded data found")?;
    let pkcs8 = match label.as_str() {
        "EC PRIVATE KEY" => sec1_to_pkcs8(&der).map_err(|_| "x509: failed to parse EC private key".to_string())?,
        "RSA PRIVATE KEY" => der::sequence(&[
            &der::tlv(tag::INTEGER, &[0]),
            &der::sequence(&[&der::tlv(tag::OID, OID_RSA_ENCRYPTION), &der::tlv(tag::NULL, &[])]),
            &der::tlv(tag::OCTET_STRING, &der),
        ]),
        "PRIVATE KEY" => der,
        other => return Err(format!("unknown PEM block type for signing key: {other}")),
    };
    KeyPair::try_from(&PrivatePkcs8KeyDer::from(pkcs8))
        .map_err(|e| format!("unsupported CA key ({e}): ECDSA P-256 or P-384, Ed25519 or RSA of 2048 bits or more"))
}

/// SEC1 `ECPrivateKey` (which names its curve) wrapped as PKCS#8 for ring.
fn sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, der::DerError> {
    let mut outer = Reader::new(sec1);
    let mut key = outer.sequence()?;
    outer.finish()?;
    key.next(tag::INTEGER)?;
    key.next(tag::OCTET_STRING)?;
    let params = key.optional(tag::context(0))?.ok_or(der::DerError("no named curve"))?;
    let curve = Reader::new(params).next(tag::OID)?;
    Ok(der::sequence(&[
        &der::tlv(tag::INTEGER, &[0]),
        &der::sequence(&[&der::tlv(tag::OID, OID_EC_PUBLIC_KEY), &der::tlv(tag::OID, curve)]),
        &der::tlv(tag::OCTET_STRING, sec1),
    ]))
}

/// ring's PKCS#8 of an EC key as Go's `MarshalECPrivateKey` writes it: SEC1 with the curve
/// and the public key.
fn pkcs8_to_sec1(pkcs8: &[u8]) -> Result<Vec<u8>, der::DerError> {
    let mut outer = Reader::new(pkcs8);
    let mut info = outer.sequence()?;
    info.next(tag::INTEGER)?;
    let mut algorithm = info.sequence()?;
    if algorithm.next(tag::OID)? != OID_EC_PUBLIC_KEY {
        return Err(der::DerError("not an EC key"));
    }
    let curve = algorithm.next(tag::OID)?;
    let mut inner = Reader::new(info.next(tag::OCTET_STRING)?);
    let mut key = inner.sequence()?;
    key.next(tag::INTEGER)?;
    let private = key.next(tag::OCTET_STRING)?;
    key.optional(tag::context(0))?;
    let public = key.next(tag::context(1))?;
    Ok(der::sequence(&[
        &der::tlv(tag::INTEGER, &[1]),
        &der::tlv(tag::OCTET_STRING, private),
        &der::tlv(tag::context(0), &der::tlv(tag::OID, curve)),
        &der::tlv(tag::context(1), public),
    ]))
}

fn go_quote(s: &str) -> String {
    crate::go::quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn records_as_nomad_prepares_them() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let r = record_preparation(Role::Server, "global", "nomad", vec![], vec![]);
        assert_eq!(r.prefix, "global-server-nomad");
        assert_eq!(r.name, "server.global.nomad");
        assert_eq!(r.dns_names, names(&["server.global.nomad", "localhost"]));
        assert_eq!(r.ip_addresses, [lo]);
        assert_eq!(r.ext_key_usage, [ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth]);

        let r = record_preparation(Role::Cli, "global", "nomad", vec![], vec![]);
        assert_eq!(r.prefix, "global-cli-nomad");
        assert_eq!(r.dns_names, names(&["cli.global.nomad", "localhost"]));
        assert!(r.ip_addresses.is_empty());
        assert_eq!(r.ext_key_usage, [ExtKeyUsage::ClientAuth, ExtKeyUsage::ServerAuth]);

        let extra: IpAddr = "10.0.0.5".parse().unwrap();
        let r = record_preparation(Role::Client, "eu", "nomad", names(&["my.host"]), vec![extra]);
        assert_eq!(r.prefix, "eu-client-nomad");
        assert_eq!(r.name, "client.eu.nomad");
        assert_eq!(r.dns_names, names(&["my.host", "client.eu.nomad", "client.global.nomad", "localhost"]));
        assert_eq!(r.ip_addresses, [extra, lo]);

        let r = record_preparation(Role::Server, "eu", "example.com", vec![], vec![]);
        assert_eq!(r.prefix, "eu-server-example.com");
        assert_eq!(
            r.dns_names,
            names(&["server.eu.example.com", "server.eu.nomad", "server.global.nomad", "localhost"])
        );
        let r = record_preparation(Role::Server, "global", "example.com", vec![], vec![]);
        assert_eq!(r.name, "server.global.example.com");
        assert_eq!(r.dns_names, names(&["server.global.nomad", "server.global.example.com", "localhost"]));
    }

    #[test]
    fn keys_are_sec1_and_read_back() {
        let (key, pem) = generate_private_key().unwrap();
        let (label, sec1) = x509::pem_decode(pem.as_bytes()).unwrap();
        assert_eq!(label, "EC PRIVATE KEY");
        // SEQUENCE { INTEGER 1, OCTET STRING (32), [0] prime256v1, [1] public key }
        assert_eq!(&sec1[2..7], &[0x02, 0x01, 0x01, 0x04, 0x20]);
        assert!(sec1.windows(10).any(|w| w == [0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03]));
        let back = parse_signer(pem.as_bytes()).unwrap();
        assert_eq!(back.subject_public_key_info(), key.subject_public_key_info());
        // PKCS#8 as written by other tools reads too.
        let pkcs8 = x509::pem_encode("PRIVATE KEY", &key.serialize_der());
        assert_eq!(parse_signer(pkcs8.as_bytes()).unwrap().public_key_raw(), key.public_key_raw());
    }

    #[test]
    fn signer_errors_are_nomads() {
        assert_eq!(parse_signer(b"").unwrap_err(), "no PEM-encoded data found");
        let other = x509::pem_encode("CERTIFICATE", b"x");
        assert_eq!(parse_signer(other.as_bytes()).unwrap_err(), "unknown PEM block type for signing key: CERTIFICATE");
        let junk = x509::pem_encode("EC PRIVATE KEY", b"\x30\x00");
        assert_eq!(parse_signer(junk.as_bytes()).unwrap_err(), "x509: failed to parse EC private key");
    }

    #[test]
    fn ca_and_leaf_chain_and_verify() {
        let ca = generate_ca(&CaOptions::default()).unwrap();
        let (info, _) = x509::parse_pem(ca.cert_pem.as_bytes()).unwrap();
        assert!(info.is_ca);
        assert!(info.subject.common_name().starts_with("Nomad Agent CA "));
        assert_eq!(info.subject.common_name(), format!("Nomad Agent CA {}", der::decimal(&info.serial)));
        assert_eq!(info.subject.go_string(), info.issuer.go_string());
        assert_eq!(info.subject_key_id.as_ref().map(Vec::len), Some(32));
        // Days 0 means a year, as in Go.
        assert!((info.not_after - info.not_before - 365 * 86_400).abs() <= 1);

        let record = record_preparation(Role::Server, "global", "nomad", vec![], vec![]);
        let opts = CertOptions {
            name: record.name.clone(),
            days: 365,
            dns_names: record.dns_names.clone(),
            ip_addresses: record.ip_addresses.clone(),
            ext_key_usage: record.ext_key_usage.clone(),
        };
        let leaf = generate_cert(ca.cert_pem.as_bytes(), ca.key_pem.as_bytes(), &opts).unwrap();
        let (leaf_info, _) = x509::parse_pem(leaf.cert_pem.as_bytes()).unwrap();
        assert_eq!(leaf_info.issuer, info.subject);
        assert_eq!(leaf_info.dns_names, record.dns_names);
        assert!(!leaf_info.is_ca);
        verify(ca.cert_pem.as_bytes(), leaf.cert_pem.as_bytes(), "localhost").unwrap();
        assert_eq!(
            verify(ca.cert_pem.as_bytes(), leaf.cert_pem.as_bytes(), "client.global.nomad").unwrap_err(),
            "x509: certificate is valid for server.global.nomad, localhost, not client.global.nomad"
        );

        // Another CA's key cannot sign for this CA.
        let other = generate_ca(&CaOptions::default()).unwrap();
        assert_eq!(
            generate_cert(ca.cert_pem.as_bytes(), other.key_pem.as_bytes(), &opts).unwrap_err(),
            "x509: provided PrivateKey doesn't match parent's PublicKey"
        );
        assert_eq!(
            verify(other.cert_pem.as_bytes(), leaf.cert_pem.as_bytes(), "localhost").unwrap_err(),
            "x509: certificate signed by unknown authority"
        );
    }

    #[test]
    fn name_constrained_ca_refuses_other_zones() {
        let ca = generate_ca(&CaOptions {
            name: "Test CA".into(),
            days: 10,
            permitted_dns_domains: names(&["example.com", "localhost", "nomad"]),
        })
        .unwrap();
        let (info, _) = x509::parse_pem(ca.cert_pem.as_bytes()).unwrap();
        assert_eq!(info.permitted_dns_domains, names(&["example.com", "localhost", "nomad"]));
        assert_eq!(info.subject.common_name(), "Test CA");
        let opts = |dns: &[&str]| CertOptions {
            name: "server.global.example.com".into(),
            days: 1,
            dns_names: names(dns),
            ip_addresses: vec![],
            ext_key_usage: vec![ExtKeyUsage::ServerAuth, ExtKeyUsage::ClientAuth],
        };
        generate_cert(ca.cert_pem.as_bytes(), ca.key_pem.as_bytes(), &opts(&["server.global.example.com"])).unwrap();
        assert!(generate_cert(
            ca.cert_pem.as_bytes(),
            ca.key_pem.as_bytes(),
            &opts(&["server.global.example.com", "evil.org"])
        )
        .is_err());
    }
}
