//! Gossip packet encryption as memberlist does it (`security.go`): AES-GCM with a 16, 24 or
//! 32-byte key (AES-128, -192 or -256), a random 12-byte nonce per packet, and the label as
//! additional authenticated data. An encrypted packet is laid out as memberlist lays it out:
//!
//! ```text
//! [version: 1 byte][nonce: 12 bytes][ciphertext][tag: 16 bytes]
//! ```
//!
//! Version 1 (no padding) is what memberlist sends at protocol 2 and up, and what we send;
//! version 0 (the plaintext PKCS#7-padded to the AES block size) is still read, as memberlist
//! reads it. Pure: no I/O, no state but the key.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::Aead;
use aes_gcm::aead::Payload;
use aes_gcm::aes::Aes192;
use aes_gcm::Aes128Gcm;
use aes_gcm::Aes256Gcm;
use aes_gcm::AesGcm;
use aes_gcm::KeyInit;

/// The version byte we write: no padding.
pub const VERSION: u8 = 1;
/// The highest version read (memberlist's `maxEncryptionVersion`).
const MAX_VERSION: u8 = 1;
const VERSION_SIZE: usize = 1;
const NONCE_SIZE: usize = 12;
const TAG_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;

/// What encryption adds to a packet (memberlist's `encryptOverhead` for version 1).
pub const OVERHEAD: usize = VERSION_SIZE + NONCE_SIZE + TAG_SIZE;

/// Why a packet could not be decrypted, in memberlist's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("cannot decrypt empty payload")]
    Empty,
    #[error("unsupported encryption version {0}")]
    Version(u8),
    #[error("payload is too small to decrypt: {0}")]
    TooSmall(usize),
    /// The one a wrong key gives (also a tampered packet): memberlist's text before v0.5.4,
    /// which Nomad's logs show.
    #[error("No installed keys could decrypt the message")]
    NoKey,
}

/// A key that is not 16, 24 or 32 bytes long, in memberlist's words (`ValidateKey`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key size must be 16, 24 or 32 bytes")]
pub struct BadKeySize;

/// Whether `key` can be a gossip key (memberlist's `ValidateKey`).
pub fn validate_key(key: &[u8]) -> Result<(), BadKeySize> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        _ => Err(BadKeySize),
    }
}

/// An AES-GCM instance for one key.
enum Gcm {
    A128(Box<Aes128Gcm>),
    A192(Box<AesGcm<Aes192, U12>>),
    A256(Box<Aes256Gcm>),
}

impl Gcm {
    fn new(key: &[u8]) -> Result<Self, BadKeySize> {
        let bad = |_| BadKeySize;
        Ok(match key.len() {
            16 => Gcm::A128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?)),
            24 => Gcm::A192(Box::new(AesGcm::<Aes192, U12>::new_from_slice(key).map_err(bad)?)),
            32 => Gcm::A256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?)),
            _ => return Err(BadKeySize),
        })
    }

    fn seal(&self, nonce: &[u8; NONCE_SIZE], msg: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let payload = Payload { msg, aad };
        let nonce = nonce.as_slice();
        match self {
            Gcm::A128(c) => c.encrypt(nonce.try_into().ok()?, payload).ok(),
            Gcm::A192(c) => c.encrypt(nonce.try_into().ok()?, payload).ok(),
            Gcm::A256(c) => c.encrypt(nonce.try_into().ok()?, payload).ok(),
        }
    }

    fn open(&self, nonce: &[u8], ciphertext: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let payload = Payload { msg: ciphertext, aad };
        match self {
            Gcm::A128(c) => c.decrypt(nonce.try_into().ok()?, payload).ok(),
            Gcm::A192(c) => c.decrypt(nonce.try_into().ok()?, payload).ok(),
            Gcm::A256(c) => c.decrypt(nonce.try_into().ok()?, payload).ok(),
        }
    }
}

