//! Gossip on the serf port: SWIM membership and failure detection (the `foca` crate) over UDP,
//! as Nomad's servers run serf on port 4648.
//!
//! ```text
//! UDP serf socket ─> transport task: foca (probes, suspicion, piggybacked updates)
//!                        │ notifications + leave / force-leave intents
//!                        v
//!                    Roster (pure: alive / failed / left, reaped after 24 h)
//!                        ├─> Liveness map (raft node ID -> status): autopilot reads it
//!                        └─> Gossip::members(): formation, /v1/agent/members
//! ```
//!
//! Every member gossips a [`MemberIdentity`]: `<name>.<region>`, region, datacenter, RPC and
//! HTTP addresses, version, raft ID and a per-start incarnation. Members are `alive`, `failed`
//! (foca declared them down) or `left` (they announced a graceful leave, or an operator ran
//! `force-leave`). Join addresses are gossip addresses (`host[:port]`, port 4648 by default).
//!
//! **Encryption.** With a key installed (`server { encrypt }`, kept in
//! `<data_dir>/server/serf.keyring`: [`keyring`]), every packet is AES-GCM encrypted in
//! memberlist's layout ([`cipher`]) and a packet in clear or under an unknown key is refused
//! ([`packet`]); without one, gossip stays in clear. The cluster-wide key operations (the
//! keyring endpoints) are the `keyring` actor's, which applies them here through
//! [`Gossip::key_op`].

pub mod cipher;
pub mod identity;
pub mod keyring;
pub mod packet;
pub mod roster;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;

pub use self::identity::MemberIdentity;
pub use self::keyring::KeyOp;
pub use self::keyring::Keyring;
pub use self::keyring::NodeKeyResponse;
pub use self::packet::Refusal;
pub(crate) use self::transport::feed_datagram;
pub(crate) use self::transport::sample_datagrams;
use self::transport::Command;
use self::transport::Transport;
pub use self::transport::LEAVE_PROPAGATE;
pub use self::transport::REAP_AFTER;
use crate::liveness::Liveness;
pub use crate::liveness::MemberStatus;

/// Nomad's default serf port: a join address without a port gets it.
pub const DEFAULT_SERF_PORT: u16 = 4648;

/// How long a join waits for a member at each address to answer (serf's join is a TCP
/// push/pull; ours is an announce whose reply is the member list). Loopback and LAN answer in
/// milliseconds; this covers a loaded machine.
pub const JOIN_WAIT: Duration = Duration::from_secs(3);

/// Pause between `retry_join` rounds until one succeeds (Nomad's `retry_interval` defaults to
/// 30 s; servers started together should find each other within a second).
pub const RETRY_JOIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest a graceful leave waits before the server stops anyway.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serf protocol versions Nomad reports for every member (`ProtocolMin/Max/Cur`,
/// `DelegateMin/Max/Cur`).
pub const PROTOCOL: (u8, u8, u8) = (1, 5, 2);
pub const DELEGATE: (u8, u8, u8) = (2, 5, 4);

/// One member as the gossip layer lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub identity: MemberIdentity,
    pub status: MemberStatus,
}

impl Member {
    /// Serf's member name, `<name>.<region>`.
    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// Nomad's serf tags.
    pub fn tags(&self) -> BTreeMap<String, String> {
        self.identity.tags()
    }
}

/// Why the gossip layer could not do something.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    #[error("gossip has stopped")]
    Stopped,
    #[error("failed to bind gossip (serf) socket on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("serf address {0:?} is not an IP:port")]
    BadAddress(String),
    #[error("failed to configure keyring: {0}")]
    Keyring(#[from] keyring::KeyringFileError),
}

/// Packets the gossip task refused, by [`Refusal`] (its `index`), since it started; the
/// metrics sampler reads them.
#[derive(Debug, Default)]
pub struct GossipCounters {
    pub dropped: [AtomicU64; 3],
}

impl GossipCounters {
    pub fn dropped(&self, reason: Refusal) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }
}

/// What a join achieved: how many addresses answered, and serf's multi-error text for the rest
/// (empty when all joined).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinOutcome {
    pub num_joined: usize,
    pub error: String,
}

/// Handle to one server's gossip task. Cheap to clone.
#[derive(Clone)]
pub struct Gossip {
    tx: mpsc::UnboundedSender<Command>,
    local: MemberIdentity,
    counters: Arc<GossipCounters>,
}

