//! The parts of an X.509 certificate the `tls` commands read: what `tls ca info` and
//! `tls cert info` print (in Go's `crypto/x509` and `pkix` spellings), and the CA's subject
//! and key identifier that a new certificate names as its issuer. PEM as Go's `encoding/pem`
//! reads and writes it.

use std::net::IpAddr;

use base64::Engine as _;

use super::der;
use super::der::tag;
use super::der::DerError;
use super::der::Reader;

const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_NAME_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x1e];
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

/// One attribute of a distinguished name, as encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute type's OID contents (`55 04 03` for CN).
    pub oid: Vec<u8>,
    /// The string type's tag (PrintableString, UTF8String, ...).
    pub tag: u8,
    pub value: Vec<u8>,
}

impl Attribute {
    /// The value as text, whatever its string type.
    pub fn text(&self) -> String {
        match self.tag {
            tag::BMP_STRING => {
                let units: Vec<u16> =
                    self.value.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
                String::from_utf16_lossy(&units)
            }
            tag::UNIVERSAL_STRING => self
                .value
                .chunks(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .filter_map(|c| char::from_u32(u32::from_be_bytes(c)))
                .collect(),
            tag::TELETEX_STRING => self.value.iter().map(|b| char::from(*b)).collect(),
            _ => String::from_utf8_lossy(&self.value).into_owned(),
        }
    }
}

/// A distinguished name: its relative names in order, each a set of attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name(pub Vec<Vec<Attribute>>);

impl Name {
    /// The last CN, as Go's `pkix.Name.CommonName` holds it.
    pub fn common_name(&self) -> String {
        self.0.iter().flatten().rfind(|a| a.oid == OID_COMMON_NAME).map(Attribute::text).unwrap_or_default()
    }

