//! What goes on the serf socket around foca's packets: sealing with the keyring's primary key,
//! opening with any installed key, refusing what does not fit this server's keyring (as
//! memberlist's `ingestPacket` does, `GossipVerifyIncoming` on), and the short notice a server
//! sends back to a peer whose packets it refuses, so that a server started with the wrong key
//! says why it cannot join in its own log. Pure: the transport does the I/O.
//!
//! ```text
//! encrypted   [1][nonce: 12][ciphertext][tag: 16]       memberlist's layout (cipher.rs)
//! plaintext   foca's packet as is                       only while no key is installed
//! notice      [0xff]"raftwarden-gossip-refused"[reason] never answered, never gossip
//! ```
//!
//! A plaintext foca packet starts with the sender's name length (a postcard varint), never 0 or
//! 1 (a member name is `<name>.<region>`), so it is never taken for an encrypted one; and never
//! with the notice's first two bytes, whose varint (14719) exceeds any datagram read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;

use super::cipher;
use super::keyring::Keyring;

/// The label memberlist authenticates as additional data; Nomad sets none.
const LABEL: &[u8] = b"";

const NOTICE_MAGIC: &[u8] = b"\xffraftwarden-gossip-refused";

/// Why a packet was refused, in memberlist's words (its `readStream` and `decryptPayload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Encrypted with a key this server does not have (or tampered with).
    NoKey,
    /// In clear, while this server encrypts (memberlist's `GossipVerifyIncoming`).
    Plaintext,
    /// Encrypted, while this server has no key.
    Encrypted,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [Refusal::NoKey, Refusal::Plaintext, Refusal::Encrypted];

    pub fn text(self) -> &'static str {
        match self {
            Refusal::NoKey => "No installed keys could decrypt the message",
            Refusal::Plaintext => "encryption is configured but remote state is not encrypted",
            Refusal::Encrypted => "remote state is encrypted and encryption is not configured",
        }
    }

    /// The `reason` label of the dropped-packets counter.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NoKey => "decrypt",
            Refusal::Plaintext => "plaintext",
            Refusal::Encrypted => "encrypted",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Refusal::NoKey => 0,
            Refusal::Plaintext => 1,
            Refusal::Encrypted => 2,
        }
    }

    fn code(self) -> u8 {
        self.index() as u8 + 1
    }

    fn from_code(code: u8) -> Option<Self> {
        Refusal::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What a received datagram is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A foca packet for this server, decrypted if it was encrypted.
    Gossip(Vec<u8>),
    /// Refused: not for this keyring.
    Refused(Refusal),
    /// A peer's notice that it refuses our packets.
    Notice(Refusal),
}

/// Reads one datagram with `ring` (memberlist's `ingestPacket`).
pub fn open(ring: &Keyring, packet: &[u8]) -> Inbound {
    if let Some(reason) = read_notice(packet) {
        return Inbound::Notice(reason);
    }
    let encrypted = cipher::looks_encrypted(packet);
    match (ring.is_enabled(), encrypted) {
        (true, true) => match cipher::decrypt(ring.keys(), packet, LABEL) {
            Ok(plain) => Inbound::Gossip(plain),
            Err(_) => Inbound::Refused(Refusal::NoKey),
        },
        (true, false) => Inbound::Refused(Refusal::Plaintext),
        (false, true) => Inbound::Refused(Refusal::Encrypted),
        (false, false) => Inbound::Gossip(packet.to_vec()),
    }
}

/// A foca packet as it goes on the wire: encrypted with the primary key when there is one.
pub fn seal(ring: &Keyring, plain: &[u8]) -> Vec<u8> {
    match ring.primary().map(|key| cipher::encrypt(key, plain, LABEL)) {
        Some(Ok(sealed)) => sealed,
        // A keyring holds only keys of valid sizes, so encryption cannot fail; were it to,
        // sending nothing is safer than sending in clear.
        Some(Err(_)) => Vec::new(),
        None => plain.to_vec(),
    }
}

/// The notice that tells a peer why its packets are refused.
pub fn notice(reason: Refusal) -> Vec<u8> {
    let mut out = NOTICE_MAGIC.to_vec();
    out.push(reason.code());
    out
}

/// Whether a refused packet of `len` bytes may be answered with a notice: never with more
/// bytes than came in, so a forged sender address gains an attacker nothing.
pub fn may_answer(len: usize) -> bool {
    len > NOTICE_MAGIC.len()
}

fn read_notice(packet: &[u8]) -> Option<Refusal> {
    match packet.strip_prefix(NOTICE_MAGIC) {
        Some([code]) => Refusal::from_code(*code),
        _ => None,
    }
}

/// Rate limit of complaints about one peer (a log line, a notice): the first at once, then at
/// most one per period, saying how many packets were refused since the last.
#[derive(Debug)]
pub struct Complaints {
    period: Duration,
    by_peer: HashMap<(SocketAddr, Refusal), Tally>,
}

