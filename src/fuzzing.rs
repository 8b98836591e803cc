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
    // `X-Nomad-Token` is taken trimmed and whole (`Bearer abc` there is that token, as in
    // Nomad); a bearer token is one word. Either way no white space around it.
    if token.trim() != token {
        return Err(format!("a token with white space around it: {token:?}"));
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

/// Every input kept in `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` (the crash
/// inputs), for `target`: a regression suite that runs under `cargo test`.
#[cfg(test)]
pub(crate) fn kept_inputs(base: &std::path::Path, target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(base.join("fuzz").join(kind).join(target)) else { continue };
        for entry in dir.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                out.push((entry.path(), bytes));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The root crate's fuzz targets over their kept corpora and crash inputs: every property
    /// holds (the same splitting of the input as the targets in `fuzz/fuzz_targets/`).
    #[test]
    fn fuzz_corpora_and_regressions_keep_their_properties() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut ran = 0;
        for (path, data) in kept_inputs(base, "json_bodies") {
            json_bodies(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ran += 1;
        }
        for (path, data) in kept_inputs(base, "agent_config") {
            if let Some((&kind, text)) = data.split_first() {
                agent_config(text, kind & 1 == 1).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                ran += 1;
            }
        }
        for (path, data) in kept_inputs(base, "query_string") {
            let text = String::from_utf8_lossy(&data);
            let mut lines = text.splitn(3, '\n');
            let (raw, token, auth) = (lines.next().unwrap_or(""), lines.next(), lines.next());
            query_string(raw, token, auth).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ran += 1;
        }
        for (path, data) in kept_inputs(base, "cli_argv") {
            let words: Vec<String> = String::from_utf8_lossy(&data).split('\0').map(str::to_string).collect();
            argv(&words).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ran += 1;
        }
        assert!(ran >= 20, "only {ran} kept inputs found under fuzz/");
    }

    /// The fuzzer's first find (`fuzz/regressions/query_string/x_nomad_token_with_a_space`):
    /// `X-Nomad-Token: Bearer abc` is that whole token, as in Nomad, not a bearer token; the
    /// target had wrongly required a token without any white space.
    #[test]
    fn x_nomad_token_with_a_space_is_taken_whole() {
        assert_eq!(query::parse_token(Some(" Bearer abc "), None), "Bearer abc");
        assert_eq!(query::parse_token(None, Some("Bearer abc")), "abc");
        query_string("stale=&index=42", Some("Bearer abc"), None).unwrap();
    }
}
