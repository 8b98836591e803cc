//! ACL tokens and policies as plain data, and the pure decisions of their writes.
//!
//! Tokens are keyed by accessor ID; a second table maps the SHA-256 of each secret to its
//! accessor, so resolving a secret is one indexed read and the secret itself is never a key.
//! Bootstrap happens once, decided inside apply (so two concurrent bootstraps are ordered by the
//! log): the raft index of the bootstrap is the "reset index" an operator writes into
//! `acl-bootstrap-reset` to allow one more.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;
use sha2::Digest;
use sha2::Sha256;

/// Nomad's token types.
pub const CLIENT: &str = "client";
pub const MANAGEMENT: &str = "management";

/// The policy applied to requests that carry no token.
pub const ANONYMOUS_POLICY: &str = "anonymous";

/// An ACL policy (Nomad's `ACLPolicy`): its rules are kept as written; they are parsed by
/// whoever decides with them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct AclPolicy {
    pub name: String,
    pub description: String,
    pub rules: String,
    pub hash: Vec<u8>,
    pub create_index: u64,
    pub modify_index: u64,
}

impl AclPolicy {
    /// Sets `hash` from the fields a user sets (Nomad hashes name, description and rules).
    pub fn set_hash(&mut self) {
        let mut h = Sha256::new();
        for part in [&self.name, &self.description, &self.rules] {
            h.update(part.as_bytes());
        }
        self.hash = h.finalize().to_vec();
    }
}

/// An ACL token (Nomad's `ACLToken`). Times are unix nanoseconds; the TTL is nanoseconds (0:
/// none). `Debug` never prints the secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclToken {
    pub accessor_id: String,
    pub secret_id: String,
    pub name: String,
    pub token_type: String,
    pub policies: Vec<String>,
    pub global: bool,
    pub hash: Vec<u8>,
    pub create_time: i64,
    pub expiration_time: Option<i64>,
    pub expiration_ttl: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

impl fmt::Debug for AclToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AclToken")
            .field("accessor_id", &self.accessor_id)
            .field("secret_id", &"<redacted>")
            .field("name", &self.name)
            .field("token_type", &self.token_type)
            .field("policies", &self.policies)
            .field("global", &self.global)
            .field("create_time", &self.create_time)
            .field("expiration_time", &self.expiration_time)
            .field("create_index", &self.create_index)
            .field("modify_index", &self.modify_index)
            .finish()
    }
}

impl AclToken {
    pub fn is_management(&self) -> bool {
        self.token_type == MANAGEMENT
    }

    /// Whether the token has expired at `now` (unix nanoseconds).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expiration_time.is_some_and(|t| t != 0 && t < now)
    }

    /// Sets `hash` from the fields a user sets (as Nomad's `SetHash`).
    pub fn set_hash(&mut self) {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(self.token_type.as_bytes());
        for p in &self.policies {
            h.update(p.as_bytes());
        }
        h.update(if self.global { b"global".as_slice() } else { b"local".as_slice() });
        self.hash = h.finalize().to_vec();
    }
}

/// The key of a secret in the secret index: its SHA-256.
pub fn secret_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What an ACL command did, carried back to the writer as the apply result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AclOutcome {
    /// The tokens as stored (bootstrap or upsert), with their indexes.
    Tokens(Vec<AclToken>),
    /// Bootstrap was already done; `reset_index` is the index that allows one more.
    BootstrapDone { reset_index: u64 },
    /// Policies written or deleted, tokens deleted.
    Done,
}

/// Whether a bootstrap may happen: never before (`bootstrapped = None`), or the operator named
/// the current reset index. Otherwise the refusal carries the reset index.
pub fn decide_bootstrap(bootstrapped: Option<u64>, reset_index: u64) -> Result<(), u64> {
    match bootstrapped {
        None => Ok(()),
        Some(done) if reset_index != 0 && reset_index == done => Ok(()),
        Some(done) => Err(done),
    }
}

/// A policy as stored at `index`: creation index kept from the existing row.
pub fn stored_policy(existing: Option<&AclPolicy>, policy: &AclPolicy, index: u64) -> AclPolicy {
    let mut p = policy.clone();
    p.create_index = existing.map_or(index, |e| e.create_index);
    p.modify_index = index;
    p
}

/// A token as stored at `index`: an update keeps the secret, creation time and index of the
/// existing token (they are immutable).
pub fn stored_token(existing: Option<&AclToken>, token: &AclToken, index: u64) -> AclToken {
    let mut t = token.clone();
    if let Some(e) = existing {
        t.secret_id = e.secret_id.clone();
        t.create_time = e.create_time;
        t.create_index = e.create_index;
    } else {
        t.create_index = index;
    }
    t.modify_index = index;
    t
}

/// The longest token name Nomad accepts.
const MAX_TOKEN_NAME: usize = 256;

