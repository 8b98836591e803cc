//! Request bodies decoded the way Go's `encoding/json` does it for Nomad: the first JSON value
//! only, case-insensitive keys, unknown keys ignored, `null` means zero, and every field not
//! given takes its zero value (PUT is a full replacement).

use raftwarden_actors::state::AutopilotConfig;
use raftwarden_actors::state::PreemptionConfig;
use raftwarden_actors::state::SchedulerAlgorithm;
use raftwarden_actors::state::SchedulerConfig;
use serde_json::Map;
use serde_json::Value;

use crate::go::duration;

/// Reads the first JSON value of a body. Errors are Go's texts where they matter to clients.
/// Invalid UTF-8 is not an error, as in Go: each bad byte reads as U+FFFD.
pub fn first_value(body: &[u8]) -> Result<Value, String> {
    if body.is_empty() {
        return Err("Request body is empty".into());
    }
    let body = go_utf8(body);
    let mut stream = serde_json::Deserializer::from_slice(&body).into_iter::<Value>();
    match stream.next() {
        None => Err("EOF".into()),
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_eof() => Err("unexpected EOF".into()),
        Some(Err(e)) => Err(format!("invalid JSON: {e}")),
    }
}

/// How a request body ended, which Go's `net/http` tells its handlers apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// All of it arrived (or there was none: `Content-Length: 0`, Go's `http.NoBody`).
    Complete,
    /// `Transfer-Encoding: chunked`: Go's body is a reader even with no bytes in it.
    Chunked,
    /// The client stopped before its `Content-Length` (or its last chunk) arrived.
    Truncated,
}

/// The bytes a handler decodes, so that [`first_value`] (and every decoder built on it) fails
/// as Go's `json.Decoder` does on Nomad's `decodeBody`:
/// - chunked with no bytes: not `http.NoBody`, so not `Request body is empty` but the decoder's
///   `EOF`, which is what a body of only white space reads as;
/// - cut short: the body reader's `io.ErrUnexpectedEOF` (`unexpected EOF`) unless the bytes
///   that came hold a whole first value (Go's decoder then never reads further) or a syntax
///   error comes first. A truncated value already reads as `unexpected EOF`; nothing at all
///   reads so as an unclosed `[`.
pub fn go_body(body: Vec<u8>, end: BodyEnd) -> Vec<u8> {
    match end {
        BodyEnd::Complete => body,
        BodyEnd::Chunked if body.is_empty() => b" ".to_vec(),
        BodyEnd::Chunked => body,
        BodyEnd::Truncated if body.iter().all(u8::is_ascii_whitespace) => b"[".to_vec(),
        BodyEnd::Truncated => body,
    }
}

/// The body with every byte that is not part of valid UTF-8 replaced by U+FFFD, one per byte,
/// as Go's `encoding/json` reads strings. Bytes outside strings stay syntax errors either way.
pub fn go_utf8(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if std::str::from_utf8(body).is_ok() {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = String::with_capacity(body.len() + 16);
    for chunk in body.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    std::borrow::Cow::Owned(out.into_bytes())
}

/// The value Go's `encoding/json` stores in struct field `name`: every key that matches the
/// name case-insensitively sets it, in document order, so the last one wins.
pub(super) fn go_field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The JSON kind Go names in `cannot unmarshal <kind> into ...`.
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// One Go struct being decoded: finds fields like Go (any case, last key wins) and records the first type error, as `json.Unmarshal` reports it.
struct GoStruct<'a> {
    map: Option<&'a Map<String, Value>>,
    /// Go type name used in error texts (`SchedulerConfiguration`, or "" for an anonymous one).
    path: String,
    error: &'a mut Option<String>,
}

impl<'a> GoStruct<'a> {
    fn field(&self, name: &str) -> Option<&'a Value> {
        go_field(self.map?, name)
    }

    fn type_error(&mut self, what: String, name: &str, go_type: &str) {
        if self.error.is_none() {
            *self.error = Some(format!(
                "json: cannot unmarshal {what} into Go struct field {}.{name} of type {go_type}",
                self.path
            ));
        }
    }

    fn bool(&mut self, name: &str) -> bool {
        match self.field(name) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                self.type_error(kind(v).into(), name, "bool");
                false
            }
        }
    }

    fn uint(&mut self, name: &str, go_type: &str, max: u64) -> u64 {
        match self.field(name) {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v <= max => v,
                _ => {
                    self.type_error(format!("number {n}"), name, go_type);
                    0
                }
            },
            Some(v) => {
                self.type_error(kind(v).into(), name, go_type);
                0
            }
        }
    }

    fn string(&mut self, name: &str) -> String {
        match self.field(name) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => {
                self.type_error(kind(v).into(), name, "string");
                String::new()
            }
        }
    }

    fn nested(&mut self, name: &str, go_type: &str) -> Option<&'a Map<String, Value>> {
        match self.field(name) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(v) => {
                self.type_error(kind(v).into(), name, go_type);
                None
            }
        }
    }
}

