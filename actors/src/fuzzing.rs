//! Entry points for the cargo-fuzz targets in `fuzz/` (not an API: hidden from the docs, and
//! free to change). Each one feeds bytes that a peer or a user controls to the decoder the
//! server itself runs, and checks what can be checked beyond "no panic": a value that decodes
//! encodes again to the same thing, a signed license verifies, a parse error and a validation
//! error agree. An `Err` is a broken property, which the target turns into a crash.

use crate::authz::policy;
use crate::gossip::cipher;
use crate::gossip::packet;
use crate::gossip::packet::Inbound;
use crate::gossip::KeyOp;
use crate::gossip::Keyring;
use crate::license::document;
use crate::wire::paths;

/// The gossip key every gossip target uses: 32 bytes (AES-256), as `operator gossip keyring
/// generate` makes them.
pub const GOSSIP_KEY: [u8; 32] = *b"raftwarden-fuzz-gossip-key-32-by";

/// The seed of the key that signs licenses in the license target.
pub const LICENSE_SEED: [u8; 32] = [7; 32];

/// Every internal RPC path, in the order of [`paths::ALL`]: the RPC target picks one by index.
pub fn rpc_paths() -> impl Iterator<Item = &'static str> {
    paths::ALL.iter().map(|(p, _)| *p)
}

/// One internal RPC body a peer sends to `path`, decoded as the RPC server decodes it; what
/// decodes must survive its own codec. `Ok(true)`: it decoded.
pub fn rpc_body(path: &str, body: &[u8]) -> Result<bool, String> {
    let decoded = crate::rpc_server::decode_body(path, body)?;
    if decoded && path == paths::GOSSIP_KEYRING {
        // The keyring operation inside is opened as the keyring actor opens it, with a key
        // and without one; both answers are texts, never a panic.
        let op: crate::keyring::SealedKeyOp = crate::wire::Codec::Postcard.decode(body).map_err(|e| e.to_string())?;
        let _ = crate::keyring::open::<KeyOp>(&[GOSSIP_KEY.to_vec()], &op);
        let _ = crate::keyring::open::<KeyOp>(&[], &op);
    }
    if path == paths::GOSSIP_KEYRING {
        // The same bytes as the operation a server seals for another.
        if let Ok(op) = crate::wire::Codec::Postcard.decode::<KeyOp>(body) {
            keyring_round_trip(&op)?;
        }
    }
    Ok(decoded)
}

/// A key operation sealed and opened again comes back unchanged, with a key and without.
pub fn keyring_round_trip(op: &KeyOp) -> Result<(), String> {
    for ring in [keyring()?, Keyring::default()] {
        let sealed = crate::keyring::seal(&ring, op).map_err(|e| e.to_string())?;
        let opened: KeyOp = crate::keyring::open(ring.keys(), &sealed)?;
        if &opened != op {
            return Err(format!("sealed {op:?}, opened {opened:?}"));
        }
    }
    Ok(())
}

fn keyring() -> Result<Keyring, String> {
    Keyring::new(vec![GOSSIP_KEY.to_vec()]).map_err(|e| e.to_string())
}

/// One datagram on the serf port, read by a server with [`GOSSIP_KEY`] and by one without a
/// key: opened (memberlist's layer), then given to foca's decoder. What opens as gossip, sealed
/// again, opens to the same bytes; what any bytes encrypt to decrypts back.
pub fn gossip_datagram(datagram: &[u8]) -> Result<(), String> {
    let ring = keyring()?;
    for ring in [&ring, &Keyring::default()] {
        let (inbound, _foca) = crate::gossip::feed_datagram(ring, datagram);
        if let Inbound::Gossip(plain) = inbound {
            let again = packet::open(ring, &packet::seal(ring, &plain));
            if again != Inbound::Gossip(plain.clone()) {
                return Err(format!("sealed gossip reopened as {again:?}"));
            }
        }
    }
    let sealed = cipher::encrypt(&GOSSIP_KEY, datagram, b"").map_err(|e| e.to_string())?;
    match cipher::decrypt(&[GOSSIP_KEY], &sealed, b"") {
        Ok(plain) if plain == datagram => Ok(()),
        other => Err(format!("encrypted then decrypted: {other:?}")),
    }
}

