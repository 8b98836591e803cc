//! The resolved `tls { }`, `limits { }` and gossip `encrypt` settings, with Nomad's defaults
//! and its validation texts.

use std::path::PathBuf;
use std::time::Duration;

use super::file::LimitsBlock;
use super::file::TlsBlock;
use super::ConfigError;

/// The lowest TLS version a listener or client accepts (`tls_min_version`). rustls speaks
/// TLS 1.2 and 1.3 only, so Nomad's `tls10` and `tls11` are accepted and mean TLS 1.2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    #[default]
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "" | "tls12" => Ok(Self::Tls12),
            "tls10" => Ok(Self::Tls10),
            "tls11" => Ok(Self::Tls11),
            "tls13" => Ok(Self::Tls13),
            other => Err(ConfigError::Invalid(format!("tls.tls_min_version: TLSVersion: {other} is invalid"))),
        }
    }

    /// Whether TLS 1.2 is offered (every setting below `tls13`).
    pub fn allows_tls12(self) -> bool {
        self != Self::Tls13
    }
}

/// `tls { }`, resolved. Paths are as written in the file (relative to the agent's working
/// directory, as Nomad reads them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// HTTPS on the HTTP port.
    pub http: bool,
    /// Mutual TLS on the RPC port and on every server-to-server call.
    pub rpc: bool,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// A server's certificate must name `server.<region>.nomad`.
    pub verify_server_hostname: bool,
    /// HTTPS callers must present a certificate signed by `ca_file`.
    pub verify_https_client: bool,
    pub min_version: TlsVersion,
    /// Go's names of the TLS 1.2 suites to offer (`tls_cipher_suites`); empty: the defaults.
    pub cipher_suites: Vec<String>,
    pub prefer_server_cipher_suites: bool,
    /// Accept plain and TLS connections on the RPC port while a cluster moves to TLS.
    pub rpc_upgrade_mode: bool,
}

impl TlsConfig {
    pub(super) fn resolve(b: TlsBlock) -> Result<Self, ConfigError> {
        let cipher_suites = b
            .tls_cipher_suites
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let cfg = Self {
            http: b.http.unwrap_or(false),
            rpc: b.rpc.unwrap_or(false),
            ca_file: b.ca_file,
            cert_file: b.cert_file,
            key_file: b.key_file,
            verify_server_hostname: b.verify_server_hostname.unwrap_or(false),
            verify_https_client: b.verify_https_client.unwrap_or(false),
            min_version: TlsVersion::parse(b.tls_min_version.as_deref().unwrap_or(""))?,
            cipher_suites,
            prefer_server_cipher_suites: b.tls_prefer_server_cipher_suites.unwrap_or(false),
            rpc_upgrade_mode: b.rpc_upgrade_mode.unwrap_or(false),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if (self.http || self.rpc) && (self.cert_file.is_none() || self.key_file.is_none()) {
            return invalid("tls: cert_file and key_file are required when http or rpc is enabled");
        }
        if self.rpc && self.ca_file.is_none() {
            return invalid("tls: ca_file is required when rpc is enabled (servers verify each other)");
        }
        if self.http && self.verify_https_client && self.ca_file.is_none() {
            return invalid("tls: ca_file is required when verify_https_client is enabled");
        }
        Ok(())
    }
}

/// `limits { }`, resolved with Nomad's defaults (5 s handshakes, 100 connections per client
/// address on each port). A limit of 0 means no limit; a timeout of 0 means none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub https_handshake_timeout: Duration,
    pub http_max_conns_per_client: usize,
    pub rpc_handshake_timeout: Duration,
    pub rpc_max_conns_per_client: usize,
}

/// Nomad's `LimitsNonStreamingConnsPerClient`: an RPC limit must leave room above it.
pub const NON_STREAMING_CONNS_PER_CLIENT: i64 = 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            https_handshake_timeout: Duration::from_secs(5),
            http_max_conns_per_client: 100,
            rpc_handshake_timeout: Duration::from_secs(5),
            rpc_max_conns_per_client: 100,
        }
    }
}

