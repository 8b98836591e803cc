//! `raftwarden license get|put|inspect|keygen|issue`.
//!
//! `get` and `put` are Nomad's commands (`command/license_*.go`) with their texts. `inspect`
//! verifies a license file offline against a public key. `keygen` and `issue` are for whoever
//! sells the licenses: an ed25519 key pair, and licenses signed with its private half (the
//! format is in [`raftwarden_actors::license::document`]).

use std::io::Read;
use std::io::Write;
use std::path::Path;

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use raftwarden_actors::license::document;
use raftwarden_actors::license::document::License as LicenseDoc;
use raftwarden_actors::license::document::PrivateKey;
use raftwarden_actors::license::document::PublicKey;
use reqwest::Method;
use serde_json::Value;

use super::client::Client;
use super::client::ClientError;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;
use crate::go::flag::go_bool;
use crate::go::quote as go_quote;

const LICENSE: &str = "/v1/operator/license";

#[derive(Debug, Subcommand)]
pub enum License {
    /// Retrieve the server's license
    Get(Get),
    /// Install a new license (a file, or - for stdin)
    Put(Put),
    /// Verify a license file offline and display it
    Inspect(Inspect),
    /// Write a new ed25519 key pair for signing licenses
    Keygen(Keygen),
    /// Sign a new license with a private key and print it
    Issue(Box<Issue>),
}

#[derive(Debug, Args)]
pub struct Get {
    /// Output the license response in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Put {
    /// Install the license even if it was issued before the installed one
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub force: bool,
    /// The license file, or - for stdin
    #[arg(value_name = "LICENSE", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Inspect {
    /// A public key (base64, or a file holding it) that must have signed the license; repeatable
    #[arg(long = "public-key", value_name = "key")]
    pub public_keys: Vec<String>,
    /// The product the license must be for
    #[arg(long, value_name = "name", default_value = document::DEFAULT_PRODUCT)]
    pub product: String,
    /// Output the license in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// The license file, or - for stdin
    #[arg(value_name = "LICENSE", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Keygen {
    /// Where to write the private key (base64 seed, mode 0600)
    #[arg(long = "private-key", value_name = "file", default_value = "license.key")]
    pub private_key: String,
    /// Where to write the public key (base64), for server.license_public_keys
    #[arg(long = "public-key", value_name = "file", default_value = "license.pub")]
    pub public_key: String,
}

#[derive(Debug, Args)]
pub struct Issue {
    /// The private key file that signs the license
    #[arg(long, value_name = "file")]
    pub key: Option<String>,
    /// CustomerID
    #[arg(long, value_name = "id")]
    pub customer: Option<String>,
    /// Product the license is for
    #[arg(long, value_name = "name", default_value = document::DEFAULT_PRODUCT)]
    pub product: String,
    /// Validity from the start time to ExpirationTime, e.g. 720h
    #[arg(long, value_name = "duration", default_value = "720h", allow_hyphen_values = true)]
    pub ttl: String,
    /// Extra time after expiry until TerminationTime, e.g. 168h
    #[arg(long = "termination-grace", value_name = "duration", default_value = "0s", allow_hyphen_values = true)]
    pub termination_grace: String,
    /// IssueTime (RFC 3339) [default: now]
    #[arg(long, value_name = "time")]
    pub issued: Option<String>,
    /// StartTime (RFC 3339) [default: the issue time]
    #[arg(long, value_name = "time")]
    pub start: Option<String>,
    /// LicenseID [default: a random UUID]
    #[arg(long = "license-id", value_name = "id")]
    pub license_id: Option<String>,
    /// InstallationID
    #[arg(long, value_name = "id", default_value = "*")]
    pub installation: String,
    /// Mark the license NonProduction
    #[arg(long = "non-production", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub non_production: bool,
    /// A licensed module; repeatable
    #[arg(long = "module", value_name = "name")]
    pub modules: Vec<String>,
    /// A licensed feature; repeatable
    #[arg(long = "feature", value_name = "name")]
    pub features: Vec<String>,
    /// A flag as key=value (the value as JSON when it parses, else a string); repeatable
    #[arg(long = "flag", value_name = "key=value")]
    pub flags: Vec<String>,
}

/// A `license` command's own failure, with its text.
fn fail(text: impl Into<String>) -> CliError {
    CliError::License(text.into())
}

pub async fn execute(g: &GlobalOpts, command: License) -> Result<String, CliError> {
    match command {
        License::Get(a) => get(g, a).await,
        License::Put(a) => put(g, a).await,
        License::Inspect(a) => inspect(a),
        License::Keygen(a) => keygen(a),
        License::Issue(a) => issue(*a),
    }
}

