//! The license document and its signature: pure functions, no I/O.
//!
//! A license file is one line of text:
//!
//! ```text
//! base64(payload) "." base64(signature)
//! ```
//!
//! `payload` is a JSON object with Nomad's `License` fields (`LicenseID`, `CustomerID`,
//! `InstallationID`, `IssueTime`, `StartTime`, `ExpirationTime`, `TerminationTime` as RFC 3339,
//! `NonProduction`, `Product`, `Flags`, `Modules`, `Features`); `signature` is the ed25519
//! signature of exactly the payload bytes. Both parts use standard base64 with padding;
//! whitespace around the text is ignored. Keys travel as base64 too: a public key is its 32
//! bytes, a private key its 32-byte seed.

use crate::rfc3339::format as format_rfc3339;
use crate::rfc3339::parse as parse_rfc3339;
use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer;
use ed25519_dalek::SigningKey;
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use serde::Serialize;

/// The product a raftwarden server licenses unless its embedder names its own.
pub const DEFAULT_PRODUCT: &str = "raftwarden";

/// How long the temporary license of a new cluster lasts.
pub const TEMPORARY_TTL_SECS: i64 = 6 * 3600;

/// Nomad's `api.License`, in its field order (which is the wire order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct License {
    #[serde(rename = "LicenseID")]
    pub license_id: String,
    #[serde(rename = "CustomerID")]
    pub customer_id: String,
    #[serde(rename = "InstallationID", default)]
    pub installation_id: String,
    #[serde(rename = "IssueTime")]
    pub issue_time: String,
    #[serde(rename = "StartTime")]
    pub start_time: String,
    #[serde(rename = "ExpirationTime")]
    pub expiration_time: String,
    #[serde(rename = "TerminationTime")]
    pub termination_time: String,
    #[serde(rename = "NonProduction", default)]
    pub non_production: bool,
    #[serde(rename = "Product")]
    pub product: String,
    #[serde(rename = "Flags", default)]
    pub flags: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "Modules", default)]
    pub modules: Vec<String>,
    #[serde(rename = "Features", default)]
    pub features: Vec<String>,
}

/// The four times of a license, as unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    pub issue: i64,
    pub start: i64,
    pub expiration: i64,
    pub termination: i64,
}

impl License {
    /// Its times, checked: each RFC 3339, and start <= expiration <= termination.
    pub fn times(&self) -> Result<Times, LicenseInvalid> {
        let parse = |name: &str, v: &str| {
            parse_rfc3339(v).ok_or_else(|| LicenseInvalid::Malformed(format!("{name} {v:?} is not an RFC 3339 time")))
        };
        let t = Times {
            issue: parse("IssueTime", &self.issue_time)?,
            start: parse("StartTime", &self.start_time)?,
            expiration: parse("ExpirationTime", &self.expiration_time)?,
            termination: parse("TerminationTime", &self.termination_time)?,
        };
        if t.expiration < t.start {
            return Err(LicenseInvalid::Malformed("ExpirationTime is before StartTime".into()));
        }
        if t.termination < t.expiration {
            return Err(LicenseInvalid::Malformed("TerminationTime is before ExpirationTime".into()));
        }
        Ok(t)
    }

    /// Whether this is the temporary license a new cluster starts with.
    pub fn is_temporary(&self) -> bool {
        self.flags.get("temporary") == Some(&serde_json::Value::Bool(true))
    }
}

/// Why a license is refused. Each text says what is wrong, for the operator who installs it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum LicenseInvalid {
    #[error("malformed license: {0}")]
    Malformed(String),
    #[error("no license public keys are configured on this server (server.license_public_keys)")]
    NoPublicKeys,
    #[error("invalid license signature: no configured public key verifies it")]
    BadSignature,
    #[error("license is for product {got:?}, but this server runs {want:?}")]
    WrongProduct { want: String, got: String },
    #[error("license is not valid before its start time {0}")]
    NotYetValid(String),
    #[error("license expired at {0}")]
    Expired(String),
    #[error("license terminated at {0}")]
    Terminated(String),
    #[error(
        "license was issued at {new}, before the installed license (issued at {current}); use force to install it anyway"
    )]
    Older { new: String, current: String },
}

