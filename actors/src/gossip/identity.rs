//! What one member gossips about itself: its foca identity. Everything Nomad puts in a server's
//! serf tags travels here, plus a per-start incarnation so that a restarted server (same name,
//! same address) replaces its old self instead of waiting for the cluster to forget it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use serde::Serialize;

/// Raft protocol version Nomad advertises in the `raft_vsn` tag.
pub const RAFT_VSN: &str = "3";

/// The `vsn` tag Nomad sets for compatibility with Nomad <= 1.2.
pub const API_VSN: &str = "1";

/// One member's identity on the gossip ring.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberIdentity {
    /// `<name>.<region>`, serf's member name.
    pub name: String,
    pub region: String,
    pub datacenter: String,
    /// Where this member's gossip socket listens (serf's `Addr` and `Port`).
    pub serf_addr: SocketAddr,
    /// `ip:port` of its RPC listener (raft and internal calls).
    pub rpc_addr: String,
    /// `ip:port` of its HTTP API.
    pub http_addr: String,
    /// Build version (`build` tag).
    pub version: String,
    /// The source revision the binary was built from (`revision` tag, Nomad's `GitCommit`;
    /// empty when the build did not say, as a Go build without `-ldflags`).
    pub revision: String,
    /// Raft server ID, a UUID (`id` tag).
    pub id: String,
    /// `bootstrap_expect` (`expect` tag; 0 = not set).
    pub expect: u32,
    /// Grows with every start (and every automatic rejoin): the newer identity of one address
    /// wins, so peers see a restarted server as the same member come back.
    pub incarnation: u64,
}

impl MemberIdentity {
    /// A stand-in for an address we only know to announce to: it loses every conflict with the
    /// real member at that address, and is never listed.
    pub(crate) fn placeholder(serf_addr: SocketAddr) -> Self {
        Self {
            name: String::new(),
            region: String::new(),
            datacenter: String::new(),
            serf_addr,
            rpc_addr: String::new(),
            http_addr: String::new(),
            version: String::new(),
            revision: String::new(),
            id: String::new(),
            expect: 0,
            incarnation: 0,
        }
    }

    /// Nomad's serf tags for this member (`nomad/server.go` `setupSerf`).
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut t = BTreeMap::new();
        let (rpc_ip, rpc_port) = match self.rpc_addr.parse::<SocketAddr>() {
            Ok(a) => (a.ip().to_string(), a.port().to_string()),
            Err(_) => (self.rpc_addr.clone(), String::new()),
        };
        t.insert("role".into(), "nomad".into());
        t.insert("region".into(), self.region.clone());
        t.insert("dc".into(), self.datacenter.clone());
        t.insert("build".into(), self.version.clone());
        t.insert("revision".into(), self.revision.clone());
        t.insert("vsn".into(), API_VSN.into());
        t.insert("raft_vsn".into(), RAFT_VSN.into());
        t.insert("id".into(), self.id.clone());
        t.insert("rpc_addr".into(), rpc_ip);
        t.insert("port".into(), rpc_port);
        if self.expect == 1 {
            t.insert("bootstrap".into(), "1".into());
        }
        if self.expect != 0 {
            t.insert("expect".into(), self.expect.to_string());
        }
        t
    }
}

impl std::fmt::Debug for MemberIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}#{}", self.name, self.serf_addr, self.incarnation)
    }
}

impl foca::Identity for MemberIdentity {
    type Addr = SocketAddr;

    /// Declared down while still running (a pause, a partition): come back at once under the
    /// next incarnation, as serf refutes a false death.
    fn renew(&self) -> Option<Self> {
        Some(Self { incarnation: self.incarnation.wrapping_add(1), ..self.clone() })
    }

    fn addr(&self) -> SocketAddr {
        self.serf_addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.incarnation > adversary.incarnation
    }
}

#[cfg(test)]
mod tests {
    use foca::Identity;

    use super::*;

    pub(crate) fn sample(name: &str, incarnation: u64) -> MemberIdentity {
        MemberIdentity {
            name: format!("{name}.global"),
            region: "global".into(),
            datacenter: "dc1".into(),
            serf_addr: "10.0.0.1:4648".parse().unwrap(),
            rpc_addr: "10.0.0.1:4647".into(),
            http_addr: "10.0.0.1:4646".into(),
            version: "0.1.0".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            id: "3b1d2a52-0b5c-4a5e-9a39-7a7e0e3c2f10".into(),
            expect: 3,
            incarnation,
        }
    }

    #[test]
    fn encodes_and_decodes_within_a_packet() {
        let id = sample("s1", 7);
        let bytes = postcard::to_stdvec(&id).unwrap();
        assert!(bytes.len() < 200, "identity is {} bytes", bytes.len());
        let back: MemberIdentity = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn newer_incarnation_wins_and_renew_bumps() {
        let old = sample("s1", 7);
        let new = old.renew().unwrap();
        assert_eq!(new.incarnation, 8);
        assert!(new.win_addr_conflict(&old));
        assert!(!old.win_addr_conflict(&new));
        assert!(!MemberIdentity::placeholder(old.serf_addr).win_addr_conflict(&old));
    }

    #[test]
    fn nomad_tags() {
        let t = sample("s1", 1).tags();
        assert_eq!(t["role"], "nomad");
        assert_eq!(t["region"], "global");
        assert_eq!(t["dc"], "dc1");
        assert_eq!(t["port"], "4647");
        assert_eq!(t["rpc_addr"], "10.0.0.1");
        assert_eq!(t["raft_vsn"], "3");
        assert_eq!(t["expect"], "3");
        assert_eq!(t["revision"], "0123456789abcdef0123456789abcdef01234567");
        assert!(!t.contains_key("bootstrap"));
        let single = MemberIdentity { expect: 1, ..sample("s1", 1) };
        assert_eq!(single.tags()["bootstrap"], "1");
    }
}