/// A license file as `PUT /v1/operator/license` hands it to the license actor: decoded without
/// its signature and verified against a key that did not sign it (refused, never a panic).
/// When the text is a license's JSON payload instead, signing it must give a file that
/// decodes to the same license and that verifies unless its times say otherwise.
pub fn license(text: &str, now: i64) -> Result<(), String> {
    let key = document::PrivateKey::from_seed(LICENSE_SEED);
    let public = [key.public_key()];
    let _ = document::decode_unverified(text);
    if let Ok(v) = document::verify(text, &public, document::DEFAULT_PRODUCT, now) {
        return Err(format!("a license no key signed verified: {:?}", v.license));
    }
    let Ok(license) = serde_json::from_str::<document::License>(text) else { return Ok(()) };
    if license.license_id.is_empty() || license.times().is_err() {
        return Ok(());
    }
    let signed = document::sign(&license, &key);
    match document::decode_unverified(&signed) {
        Ok(back) if back == license => {}
        other => return Err(format!("signed {license:?}, read back {other:?}")),
    }
    match document::verify(&signed, &public, &license.product, now) {
        Ok(_)
        | Err(document::LicenseInvalid::Expired(_))
        | Err(document::LicenseInvalid::Terminated(_))
        | Err(document::LicenseInvalid::NotYetValid(_)) => Ok(()),
        Err(e) => Err(format!("a license signed here was refused: {e}")),
    }
}

/// ACL policy rules as an upsert hands them to the leader: parsed, and validated; validation
/// names a rules error exactly when parsing fails.
pub fn acl_policy(rules: &str) -> Result<(), String> {
    let parsed = policy::parse(rules);
    let errors = policy::validate("fuzz", "", rules);
    let rules_error = errors.iter().any(|e| e.starts_with("failed to parse rules"));
    if parsed.is_err() != rules_error {
        return Err(format!("parse said {parsed:?}, validate said {errors:?}"));
    }
    Ok(())
}

/// HCL1 text as both the policy parser and the agent read it.
pub fn hcl1(text: &str) {
    let _ = crate::hcl1::parse(text);
}

/// Real gossip datagrams (foca's, in clear, and the same sealed with [`GOSSIP_KEY`]): seeds for
/// the gossip target.
pub fn gossip_samples() -> Vec<Vec<u8>> {
    let plain = crate::gossip::sample_datagrams();
    let sealed: Vec<Vec<u8>> = match keyring() {
        Ok(ring) => plain.iter().map(|p| packet::seal(&ring, p)).collect(),
        Err(_) => Vec::new(),
    };
    plain.into_iter().chain(sealed).collect()
}

