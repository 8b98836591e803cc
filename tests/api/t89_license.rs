//! The license endpoint and commands (issue 10 point 4; spec §2.11 Enterprise, checklist items
//! 70-71): the temporary license of a new server, signed licenses from `license keygen` and
//! `license issue`, installed over HTTP and with the CLI, and every refusal changing nothing.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use crate::net;
use crate::support::*;

const L: &str = "/v1/operator/license";

/// Nomad's `License` fields, in wire order.
const FIELDS: [&str; 12] = [
    "LicenseID",
    "CustomerID",
    "InstallationID",
    "IssueTime",
    "StartTime",
    "ExpirationTime",
    "TerminationTime",
    "NonProduction",
    "Product",
    "Flags",
    "Modules",
    "Features",
];

/// Runs an offline CLI command in `dir`; returns stdout, asserting success.
fn offline(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = cli_in(dir, "", args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// `license keygen` in `dir` under `name`; returns the public key.
pub fn keygen(dir: &Path, name: &str) -> String {
    let (private, public) = (format!("-private-key={name}.key"), format!("-public-key={name}.pub"));
    let out = offline(dir, &["license", "keygen", &private, &public]);
    assert!(out.contains(&format!("Private key written to {name}.key")), "{out}");
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap().trim().to_string()
}

/// `license issue -key=<name>.key ...`; writes the license to `<file>` in `dir` and returns it.
pub fn issue(dir: &Path, key: &str, file: &str, extra: &[&str]) -> String {
    let key = format!("-key={key}.key");
    let mut args = vec!["license", "issue", key.as_str(), "-customer=acme"];
    args.extend_from_slice(extra);
    let text = offline(dir, &args);
    std::fs::write(dir.join(file), &text).unwrap();
    text
}

fn keys_hcl(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
    format!("server {{\n  license_public_keys = [{}]\n}}\n", quoted.join(", "))
}

/// The payload of a license text, decoded, with `CustomerID` changed, re-encoded with the
/// original signature.
fn tampered(text: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (payload, signature) = text.trim().split_once('.').unwrap();
    let json = String::from_utf8(b64.decode(payload).unwrap()).unwrap().replace("\"acme\"", "\"mallory\"");
    format!("{}.{signature}", b64.encode(json))
}

#[test]
fn temporary_license_on_a_fresh_server() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let r = a.get(L);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type().as_deref(), Some("application/json"));
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["License", "ConfigOutdated", "Index", "LastContact", "KnownLeader", "NextToken"]);
    let lic = &body["License"];
    let fields: Vec<&String> = lic.as_object().unwrap().keys().collect();
    assert_eq!(fields, FIELDS);
    assert_eq!(lic["Product"], "raftwarden");
    assert_eq!(lic["Flags"]["temporary"], true);
    assert!(lic["LicenseID"].as_str().unwrap().starts_with("temporary-"), "{lic}");
    let t = |k: &str| raftwarden_actors::rfc3339::parse(lic[k].as_str().unwrap()).unwrap();
    assert_eq!(t("ExpirationTime") - t("IssueTime"), 6 * 3600, "a 6-hour window: {lic}");
    assert_eq!(t("StartTime"), t("IssueTime"));
    assert_eq!(body["ConfigOutdated"], false);
    let index = body["Index"].as_u64().unwrap();
    assert!(index > 0);
    assert_eq!(r.header("x-nomad-index"), Some(index.to_string()));
    assert_eq!(r.header("x-nomad-knownleader").as_deref(), Some("true"));
    assert_eq!(r.header("x-nomad-lastcontact").as_deref(), Some("0"));
    assert_eq!(a.get(&format!("{L}?stale")).json()["License"], *lic);
    // Query parsing, methods, and a server without public keys refusing any install.
    let r = a.get(&format!("{L}?stale=bogus"));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = a.request("POST", L, Some("x"));
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
    let r = a.request("DELETE", L, None);
    assert_eq!((r.status, r.text().as_str()), (405, "Invalid method"));
    let keydir = tempfile::tempdir().unwrap();
    keygen(keydir.path(), "vendor");
    let good = issue(keydir.path(), "vendor", "good.lic", &[]);
    let r = a.put(L, &good);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("no license public keys are configured"), "{}", r.text());
    // The CLI prints Nomad's license table (checklist item 71).
    let (code, out, err) = cli(&a.http(), &["license", "get"]);
    assert_eq!(code, 0, "{err}");
    for want in ["Product        = raftwarden", "License Status = valid", "License ID", "Customer ID    = temporary"] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
    assert!(out.contains("NonProduction"), "{out}");
    let (code, out, _) = cli(&a.http(), &["license", "get", "-json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["License"]["LicenseID"], lic["LicenseID"]);
}

#[test]
fn signed_licenses_install_and_refusals_change_nothing() {
    let keydir = tempfile::tempdir().unwrap();
    let k = keydir.path();
    let vendor = keygen(k, "vendor");
    keygen(k, "other");
    let (code, _, err) = cli_in(k, "", &["license", "keygen", "-private-key=vendor.key", "-public-key=x.pub"]);
    assert_eq!(code, 1);
    assert!(err.contains("Destination file already exists: \"vendor.key\""), "{err}");

    // The agent starts on the license of its configuration (server.license_path).
    issue(k, "vendor", "first.lic", &["-ttl=876000h", "-issued=2024-06-01T00:00:00Z", "-feature=Audit"]);
    let first_path = k.join("first.lic");
    let hcl = format!("{}server {{\n  license_path = \"{}\"\n}}\n", keys_hcl(&[&vendor]), first_path.display());
    let dir = tempfile::tempdir().unwrap();
    let a = single_with(&net(), &dir, "alpha", &hcl);
    let read = |a: &Agent| a.get(L).json();
    let current = read(&a);
    assert_eq!(current["License"]["CustomerID"], "acme", "{current}");
    assert_eq!(current["License"]["Features"], serde_json::json!(["Audit"]));
    assert_eq!(current["ConfigOutdated"], false);
    let before = (current["License"]["LicenseID"].clone(), current["Index"].clone());

    // Refusals: 400 with the reason, and the installed license is untouched.
    let expired =
        issue(k, "vendor", "expired.lic", &["-issued=2020-01-01T00:00:00Z", "-ttl=24h", "-termination-grace=876000h"]);
    let terminated = issue(k, "vendor", "terminated.lic", &["-issued=2020-01-01T00:00:00Z", "-ttl=24h"]);
    let wrong_key = issue(k, "other", "wrong-key.lic", &[]);
    let wrong_product = issue(k, "vendor", "wrong-product.lic", &["-product=acme-db"]);
    let not_started = issue(k, "vendor", "future.lic", &["-start=2999-01-01T00:00:00Z"]);
    let fresh = issue(k, "vendor", "fresh.lic", &[]);
    for (name, body, reason) in [
        ("tampered", tampered(&fresh), "invalid license signature: no configured public key verifies it"),
        ("wrong key", wrong_key.clone(), "invalid license signature: no configured public key verifies it"),
        ("expired", expired, "license expired at 2020-01-02T00:00:00Z"),
        ("terminated", terminated, "license terminated at 2020-01-02T00:00:00Z"),
        ("wrong product", wrong_product, "license is for product \"acme-db\", but this server runs \"raftwarden\""),
        ("not started", not_started, "license is not valid before its start time 2999-01-01T00:00:00Z"),
        ("garbage", "not a license".into(), "malformed license: expected <base64 payload>.<base64 signature>"),
        ("empty", String::new(), "malformed license: the license is empty"),
    ] {
        let r = a.put(L, &body);
        assert_eq!((r.status, r.text().as_str()), (400, reason), "{name}");
        let now = read(&a);
        assert_eq!((now["License"]["LicenseID"].clone(), now["Index"].clone()), before, "{name} changed nothing");
    }

    // A correctly signed license installs over HTTP: {"Index": N} and X-Nomad-Index N.
    let r = a.put(L, &fresh);
    assert_eq!(r.status, 200, "{}", r.text());
    let index = r.json()["Index"].as_u64().unwrap();
    assert_eq!(r.json(), serde_json::json!({ "Index": index }));
    assert_eq!(r.header("x-nomad-index"), Some(index.to_string()));
    let now = read(&a);
    let fresh_id = raftwarden_actors::license::document::decode_unverified(&fresh).unwrap().license_id;
    assert_eq!(now["License"]["LicenseID"], fresh_id.as_str());
    assert_eq!(now["Index"], index);
    assert_eq!(now["ConfigOutdated"], true, "the configured license is no longer the installed one");

    // An older license is refused unless forced.
    let older = issue(k, "vendor", "older.lic", &["-issued=2024-01-01T00:00:00Z", "-ttl=876000h"]);
    let r = a.put(L, &older);
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("license was issued at 2024-01-01T00:00:00Z, before the installed license"),
        "{}",
        r.text()
    );
    assert_eq!(read(&a)["License"]["LicenseID"], fresh_id.as_str());
    let r = a.put(&format!("{L}?force=bogus"), &older);
    assert_eq!(r.status, 400);
    let r = a.put(&format!("{L}?force=true"), &older);
    assert_eq!(r.status, 200, "{}", r.text());
    let older_id = raftwarden_actors::license::document::decode_unverified(&older).unwrap().license_id;
    assert_eq!(read(&a)["License"]["LicenseID"], older_id.as_str());

    // The CLI: put from a file, then from stdin; errors with Nomad's texts.
    let (code, _, err) = cli(&a.http(), &["license", "put"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Error parsing arguments: Missing LICENSE argument");
    let (code, _, err) = cli_in(k, &a.http(), &["license", "put", "wrong-key.lic"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error putting license: Unexpected response code: 400 (invalid license signature"),
        "{err}"
    );
    let (code, out, err) = cli_in(k, &a.http(), &["license", "put", "fresh.lic"]);
    assert_eq!((code, out.as_str()), (0, "Successfully applied license\n"), "{err}");
    assert_eq!(read(&a)["License"]["LicenseID"], fresh_id.as_str());
    let latest = issue(k, "vendor", "latest.lic", &["-module=governance", "-non-production"]);
    let mut child = Command::new(BIN)
        .args(["license", "put", "-"])
        .env("NOMAD_ADDR", a.http())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(latest.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, out, err) = cli(&a.http(), &["license", "get"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Modules:\n\tgovernance\n") && out.contains("NonProduction  = true"), "{out}");

    // Offline inspection with the vendor's public key (a file or the base64 itself).
    let (code, out, err) = cli_in(k, "", &["license", "inspect", "-public-key=vendor.pub", "latest.lic"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("License Status = valid") && out.contains("Customer ID    = acme"), "{out}");
    let key_flag = format!("-public-key={vendor}");
    let (code, out, _) = cli_in(k, "", &["license", "inspect", &key_flag, "-json", "latest.lic"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Modules"], serde_json::json!(["governance"]));
    let (code, _, err) = cli_in(k, "", &["license", "inspect", "-public-key=other.pub", "latest.lic"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Error validating license: invalid license signature: no configured public key verifies it");
    let (code, _, err) =
        cli_in(k, "", &["license", "inspect", "-public-key=vendor.pub", "-product=acme-db", "latest.lic"]);
    assert_eq!(code, 1);
    assert!(err.contains("license is for product \"raftwarden\""), "{err}");

    // A license that expires within the hour is warned about in the server's log.
    issue(k, "vendor", "short.lic", &["-ttl=30m"]);
    let (code, _, err) = cli_in(k, &a.http(), &["license", "put", "short.lic"]);
    assert_eq!(code, 0, "{err}");
    wait_until(
        Duration::from_secs(20),
        || a.output().iter().any(|l| l.contains("license expires within the hour")),
        || format!("no expiry warning in {:?}", a.output()),
    );
}

#[test]
fn an_invalid_configured_license_stops_the_agent() {
    let keydir = tempfile::tempdir().unwrap();
    let k = keydir.path();
    let vendor = keygen(k, "vendor");
    keygen(k, "other");
    issue(k, "other", "wrong-key.lic", &[]);
    let hcl =
        format!("{}server {{\n  license_path = \"{}\"\n}}\n", keys_hcl(&[&vendor]), k.join("wrong-key.lic").display());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("a.hcl");
    let ip = net().ip(1);
    std::fs::write(
        &cfg,
        format!(
            "name = \"a\"\ndata_dir = \"{}\"\nbind_addr = \"{ip}\"\nserver {{\n  enabled = true\n}}\n{hcl}",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN).arg("agent").arg(format!("-config={}", cfg.display())).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("license: the configured license is not valid: invalid license signature"), "{err}");
}

/// An application embedding the actors licenses its own product: the product name and the
/// trusted keys come from its `Settings`, and a license for another product is refused.
#[test]
fn an_embedding_application_licenses_its_own_product() {
    use raftwarden_actors::license::document::{self, PrivateKey};
    use raftwarden_actors::license::{GetLicense, LicenseSettings, PutLicense};
    use raftwarden_actors::OpError;

    let dir = tempfile::tempdir().unwrap();
    let vendor = PrivateKey::from_seed([7; 32]);
    actix_rt::System::new().block_on(async {
        let rpc = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let rpc_addr = rpc.local_addr().unwrap().to_string();
        let mut settings = raftwarden_actors::Settings::new("embedded", dir.path(), &rpc_addr, "127.0.0.1:1");
        settings.license =
            LicenseSettings { product: "acme-db".into(), public_keys: vec![vendor.public_key()], configured: None };
        let server = raftwarden_actors::start(settings).await.unwrap();
        let rpc_server = raftwarden::http::rpc::serve_rpc(rpc, server.clone(), 1).unwrap();
        actix_rt::spawn(rpc_server);
        let temporary = eventually("a temporary license", || async {
            server.license().send(GetLicense).await.ok()?.ok().map(|read| read.license)
        })
        .await;
        assert_eq!((temporary.product.as_str(), temporary.is_temporary()), ("acme-db", true));

        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let mut license = document::temporary("acme-db", "acme-1".into(), now);
        license.customer_id = "initech".into();
        license.flags.clear();
        let put = |license: &document::License| PutLicense { text: document::sign(license, &vendor), force: false };
        let written = server.license().send(put(&license)).await.unwrap().unwrap();
        let read = server.license().send(GetLicense).await.unwrap().unwrap();
        assert_eq!((read.license.license_id.as_str(), read.index), ("acme-1", written.index));

        license.product = "raftwarden".into();
        match server.license().send(put(&license)).await.unwrap() {
            Err(OpError::InvalidLicense(document::LicenseInvalid::WrongProduct { want, got })) => {
                assert_eq!((want.as_str(), got.as_str()), ("acme-db", "raftwarden"))
            }
            other => panic!("{other:?}"),
        }
        server.shutdown().await;
    });
}