fn top_level<'a>(v: &'a Value, go_type: &str) -> Result<Option<&'a Map<String, Value>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(format!("json: cannot unmarshal {} into Go value of type {go_type}", kind(other))),
    }
}

/// Decodes an autopilot configuration body (Nomad's `api.AutopilotConfiguration`, whose
/// durations must be Go duration strings).
pub fn autopilot(body: &[u8]) -> Result<AutopilotConfig, String> {
    let value = first_value(body)?;
    let map = top_level(&value, "api.AutopilotConfiguration")?;
    let mut error = None;
    let mut s = GoStruct { map, path: String::new(), error: &mut error };
    let last_contact = s.string("LastContactThreshold");
    let stabilization = s.string("ServerStabilizationTime");
    let config = AutopilotConfig {
        cleanup_dead_servers: s.bool("CleanupDeadServers"),
        last_contact_threshold: 0,
        max_trailing_logs: s.uint("MaxTrailingLogs", "uint64", u64::MAX),
        min_quorum: s.uint("MinQuorum", "uint", u64::MAX),
        server_stabilization_time: 0,
        enable_redundancy_zones: s.bool("EnableRedundancyZones"),
        disable_upgrade_migration: s.bool("DisableUpgradeMigration"),
        enable_custom_upgrades: s.bool("EnableCustomUpgrades"),
    };
    if let Some(e) = error {
        return Err(e);
    }
    let dur = |s: &str| if s.is_empty() { Ok(0) } else { duration::parse(s).map_err(|e| e.to_string()) };
    Ok(AutopilotConfig {
        last_contact_threshold: dur(&last_contact)?,
        server_stabilization_time: dur(&stabilization)?,
        ..config
    })
}

