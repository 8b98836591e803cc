//! `meta.json`: raft's `SnapshotMeta` as Nomad's Go code encodes and decodes it, and raft's
//! legacy peer list inside it.

use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use base64::Engine;
use serde::Deserialize;

/// raft's `SnapshotVersionMax`: the only snapshot version Nomad writes.
pub const SNAPSHOT_VERSION: i64 = 1;

/// One server of the raft configuration in `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigServer {
    /// raft's `ServerSuffrage`: 0 voter, 1 nonvoter, 2 staging.
    pub suffrage: i64,
    pub id: String,
    pub address: String,
}

/// raft's `SnapshotMeta` as Nomad writes it into `meta.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMetaJson {
    pub version: i64,
    /// `<term>-<index>-<unix milliseconds>` in Nomad; `inspect` reads the creation time from it.
    pub id: String,
    pub index: u64,
    pub term: u64,
    /// raft's legacy peer list (msgpack of the voters' addresses, [`encode_peers`]).
    pub peers: Vec<u8>,
    pub configuration: Vec<ConfigServer>,
    pub configuration_index: u64,
    /// Bytes in `state.bin`.
    pub size: u64,
}

impl SnapshotMetaJson {
    /// The snapshot ID Nomad's raft gives a snapshot: `<term>-<index>-<unix ms>`.
    pub fn id_for(term: u64, index: u64, at: SystemTime) -> String {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        format!("{term}-{index}-{ms}")
    }

    /// When the snapshot was taken (unix milliseconds), from an ID of the form
    /// `<term>-<index>-<unix ms>`; `None` for any other ID (Nomad then prints nothing).
    pub fn created_unix_ms(&self) -> Option<i64> {
        let parts: Vec<&str> = self.id.split('-').collect();
        match parts.as_slice() {
            [_, _, ms] => ms.parse().ok(),
            _ => None,
        }
    }

    /// Go `json.Encoder` output for raft's `SnapshotMeta`, newline included: fields in Go's
    /// declaration order, `Peers` as base64 (`null` when empty), HTML-escaped strings.
    pub fn to_go_json(&self) -> String {
        let peers = if self.peers.is_empty() {
            "null".to_string()
        } else {
            go_string(&base64::engine::general_purpose::STANDARD.encode(&self.peers))
        };
        let servers = if self.configuration.is_empty() {
            "null".to_string()
        } else {
            let items: Vec<String> = self
                .configuration
                .iter()
                .map(|s| {
                    format!(
                        "{{\"Suffrage\":{},\"ID\":{},\"Address\":{}}}",
                        s.suffrage,
                        go_string(&s.id),
                        go_string(&s.address)
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        };
        format!(
            "{{\"Version\":{},\"ID\":{},\"Index\":{},\"Term\":{},\"Peers\":{},\"Configuration\":{{\"Servers\":{}}},\"ConfigurationIndex\":{},\"Size\":{}}}\n",
            self.version,
            go_string(&self.id),
            self.index,
            self.term,
            peers,
            servers,
            self.configuration_index,
            self.size
        )
    }

    /// Parses `meta.json` as Go's `json.Unmarshal` does for the fields raft declares: missing
    /// fields stay zero, unknown ones are ignored, `null` is zero.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        #[derive(Deserialize)]
        struct Server {
            #[serde(rename = "Suffrage", default)]
            suffrage: Option<i64>,
            #[serde(rename = "ID", default)]
            id: Option<String>,
            #[serde(rename = "Address", default)]
            address: Option<String>,
        }
        #[derive(Deserialize)]
        struct Configuration {
            #[serde(rename = "Servers", default)]
            servers: Option<Vec<Server>>,
        }
        #[derive(Deserialize)]
        struct Meta {
            #[serde(rename = "Version", default)]
            version: Option<i64>,
            #[serde(rename = "ID", default)]
            id: Option<String>,
            #[serde(rename = "Index", default)]
            index: Option<u64>,
            #[serde(rename = "Term", default)]
            term: Option<u64>,
            #[serde(rename = "Peers", default)]
            peers: Option<String>,
            #[serde(rename = "Configuration", default)]
            configuration: Option<Configuration>,
            #[serde(rename = "ConfigurationIndex", default)]
            configuration_index: Option<u64>,
            #[serde(rename = "Size", default)]
            size: Option<u64>,
        }
        let m: Meta = serde_json::from_slice(bytes)?;
        let peers = match m.peers {
            Some(p) => base64::engine::general_purpose::STANDARD
                .decode(p.as_bytes())
                .map_err(|e| <serde_json::Error as serde::de::Error>::custom(format!("Peers: {e}")))?,
            None => Vec::new(),
        };
        let configuration = m
            .configuration
            .and_then(|c| c.servers)
            .unwrap_or_default()
            .into_iter()
            .map(|s| ConfigServer {
                suffrage: s.suffrage.unwrap_or(0),
                id: s.id.unwrap_or_default(),
                address: s.address.unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            version: m.version.unwrap_or(0),
            id: m.id.unwrap_or_default(),
            index: m.index.unwrap_or(0),
            term: m.term.unwrap_or(0),
            peers,
            configuration,
            configuration_index: m.configuration_index.unwrap_or(0),
            size: m.size.unwrap_or(0),
        })
    }
}

/// raft's `encodePeers`: the voters' addresses as a msgpack array of raw strings (go-msgpack's
/// default handle), what `SnapshotMeta.Peers` holds.
pub fn encode_peers<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let addresses: Vec<&str> = addresses.into_iter().collect();
    let mut out = Vec::new();
    let n = addresses.len();
    if n < 16 {
        out.push(0x90 | n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xdc);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    for a in addresses {
        let len = a.len();
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(0xda);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        out.extend_from_slice(a.as_bytes());
    }
    out
}

/// A string as Go's `encoding/json` writes it (HTML-safe escaping, `\u2028`/`\u2029`).
fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