/// Encrypts `msg` with `key` (memberlist's `encryptPayload`, version 1): version, a fresh
/// random nonce, ciphertext and tag. `aad` is authenticated, not sent (memberlist's label).
pub fn encrypt(key: &[u8], msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, BadKeySize> {
    let gcm = Gcm::new(key)?;
    let nonce: [u8; NONCE_SIZE] = rand::random();
    // GCM fails only on messages of gigabytes; a gossip packet is at most a few kilobytes.
    let sealed = gcm.seal(&nonce, msg, aad).ok_or(BadKeySize)?;
    let mut out = Vec::with_capacity(VERSION_SIZE + NONCE_SIZE + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Decrypts `packet` with the first of `keys` that authenticates it (memberlist's
/// `decryptPayload`: the primary key first, then every other installed key).
pub fn decrypt<K: AsRef<[u8]>>(keys: &[K], packet: &[u8], aad: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let version = *packet.first().ok_or(DecryptError::Empty)?;
    if version > MAX_VERSION {
        return Err(DecryptError::Version(version));
    }
    let min = if version == 0 { OVERHEAD + BLOCK_SIZE } else { OVERHEAD };
    if packet.len() < min {
        return Err(DecryptError::TooSmall(packet.len()));
    }
    let nonce = &packet[VERSION_SIZE..VERSION_SIZE + NONCE_SIZE];
    let ciphertext = &packet[VERSION_SIZE + NONCE_SIZE..];
    for key in keys {
        let Ok(gcm) = Gcm::new(key.as_ref()) else { continue };
        if let Some(plain) = gcm.open(nonce, ciphertext, aad) {
            return if version == 0 { unpad(plain) } else { Ok(plain) };
        }
    }
    Err(DecryptError::NoKey)
}

/// Strips version 0's PKCS#7 padding; a pad that does not fit is refused (memberlist would
/// panic or slice out of range).
fn unpad(mut plain: Vec<u8>) -> Result<Vec<u8>, DecryptError> {
    let pad = usize::from(*plain.last().ok_or(DecryptError::NoKey)?);
    if pad == 0 || pad > BLOCK_SIZE || pad > plain.len() {
        return Err(DecryptError::NoKey);
    }
    plain.truncate(plain.len() - pad);
    Ok(plain)
}

/// Whether `packet` has the shape of an encrypted one (a known version byte and room for nonce
/// and tag). A plaintext gossip packet never does: it starts with the sender's name length,
/// and a member name (`<name>.<region>`) is longer than one byte.
pub fn looks_encrypted(packet: &[u8]) -> bool {
    matches!(packet.first(), Some(v) if *v <= MAX_VERSION) && packet.len() >= OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(len: usize, fill: u8) -> Vec<u8> {
        vec![fill; len]
    }

    #[test]
    fn round_trip_with_each_key_size() {
        for len in [16, 24, 32] {
            let k = key(len, 7);
            let msg = b"ping from s1.global".to_vec();
            let packet = encrypt(&k, &msg, b"").unwrap();
            assert_eq!(packet[0], VERSION);
            assert_eq!(packet.len(), msg.len() + OVERHEAD, "AES-{}", len * 8);
            assert!(looks_encrypted(&packet));
            assert_eq!(decrypt(&[&k], &packet, b"").unwrap(), msg, "AES-{}", len * 8);
            // Two encryptions of one message differ: a fresh nonce each time.
            assert_ne!(encrypt(&k, &msg, b"").unwrap(), packet);
        }
        assert_eq!(decrypt(&[key(32, 1)], &encrypt(&key(32, 1), b"", b"").unwrap(), b"").unwrap(), b"");
    }

    #[test]
    fn tampering_fails() {
        let k = key(32, 3);
        let packet = encrypt(&k, b"hello", b"").unwrap();
        for i in 1..packet.len() {
            let mut bad = packet.clone();
            bad[i] ^= 0x01;
            assert_eq!(decrypt(&[&k], &bad, b""), Err(DecryptError::NoKey), "byte {i} flipped");
        }
        assert_eq!(decrypt(&[&k], &packet[..packet.len() - 1], b""), Err(DecryptError::NoKey));
        // The label is authenticated: another label does not open the packet.
        assert_eq!(decrypt(&[&k], &packet, b"other"), Err(DecryptError::NoKey));
    }

    #[test]
    fn wrong_key_fails_and_any_installed_key_opens() {
        let (k1, k2, k3) = (key(32, 1), key(16, 2), key(24, 3));
        let packet = encrypt(&k1, b"hello", b"").unwrap();
        assert_eq!(decrypt(&[&k2, &k3], &packet, b""), Err(DecryptError::NoKey));
        assert_eq!(decrypt::<&[u8]>(&[], &packet, b""), Err(DecryptError::NoKey));
        assert_eq!(decrypt(&[&k2, &k3, &k1], &packet, b"").unwrap(), b"hello");
        assert_eq!(
            DecryptError::NoKey.to_string(),
            "No installed keys could decrypt the message",
            "the text Nomad's logs show"
        );
    }

    #[test]
    fn malformed_packets() {
        let k = key(16, 9);
        assert_eq!(decrypt(&[&k], b"", b""), Err(DecryptError::Empty));
        assert_eq!(decrypt(&[&k], &[2; 40], b""), Err(DecryptError::Version(2)));
        assert_eq!(decrypt(&[&k], &[1; 28], b""), Err(DecryptError::TooSmall(28)));
        assert_eq!(decrypt(&[&k], &[0; 44], b""), Err(DecryptError::TooSmall(44)));
        assert!(!looks_encrypted(&[1; 28]));
        assert!(!looks_encrypted(b"\x0as1.global and the rest of a foca header"));
    }

    #[test]
    fn reads_memberlist_version_0_padding() {
        // Version 0 as memberlist writes it: the message padded with PKCS#7 to 16 bytes.
        let k = key(16, 5);
        let msg = b"eleven byte";
        let mut padded = msg.to_vec();
        padded.extend(std::iter::repeat_n(5u8, 5));
        let nonce = [4u8; NONCE_SIZE];
        let sealed = Gcm::new(&k).unwrap().seal(&nonce, &padded, b"").unwrap();
        let packet = [&[0u8][..], &nonce, &sealed].concat();
        assert_eq!(decrypt(&[&k], &packet, b"").unwrap(), msg);
    }

    #[test]
    fn key_sizes() {
        for len in [16, 24, 32] {
            assert_eq!(validate_key(&key(len, 0)), Ok(()));
        }
        for len in [0, 15, 17, 31, 33, 64] {
            assert_eq!(validate_key(&key(len, 0)), Err(BadKeySize));
            assert_eq!(encrypt(&key(len, 0), b"x", b""), Err(BadKeySize));
        }
        assert_eq!(BadKeySize.to_string(), "key size must be 16, 24 or 32 bytes");
    }
}