/// An ed25519 public key that licenses are verified against.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From base64 of its 32 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = B64.decode(text.trim()).map_err(|e| format!("public key is not base64: {e}"))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("public key has {} bytes, expected 32", b.len()))?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|e| format!("invalid public key: {e}"))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// The key that signs licenses. Never logged: its `Debug` shows only the public half.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// From a 32-byte random seed (the caller draws it from the OS).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        PrivateKey(SigningKey::from_bytes(&seed))
    }

    /// From base64 of its 32-byte seed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = B64.decode(text.trim()).map_err(|e| format!("private key is not base64: {e}"))?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("private key has {} bytes, expected 32", b.len()))?;
        Ok(Self::from_seed(seed))
    }

    /// Base64 of the seed: the private key file's content.
    pub fn to_text(&self) -> String {
        B64.encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(public {})", self.public_key())
    }
}

/// Signs `license`: the license file's text.
pub fn sign(license: &License, key: &PrivateKey) -> String {
    // A License is strings, booleans and JSON values: it always serialises.
    let payload = serde_json::to_vec(license).unwrap_or_default();
    let signature = key.0.sign(&payload);
    format!("{}.{}", B64.encode(&payload), B64.encode(signature.to_bytes()))
}

/// A license file's parts, before any check of what they say.
struct Parts {
    payload: Vec<u8>,
    signature: ed25519_dalek::Signature,
}

fn split(text: &str) -> Result<Parts, LicenseInvalid> {
    let malformed = |m: &str| LicenseInvalid::Malformed(m.into());
    let text = text.trim();
    if text.is_empty() {
        return Err(malformed("the license is empty"));
    }
    let (payload, signature) =
        text.split_once('.').ok_or_else(|| malformed("expected <base64 payload>.<base64 signature>"))?;
    let payload = B64.decode(payload).map_err(|e| LicenseInvalid::Malformed(format!("payload is not base64: {e}")))?;
    let signature =
        B64.decode(signature).map_err(|e| LicenseInvalid::Malformed(format!("signature is not base64: {e}")))?;
    let signature = ed25519_dalek::Signature::from_slice(&signature)
        .map_err(|_| malformed("signature is not a 64-byte ed25519 signature"))?;
    Ok(Parts { payload, signature })
}

fn decode_payload(payload: &[u8]) -> Result<License, LicenseInvalid> {
    let license: License =
        serde_json::from_slice(payload).map_err(|e| LicenseInvalid::Malformed(format!("payload: {e}")))?;
    if license.license_id.is_empty() {
        return Err(LicenseInvalid::Malformed("LicenseID is empty".into()));
    }
    license.times()?;
    Ok(license)
}

/// Reads a license without checking its signature (what `license inspect` shows before it
/// verifies, and what a server reads back from its own state).
pub fn decode_unverified(text: &str) -> Result<License, LicenseInvalid> {
    decode_payload(&split(text)?.payload)
}

/// A license that passed [`verify`]: the document and its times.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub license: License,
    pub times: Times,
}

/// Checks a license file for a server of `product` at unix time `now`: well formed, signed by
/// one of `keys`, for this product, started, neither expired nor terminated.
pub fn verify(text: &str, keys: &[PublicKey], product: &str, now: i64) -> Result<Verified, LicenseInvalid> {
    let parts = split(text)?;
    if keys.is_empty() {
        return Err(LicenseInvalid::NoPublicKeys);
    }
    if !keys.iter().any(|k| k.0.verify_strict(&parts.payload, &parts.signature).is_ok()) {
        return Err(LicenseInvalid::BadSignature);
    }
    let license = decode_payload(&parts.payload)?;
    let times = license.times()?;
    if license.product != product {
        return Err(LicenseInvalid::WrongProduct { want: product.into(), got: license.product });
    }
    if now >= times.termination {
        return Err(LicenseInvalid::Terminated(license.termination_time));
    }
    if now >= times.expiration {
        return Err(LicenseInvalid::Expired(license.expiration_time));
    }
    if now < times.start {
        return Err(LicenseInvalid::NotYetValid(license.start_time));
    }
    Ok(Verified { license, times })
}