impl Gossip {
    /// Binds the gossip socket and starts the task on the current tokio runtime. `me.serf_addr`
    /// with port 0 takes the port the socket got. `keyring` is what the server starts with and
    /// the file a changed keyring is written to.
    pub(crate) async fn start(
        bind: SocketAddr,
        mut me: MemberIdentity,
        liveness: Liveness,
        keyring: (Keyring, PathBuf),
    ) -> Result<Gossip, GossipError> {
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|source| GossipError::Bind { addr: bind.to_string(), source })?;
        if me.serf_addr.port() == 0 {
            let local = socket.local_addr().map_err(|source| GossipError::Bind { addr: bind.to_string(), source })?;
            me.serf_addr.set_port(local.port());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(GossipCounters::default());
        tokio::spawn(Transport::new(me.clone(), socket, liveness, keyring, counters.clone()).run(rx));
        Ok(Gossip { tx, local: me, counters })
    }

    /// Packets refused so far, by reason.
    pub fn counters(&self) -> &GossipCounters {
        &self.counters
    }

    /// The keyring as it is now (empty: gossip in clear).
    pub async fn keyring(&self) -> Result<Keyring, GossipError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Keyring(reply)).map_err(|_| GossipError::Stopped)?;
        rx.await.map_err(|_| GossipError::Stopped)
    }

    /// Applies one key operation to this server's keyring (and its file): serf's answer to
    /// one of its internal key queries.
    pub async fn key_op(&self, op: KeyOp) -> Result<NodeKeyResponse, GossipError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::KeyOp { op, reply }).map_err(|_| GossipError::Stopped)?;
        rx.await.map_err(|_| GossipError::Stopped)
    }

    /// This server's own identity.
    pub fn local(&self) -> &MemberIdentity {
        &self.local
    }

    /// Every member known, this server included, sorted by name.
    pub async fn members(&self) -> Result<Vec<Member>, GossipError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Members(reply)).map_err(|_| GossipError::Stopped)?;
        rx.await.map_err(|_| GossipError::Stopped)
    }

    /// Joins through each gossip address (`host[:port]`, port 4648 by default) and waits up to
    /// [`JOIN_WAIT`] for the member there to answer.
    pub async fn join(&self, addrs: &[String]) -> JoinOutcome {
        let mut errors = Vec::new();
        let mut targets = Vec::new();
        for a in addrs {
            match resolve_join_address(a).await {
                Ok(sa) => targets.push((a.clone(), sa)),
                Err(e) => errors.push(format!("Failed to join {a}: {e}")),
            }
        }
        let sockets: Vec<SocketAddr> = targets.iter().map(|(_, s)| *s).collect();
        if !sockets.is_empty() && self.tx.send(Command::Announce(sockets)).is_err() {
            return JoinOutcome { num_joined: 0, error: GossipError::Stopped.to_string() };
        }
        let deadline = tokio::time::Instant::now() + JOIN_WAIT;
        let mut pending = targets;
        loop {
            let members = self.members().await.unwrap_or_default();
            pending.retain(|(_, sa)| {
                !members.iter().any(|m| m.identity.serf_addr == *sa && m.status == MemberStatus::Alive)
            });
            if pending.is_empty() || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let num_joined = addrs.len() - errors.len() - pending.len();
        for (a, sa) in pending {
            errors.push(format!("Failed to join {sa}: no gossip reply from {a} within {}s", JOIN_WAIT.as_secs()));
        }
        JoinOutcome { num_joined, error: multi_error(&errors) }
    }

    /// `force-leave`: a failed member becomes `left` on every server (`prune`: forgotten at
    /// once). An alive member is not affected, as in serf.
    pub async fn force_leave(&self, name: &str, prune: bool) -> Result<(), GossipError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::ForceLeave { name: name.into(), prune, reply }).map_err(|_| GossipError::Stopped)?;
        let known = rx.await.map_err(|_| GossipError::Stopped)?;
        tracing::info!(member = name, prune, known, "force-leave");
        Ok(())
    }

    /// Leaves gracefully: peers list this server `left`. Returns once the intent had
    /// [`LEAVE_PROPAGATE`] to spread, or after [`LEAVE_TIMEOUT`].
    pub async fn leave(&self) -> Result<(), GossipError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Leave(reply)).map_err(|_| GossipError::Stopped)?;
        match tokio::time::timeout(LEAVE_TIMEOUT, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(GossipError::Stopped),
            Err(_) => {
                tracing::warn!("graceful leave timed out");
                Ok(())
            }
        }
    }

    /// `retry_join`: joins through `addrs` every `interval` until one answers, the task stops
    /// or, with `max` > 0, `max` rounds after the first have failed (as Nomad counts); the
    /// returned flag then becomes true.
    pub(crate) fn retry_join(&self, addrs: Vec<String>, interval: Duration, max: u32) -> watch::Receiver<bool> {
        let (exhausted, rx) = watch::channel(false);
        if addrs.is_empty() {
            return rx;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut attempt = 0u32;
            loop {
                let out = me.join(&addrs).await;
                if out.num_joined > 0 {
                    tracing::info!(num_joined = out.num_joined, "retry join completed");
                    return;
                }
                if me.tx.is_closed() {
                    return;
                }
                attempt += 1;
                if max > 0 && attempt > max {
                    tracing::error!("max join retry exhausted, exiting");
                    let _ = exhausted.send(true);
                    return;
                }
                tracing::warn!(error = %out.error, retry = ?interval, "join failed");
                tokio::time::sleep(interval).await;
            }
        });
        rx
    }

    /// Stops the task (no leave announced: peers will see this server `failed`).
    pub(crate) fn stop(&self) {
        let _ = self.tx.send(Command::Stop);
    }
}