    /// Go's `pkix.Name.String()` of a parsed name: attributes Go has no field for first (as
    /// `OID=#hex`), then `SERIALNUMBER, CN, OU, O, POSTALCODE, STREET, L, ST, C` (each type's
    /// values joined by `+`), with RFC 2253 escaping.
    pub fn go_string(&self) -> String {
        // Go's order, reversed by RDNSequence.String (C first in the sequence, printed last).
        const FIELDS: [(&[u8], &str); 9] = [
            (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
            (OID_COMMON_NAME, "CN"),
            (&[0x55, 0x04, 0x0b], "OU"),
            (&[0x55, 0x04, 0x0a], "O"),
            (&[0x55, 0x04, 0x11], "POSTALCODE"),
            (&[0x55, 0x04, 0x09], "STREET"),
            (&[0x55, 0x04, 0x07], "L"),
            (&[0x55, 0x04, 0x08], "ST"),
            (&[0x55, 0x04, 0x06], "C"),
        ];
        let attributes: Vec<&Attribute> = self.0.iter().flatten().collect();
        let mut rdns: Vec<String> = Vec::new();
        for (oid, name) in FIELDS {
            let values: Vec<String> = if oid == OID_COMMON_NAME {
                let cn = self.common_name();
                if cn.is_empty() {
                    vec![]
                } else {
                    vec![cn]
                }
            } else {
                attributes.iter().filter(|a| a.oid == oid).map(|a| a.text()).collect()
            };
            if !values.is_empty() {
                rdns.push(values.iter().map(|v| format!("{name}={}", rfc2253_escape(v))).collect::<Vec<_>>().join("+"));
            }
        }
        // Types Go has no field for sit first in its sequence, so they print last.
        let known = |a: &&Attribute| FIELDS.iter().any(|(oid, _)| a.oid == *oid);
        let mut others: Vec<String> = attributes
            .iter()
            .filter(|a| !known(a))
            .map(|a| {
                let raw = der::tlv(a.tag, &a.value);
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                format!("{}=#{hex}", der::oid_text(&a.oid))
            })
            .collect();
        others.reverse();
        rdns.extend(others);
        rdns.join(",")
    }
}

/// Go's escaping of an attribute value in `RDNSequence.String`.
fn rfc2253_escape(v: &str) -> String {
    let n = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i + 1 == n,
            '#' => i == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What the `tls` commands read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The serial number's bytes, big-endian, unsigned.
    pub serial: Vec<u8>,
    pub issuer: Name,
    pub subject: Name,
    /// The DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// The DNS names of the CA's permitted name constraints.
    pub permitted_dns_domains: Vec<String>,
    pub subject_key_id: Option<Vec<u8>>,
    pub is_ca: bool,
}

/// Why a certificate could not be read, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("no PEM-encoded data found")]
    NoPem,
    #[error("first PEM-block should be CERTIFICATE type")]
    NotCertificate,
    #[error("x509: malformed certificate")]
    Malformed,
    #[error("x509: negative serial number")]
    NegativeSerial,
}

impl From<DerError> for CertError {
    fn from(_: DerError) -> Self {
        CertError::Malformed
    }
}

/// Go's `tlsutil.ParseCert`: the first PEM block, which must be a certificate.
pub fn parse_pem(text: &[u8]) -> Result<(Certificate, Vec<u8>), CertError> {
    let (label, der) = pem_decode(text).ok_or(CertError::NoPem)?;
    if label != "CERTIFICATE" {
        return Err(CertError::NotCertificate);
    }
    Ok((parse_der(&der)?, der))
}

/// Reads a DER certificate.
pub fn parse_der(bytes: &[u8]) -> Result<Certificate, CertError> {
    let mut outer = Reader::new(bytes);
    let mut cert = outer.sequence()?;
    outer.finish()?;
    let mut tbs = cert.sequence()?;
    cert.next(tag::SEQUENCE)?;
    cert.next(tag::BIT_STRING)?;
    cert.finish()?;

    tbs.optional(tag::context(0))?;
    let serial = tbs.next(tag::INTEGER)?;
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(CertError::NegativeSerial);
    }
    tbs.next(tag::SEQUENCE)?;
    let issuer = parse_name(tbs.next(tag::SEQUENCE)?)?;
    let mut validity = tbs.sequence()?;
    let not_before = parse_time(&mut validity)?;
    let not_after = parse_time(&mut validity)?;
    let subject = parse_name(tbs.next(tag::SEQUENCE)?)?;
    let spki = der::tlv(tag::SEQUENCE, tbs.next(tag::SEQUENCE)?);
    tbs.optional(tag::context_primitive(1))?;
    tbs.optional(tag::context_primitive(2))?;

    let mut cert = Certificate {
        serial: serial.iter().copied().skip_while(|b| *b == 0).collect(),
        issuer,
        subject,
        spki,
        not_before,
        not_after,
        dns_names: Vec::new(),
        ip_addresses: Vec::new(),
        permitted_dns_domains: Vec::new(),
        subject_key_id: None,
        is_ca: false,
    };
    if let Some(explicit) = tbs.optional(tag::context(3))? {
        let mut explicit = Reader::new(explicit);
        let mut extensions = explicit.sequence()?;
        while !extensions.is_empty() {
            let mut ext = extensions.sequence()?;
            let oid = ext.next(tag::OID)?;
            ext.optional(tag::BOOLEAN)?;
            let value = ext.next(tag::OCTET_STRING)?;
            read_extension(&mut cert, oid, value)?;
        }
    }
    Ok(cert)
}