async fn get(g: &GlobalOpts, a: Get) -> Result<String, CliError> {
    let client = Client::new(g).map_err(CliError::Client)?;
    let reply = client.get(LICENSE, &[]).await.map_err(|e| fail(format!("Error getting license: {e}")))?;
    if a.json {
        return Ok(format::json(&reply)?);
    }
    let (text, expired) = license_info(&reply["License"], unix_now());
    if expired {
        // Nomad prints the license and exits 1 when it has expired.
        return Err(CliError::Expired(text));
    }
    Ok(text)
}

async fn put(g: &GlobalOpts, a: Put) -> Result<String, CliError> {
    let text = one_source(&a.args).map_err(|e| fail(format!("Error parsing arguments: {e}")))?;
    let client = Client::new(g).map_err(CliError::Client)?;
    let query: &[(&str, &str)] = if a.force { &[("force", "true")] } else { &[] };
    client
        .stream(Method::PUT, LICENSE, query, Some(reqwest::Body::from(text)))
        .await
        .map_err(|e: ClientError| fail(format!("Error putting license: {e}")))?;
    Ok("Successfully applied license\n".into())
}

fn inspect(a: Inspect) -> Result<String, CliError> {
    let text = one_source(&a.args).map_err(|e| fail(format!("Error parsing arguments: {e}")))?;
    if a.public_keys.is_empty() {
        return Err(fail("Missing -public-key: the key the license must be signed by"));
    }
    let mut keys = Vec::with_capacity(a.public_keys.len());
    for k in &a.public_keys {
        let value = if Path::new(k).is_file() {
            std::fs::read_to_string(k).map_err(|e| fail(format!("Error reading public key {}: {e}", go_quote(k))))?
        } else {
            k.clone()
        };
        keys.push(PublicKey::parse(&value).map_err(|e| fail(format!("Error parsing public key: {e}")))?);
    }
    let now = unix_now();
    let verified =
        document::verify(&text, &keys, &a.product, now).map_err(|e| fail(format!("Error validating license: {e}")))?;
    let value = serde_json::to_value(&verified.license)?;
    if a.json {
        return Ok(format::json(&value)?);
    }
    Ok(license_info(&value, now).0)
}

fn keygen(a: Keygen) -> Result<String, CliError> {
    for path in [&a.private_key, &a.public_key] {
        if Path::new(path).exists() {
            return Err(fail(format!("Destination file already exists: {}", go_quote(path))));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| fail(format!("Error generating key: {e}")))?;
    let key = PrivateKey::from_seed(seed);
    write_new(&a.private_key, &key.to_text(), 0o600)?;
    let public = key.public_key().to_string();
    write_new(&a.public_key, &public, 0o644)?;
    Ok(format!(
        "Private key written to {}\nPublic key written to {}\nPublic key: {public}\n",
        a.private_key, a.public_key
    ))
}

/// Writes a new file (never over an existing one) with `mode`, and a trailing newline.
fn write_new(path: &str, content: &str, mode: u32) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| fail(format!("Error writing {}: {e}", go_quote(path))))?;
    file.write_all(format!("{content}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(format!("Error writing {}: {e}", go_quote(path))))
}

fn issue(a: Issue) -> Result<String, CliError> {
    let key_path =
        a.key.as_deref().filter(|k| !k.is_empty()).ok_or_else(|| fail("Missing -key: the private key file"))?;
    let customer =
        a.customer.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| fail("Missing -customer: the CustomerID"))?;
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| fail(format!("Error reading private key {}: {e}", go_quote(key_path))))?;
    let key = PrivateKey::parse(&key_text).map_err(|e| fail(format!("Error parsing private key: {e}")))?;
    let time = |flag: &str, v: &Option<String>, default: i64| match v {
        None => Ok(default),
        Some(t) => raftwarden_actors::rfc3339::parse(t)
            .ok_or_else(|| fail(format!("Invalid -{flag} {}: not an RFC 3339 time", go_quote(t)))),
    };
    let duration = |flag: &str, v: &str| {
        crate::go::duration::parse(v)
            .map(|ns| ns / 1_000_000_000)
            .map_err(|e| fail(format!("Invalid -{flag} {}: {e}", go_quote(v))))
    };
    let issued = time("issued", &a.issued, unix_now())?;
    let start = time("start", &a.start, issued)?;
    let expiration = start.saturating_add(duration("ttl", &a.ttl)?);
    let termination = expiration.saturating_add(duration("termination-grace", &a.termination_grace)?.max(0));
    let mut flags = std::collections::BTreeMap::new();
    for f in &a.flags {
        let (k, v) =
            f.split_once('=').ok_or_else(|| fail(format!("Invalid -flag {}: expected key=value", go_quote(f))))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        flags.insert(k.to_string(), value);
    }
    let license = LicenseDoc {
        license_id: a.license_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        customer_id: customer.to_string(),
        installation_id: a.installation,
        issue_time: raftwarden_actors::rfc3339::format(issued),
        start_time: raftwarden_actors::rfc3339::format(start),
        expiration_time: raftwarden_actors::rfc3339::format(expiration),
        termination_time: raftwarden_actors::rfc3339::format(termination),
        non_production: a.non_production,
        product: a.product,
        flags,
        modules: a.modules,
        features: a.features,
    };
    if let Err(e) = license.times() {
        return Err(fail(format!("Error issuing license: {e}")));
    }
    Ok(format!("{}\n", document::sign(&license, &key)))
}