/// Splits a join address into host and port, as Nomad reads `retry_join` and `server join`
/// addresses: `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; port 4648 when
/// none is given.
pub fn parse_join_address(addr: &str) -> Result<(String, u16), String> {
    let addr = addr.trim();
    if addr.is_empty() {
        return Err("empty address".into());
    }
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or_else(|| format!("missing ']' in address {addr:?}"))?;
        return match tail.strip_prefix(':') {
            None if tail.is_empty() => Ok((host.into(), DEFAULT_SERF_PORT)),
            Some(p) => Ok((host.into(), parse_port(p, addr)?)),
            None => Err(format!("unexpected text after ']' in address {addr:?}")),
        };
    }
    match addr.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Ok((addr.into(), DEFAULT_SERF_PORT)),
        Some((host, p)) => Ok((host.into(), parse_port(p, addr)?)),
        None => Ok((addr.into(), DEFAULT_SERF_PORT)),
    }
}

fn parse_port(p: &str, addr: &str) -> Result<u16, String> {
    p.parse::<u16>().map_err(|_| format!("invalid port in address {addr:?}"))
}

async fn resolve_join_address(addr: &str) -> Result<SocketAddr, String> {
    let (host, port) = parse_join_address(addr)?;
    let mut found = tokio::net::lookup_host((host.as_str(), port)).await.map_err(|e| e.to_string())?;
    found.next().ok_or_else(|| format!("no address found for {host}"))
}

/// go-multierror's text, which Nomad returns as the join error.
fn multi_error(errors: &[String]) -> String {
    match errors.len() {
        0 => String::new(),
        n => {
            let list: String = errors.iter().map(|e| format!("\t* {e}\n")).collect();
            let noun = if n == 1 { "error" } else { "errors" };
            format!("{n} {noun} occurred:\n{list}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_addresses() {
        let ok = |a: &str, h: &str, p: u16| assert_eq!(parse_join_address(a), Ok((h.to_string(), p)), "{a}");
        ok("10.0.0.1", "10.0.0.1", 4648);
        ok("10.0.0.1:5000", "10.0.0.1", 5000);
        ok("server-1.example", "server-1.example", 4648);
        ok("server-1.example:4649", "server-1.example", 4649);
        ok("::1", "::1", 4648);
        ok("[::1]", "::1", 4648);
        ok("[::1]:9", "::1", 9);
        ok(" 10.0.0.1 ", "10.0.0.1", 4648);
        for bad in ["", "10.0.0.1:x", "10.0.0.1:70000", "[::1", "[::1]x"] {
            assert!(parse_join_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serf_multi_error_text() {
        assert_eq!(multi_error(&[]), "");
        assert_eq!(multi_error(&["a".into()]), "1 error occurred:\n\t* a\n\n");
        assert_eq!(multi_error(&["a".into(), "b".into()]), "2 errors occurred:\n\t* a\n\t* b\n\n");
    }
}
