//! Entry points for the cargo-fuzz targets in `fuzz/` (not an API: hidden from the docs, and
//! free to change). Each feeds bytes a client or an operator controls to the function the
//! handlers, the agent or the CLI run, and checks what can be checked beyond "no panic": a
//! body that decodes, encoded the way the API answers it, decodes to the same value; a config
//! that loads validates again to itself; rewriting argv twice changes nothing more. An `Err`
//! is a broken property, which the target turns into a crash. The peer-facing decoders (RPC,
//! gossip, license, ACL policy, HCL) are in `raftwarden_actors::fuzzing`.

use raftwarden_actors::state::Row;
use serde_json::json;

use crate::go;
use crate::http::decode;
use crate::http::query;
use crate::http::query::Query;
use crate::http::wire;

/// One request body through every JSON body decoder of the API: variables PUT, autopilot and
/// scheduler configuration PUT, the ACL token, policy and bootstrap bodies, the keyring bodies
/// and the license PUT body. What decodes, encoded as the API encodes it (or as a client
/// would send it), decodes to the same value.
pub fn json_bodies(body: &[u8]) -> Result<(), String> {
    if let Ok((namespace, items)) = crate::http::variables::decode_variable(body) {
        let again =
            serde_json::to_vec(&json!({ "Namespace": namespace, "Items": items })).map_err(|e| e.to_string())?;
        match crate::http::variables::decode_variable(&again) {
            Ok(back) if back == (namespace.clone(), items.clone()) => {}
            other => return Err(format!("variable {namespace:?} {items:?} read back as {other:?}")),
        }
    }
    if let Ok(config) = decode::autopilot(body) {
        let row = Row { value: config.clone(), create_index: 0, modify_index: 0 };
        let again = serde_json::to_vec(&wire::AutopilotConfiguration::from(&row)).map_err(|e| e.to_string())?;
        match decode::autopilot(&again) {
            Ok(back) if back == config => {}
            other => return Err(format!("autopilot {config:?} read back as {other:?}")),
        }
    }
    if let Ok((config, _algorithm)) = decode::scheduler(body) {
        let row = Row { value: config.clone(), create_index: 0, modify_index: 0 };
        let again = serde_json::to_vec(&wire::SchedulerConfiguration::from(&row)).map_err(|e| e.to_string())?;
        match decode::scheduler(&again) {
            Ok((back, _)) if back == config => {}
            other => return Err(format!("scheduler {config:?} read back as {other:?}")),
        }
    }
    let _ = crate::http::acl::fuzz_bodies(body);
    if let Ok(key) = crate::http::agent::fuzz_keyring_body(body) {
        let again = serde_json::to_vec(&json!({ "Key": base64_std(&key) })).map_err(|e| e.to_string())?;
        match crate::http::agent::fuzz_keyring_body(&again) {
            Ok(back) if back == key => {}
            other => return Err(format!("key {key:?} read back as {other:?}")),
        }
    }
    // The license PUT body is the license file's text, which the license actor reads.
    if let Ok(text) = std::str::from_utf8(body) {
        raftwarden_actors::fuzzing::license(text, 1_700_000_000)?;
    }
    Ok(())
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A raw query string and the two token headers, read as every handler reads them: the read
/// and write options (snapshot restore's query among them), `?pretty`, both `?cas=` readers,
/// a transfer's `?peer-id`/`?peer-address`, `?force`.
pub fn query_string(raw: &str, x_nomad_token: Option<&str>, authorization: Option<&str>) -> Result<(), String> {
    let q = Query::parse(raw);
    let token = query::parse_token(x_nomad_token, authorization);
    if token.chars().any(char::is_whitespace) {
        return Err(format!("a token with white space: {token:?}"));
    }
    let _ = query::parse_read(&q, token.clone(), "global");
    let _ = query::parse_write(&q, token, "global");
    let _ = query::is_pretty(&q);
    for key in ["cas", "stale", "region", "namespace", "prefix", "force", "wait", "index"] {
        if q.get(key) != q.all(key).first().copied() {
            return Err(format!("get({key}) is not the first of all({key})"));
        }
    }
    if let Ok(Some(cas)) = query::parse_cas(&q) {
        let text = q.get("cas").unwrap_or("");
        if text.trim_start_matches('0').parse::<u64>().unwrap_or(0) != cas {
            return Err(format!("cas {text:?} read as {cas}"));
        }
    }
    let _ = crate::http::variables::parse_cas(q.get("cas"));
    let _ = crate::http::operator::transfer_target(&q);
    let _ = q.get("force").map(go::parse_bool);
    Ok(())
}

/// Command-line words through the Go-style argv rewriting, the CLI's parser and the agent's
/// flags. Rewriting is idempotent: what it wrote, rewritten again, stays as it is.
pub fn argv(words: &[String]) -> Result<(), String> {
    let takes_value = |name: &str| matches!(name, "address" | "token" | "t" | "region" | "config" | "peer-id");
    let once = go::argv::rewrite(words, takes_value);
    let twice = go::argv::rewrite(&once, takes_value);
    if once != twice {
        return Err(format!("rewrite {words:?}: {once:?}, then {twice:?}"));
    }
    let _ = go::argv::rewrite_flags_then_args(words, takes_value);
    let _ = go::argv::go_style(&words.join(" "));
    let _ = crate::cli::fuzz_parse(words);
    let _ = crate::agent::config::fuzzing::flags(words);
    Ok(())
}

/// A whole agent config file (HCL or JSON) loaded as `raftwarden agent -config=<file>` loads
/// it; a config that loads validates again to itself.
pub fn agent_config(text: &[u8], json: bool) -> Result<(), String> {
    crate::agent::config::fuzzing::load_file(text, json).map(drop)
}