fn read_extension(cert: &mut Certificate, oid: &[u8], value: &[u8]) -> Result<(), CertError> {
    let mut value = Reader::new(value);
    match oid {
        OID_SAN => {
            let mut names = value.sequence()?;
            while !names.is_empty() {
                match names.next_any()? {
                    (t, name) if t == tag::context_primitive(2) => {
                        cert.dns_names.push(String::from_utf8_lossy(name).into_owned());
                    }
                    (t, ip) if t == tag::context_primitive(7) => cert.ip_addresses.push(ip_from(ip)?),
                    _ => {}
                }
            }
        }
        OID_NAME_CONSTRAINTS => {
            let mut constraints = value.sequence()?;
            if let Some(permitted) = constraints.optional(tag::context(0))? {
                let mut subtrees = Reader::new(permitted);
                while !subtrees.is_empty() {
                    let mut subtree = subtrees.sequence()?;
                    let (t, name) = subtree.next_any()?;
                    if t == tag::context_primitive(2) {
                        cert.permitted_dns_domains.push(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
        }
        OID_SUBJECT_KEY_ID => cert.subject_key_id = Some(value.next(tag::OCTET_STRING)?.to_vec()),
        OID_BASIC_CONSTRAINTS => {
            let mut constraints = value.sequence()?;
            cert.is_ca = constraints.optional(tag::BOOLEAN)?.is_some_and(|b| b.first().is_some_and(|v| *v != 0));
        }
        _ => {}
    }
    Ok(())
}

fn ip_from(bytes: &[u8]) -> Result<IpAddr, CertError> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).map(IpAddr::from).map_err(|_| CertError::Malformed)
}

fn parse_name(body: &[u8]) -> Result<Name, CertError> {
    let mut rdns = Reader::new(body);
    let mut name = Name::default();
    while !rdns.is_empty() {
        let mut set = Reader::new(rdns.next(tag::SET)?);
        let mut rdn = Vec::new();
        while !set.is_empty() {
            let mut attribute = set.sequence()?;
            let oid = attribute.next(tag::OID)?.to_vec();
            let (tag, value) = attribute.next_any()?;
            rdn.push(Attribute { oid, tag, value: value.to_vec() });
        }
        name.0.push(rdn);
    }
    Ok(name)
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950 to 2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as
/// unix seconds.
fn parse_time(r: &mut Reader<'_>) -> Result<i64, CertError> {
    let (t, body) = r.next_any()?;
    let text = std::str::from_utf8(body).map_err(|_| CertError::Malformed)?;
    let digits = text.strip_suffix('Z').ok_or(CertError::Malformed)?;
    let full = match (t, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy: u32 = digits[..2].parse().map_err(|_| CertError::Malformed)?;
            format!("{}{digits}", if yy >= 50 { "19" } else { "20" })
        }
        (tag::GENERALIZED_TIME, 14) => digits.to_string(),
        _ => return Err(CertError::Malformed),
    };
    let rfc3339 =
        format!("{}-{}-{}T{}:{}:{}Z", &full[..4], &full[4..6], &full[6..8], &full[8..10], &full[10..12], &full[12..14]);
    raftwarden_actors::rfc3339::parse(&rfc3339).ok_or(CertError::Malformed)
}

/// Go's `time.Time.String()` of a certificate time (UTC, whole seconds):
/// `2030-01-02 03:04:05 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    let rfc3339 = raftwarden_actors::rfc3339::format(unix);
    format!("{} +0000 UTC", rfc3339.trim_end_matches('Z').replacen('T', " ", 1))
}

/// Go's `%s` of a string slice: `[a b c]`.
pub fn go_list<T: ToString>(items: &[T]) -> String {
    format!("[{}]", items.iter().map(T::to_string).collect::<Vec<_>>().join(" "))
}

/// Go's `net.IP.String()`: IPv4-mapped IPv6 addresses print as IPv4.
pub fn go_ip(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Go's `pem.Decode` of the first block: its label and decoded bytes; `None` when there is no
/// well-formed block.
pub fn pem_decode(text: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(text);
    let mut rest: &str = &text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            rest = after;
            continue;
        };
        // Lines with `Key: value` headers (RFC 1421) come before the base64.
        let base64: String = body_start[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        match base64::engine::general_purpose::STANDARD.decode(base64.as_bytes()) {
            Ok(bytes) if !label.contains('\n') => return Some((label.to_string(), bytes)),
            _ => rest = after,
        }
    }
    None
}

/// Go's `pem.Encode`: base64 in lines of 64, between BEGIN and END lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(oid: &[u8], tag: u8, v: &str) -> Vec<Attribute> {
        vec![Attribute { oid: oid.to_vec(), tag, value: v.as_bytes().to_vec() }]
    }

    #[test]
    fn names_print_as_go_does() {
        let p = tag::PRINTABLE_STRING;
        // Nomad's CA subject, in the order Go encodes it.
        let name = Name(vec![
            attr(&[0x55, 0x04, 0x06], p, "US"),
            attr(&[0x55, 0x04, 0x08], p, "CA"),
            attr(&[0x55, 0x04, 0x07], p, "San Francisco"),
            attr(&[0x55, 0x04, 0x09], p, "101 Second Street"),
            attr(&[0x55, 0x04, 0x11], p, "94105"),
            attr(&[0x55, 0x04, 0x0a], p, "HashiCorp Inc."),
            attr(OID_COMMON_NAME, p, "Nomad Agent CA 42"),
        ]);
        assert_eq!(
            name.go_string(),
            "CN=Nomad Agent CA 42,O=HashiCorp Inc.,POSTALCODE=94105,STREET=101 Second Street,L=San Francisco,ST=CA,C=US"
        );
        assert_eq!(name.common_name(), "Nomad Agent CA 42");
        let odd = Name(vec![
            attr(OID_COMMON_NAME, tag::UTF8_STRING, " a,b+c "),
            attr(&[0x55, 0x04, 0x0a], p, "x"),
            attr(&[0x55, 0x04, 0x0a], p, "#y"),
            attr(&[0x2a, 0x03], tag::UTF8_STRING, "z"),
        ]);
        assert_eq!(odd.go_string(), "CN=\\ a\\,b\\+c\\ ,O=x+O=\\#y,1.2.3=#0c017a");
        assert_eq!(Name::default().go_string(), "");
    }

    #[test]
    fn times_lists_and_ips() {
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(go_time(1_900_000_000), "2030-03-17 17:46:40 +0000 UTC");
        assert_eq!(go_list::<String>(&[]), "[]");
        assert_eq!(go_list(&["a", "b"]), "[a b]");
        assert_eq!(go_ip(&"::ffff:127.0.0.1".parse().unwrap()), "127.0.0.1");
        assert_eq!(go_ip(&"::1".parse().unwrap()), "::1");
        let mut r = Reader::new(b"\x17\x0d491231235959Z\x18\x0f20500101000000Z");
        assert_eq!(parse_time(&mut r), Ok(2_524_607_999));
        assert_eq!(parse_time(&mut r), Ok(2_524_608_000));
        let mut bad = Reader::new(b"\x17\x0b4912312359Z");
        assert_eq!(parse_time(&mut bad), Err(CertError::Malformed));
    }

    #[test]
    fn pem_blocks() {
        let pem = pem_encode("EC PRIVATE KEY", &[1u8; 100]);
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        assert!(pem.lines().nth(1).is_some_and(|l| l.len() == 64));
        assert!(pem.ends_with("-----END EC PRIVATE KEY-----\n"));
        let text = format!("junk before\n{pem}{}", pem_encode("CERTIFICATE", b"x"));
        assert_eq!(pem_decode(text.as_bytes()), Some(("EC PRIVATE KEY".into(), vec![1u8; 100])));
        assert_eq!(pem_decode(b""), None);
        assert_eq!(pem_decode(b"-----BEGIN X-----\n!!!\n-----END X-----\n"), None);
        assert_eq!(pem_decode(b"-----BEGIN X-----\nAAAA\n"), None);
        assert_eq!(parse_pem(b"nothing"), Err(CertError::NoPem));
        assert_eq!(parse_pem(pem.as_bytes()).map(|_| ()), Err(CertError::NotCertificate));
        let junk = pem_encode("CERTIFICATE", b"\x30\x03\x02\x01\x01");
        assert_eq!(parse_pem(junk.as_bytes()).map(|_| ()), Err(CertError::Malformed));
    }
}
