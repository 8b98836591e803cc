//! The gossip keyring, as memberlist's `keyring.go` keeps it and serf's key queries change it:
//! installed keys with one primary. The primary encrypts every packet sent; every installed key
//! is tried on a packet received, so a key can be rotated without a pause: install the new key
//! everywhere, use it, remove the old one.
//!
//! A server keeps its keyring in `<data_dir>/server/serf.keyring` (Nomad's file and format: a
//! JSON list of base64 keys, the primary first), so that keys installed or put to use survive a
//! restart. `server { encrypt }` only seeds that file when there is none, as in Nomad.
//!
//! [`Keyring`] is pure; [`setup`] and [`write_file`] are the file's I/O.

use std::path::Path;
use std::path::PathBuf;

use base64::Engine as _;
use serde::Deserialize;
use serde::Serialize;

use super::cipher;

/// The keyring's file name under `<data_dir>/server/` (Nomad's `server/serf.keyring`).
pub const KEYRING_FILE: &str = "serf.keyring";

/// The installed gossip keys, the primary first. Empty: gossip is not encrypted, and no key
/// operation applies (serf's `EncryptionEnabled` is false).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Keyring {
    /// Never the keys themselves: a keyring may end up in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

/// One change to, or a listing of, a server's keyring: what serf's internal key queries carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOp {
    List,
    Install(Vec<u8>),
    Use(Vec<u8>),
    Remove(Vec<u8>),
}

impl KeyOp {
    /// The name serf's query has (`install-key`, ...), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            KeyOp::List => "list-keys",
            KeyOp::Install(_) => "install-key",
            KeyOp::Use(_) => "use-key",
            KeyOp::Remove(_) => "remove-key",
        }
    }
}

/// Why a key operation was refused, in memberlist's and serf's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("No keyring to modify (encryption not enabled)")]
    NotEnabled,
    #[error("Keyring is empty (encryption not enabled)")]
    Empty,
    #[error("key size must be 16, 24 or 32 bytes")]
    KeySize,
    #[error("requested key is not in the keyring")]
    NotInstalled,
    #[error("removing the primary key is not allowed")]
    RemovePrimary,
}

/// What one server answers to a key operation (serf's `nodeKeyResponse`): whether it applied,
/// why not, and for a listing its keys in base64, the primary first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeKeyResponse {
    pub result: bool,
    pub message: String,
    pub keys: Vec<String>,
    pub primary_key: String,
}

impl NodeKeyResponse {
    pub fn failed(message: impl Into<String>) -> Self {
        Self { result: false, message: message.into(), ..Self::default() }
    }
}

impl Keyring {
    /// A keyring of `keys`, the first one primary (memberlist's `NewKeyring`): each must be
    /// 16, 24 or 32 bytes; a key listed twice is kept once.
    pub fn new(keys: Vec<Vec<u8>>) -> Result<Self, KeyringError> {
        let mut ring = Keyring::default();
        for key in keys {
            cipher::validate_key(&key).map_err(|_| KeyringError::KeySize)?;
            if !ring.keys.contains(&key) {
                ring.keys.push(key);
            }
        }
        Ok(ring)
    }

    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The key every packet is encrypted with.
    pub fn primary(&self) -> Option<&[u8]> {
        self.keys.first().map(Vec::as_slice)
    }

    /// Every installed key, the primary first: the order decryption tries them in.
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }

    /// The keys in base64, the primary first: the file's and the listing's form.
    pub fn encoded(&self) -> Vec<String> {
        self.keys.iter().map(|k| encode(k)).collect()
    }

    /// Applies `op` (serf's `handleInstallKey` / `handleUseKey` / `handleRemoveKey` /
    /// `handleListKeys` over memberlist's keyring); answers whether the keys changed.
    pub fn apply(&mut self, op: &KeyOp) -> Result<bool, KeyringError> {
        if !self.is_enabled() {
            return Err(if *op == KeyOp::List { KeyringError::Empty } else { KeyringError::NotEnabled });
        }
        match op {
            KeyOp::List => Ok(false),
            KeyOp::Install(key) => {
                cipher::validate_key(key).map_err(|_| KeyringError::KeySize)?;
                if self.keys.contains(key) {
                    return Ok(false);
                }
                self.keys.push(key.clone());
                Ok(true)
            }
            KeyOp::Use(key) => {
                let at = self.keys.iter().position(|k| k == key).ok_or(KeyringError::NotInstalled)?;
                if at == 0 {
                    return Ok(false);
                }
                let key = self.keys.remove(at);
                self.keys.insert(0, key);
                Ok(true)
            }
            KeyOp::Remove(key) => {
                if self.primary() == Some(key.as_slice()) {
                    return Err(KeyringError::RemovePrimary);
                }
                let before = self.keys.len();
                self.keys.retain(|k| k != key);
                // Removing a key that is not installed is no error, as in memberlist.
                Ok(self.keys.len() != before)
            }
        }
    }

    /// This server's answer to `op` once applied (or refused): serf's node response.
    pub fn response(&self, op: &KeyOp, outcome: &Result<bool, KeyringError>) -> NodeKeyResponse {
        match outcome {
            Err(e) => NodeKeyResponse::failed(e.to_string()),
            Ok(_) if *op == KeyOp::List => NodeKeyResponse {
                result: true,
                message: String::new(),
                keys: self.encoded(),
                primary_key: self.primary().map(encode).unwrap_or_default(),
            },
            Ok(_) => NodeKeyResponse { result: true, ..NodeKeyResponse::default() },
        }
    }
}