impl Limits {
    /// Nomad checks the `rpc_*` limits while it sets up the server and the `http*` ones while
    /// it starts the HTTP server; the errors say which, as its agent prints them.
    pub(super) fn resolve(b: LimitsBlock) -> Result<Self, ConfigError> {
        let d = Self::default();
        let timeout = |key: &str, v: Option<i64>, default: Duration| match v {
            None => Ok(default),
            Some(n) if n < 0 => Err(format!("{key} must be >= 0")),
            Some(n) => Ok(Duration::from_nanos(n.unsigned_abs())),
        };
        let rpc_handshake_timeout = timeout("rpc_handshake_timeout", b.rpc_handshake_timeout, d.rpc_handshake_timeout)
            .map_err(ConfigError::ServerSetup)?;
        let min = NON_STREAMING_CONNS_PER_CLIENT + 5;
        let rpc_max_conns_per_client = match b.rpc_max_conns_per_client {
            None => d.rpc_max_conns_per_client,
            Some(0) => 0,
            Some(n) if n <= min => {
                return Err(ConfigError::ServerSetup(format!("rpc_max_conns_per_client must be > {min}; found: {n}")))
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let https_handshake_timeout =
            timeout("https_handshake_timeout", b.https_handshake_timeout, d.https_handshake_timeout)
                .map_err(ConfigError::HttpSetup)?;
        let http_max_conns_per_client = match b.http_max_conns_per_client {
            None => d.http_max_conns_per_client,
            Some(n) if n < 0 => return Err(ConfigError::HttpSetup("http_max_conns_per_client must be >= 0".into())),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        Ok(Self { https_handshake_timeout, http_max_conns_per_client, rpc_handshake_timeout, rpc_max_conns_per_client })
    }
}

/// Decodes a gossip key as `server { encrypt }` and the keyring endpoints take it: standard
/// base64 of 16, 24 or 32 bytes (AES-128, -192 or -256 GCM, as serf).
pub fn gossip_key(b64: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("failed to decode encrypt key: {e}"))?;
    match key.len() {
        16 | 24 | 32 => Ok(key),
        n => Err(format!("key size must be 16, 24 or 32 bytes, got {n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(http: Option<i64>, rpc: Option<i64>) -> Result<Limits, String> {
        let b = LimitsBlock { http_max_conns_per_client: http, rpc_max_conns_per_client: rpc, ..Default::default() };
        Limits::resolve(b).map_err(|e| e.to_string())
    }

    #[test]
    fn limits_validate_as_nomad() {
        assert_eq!(limits(None, None).unwrap(), Limits::default());
        assert_eq!(limits(Some(-1), None).unwrap_err(), "http_max_conns_per_client must be >= 0");
        assert_eq!(
            limits(None, Some(20)).unwrap_err(),
            "server config setup failed: rpc_max_conns_per_client must be > 25; found: 20"
        );
        assert_eq!(
            limits(None, Some(-100)).unwrap_err(),
            "server config setup failed: rpc_max_conns_per_client must be > 25; found: -100"
        );
        // Nomad sets up the server before the HTTP server: an RPC error is the one reported.
        assert!(limits(Some(-1), Some(20)).unwrap_err().starts_with("server config setup failed: "));
        assert_eq!(limits(None, Some(0)).unwrap().rpc_max_conns_per_client, 0);
        assert_eq!(limits(Some(0), Some(26)).unwrap().rpc_max_conns_per_client, 26);
        let b = LimitsBlock { rpc_handshake_timeout: Some(-5_000_000_000), ..Default::default() };
        assert_eq!(
            Limits::resolve(b).unwrap_err().to_string(),
            "server config setup failed: rpc_handshake_timeout must be >= 0"
        );
        let b = LimitsBlock { https_handshake_timeout: Some(-1), ..Default::default() };
        assert!(
            matches!(Limits::resolve(b), Err(ConfigError::HttpSetup(m)) if m == "https_handshake_timeout must be >= 0")
        );
    }

    #[test]
    fn tls_needs_its_files() {
        let b = TlsBlock { http: Some(true), ..Default::default() };
        assert!(TlsConfig::resolve(b).unwrap_err().to_string().contains("cert_file and key_file"));
        let b =
            TlsBlock { rpc: Some(true), cert_file: Some("c".into()), key_file: Some("k".into()), ..Default::default() };
        assert!(TlsConfig::resolve(b).unwrap_err().to_string().contains("ca_file"));
        let b = TlsBlock { tls_min_version: Some("tls9".into()), ..Default::default() };
        assert!(TlsConfig::resolve(b).is_err());
        let b = TlsBlock { tls_cipher_suites: Some("A, B,".into()), ..Default::default() };
        assert_eq!(TlsConfig::resolve(b).unwrap().cipher_suites, ["A", "B"]);
    }

    #[test]
    fn gossip_keys_are_aes_sized() {
        assert_eq!(gossip_key("AAAAAAAAAAAAAAAAAAAAAA==").unwrap().len(), 16);
        assert!(gossip_key("AAAA").unwrap_err().contains("16, 24 or 32"));
        assert!(gossip_key("not base64!").is_err());
    }
}