/// Decodes a scheduler configuration body (Nomad's `structs.SchedulerConfiguration`, flat).
/// Returns the config and the algorithm as sent, which the caller validates.
pub fn scheduler(body: &[u8]) -> Result<(SchedulerConfig, String), String> {
    let value = first_value(body)?;
    let map = top_level(&value, "structs.SchedulerConfiguration")?;
    let mut error = None;
    let mut s = GoStruct { map, path: "SchedulerConfiguration".into(), error: &mut error };
    let algorithm = s.string("SchedulerAlgorithm");
    let preemption = s.nested("PreemptionConfig", "structs.PreemptionConfig");
    let mut config = SchedulerConfig {
        scheduler_algorithm: SchedulerAlgorithm::Binpack,
        preemption_config: PreemptionConfig {
            system_scheduler_enabled: false,
            sysbatch_scheduler_enabled: false,
            batch_scheduler_enabled: false,
            service_scheduler_enabled: false,
        },
        memory_oversubscription_enabled: s.bool("MemoryOversubscriptionEnabled"),
        reject_job_registration: s.bool("RejectJobRegistration"),
        pause_eval_broker: s.bool("PauseEvalBroker"),
        node_limit_for_feasibility_checks: s.uint("NodeLimitForFeasibilityChecks", "uint32", u32::MAX as u64) as u32,
    };
    let mut p = GoStruct { map: preemption, path: "SchedulerConfiguration.PreemptionConfig".into(), error: s.error };
    config.preemption_config = PreemptionConfig {
        system_scheduler_enabled: p.bool("SystemSchedulerEnabled"),
        sysbatch_scheduler_enabled: p.bool("SysBatchSchedulerEnabled"),
        batch_scheduler_enabled: p.bool("BatchSchedulerEnabled"),
        service_scheduler_enabled: p.bool("ServiceSchedulerEnabled"),
    };
    if let Some(e) = error {
        return Err(e);
    }
    if let Some(a) = SchedulerAlgorithm::parse(&algorithm) {
        config.scheduler_algorithm = a;
    }
    Ok((config, algorithm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_trailing() {
        assert_eq!(first_value(b"").unwrap_err(), "Request body is empty");
        // Go's decodeBody on each kind of body end (net/http, encoding/json).
        let read = |b: &[u8], end| first_value(&go_body(b.to_vec(), end));
        assert_eq!(read(b"", BodyEnd::Complete).unwrap_err(), "Request body is empty");
        assert_eq!(read(b"", BodyEnd::Chunked).unwrap_err(), "EOF");
        assert_eq!(read(b"", BodyEnd::Truncated).unwrap_err(), "unexpected EOF");
        assert_eq!(read(b"  ", BodyEnd::Truncated).unwrap_err(), "unexpected EOF");
        assert_eq!(read(b"{\"a\":", BodyEnd::Truncated).unwrap_err(), "unexpected EOF");
        assert_eq!(read(b"{\"a\":\"b\"", BodyEnd::Truncated).unwrap_err(), "unexpected EOF");
        assert_eq!(read(b"{}", BodyEnd::Truncated).unwrap(), serde_json::json!({}));
        assert!(read(b"x", BodyEnd::Truncated).unwrap_err().starts_with("invalid JSON"));
        assert_eq!(first_value(b"   ").unwrap_err(), "EOF");
        assert_eq!(first_value(b"{\"a\":1} garbage").unwrap(), serde_json::json!({"a":1}));
        assert!(first_value(b"{\"a\":").is_err());
    }

    #[test]
    fn invalid_utf8_and_repeated_keys_read_like_go() {
        let v = first_value(b"{\"a\":\"x\xff\xe2\x82y\"}").unwrap();
        assert_eq!(v["a"], "x\u{FFFD}\u{FFFD}\u{FFFD}y");
        assert!(first_value(b"\xff").is_err());
        let c = autopilot(br#"{"CleanupDeadServers": true, "cleanupdeadservers": false}"#).unwrap();
        assert!(!c.cleanup_dead_servers, "the last spelling wins");
        let c = autopilot(br#"{"cleanupdeadservers": false, "CleanupDeadServers": true}"#).unwrap();
        assert!(c.cleanup_dead_servers);
    }

    #[test]
    fn autopilot_full_replacement_and_case() {
        let c = autopilot(br#"{"cleanupdeadservers": true, "LastContactThreshold": "1.5s", "Unknown": 1}"#).unwrap();
        assert!(c.cleanup_dead_servers);
        assert_eq!(c.last_contact_threshold, 1_500_000_000);
        assert_eq!(c.max_trailing_logs, 0);
        assert_eq!(c.server_stabilization_time, 0);
        assert_eq!(autopilot(b"null").unwrap().max_trailing_logs, 0);
    }

    #[test]
    fn autopilot_errors() {
        let e = autopilot(br#"{"LastContactThreshold": 5}"#).unwrap_err();
        assert!(e.starts_with("json: cannot unmarshal number into Go struct field"), "{e}");
        assert!(e.ends_with("of type string"), "{e}");
        assert_eq!(autopilot(br#"{"LastContactThreshold": "abc"}"#).unwrap_err(), "time: invalid duration \"abc\"");
        let e = autopilot(br#"{"MaxTrailingLogs": -1}"#).unwrap_err();
        assert!(e.contains("cannot unmarshal number -1"), "{e}");
        assert!(autopilot(b"[1]").unwrap_err().contains("cannot unmarshal array"));
        assert!(autopilot(br#"{"CleanupDeadServers": "yes"}"#).unwrap_err().contains("of type bool"));
    }

    #[test]
    fn scheduler_decoding() {
        let (c, a) = scheduler(br#"{"PreemptionConfig":{"SystemSchedulerEnabled":true,"servicescheduLerenabled":true},"NodeLimitForFeasibilityChecks":123}"#).unwrap();
        assert_eq!(a, "");
        assert!(c.preemption_config.system_scheduler_enabled);
        assert!(c.preemption_config.service_scheduler_enabled);
        assert!(!c.preemption_config.batch_scheduler_enabled);
        assert_eq!(c.node_limit_for_feasibility_checks, 123);
        let (c, _) = scheduler(b"{}").unwrap();
        assert!(!c.preemption_config.system_scheduler_enabled, "omitting PreemptionConfig turns System off");
        let e = scheduler(br#"{"PreemptionConfig":{"BatchSchedulerEnabled":1}}"#).unwrap_err();
        assert_eq!(
            e,
            "json: cannot unmarshal number into Go struct field SchedulerConfiguration.PreemptionConfig.BatchSchedulerEnabled of type bool"
        );
        assert!(scheduler(br#"{"NodeLimitForFeasibilityChecks":-5}"#).unwrap_err().contains("of type uint32"));
        let (_, a) = scheduler(br#"{"SchedulerAlgorithm":"Spread"}"#).unwrap();
        assert_eq!(a, "Spread");
    }
}