/// Real internal RPC bodies, each with the index of its path in [`paths::ALL`]: raft votes and
/// appends, variable reads and deletes, a keyring listing. Seeds for the RPC target.
pub fn rpc_samples() -> Vec<(usize, Vec<u8>)> {
    use crate::raft::Entry;
    use crate::raft::LogId;
    use crate::raft::TypeConfig;
    use crate::wire::Forwardable;
    use openraft::raft::AppendEntriesRequest;
    use openraft::raft::VoteRequest;
    use openraft::vote::RaftLeaderId;

    use crate::raft::CommittedLeaderId;
    use crate::raft::EntryPayload;
    use crate::raft::Vote;

    let index = |path: &str| paths::ALL.iter().position(|(p, _)| *p == path).unwrap_or(0);
    let raft = crate::wire::RAFT_CODEC;
    let log_id = LogId::new(CommittedLeaderId::new(3, 1), 7);
    let mut out = Vec::new();
    if let Ok(b) = raft.encode(&VoteRequest::<TypeConfig>::new(Vote::new(3, 1), Some(log_id))) {
        out.push((index(paths::VOTE), b));
    }
    let append = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(3, 1),
        prev_log_id: Some(log_id),
        entries: vec![Entry { log_id: LogId::new(CommittedLeaderId::new(3, 1), 8), payload: EntryPayload::Blank }],
        leader_commit: Some(log_id),
    };
    if let Ok(b) = raft.encode(&append) {
        out.push((index(paths::APPEND), b));
    }
    let get = crate::variables::GetVariable { namespace: "default".into(), path: "a/b".into(), stale: true };
    if let Ok(b) = crate::variables::GetVariable::CODEC.encode(&get) {
        out.push((index(paths::GET_VARIABLE), b));
    }
    let delete = crate::variables::DeleteVariable { namespace: "default".into(), path: "a/b".into(), cas: Some(4) };
    if let Ok(b) = crate::variables::DeleteVariable::CODEC.encode(&delete) {
        out.push((index(paths::DELETE_VARIABLE), b));
    }
    if let Ok(sealed) = keyring().and_then(|ring| crate::keyring::seal(&ring, &KeyOp::List).map_err(|e| e.to_string()))
    {
        if let Ok(b) = crate::wire::Codec::Postcard.encode(&sealed) {
            out.push((index(paths::GOSSIP_KEYRING), b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input kept for `target` in `fuzz/corpus/` and `fuzz/regressions/` (crash inputs).
    fn kept_inputs(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz");
        let mut out = Vec::new();
        for kind in ["corpus", "regressions"] {
            let Ok(dir) = std::fs::read_dir(base.join(kind).join(target)) else { continue };
            for entry in dir.flatten() {
                if let Ok(bytes) = std::fs::read(entry.path()) {
                    out.push((entry.path(), bytes));
                }
            }
        }
        out
    }

    /// The actors crate's fuzz targets over their kept corpora and crash inputs, split as the
    /// targets in `fuzz/fuzz_targets/` split them: every property holds.
    #[test]
    fn fuzz_corpora_and_regressions_keep_their_properties() {
        let mut ran = 0;
        for (path, data) in kept_inputs("gossip_datagram") {
            gossip_datagram(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ran += 1;
        }
        let paths: Vec<&str> = rpc_paths().collect();
        for (path, data) in kept_inputs("rpc_body") {
            if let Some((&pick, body)) = data.split_first() {
                rpc_body(paths[pick as usize % paths.len()], body)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                ran += 1;
            }
        }
        for (path, data) in kept_inputs("acl_policy") {
            if let Ok(rules) = std::str::from_utf8(&data) {
                hcl1(rules);
                acl_policy(rules).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                ran += 1;
            }
        }
        for (path, data) in kept_inputs("license") {
            if let Ok(text) = std::str::from_utf8(&data) {
                license(text, 1_700_000_000).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                ran += 1;
            }
        }
        assert!(ran >= 20, "only {ran} kept inputs found under fuzz/");
    }

    /// Real packets open and decode under both keyrings they fit, and the fuzz properties hold
    /// for them. With `RAFTWARDEN_FUZZ_SEEDS=<dir>` they are written there as seeds.
    #[test]
    fn real_gossip_datagrams_decode_and_keep_the_fuzz_properties() {
        let samples = gossip_samples();
        assert!(samples.len() >= 4, "{} samples", samples.len());
        let ring = keyring().unwrap();
        let mut decoded = 0;
        for s in &samples {
            gossip_datagram(s).unwrap();
            for r in [&ring, &Keyring::default()] {
                if let (Inbound::Gossip(_), handled) = crate::gossip::feed_datagram(r, s) {
                    handled.unwrap();
                    decoded += 1;
                }
            }
        }
        assert_eq!(decoded, samples.len(), "each sample opens under exactly one of the keyrings");
        if let Some(dir) = std::env::var_os("RAFTWARDEN_FUZZ_SEEDS") {
            let dir = std::path::Path::new(&dir).join("gossip_datagram");
            for (i, s) in samples.iter().enumerate() {
                std::fs::write(dir.join(format!("real{i}")), s).unwrap();
            }
        }
    }

    /// Real RPC bodies decode on their paths and survive their codec. With
    /// `RAFTWARDEN_FUZZ_SEEDS=<dir>` they are written there as seeds (first byte: the path).
    #[test]
    fn real_rpc_bodies_decode_on_their_paths() {
        let samples = rpc_samples();
        assert_eq!(samples.len(), 5);
        for (i, body) in &samples {
            let path = paths::ALL[*i].0;
            assert_eq!(rpc_body(path, body), Ok(true), "{path}");
        }
        if let Some(dir) = std::env::var_os("RAFTWARDEN_FUZZ_SEEDS") {
            let dir = std::path::Path::new(&dir).join("rpc_body");
            for (n, (i, body)) in samples.iter().enumerate() {
                let pick = u8::try_from(*i).unwrap();
                std::fs::write(dir.join(format!("real{n}")), [&[pick][..], body].concat()).unwrap();
            }
        }
    }
}
