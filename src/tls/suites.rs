//! Nomad's `tls_cipher_suites` and `tls_min_version` as a rustls crypto provider and protocol
//! list: pure decisions over Go's names, unit-tested with a table.

use rustls::crypto::ring::cipher_suite as ring;
use rustls::crypto::CryptoProvider;
use rustls::SupportedCipherSuite;
use rustls::SupportedProtocolVersion;

/// Every name Nomad accepts in `tls_cipher_suites` (helper/tlsutil's `supportedTLSCiphers`),
/// with the rustls suite that implements it. rustls offers the ECDHE AEAD suites only, so the
/// CBC and static-RSA suites Nomad still accepts have none.
const GO_SUITES: [(&str, Option<SupportedCipherSuite>); 14] = [
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", Some(ring::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", Some(ring::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Some(ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Some(ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Some(ring::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Some(ring::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", None),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", None),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", None),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", None),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", None),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", None),
];

/// Which signature algorithm a TLS 1.2 suite needs from the certificate's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    /// ECDSA, and Ed25519, which TLS 1.2 signs under the ECDHE_ECDSA suites.
    Ecdsa,
}

impl KeyKind {
    fn of_suite(name: &str) -> Self {
        if name.contains("_ECDSA_") {
            Self::Ecdsa
        } else {
            Self::Rsa
        }
    }

    fn as_nomad(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::Ecdsa => "ECDSA",
        }
    }
}

/// The TLS 1.2 suites `names` asks for (Go's names, as written in `tls_cipher_suites`); empty
/// means Nomad's default, which is every suite rustls has. An unknown name, or one rustls does
/// not implement, is an error that names it.
pub fn tls12_suites(names: &[String]) -> Result<Vec<SupportedCipherSuite>, String> {
    if names.is_empty() {
        return Ok(GO_SUITES.iter().filter_map(|(_, s)| *s).collect());
    }
    names
        .iter()
        .map(|name| match GO_SUITES.iter().find(|(go, _)| go == name) {
            Some((_, Some(suite))) => Ok(*suite),
            Some((_, None)) => Err(format!(
                "unsupported TLS cipher {name:?}: raftwarden offers only the ECDHE suites with AES-GCM or \
                 ChaCha20-Poly1305 ({})",
                supported_names().join(", ")
            )),
            None => Err(format!("unsupported TLS cipher {name:?}")),
        })
        .collect()
}

fn supported_names() -> Vec<&'static str> {
    GO_SUITES.iter().filter(|(_, s)| s.is_some()).map(|(n, _)| *n).collect()
}

/// Nomad's check that a configured suite list can use the certificate's key at all: at least
/// one suite must sign with the key's algorithm (`ParseCiphers` in helper/tlsutil).
pub fn check_key_fits(names: &[String], key: KeyKind) -> Result<(), String> {
    if names.is_empty() || names.iter().any(|n| KeyKind::of_suite(n) == key) {
        return Ok(());
    }
    Err(format!(
        "Specified cipher suites don't support the certificate signature algorithm {}, consider adding more \
         cipher suites to match this signature algorithm.",
        key.as_nomad()
    ))
}

/// The protocol versions for `tls13_only` (`tls_min_version = "tls13"`); any lower minimum
/// means TLS 1.2 and 1.3, since rustls speaks nothing older.
pub fn versions(tls13_only: bool) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12_UP: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];
    if tls13_only {
        &TLS13_ONLY
    } else {
        &TLS12_UP
    }
}

/// The ring provider with every TLS 1.3 suite and the chosen TLS 1.2 ones, in that order (Go
/// does not let TLS 1.3 suites be chosen either). Never the process-wide default provider.
pub fn provider(tls12: &[SupportedCipherSuite]) -> CryptoProvider {
    let mut provider = (*raftwarden_actors::crypto::provider()).clone();
    let tls13 = provider.cipher_suites.iter().filter(|s| s.version() == &rustls::version::TLS13).copied();
    provider.cipher_suites = tls13.chain(tls12.iter().copied()).collect();
    provider
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn go_names_map_to_rustls_suites() {
        assert_eq!(tls12_suites(&[]).unwrap().len(), 6, "the default is every ECDHE AEAD suite");
        let chosen = tls12_suites(&names(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])).unwrap();
        assert_eq!(chosen, [ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]);
        let cases = [
            ("TLS_RSA_WITH_AES_128_CBC_SHA", "unsupported TLS cipher \"TLS_RSA_WITH_AES_128_CBC_SHA\": raftwarden"),
            ("TLS_FOO", "unsupported TLS cipher \"TLS_FOO\""),
            // Go's alias for the ChaCha suite is not one of Nomad's names.
            ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "unsupported TLS cipher"),
        ];
        for (name, want) in cases {
            let err = tls12_suites(&names(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", name])).unwrap_err();
            assert!(err.starts_with(want), "{name}: {err}");
        }
    }

    #[test]
    fn suites_must_fit_the_key() {
        let ecdsa_only = names(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]);
        assert!(check_key_fits(&ecdsa_only, KeyKind::Ecdsa).is_ok());
        let err = check_key_fits(&ecdsa_only, KeyKind::Rsa).unwrap_err();
        assert!(err.starts_with("Specified cipher suites don't support the certificate signature algorithm RSA"));
        assert!(check_key_fits(&[], KeyKind::Rsa).is_ok());
    }

    #[test]
    fn provider_keeps_tls13_and_the_chosen_tls12_suites() {
        let p = provider(&[ring::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]);
        let tls12: Vec<_> = p.cipher_suites.iter().filter(|s| s.version() == &rustls::version::TLS12).collect();
        assert_eq!(tls12.len(), 1);
        assert_eq!(p.cipher_suites.len(), 4);
        assert_eq!(versions(true).len(), 1);
        assert_eq!(versions(false).len(), 2);
    }
}