/// Nomad's `LoadDataSource` for one argument: a file, or `-` for stdin.
fn one_source(args: &[String]) -> Result<String, String> {
    match args {
        [] => Err("Missing LICENSE argument".into()),
        [file] if file == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("Failed to read stdin: {e}"))?;
            Ok(text)
        }
        [file] => std::fs::read_to_string(file).map_err(|e| format!("Failed to read file: {e}")),
        more => Err(format!("Too many arguments, exptected 1, got {}", more.len())),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Nomad's `outputLicenseInfo`: the key/value table, then modules and features. Returns the
/// text and whether the license has expired.
fn license_info(lic: &Value, now: i64) -> (String, bool) {
    let s = |k: &str| lic[k].as_str().unwrap_or_default().to_string();
    let past = |k: &str| raftwarden_actors::rfc3339::parse(&s(k)).is_some_and(|t| t < now);
    let (expired, terminated) = (past("ExpirationTime"), past("TerminationTime"));
    let time = |k: &str| format::go_time(&s(k));
    let rows = [
        ("Product", s("Product")),
        ("License Status", if expired { "expired!".into() } else { "valid".into() }),
        ("License ID", s("LicenseID")),
        ("Customer ID", s("CustomerID")),
        ("Issued At", time("IssueTime")),
        (if expired { "Expired At" } else { "Expires At" }, time("ExpirationTime")),
        (if terminated { "Terminated At" } else { "Terminates At" }, time("TerminationTime")),
        ("Datacenter", s("InstallationID")),
        ("NonProduction", lic["NonProduction"].as_bool().unwrap_or(false).to_string()),
    ];
    let mut out = format::key_values(&rows);
    let list = |out: &mut String, title: &str, key: &str| {
        let items: Vec<&str> =
            lic[key].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if !items.is_empty() {
            out.push_str(title);
            out.push('\n');
            for item in items {
                out.push_str(&format!("\t{item}\n"));
            }
        }
    };
    list(&mut out, "Modules:", "Modules");
    list(&mut out, "Licensed Features:", "Features");
    (out, expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_info_as_nomad_prints_it() {
        let lic = serde_json::json!({
            "LicenseID": "licenseID", "CustomerID": "customerID", "InstallationID": "*",
            "IssueTime": "2020-01-01T00:00:00Z", "StartTime": "2020-01-01T00:00:00Z",
            "ExpirationTime": "2020-01-02T00:00:00Z", "TerminationTime": "2020-01-03T00:00:00Z",
            "NonProduction": true, "Product": "raftwarden", "Flags": {}, "Modules": [], "Features": ["Audit"]
        });
        let (text, expired) = license_info(&lic, 1_577_900_000);
        assert!(!expired);
        assert_eq!(
            text,
            "Product        = raftwarden\nLicense Status = valid\nLicense ID     = licenseID\n\
             Customer ID    = customerID\nIssued At      = 2020-01-01 00:00:00 +0000 UTC\n\
             Expires At     = 2020-01-02 00:00:00 +0000 UTC\nTerminates At  = 2020-01-03 00:00:00 +0000 UTC\n\
             Datacenter     = *\nNonProduction  = true\nLicensed Features:\n\tAudit\n"
        );
        let (text, expired) = license_info(&lic, 1_600_000_000);
        assert!(expired);
        assert!(text.contains("License Status = expired!") && text.contains("Terminated At  = "), "{text}");
    }
}
