//! Request parsing shared by every endpoint (spec §1.3): query parameters and the ACL token.
//!
//! Pure functions over the raw query string and headers, so every rule is a table test.

use crate::go;

/// A decoded query string: keys in order, with every value (Go's `url.Values`).
#[derive(Clone, Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Go's `req.URL.Query()`: pairs split on `&`; a pair holding a `;` or an undecodable
    /// escape is dropped (Go's `url.ParseQuery` reports it, and `Query()` ignores the report),
    /// the others are kept.
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty() && !p.contains(';'))
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                Some((percent_decode(k, Unescape::Query)?, percent_decode(v, Unescape::Query)?))
            })
            .collect();
        Self { pairs }
    }

    /// Whether the key is present at all (even with an empty value).
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// The first value of `key` (Go's `Query().Get`), empty if absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

/// Which unescaping [`percent_decode`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unescape {
    /// `application/x-www-form-urlencoded`, as Go's `url.QueryUnescape`: `+` is a space, and a
    /// `%` not followed by two hex digits fails the whole text.
    Query,
    /// A raw request path, which Go's `URL.Path` holds decoded: `+` stays, and a `%` not
    /// followed by two hex digits is kept as it is (lossy, never fails).
    PathLossy,
}

/// `%XX` escapes decoded to bytes (invalid UTF-8 then replaced); `None` only for a bad escape
/// under [`Unescape::Query`].
pub(super) fn percent_decode(s: &str, mode: Unescape) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if mode == Unescape::Query => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None if mode == Unescape::PathLossy => out.push(b'%'),
                    None => return None,
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Read-request options (Nomad's `QueryOptions`), after validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    pub region: String,
    pub token: String,
    pub stale: bool,
    pub wait_ns: Option<i64>,
    pub index: Option<u64>,
}

/// Write-request options (Nomad's `WriteRequest`): parsing never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    pub region: String,
    pub token: String,
}

/// The token: `X-Nomad-Token` (trimmed) wins, else `Authorization: Bearer <token>`.
pub fn parse_token(x_nomad_token: Option<&str>, authorization: Option<&str>) -> String {
    if let Some(t) = x_nomad_token {
        let t = t.trim();
        if !t.is_empty() {
            return t.to_string();
        }
    }
    let Some(auth) = authorization else { return String::new() };
    let mut parts = auth.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") => token.to_string(),
        _ => String::new(),
    }
}

fn region_of(q: &Query, default_region: &str) -> String {
    match q.get("region") {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => default_region.to_string(),
    }
}

/// Nomad's `parse`: the first failure wins, in Nomad's order (region, token, stale, per_page,
/// wait, index). Errors are the exact 400 texts.
pub fn parse_read(q: &Query, token: String, default_region: &str) -> Result<ReadOptions, String> {
    let region = region_of(q, default_region);
    let stale = match q.get("stale") {
        None => false,
        Some("") => true,
        Some(v) => go::parse_bool(v).ok_or("Expect `true` or `false` for `stale` query string parameter")?,
    };
    if let Some(p) = q.get("per_page") {
        if p.parse::<i32>().is_err() {
            return Err("Expect a number for `per_page` query string parameter".into());
        }
    }
    let wait_ns = match q.get("wait") {
        Some(w) if !w.is_empty() => Some(go::duration::parse(w).map_err(|_| "Invalid wait time".to_string())?),
        _ => None,
    };
    let index = match q.get("index") {
        Some(i) if !i.is_empty() => Some(i.parse::<u64>().map_err(|_| "Invalid index".to_string())?),
        _ => None,
    };
    Ok(ReadOptions { region, token, stale, wait_ns, index })
}

pub fn parse_write(q: &Query, token: String, default_region: &str) -> WriteOptions {
    WriteOptions { region: region_of(q, default_region), token }
}

/// `?pretty`: present and not `0` (so `?pretty=false` is pretty, as in Nomad).
pub fn is_pretty(q: &Query) -> bool {
    q.has("pretty") && q.get("pretty") != Some("0")
}