fn encode(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// A keyring file that cannot be used, with the reason (Nomad stops the agent with
/// `failed to configure keyring: <reason>`).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct KeyringFileError {
    pub path: PathBuf,
    pub reason: String,
}

/// Where the keyring of the server whose directory is `server_dir` lives.
pub fn file_path(server_dir: &Path) -> PathBuf {
    server_dir.join(KEYRING_FILE)
}

/// The keyring a server starts with (Nomad's `setupKeyrings`): the keyring file when there is
/// one, else `encrypt` written to a new keyring file, else none (gossip in clear). With both,
/// the file wins and a warning says so, as Nomad's agent warns.
pub fn setup(server_dir: &Path, encrypt: Option<&[u8]>) -> Result<Keyring, KeyringFileError> {
    let path = file_path(server_dir);
    let fail = |reason: String| KeyringFileError { path: path.clone(), reason };
    if let Some(key) = encrypt {
        cipher::validate_key(key).map_err(|e| fail(format!("Invalid key: {e}")))?;
        if key.len() < 32 {
            tracing::info!(
                "given {}-byte gossip key enables AES-{} encryption, generate a 32-byte key to enable AES-256",
                key.len(),
                key.len() * 8
            );
        }
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail(e.to_string())),
    };
    match (text, encrypt) {
        (Some(text), encrypt) => {
            let ring = parse(&text).map_err(fail)?;
            if let Some(key) = encrypt {
                tracing::warn!(
                    keyring = %path.display(),
                    encrypt_installed = ring.keys().iter().any(|k| k == key),
                    "keyring exists but -encrypt given, using keyring"
                );
            }
            Ok(ring)
        }
        (None, Some(key)) => {
            let ring = Keyring::new(vec![key.to_vec()]).map_err(|e| fail(format!("Invalid key: {e}")))?;
            write_file(&path, &ring).map_err(|e| fail(e.to_string()))?;
            Ok(ring)
        }
        (None, None) => Ok(Keyring::default()),
    }
}

/// Reads a keyring file's text (Nomad's `loadKeyringFile`).
fn parse(text: &str) -> Result<Keyring, String> {
    let encoded: Vec<String> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if encoded.is_empty() {
        return Err("no keys present in keyring file".into());
    }
    let mut keys = Vec::with_capacity(encoded.len());
    for key in &encoded {
        keys.push(base64::engine::general_purpose::STANDARD.decode(key.trim()).map_err(|e| e.to_string())?);
    }
    Keyring::new(keys).map_err(|e| e.to_string())
}