#[derive(Debug)]
struct Tally {
    last: Instant,
    unreported: u64,
}

/// Peers remembered at most; past that the quiet ones are forgotten (and, should a flood of
/// forged addresses fill it, all of them).
const MAX_PEERS: usize = 1024;

impl Complaints {
    pub fn new(period: Duration) -> Self {
        Self { period, by_peer: HashMap::new() }
    }

    /// Counts one refused packet from `from`; answers how many to report when a complaint is
    /// due now.
    pub fn note(&mut self, from: SocketAddr, reason: Refusal, now: Instant) -> Option<u64> {
        if self.by_peer.len() >= MAX_PEERS && !self.by_peer.contains_key(&(from, reason)) {
            let period = self.period;
            self.by_peer.retain(|_, t| now.saturating_duration_since(t.last) < period);
            if self.by_peer.len() >= MAX_PEERS {
                self.by_peer.clear();
            }
        }
        match self.by_peer.get_mut(&(from, reason)) {
            None => {
                self.by_peer.insert((from, reason), Tally { last: now, unreported: 0 });
                Some(1)
            }
            Some(t) => {
                t.unreported += 1;
                if now.saturating_duration_since(t.last) < self.period {
                    return None;
                }
                t.last = now;
                Some(std::mem::take(&mut t.unreported))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(fill: u8) -> Keyring {
        Keyring::new(vec![vec![fill; 32]]).unwrap()
    }

    /// A plaintext foca packet starts with the sender's name length.
    const FOCA: &[u8] = b"\x09s1.global and the rest of a foca packet";

    #[test]
    fn every_pairing_of_keyrings() {
        let (none, a, b) = (Keyring::default(), ring(1), ring(2));
        let both = Keyring::new(vec![vec![2; 32], vec![1; 32]]).unwrap();
        let gossip = Inbound::Gossip(FOCA.to_vec());
        // (why, sender, receiver, what the receiver makes of it)
        let cases = [
            ("clear to clear", &none, &none, gossip.clone()),
            ("same key", &a, &a, gossip.clone()),
            ("old primary, new key installed", &a, &both, gossip.clone()),
            ("new primary, old key still installed", &both, &a, Inbound::Refused(Refusal::NoKey)),
            ("wrong key", &a, &b, Inbound::Refused(Refusal::NoKey)),
            ("clear to an encrypting server", &none, &a, Inbound::Refused(Refusal::Plaintext)),
            ("encrypted to a server without a key", &a, &none, Inbound::Refused(Refusal::Encrypted)),
        ];
        for (why, sender, receiver, want) in cases {
            let wire = seal(sender, FOCA);
            assert_eq!(wire == FOCA, !sender.is_enabled(), "{why}: sealed only with a key");
            assert_eq!(open(receiver, &wire), want, "{why}");
        }
    }

    #[test]
    fn notices_round_trip_and_are_never_gossip() {
        for reason in Refusal::ALL {
            let n = notice(reason);
            assert!(may_answer(n.len()));
            for receiver in [Keyring::default(), ring(1)] {
                assert_eq!(open(&receiver, &n), Inbound::Notice(reason));
            }
        }
        assert_eq!(read_notice(&[NOTICE_MAGIC, &[9]].concat()), None);
        assert!(!may_answer(NOTICE_MAGIC.len()));
        assert_eq!(Refusal::NoKey.text(), "No installed keys could decrypt the message");
    }

    #[test]
    fn complaints_first_then_once_per_period() {
        let t0 = Instant::now();
        let period = Duration::from_secs(10);
        let mut c = Complaints::new(period);
        let (p, q): (SocketAddr, SocketAddr) = ("127.0.0.1:1".parse().unwrap(), "127.0.0.2:1".parse().unwrap());
        assert_eq!(c.note(p, Refusal::NoKey, t0), Some(1));
        assert_eq!(c.note(q, Refusal::NoKey, t0), Some(1), "each peer's first is reported");
        assert_eq!(c.note(p, Refusal::Plaintext, t0), Some(1), "and each reason's");
        for i in 1..100 {
            assert_eq!(c.note(p, Refusal::NoKey, t0 + Duration::from_millis(i * 10)), None);
        }
        assert_eq!(c.note(p, Refusal::NoKey, t0 + period), Some(100), "99 quiet + this one");
        assert_eq!(c.note(p, Refusal::NoKey, t0 + period), None);
        // A flood of forged addresses stays bounded.
        for i in 0..(MAX_PEERS as u32 * 3) {
            let addr = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 4648));
            c.note(addr, Refusal::NoKey, t0);
        }
        assert!(c.by_peer.len() <= MAX_PEERS);
    }
}