/// The temporary license a new cluster runs on until a signed one is installed.
pub fn temporary(product: &str, license_id: String, now: i64) -> License {
    let issued = format_rfc3339(now);
    let ends = format_rfc3339(now.saturating_add(TEMPORARY_TTL_SECS));
    License {
        license_id,
        customer_id: "temporary".into(),
        installation_id: "*".into(),
        issue_time: issued.clone(),
        start_time: issued,
        expiration_time: ends.clone(),
        termination_time: ends,
        non_production: false,
        product: product.into(),
        flags: [("temporary".to_string(), serde_json::Value::Bool(true))].into(),
        modules: Vec::new(),
        features: Vec::new(),
    }
}

/// How close a license is to its end, for the warnings a server logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expiry {
    Valid,
    /// Expires within the hour.
    WithinHour,
    /// Expires within ten minutes.
    WithinTenMinutes,
    Expired,
    Terminated,
}

pub fn expiry(times: &Times, now: i64) -> Expiry {
    if now >= times.termination {
        Expiry::Terminated
    } else if now >= times.expiration {
        Expiry::Expired
    } else if times.expiration - now <= 600 {
        Expiry::WithinTenMinutes
    } else if times.expiration - now <= 3600 {
        Expiry::WithinHour
    } else {
        Expiry::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc3339::format as format_rfc3339;

    const NOW: i64 = 1_700_000_000;

    fn key(n: u8) -> PrivateKey {
        PrivateKey::from_seed([n; 32])
    }

    fn license(product: &str, issue: i64, ttl: i64) -> License {
        License {
            license_id: "lic-1".into(),
            customer_id: "acme".into(),
            installation_id: "*".into(),
            issue_time: format_rfc3339(issue),
            start_time: format_rfc3339(issue),
            expiration_time: format_rfc3339(issue + ttl),
            termination_time: format_rfc3339(issue + ttl + 3600),
            non_production: false,
            product: product.into(),
            flags: [("seats".to_string(), serde_json::json!(5))].into(),
            modules: vec!["governance-policy".into()],
            features: vec!["Audit Logging".into()],
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let lic = license(DEFAULT_PRODUCT, NOW - 60, 86_400);
        let text = sign(&lic, &key(1));
        let v = verify(&text, &[key(2).public_key(), key(1).public_key()], DEFAULT_PRODUCT, NOW).unwrap();
        assert_eq!(v.license, lic);
        assert_eq!(v.times.issue, NOW - 60);
        assert_eq!(decode_unverified(&format!("  {text}\n")).unwrap(), lic);
    }

    #[test]
    fn refusals() {
        let good = sign(&license(DEFAULT_PRODUCT, NOW - 60, 86_400), &key(1));
        let (payload, signature) = good.split_once('.').unwrap();
        let keys = [key(1).public_key()];
        let other_keys = [key(9).public_key()];
        // The payload with one field changed but the old signature.
        let mut tampered_lic = license(DEFAULT_PRODUCT, NOW - 60, 86_400);
        tampered_lic.customer_id = "mallory".into();
        let tampered_payload = B64.encode(serde_json::to_vec(&tampered_lic).unwrap());
        let mut sig = B64.decode(signature).unwrap();
        sig[3] ^= 1;
        let cases: Vec<(&str, String, &[PublicKey], &str, LicenseInvalid)> = vec![
            (
                "tampered payload",
                format!("{tampered_payload}.{signature}"),
                &keys,
                DEFAULT_PRODUCT,
                LicenseInvalid::BadSignature,
            ),
            (
                "tampered signature",
                format!("{payload}.{}", B64.encode(&sig)),
                &keys,
                DEFAULT_PRODUCT,
                LicenseInvalid::BadSignature,
            ),
            ("wrong key", good.clone(), &other_keys, DEFAULT_PRODUCT, LicenseInvalid::BadSignature),
            ("no keys", good.clone(), &[], DEFAULT_PRODUCT, LicenseInvalid::NoPublicKeys),
            (
                "wrong product",
                good.clone(),
                &keys,
                "acme-db",
                LicenseInvalid::WrongProduct { want: "acme-db".into(), got: DEFAULT_PRODUCT.into() },
            ),
            (
                "expired",
                sign(&license(DEFAULT_PRODUCT, NOW - 7200, 5400), &key(1)),
                &keys,
                DEFAULT_PRODUCT,
                LicenseInvalid::Expired(format_rfc3339(NOW - 1800)),
            ),
            (
                "terminated",
                sign(&license(DEFAULT_PRODUCT, NOW - 20_000, 3600), &key(1)),
                &keys,
                DEFAULT_PRODUCT,
                LicenseInvalid::Terminated(format_rfc3339(NOW - 20_000 + 7200)),
            ),
            (
                "not started",
                sign(&license(DEFAULT_PRODUCT, NOW + 600, 3600), &key(1)),
                &keys,
                DEFAULT_PRODUCT,
                LicenseInvalid::NotYetValid(format_rfc3339(NOW + 600)),
            ),
        ];
        for (name, text, keys, product, want) in cases {
            assert_eq!(verify(&text, keys, product, NOW), Err(want), "{name}");
        }
    }

    #[test]
    fn malformed_texts() {
        let keys = [key(1).public_key()];
        let sig = B64.encode([0u8; 64]);
        let signed_json = |json: &str| {
            let signature = key(1).0.sign(json.as_bytes());
            format!("{}.{}", B64.encode(json), B64.encode(signature.to_bytes()))
        };
        for (name, text) in [
            ("empty", "  ".to_string()),
            ("no dot", "abc".to_string()),
            ("payload not base64", format!("!!!.{sig}")),
            ("signature not base64", "e30=.???".to_string()),
            ("short signature", "e30=.AAAA".to_string()),
            ("payload not json", signed_json("not json")),
            ("missing fields", signed_json("{}")),
            (
                "bad time",
                signed_json(
                    r#"{"LicenseID":"x","CustomerID":"c","IssueTime":"yesterday","StartTime":"2020-01-01T00:00:00Z","ExpirationTime":"2020-01-01T00:00:00Z","TerminationTime":"2020-01-01T00:00:00Z","Product":"raftwarden"}"#,
                ),
            ),
            (
                "expires before it starts",
                signed_json(
                    r#"{"LicenseID":"x","CustomerID":"c","IssueTime":"2020-01-01T00:00:00Z","StartTime":"2020-01-02T00:00:00Z","ExpirationTime":"2020-01-01T00:00:00Z","TerminationTime":"2020-01-03T00:00:00Z","Product":"raftwarden"}"#,
                ),
            ),
        ] {
            match verify(&text, &keys, DEFAULT_PRODUCT, NOW) {
                Err(LicenseInvalid::Malformed(_)) => {}
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn keys_round_trip_as_text() {
        let k = key(7);
        let again = PrivateKey::parse(&k.to_text()).unwrap();
        assert_eq!(again.public_key(), k.public_key());
        assert_eq!(PublicKey::parse(&k.public_key().to_string()).unwrap(), k.public_key());
        assert!(PublicKey::parse("AAAA").is_err());
        assert!(PrivateKey::parse("not base64!").is_err());
        assert!(!format!("{k:?}").contains(&k.to_text()), "Debug never shows the private key");
    }

    #[test]
    fn temporary_license_lasts_six_hours() {
        let t = temporary("raftwarden", "temp-1".into(), NOW);
        let times = t.times().unwrap();
        assert_eq!(times.expiration - times.issue, 6 * 3600);
        assert!(t.is_temporary());
        assert_eq!(expiry(&times, NOW), Expiry::Valid);
    }

    #[test]
    fn expiry_stages() {
        let t = Times { issue: 0, start: 0, expiration: 10_000, termination: 20_000 };
        for (now, want) in [
            (0, Expiry::Valid),
            (10_000 - 3601, Expiry::Valid),
            (10_000 - 3600, Expiry::WithinHour),
            (10_000 - 601, Expiry::WithinHour),
            (10_000 - 600, Expiry::WithinTenMinutes),
            (10_000, Expiry::Expired),
            (20_000, Expiry::Terminated),
        ] {
            assert_eq!(expiry(&t, now), want, "at {now}");
        }
    }
}