/// Writes the keyring file as serf does (a JSON list indented by two spaces, mode 0600, the key
/// data being secret), whole or not at all: a temporary file, fsynced, renamed over the old
/// one, the directory fsynced.
pub fn write_file(path: &Path, ring: &Keyring) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(&ring.encoded()).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("keyring.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(fill: u8) -> Vec<u8> {
        vec![fill; 32]
    }

    /// One row: why, the operations in order, and the keyring after them (or the error of the
    /// last operation).
    #[test]
    fn operations_as_memberlist_applies_them() {
        use KeyOp::*;
        type Keys = Vec<Vec<u8>>;
        type Case = (&'static str, Keys, Vec<KeyOp>, Result<Keys, KeyringError>);
        let cases: Vec<Case> = vec![
            ("install appends", vec![k(1)], vec![Install(k(2))], Ok(vec![k(1), k(2)])),
            ("install twice is a no-op", vec![k(1)], vec![Install(k(2)), Install(k(2))], Ok(vec![k(1), k(2)])),
            ("install a bad size", vec![k(1)], vec![Install(vec![1; 20])], Err(KeyringError::KeySize)),
            ("use moves to the front", vec![k(1), k(2), k(3)], vec![Use(k(3))], Ok(vec![k(3), k(1), k(2)])),
            ("use the primary is a no-op", vec![k(1), k(2)], vec![Use(k(1))], Ok(vec![k(1), k(2)])),
            ("use an unknown key", vec![k(1)], vec![Use(k(2))], Err(KeyringError::NotInstalled)),
            ("remove a secondary", vec![k(1), k(2)], vec![Remove(k(2))], Ok(vec![k(1)])),
            ("remove the primary", vec![k(1), k(2)], vec![Remove(k(1))], Err(KeyringError::RemovePrimary)),
            ("remove an unknown key is no error", vec![k(1)], vec![Remove(k(9))], Ok(vec![k(1)])),
            ("a whole rotation", vec![k(1)], vec![Install(k(2)), Use(k(2)), Remove(k(1))], Ok(vec![k(2)])),
            ("nothing to change without encryption", vec![], vec![Install(k(1))], Err(KeyringError::NotEnabled)),
            ("nothing to list without encryption", vec![], vec![List], Err(KeyringError::Empty)),
        ];
        for (why, start, ops, want) in cases {
            let mut ring = Keyring::new(start).unwrap();
            let mut last = Ok(false);
            for op in &ops {
                last = ring.apply(op);
            }
            match want {
                Ok(keys) => {
                    assert!(last.is_ok(), "{why}: {last:?}");
                    assert_eq!(ring.keys(), keys.as_slice(), "{why}");
                }
                Err(e) => assert_eq!(last, Err(e), "{why}"),
            }
        }
    }

    #[test]
    fn responses_carry_serf_texts_and_listed_keys() {
        let mut ring = Keyring::new(vec![vec![0; 16], vec![1; 24]]).unwrap();
        let listed = ring.response(&KeyOp::List, &Ok(false));
        assert!(listed.result);
        assert_eq!(listed.keys, ["AAAAAAAAAAAAAAAAAAAAAA==", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"]);
        assert_eq!(listed.primary_key, "AAAAAAAAAAAAAAAAAAAAAA==");
        let op = KeyOp::Remove(vec![0; 16]);
        let refused = ring.apply(&op);
        let answer = ring.response(&op, &refused);
        assert!(!answer.result);
        assert_eq!(answer.message, "removing the primary key is not allowed");
        assert!(answer.keys.is_empty(), "only a listing shows keys");
        assert_eq!(
            Keyring::default().response(&KeyOp::Install(k(1)), &Err(KeyringError::NotEnabled)).message,
            "No keyring to modify (encryption not enabled)"
        );
        assert_eq!(format!("{ring:?}"), "Keyring(2 keys)");
    }

    #[test]
    fn encrypt_seeds_the_file_which_then_wins() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!setup(dir.path(), None).unwrap().is_enabled(), "no key, no file: gossip in clear");
        assert!(!file_path(dir.path()).exists());

        let ring = setup(dir.path(), Some(&k(1))).unwrap();
        assert_eq!(ring.keys(), [k(1)]);
        let text = std::fs::read_to_string(file_path(dir.path())).unwrap();
        assert_eq!(text, "[\n  \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\n]");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file_path(dir.path())).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        // A rotation written to the file survives; `encrypt` no longer changes anything.
        let mut rotated = ring.clone();
        rotated.apply(&KeyOp::Install(k(2))).unwrap();
        rotated.apply(&KeyOp::Use(k(2))).unwrap();
        write_file(&file_path(dir.path()), &rotated).unwrap();
        assert_eq!(setup(dir.path(), Some(&k(1))).unwrap().keys(), [k(2), k(1)]);
        assert_eq!(setup(dir.path(), None).unwrap().keys(), [k(2), k(1)]);
    }

    #[test]
    fn bad_files_and_keys_are_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path());
        for (text, reason) in [
            ("[]", "no keys present in keyring file"),
            ("[", "EOF while parsing"),
            ("{}", "invalid type: map"),
            ("[\"not base64!\"]", "Invalid"),
            ("[\"AAAA\"]", "key size must be 16, 24 or 32 bytes"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = setup(dir.path(), None).unwrap_err();
            assert_eq!(e.path, path);
            assert!(e.reason.contains(reason), "{text}: {}", e.reason);
        }
        std::fs::remove_file(&path).unwrap();
        let e = setup(dir.path(), Some(&[1; 20])).unwrap_err();
        assert_eq!(e.reason, "Invalid key: key size must be 16, 24 or 32 bytes");
        assert!(!path.exists());
    }
}
