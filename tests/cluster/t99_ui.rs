//! The web UI at `/ui/`: its assets over HTTP and HTTPS (Content-Type, ETag and 304, the CSP,
//! the app shell for unknown paths, `ui { enabled = false }` answering Nomad's stub), and the whole UI
//! in headless Chromium driven by selenium (`tests/cluster/ui_browser.py`) against 3 servers
//! with ACLs on. Addresses: a block of their own, 127.99.x.y (a fresh subnet per agent set).
//!
//! The browser test needs Debian's `chromium` and `chromium-driver` and selenium in the
//! python virtualenv (`target/pyenv`, `RAFTWARDEN_PYENV`); `.ci/run` installs all three. Outside
//! CI it is skipped, saying so, when one is missing; under `CI=true` a missing one fails it.
//! Screenshots of every page at 1280 and 390 px go to `target/ui-screenshots/`.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use serde_json::json;

use crate::support::tls::Pki;
use crate::support::*;

/// This file's loopback block (127.99.x.y): the browser and its agents stay apart from the
/// rest of the cluster binary (127.30) and the nemeses (127.96, 127.97).
const BLOCK: u8 = 99;

fn net() -> Net {
    Net::new(BLOCK)
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The virtualenv's python when Chromium, chromedriver and selenium are all there; `None`
/// (skipped, with a message) otherwise, except under `CI=true`, where it fails.
fn selenium_python() -> Option<PathBuf> {
    let python = python_nomad()?;
    let missing: Vec<&str> = [
        (!Path::new(CHROMIUM).exists()).then_some("chromium (apt-get install chromium)"),
        (!Path::new(CHROMEDRIVER).exists()).then_some("chromedriver (apt-get install chromium-driver)"),
        (!Command::new(&python).args(["-c", "import selenium"]).status().is_ok_and(|s| s.success()))
            .then_some("selenium (target/pyenv/bin/pip install selenium)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(python);
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must run the browser test; missing: {missing:?}");
    eprintln!("skipped: the browser test needs {}", missing.join(", "));
    None
}

#[test]
fn ui_assets_carry_csp_etag_and_the_shell_and_ui_disabled_serves_nomads_stub() {
    let n = net();
    let dir = tempfile::tempdir().unwrap();
    let a = single(&n, &dir, "ui1");
    let r = a.get("/ui/");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type().as_deref(), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").expect("CSP header");
    for directive in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"));
    assert_eq!(r.header("x-content-type-options").as_deref(), Some("nosniff"));
    let shell = r.text();
    assert!(shell.contains("<script type=\"module\" src=\"/ui/js/app.js\"></script>"), "{shell}");
    assert!(!shell.contains("<script>"), "inline script in the shell");
    let etag = r.header("etag").expect("ETag");

    // Revalidation: the same ETag is a 304 without a body; the CSP still comes with it.
    let r = reqwest::blocking::Client::new()
        .get(format!("{}/ui/", a.http()))
        .header("If-None-Match", &etag)
        .send()
        .map(Resp::from)
        .expect("GET");
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert!(r.header("content-security-policy").is_some());

    // Client-side routes get the shell; assets their own types; a missing script is a 404.
    for (path, status, ty) in [
        ("/ui/servers", 200, "text/html; charset=utf-8"),
        ("/ui/variables/a/b", 200, "text/html; charset=utf-8"),
        ("/ui/app.css", 200, "text/css; charset=utf-8"),
        ("/ui/js/app.js", 200, "text/javascript; charset=utf-8"),
        ("/ui/js/pages/servers.js", 200, "text/javascript; charset=utf-8"),
        ("/ui/favicon.svg", 200, "image/svg+xml"),
        ("/ui/js/nothing.js", 404, "text/plain; charset=utf-8"),
    ] {
        let r = a.get(path);
        assert_eq!((r.status, r.content_type().as_deref()), (status, Some(ty)), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path} without CSP");
    }
    assert_eq!(a.get("/ui/servers").body, shell.as_bytes(), "an app route is not the shell");
    let r = a.request("POST", "/ui/", Some("x"));
    assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("GET, HEAD")));
    let r = a.get("/ui");
    assert_eq!((r.status, r.header("location").as_deref()), (301, Some("/ui/")));
    // `/` still sends a browser to the UI, as Nomad does.
    let r = a.get("/");
    assert_eq!((r.status, r.header("location").as_deref()), (307, Some("/ui/")));
    // The asset the page loads is the one compiled in.
    let js = a.get("/ui/js/app.js").text();
    assert!(js.contains("X-Nomad-Token") || js.contains("loadPerms"), "app.js body");

    // ui { enabled = false }: Nomad's stub page for every /ui/ path, the API unchanged.
    let off = single_with(&net(), &dir, "ui2", "ui {\n  enabled = false\n}\n");
    for path in ["/ui/", "/ui/js/app.js", "/ui/servers"] {
        let r = off.get(path);
        assert_eq!((r.status, r.text().as_str()), (200, "<html><p>Nomad UI is disabled</p></html>"), "{path}");
        assert_eq!(r.content_type().as_deref(), Some("text/html; charset=utf-8"));
    }
    assert_eq!(off.get("/v1/operator/scheduler/configuration").status, 200);

    // tls { http = true }: the same UI over HTTPS on the same port.
    let ip = net().ip(1);
    let pki = Pki::new(&dir.path().join("pki"), std::slice::from_ref(&ip));
    let mut spec = AgentSpec::new("ui3", ip, dir.path().join("ui3"));
    spec.extra_hcl = pki.hcl("http = true");
    spec.https = Some(pki.client(None));
    let tls = Agent::start(spec);
    assert!(tls.http().starts_with("https://"));
    for path in ["/ui/", "/ui/js/app.js"] {
        let r = tls.get(path);
        assert_eq!(r.status, 200, "{path} over HTTPS");
        assert_eq!(r.header("content-security-policy").as_deref(), Some(raftwarden::ui::CONTENT_SECURITY_POLICY));
    }
    assert_eq!(tls.get("/ui/").body, shell.as_bytes());
}

#[test]
fn ui_in_chromium_servers_configs_variables_snapshots_and_a_read_only_token() {
    let Some(python) = selenium_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(&net(), &dir, 3, &[0, 1, 2], "acl { enabled = true }\n");
    let leader = c.wait_leader(Duration::from_secs(60));
    // The UI is opened on one follower (so every write is forwarded); the other is killed.
    let (ui, victim) = ((leader + 1) % 3, (leader + 2) % 3);
    let a = &c.agents[ui];
    wait_until(
        Duration::from_secs(30),
        || call(a, "GET", "/v1/operator/scheduler/configuration", None, None).status == 403,
        || "follower never answered".into(),
    );
    let boot = call(a, "POST", "/v1/acl/bootstrap", None, None);
    assert_eq!(boot.status, 200, "{}", boot.text());
    let mgmt = boot.json()["SecretID"].as_str().unwrap().to_string();
    let rules = r#"operator { policy = "read" }
namespace "default" {
  policy = "read"
  variables { path "*" { capabilities = ["read", "list"] } }
}"#;
    let body = json!({"Name": "ui-read-only", "Rules": rules}).to_string();
    let r = call(a, "PUT", "/v1/acl/policy/ui-read-only", Some(&mgmt), Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = json!({"Name": "viewer", "Type": "client", "Policies": ["ui-read-only"]}).to_string();
    let t = call(a, "POST", "/v1/acl/token", Some(&mgmt), Some(&body));
    assert_eq!(t.status, 200, "{}", t.text());
    let ro = t.json()["SecretID"].as_str().unwrap().to_string();
    // Every server healthy before the browser looks (autopilot's stabilization time).
    wait_until(
        Duration::from_secs(60),
        || call(a, "GET", "/v1/operator/autopilot/health", Some(&mgmt), None).json_or_null()["Healthy"] == true,
        || "cluster never healthy".into(),
    );

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let args = json!({
        "url": a.http(),
        "mgmt": mgmt,
        "ro": ro,
        "victim": format!("{}.global", c.agents[victim].spec.name),
        "victim_pid": c.agents[victim].pid().expect("victim runs"),
        "shots": shots,
        "downloads": dir.path().join("downloads"),
        "profile": dir.path().join("chromium-profile"),
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/ui_browser.py");
    let started = Instant::now();
    let out = Command::new(&python).arg(&script).arg(args.to_string()).output().expect("run the browser driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser driver failed (exit {:?}):\n{stdout}\n{}\nagent output: {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        a.output()
    );
    // The driver killed the follower (SIGKILL): reap it.
    let figures: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or("")).expect("figures");
    eprintln!("ui browser run: {figures} in {:.1} s", started.elapsed().as_secs_f64());
    assert!(figures["red_after_kill_s"].as_f64().is_some_and(|s| s < 30.0), "{figures}");

    assert!(!c.agents[victim].child_running(), "the driver did not kill {}", c.agents[victim].spec.name);
    c.agents[victim].kill9();
    let a = &c.agents[ui];

    // The server refuses a read-only token's writes whatever a page shows.
    let sched = r#"{"SchedulerAlgorithm":"spread"}"#;
    assert_eq!(call(a, "PUT", "/v1/operator/scheduler/configuration", Some(&ro), Some(sched)).status, 403);
    let var = r#"{"Items":{"k":"v"}}"#;
    assert_eq!(call(a, "PUT", "/v1/var/ui/ro", Some(&ro), Some(var)).status, 403);
    // What the browser restored is there: the variable saved before the snapshot.
    let r = call(a, "GET", "/v1/var/ui/keep", Some(&mgmt), None);
    assert_eq!((r.status, r.json()["Items"]["kept"].as_str()), (200, Some("yes")));
    for page in ["servers", "charts", "autopilot", "scheduler", "variables", "snapshots", "acl", "license", "token"] {
        for width in [1280, 390] {
            let f = shots.join(format!("{page}-{width}.png"));
            assert!(std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000), "no screenshot {}", f.display());
        }
    }
}
