//! The operator web UI served at `/ui/`: plain HTML, CSS and ES modules written by hand,
//! compiled into the binary, with no build step and nothing fetched at run time.
//!
//! ```text
//! GET /ui/<path> ─> asset(<path>) ─> the file, its Content-Type, ETag, no-cache, CSP
//!                 └> unknown path ─> index.html (the app routes by `#/page` itself)
//! ```
//!
//! The page talks to the public `/v1` API only, with the token the operator enters (kept in
//! the browser's localStorage, sent as `X-Nomad-Token`), so everything it shows or changes the
//! server checks as it would for the command line. See docs/ui.md.

use actix_web::http::header;
use actix_web::http::Method;
use actix_web::HttpRequest;
use actix_web::HttpResponse;

/// What the UI's pages may load: only this server's own files and API. No inline script or
/// style, no frames, no forms posted elsewhere; `blob:` images for nothing but downloads.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// One file of the UI.
pub struct Asset {
    /// Its path under `/ui/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// A strong validator: FNV-1a 64 of the body, computed at compile time.
    pub etag: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset {
            path: $path,
            content_type: $ty,
            body: include_bytes!(concat!("assets/", $path)),
            etag: {
                const HEX: [u8; 18] = etag_hex(fnv1a(include_bytes!(concat!("assets/", $path))));
                match std::str::from_utf8(&HEX) {
                    Ok(s) => s,
                    Err(_) => panic!("etag is ASCII"),
                }
            },
        }
    };
}

/// Every file of the UI; `index.html` is the shell every unknown path gets.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("favicon.svg", SVG),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/tar.js", JS),
    asset!("js/pages/servers.js", JS),
    asset!("js/pages/charts.js", JS),
    asset!("js/pages/config.js", JS),
    asset!("js/pages/variables.js", JS),
    asset!("js/pages/snapshots.js", JS),
    asset!("js/pages/acl.js", JS),
    asset!("js/pages/license.js", JS),
    asset!("js/pages/token.js", JS),
];

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// `"<16 hex digits>"`, quotes included, as an ETag is written.
const fn etag_hex(h: u64) -> [u8; 18] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = DIGITS[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

/// The file for a path under `/ui/` (without the prefix): the asset of that name, else the
/// app shell, since the app's own routes live after `#` and old links should still open it.
/// Paths under `js/` or with a file extension that name nothing are `None` (a 404), so a
/// missing script fails loudly instead of being parsed as HTML.
pub fn asset(rel: &str) -> Option<&'static Asset> {
    if let Some(a) = ASSETS.iter().find(|a| a.path == rel) {
        return Some(a);
    }
    let last = rel.rsplit('/').next().unwrap_or("");
    if rel.starts_with("js/") || last.contains('.') {
        return None;
    }
    ASSETS.first()
}

/// Answers a request under `/ui/`: GET and HEAD only; `If-None-Match` with the current ETag
/// gets a 304; every answer carries the CSP and `no-cache` (revalidate each load, so a new
/// binary's UI is picked up at once while unchanged files cost a 304).
pub fn serve(req: &HttpRequest) -> HttpResponse {
    let rel = req.path().strip_prefix("/ui/").unwrap_or("");
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        return with_security_headers(&mut HttpResponse::MethodNotAllowed())
            .insert_header((header::ALLOW, "GET, HEAD"))
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("Invalid method");
    }
    let Some(a) = asset(rel) else {
        return with_security_headers(&mut HttpResponse::NotFound())
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("404 page not found\n");
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
    let mut resp = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    with_security_headers(&mut resp)
        .insert_header((header::ETAG, a.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if fresh {
        return resp.finish();
    }
    resp.insert_header((header::CONTENT_TYPE, a.content_type));
    if head {
        return resp.insert_header((header::CONTENT_LENGTH, a.body.len())).finish();
    }
    resp.body(a.body)
}

fn with_security_headers(resp: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    resp.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_assets_or_the_shell() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("index.html")),
            ("index.html", Some("index.html")),
            ("servers", Some("index.html")),
            ("variables/a/b", Some("index.html")),
            ("app.css", Some("app.css")),
            ("js/app.js", Some("js/app.js")),
            ("js/pages/servers.js", Some("js/pages/servers.js")),
            ("js/missing.js", None),
            ("js/", None),
            ("missing.css", None),
            ("a/b/c.png", None),
        ];
        for (rel, want) in cases {
            assert_eq!(asset(rel).map(|a| a.path), *want, "{rel:?}");
        }
    }

    #[test]
    fn etags_are_quoted_hex_and_differ_per_file() {
        let mut seen = std::collections::BTreeSet::new();
        for a in ASSETS {
            assert_eq!(a.etag.len(), 18, "{}", a.path);
            assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
            assert!(a.etag[1..17].bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(seen.insert(a.etag), "two files share {}", a.etag);
        }
    }

    /// The CSP forbids inline script and style: no file may rely on them.
    #[test]
    fn no_inline_script_or_style() {
        for a in ASSETS.iter().filter(|a| a.content_type == HTML) {
            let text = std::str::from_utf8(a.body).expect("UTF-8");
            for bad in ["<script>", "style=\"", "onclick=", "onload=", "javascript:"] {
                assert!(!text.contains(bad), "{} contains {bad}", a.path);
            }
        }
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = std::str::from_utf8(a.body).expect("UTF-8");
            for bad in ["eval(", "new Function", ".innerHTML =", "style=\"", "setAttribute('style'"] {
                assert!(!text.contains(bad), "{} contains {bad}", a.path);
            }
        }
    }
}