/// Nomad's `ACLToken.Validate`: every problem, in Nomad's order and words. `token` is already
/// canonical (a new one has its creation time and expiration time set); `existing` is the
/// stored token of an update. TTL bounds are nanoseconds.
pub fn validate_token(token: &AclToken, existing: Option<&AclToken>, min_ttl: i64, max_ttl: i64) -> Vec<String> {
    let mut errors = Vec::new();
    if token.name.len() > MAX_TOKEN_NAME {
        errors.push("token name too long".to_string());
    }
    match token.token_type.as_str() {
        CLIENT if token.policies.is_empty() => errors.push("client token missing policies or roles".into()),
        MANAGEMENT if !token.policies.is_empty() => {
            errors.push("management token cannot be associated with policies or roles".into())
        }
        CLIENT | MANAGEMENT => {}
        _ => errors.push("token type must be client or management".into()),
    }
    match existing {
        None => {
            if token.expiration_ttl < 0 {
                errors.push(format!(
                    "token expiration TTL '{}' should not be negative",
                    go_duration(token.expiration_ttl)
                ));
            }
            if let Some(expires) = token.expiration_time.filter(|t| *t != 0) {
                if token.create_time > expires {
                    errors.push("expiration time cannot be before create time".into());
                }
                let expires_in = expires - token.create_time;
                if expires_in > max_ttl {
                    errors.push(format!(
                        "expiration time cannot be more than {} in the future (was {})",
                        go_duration(max_ttl),
                        go_duration(expires_in)
                    ));
                } else if expires_in < min_ttl {
                    errors.push(format!(
                        "expiration time cannot be less than {} in the future (was {})",
                        go_duration(min_ttl),
                        go_duration(expires_in)
                    ));
                }
            }
        }
        Some(e) => {
            if e.global != token.global {
                errors.push("cannot toggle global mode".into());
            }
            if e.expiration_ttl != token.expiration_ttl {
                errors.push("cannot update expiration TTL".into());
            }
            if e.expiration_time != token.expiration_time {
                errors.push("cannot update expiration time".into());
            }
        }
    }
    errors
}

/// go-multierror's text for a list of errors.
pub fn multierror(errors: &[String]) -> String {
    let noun = if errors.len() == 1 { "error occurred" } else { "errors occurred" };
    let mut s = format!("{} {noun}:\n", errors.len());
    for e in errors {
        s.push_str(&format!("\t* {e}\n"));
    }
    s.push('\n');
    s
}

/// Go's `time.Duration.String()` for whole-millisecond-or-coarser durations in nanoseconds
/// (`1m0s`, `24h0m0s`, `1.5s`, `-10s`).
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let mut n = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if n < 1_000_000_000 {
        let (unit, div) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", trim_fraction(n, div));
    }
    let hours = n / 3_600_000_000_000;
    n %= 3_600_000_000_000;
    let minutes = n / 60_000_000_000;
    n %= 60_000_000_000;
    let secs = trim_fraction(n, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

fn trim_fraction(n: u64, div: u64) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_once_then_only_with_the_reset_index() {
        let cases = [
            ("first bootstrap", None, 0, Ok(())),
            ("first bootstrap ignores a reset index", None, 7, Ok(())),
            ("second bootstrap", Some(5), 0, Err(5)),
            ("wrong reset index", Some(5), 4, Err(5)),
            ("right reset index", Some(5), 5, Ok(())),
        ];
        for (why, done, reset, want) in cases {
            assert_eq!(decide_bootstrap(done, reset), want, "{why}");
        }
    }

    #[test]
    fn token_updates_keep_the_immutable_fields() {
        let old = AclToken {
            accessor_id: "a".into(),
            secret_id: "s".into(),
            create_time: 10,
            create_index: 3,
            modify_index: 3,
            ..Default::default()
        };
        let new =
            AclToken { accessor_id: "a".into(), secret_id: "other".into(), name: "n".into(), ..Default::default() };
        let t = stored_token(Some(&old), &new, 9);
        assert_eq!((t.secret_id.as_str(), t.create_time, t.create_index, t.modify_index), ("s", 10, 3, 9));
        assert_eq!(t.name, "n");
        let fresh = stored_token(None, &new, 9);
        assert_eq!((fresh.create_index, fresh.modify_index, fresh.secret_id.as_str()), (9, 9, "other"));
    }

    #[test]
    fn token_validation_in_nomads_words() {
        let min = 60_000_000_000;
        let max = 86_400_000_000_000;
        let client = |policies: &[&str]| AclToken {
            token_type: CLIENT.into(),
            policies: policies.iter().map(|p| p.to_string()).collect(),
            create_time: 1_000,
            ..Default::default()
        };
        let cases: Vec<(&str, AclToken, Option<AclToken>, Vec<&str>)> = vec![
            ("client with a policy", client(&["p"]), None, vec![]),
            ("client without policies", client(&[]), None, vec!["client token missing policies or roles"]),
            (
                "management with policies",
                AclToken { token_type: MANAGEMENT.into(), policies: vec!["p".into()], ..Default::default() },
                None,
                vec!["management token cannot be associated with policies or roles"],
            ),
            (
                "bad type",
                AclToken { token_type: "root".into(), ..Default::default() },
                None,
                vec!["token type must be client or management"],
            ),
            (
                "ttl too short",
                AclToken { expiration_time: Some(1_000 + 1_000_000_000), ..client(&["p"]) },
                None,
                vec!["expiration time cannot be less than 1m0s in the future (was 1s)"],
            ),
            (
                "ttl too long",
                AclToken { expiration_time: Some(1_000 + 2 * max), ..client(&["p"]) },
                None,
                vec!["expiration time cannot be more than 24h0m0s in the future (was 48h0m0s)"],
            ),
            (
                "update toggles global",
                AclToken { global: true, ..client(&["p"]) },
                Some(client(&["p"])),
                vec!["cannot toggle global mode"],
            ),
        ];
        for (why, token, existing, want) in cases {
            assert_eq!(validate_token(&token, existing.as_ref(), min, max), want, "{why}");
        }
        assert_eq!(multierror(&["a".into()]), "1 error occurred:\n\t* a\n\n");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(-10_000_000_000), "-10s");
    }

    #[test]
    fn expiry_and_secret_comparison() {
        let t = AclToken { expiration_time: Some(100), ..Default::default() };
        assert!(!t.is_expired(100));
        assert!(t.is_expired(101));
        assert!(!AclToken::default().is_expired(i64::MAX));
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!format!("{t:?}").contains("secret_id: \"\""), "the secret is redacted");
    }
}