/// `?cas=`: presence turns CAS on; the value must be a uint64 (Go's `strconv.ParseUint` text).
pub fn parse_cas(q: &Query) -> Result<Option<u64>, String> {
    if !q.has("cas") {
        return Ok(None);
    }
    let v = q.get("cas").unwrap_or("");
    let err = |why: &str| format!("Error parsing cas value: strconv.ParseUint: parsing {}: {why}", go::quote(v));
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    v.parse::<u64>().map(Some).map_err(|_| err("value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(qs: &str) -> Result<ReadOptions, String> {
        parse_read(&Query::parse(qs), String::new(), "global")
    }

    /// Options of a query string that must parse.
    fn ok(qs: &str) -> ReadOptions {
        read(qs).unwrap_or_else(|e| panic!("{qs:?}: {e}"))
    }

    #[test]
    fn stale_values() {
        assert!(!ok("").stale);
        assert!(ok("stale").stale);
        assert!(ok("stale=").stale);
        assert!(ok("stale=true").stale);
        assert!(ok("stale=T").stale);
        assert!(!ok("stale=false").stale);
        assert!(!ok("stale=0").stale);
        assert!(!ok("consistent").stale);
        assert_eq!(read("stale=random").unwrap_err(), "Expect `true` or `false` for `stale` query string parameter");
    }

    #[test]
    fn wait_index_and_per_page() {
        let o = ok("wait=60s&index=1000");
        assert_eq!(o.wait_ns, Some(60_000_000_000));
        assert_eq!(o.index, Some(1000));
        assert_eq!(read("wait=60").unwrap_err(), "Invalid wait time");
        assert_eq!(read("index=abc").unwrap_err(), "Invalid index");
        assert_eq!(read("per_page=a").unwrap_err(), "Expect a number for `per_page` query string parameter");
        // Order: stale is checked before wait.
        assert_eq!(read("wait=x&stale=x").unwrap_err(), "Expect `true` or `false` for `stale` query string parameter");
    }

    #[test]
    fn region_default_and_override() {
        assert_eq!(ok("").region, "global");
        assert_eq!(ok("region=").region, "global");
        assert_eq!(ok("region=foo").region, "foo");
    }

    #[test]
    fn tokens() {
        assert_eq!(parse_token(Some("  abc \n"), None), "abc");
        assert_eq!(parse_token(None, Some("Bearer foobar")), "foobar");
        assert_eq!(parse_token(None, Some("bearer foobar extra")), "foobar");
        assert_eq!(parse_token(None, Some("foobar")), "");
        assert_eq!(parse_token(None, Some("Basic foobar")), "");
        assert_eq!(parse_token(Some("x"), Some("Bearer y")), "x");
    }

    #[test]
    fn pretty() {
        assert!(is_pretty(&Query::parse("pretty")));
        assert!(is_pretty(&Query::parse("pretty=1")));
        assert!(is_pretty(&Query::parse("pretty=false")));
        assert!(!is_pretty(&Query::parse("pretty=0")));
        assert!(!is_pretty(&Query::parse("")));
    }

    #[test]
    fn cas() {
        assert_eq!(parse_cas(&Query::parse("")), Ok(None));
        assert_eq!(parse_cas(&Query::parse("cas=7")), Ok(Some(7)));
        assert_eq!(
            parse_cas(&Query::parse("cas=")),
            Err("Error parsing cas value: strconv.ParseUint: parsing \"\": invalid syntax".into())
        );
        assert_eq!(
            parse_cas(&Query::parse("cas=-1")),
            Err("Error parsing cas value: strconv.ParseUint: parsing \"-1\": invalid syntax".into())
        );
        assert_eq!(
            parse_cas(&Query::parse("cas=99999999999999999999")),
            Err("Error parsing cas value: strconv.ParseUint: parsing \"99999999999999999999\": value out of range"
                .into())
        );
    }

    #[test]
    fn percent_decoding() {
        let q = Query::parse("id=a%20b+c&x=%zz&y=%4&%zz=1&z=%41");
        assert_eq!(q.get("id"), Some("a b c"));
        assert_eq!(q.all("id").len(), 1);
        assert_eq!(q.get("z"), Some("A"));
        // Go drops a pair it cannot unescape, and keeps the rest.
        assert!(!q.has("x") && !q.has("y") && q.pairs.len() == 2, "{q:?}");
    }

    #[test]
    fn lossy_path_decoding_keeps_plus_and_bad_escapes() {
        assert_eq!(percent_decode("a+b%20c%2", Unescape::PathLossy).as_deref(), Some("a+b c%2"));
        assert_eq!(percent_decode("%zz%41", Unescape::PathLossy).as_deref(), Some("%zzA"));
        assert_eq!(percent_decode("%zz%41", Unescape::Query), None);
    }

    #[test]
    fn semicolon_pairs_are_dropped() {
        let q = Query::parse("stale=bogus;x=1&index=5&a;b");
        assert!(!q.has("stale") && !q.has("a"));
        assert_eq!(q.get("index"), Some("5"));
    }
}
