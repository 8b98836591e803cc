//! `raftwarden var get|put|list|purge`: Nomad's variable commands (`command/var_*.go`) with
//! their flags, texts and exit codes, for the output formats implemented here (`json`, `table`,
//! `none`; `hcl` and `go-template` are not).

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::client::Client;
use super::client::ClientError;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;
use crate::go::flag::go_bool;
use crate::go::quote as go_quote;

#[derive(Debug, Subcommand)]
pub enum Var {
    /// Read a variable
    Get(VarGet),
    /// Create or update a variable
    Put(VarPut),
    /// List variable metadata
    List(VarList),
    /// Purge a variable
    Purge(VarPurge),
}

#[derive(Debug, Args)]
pub struct VarGet {
    /// Print only the value of the given item, without a trailing newline
    #[arg(long, value_name = "item key")]
    pub item: Option<String>,
    /// Output format: json, table or none (default: table on a terminal, json otherwise)
    #[arg(long, value_name = "format")]
    pub out: Option<String>,
    pub path: Option<String>,
    /// The item to print (same as -item)
    pub item_arg: Option<String>,
}

#[derive(Debug, Args)]
pub struct VarPut {
    /// Act only if the variable's modify index matches (0: only if it does not exist)
    #[arg(long = "check-index", value_name = "index")]
    pub check_index: Option<String>,
    /// Write regardless of the variable's state on the server
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub force: bool,
    /// Output format: none (default), json or table
    #[arg(long, value_name = "format", default_value = "none")]
    pub out: String,
    pub path: Option<String>,
    /// Items as key=value
    pub items: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VarList {
    /// Output the variables in JSON format
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub json: bool,
    /// Maximum number of results in one page (0: all)
    #[arg(long = "per-page", value_name = "n", default_value = "0")]
    pub per_page: i32,
    /// The token of the page to start at
    #[arg(long = "page-token", value_name = "token", default_value = "")]
    pub page_token: String,
    pub prefix: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VarPurge {
    /// Purge only if the variable's modify index matches
    #[arg(long = "check-index", value_name = "index")]
    pub check_index: Option<String>,
    pub path: Vec<String>,
}

const WILDCARD: &str = "The wildcard namespace (\"*\") is not valid for this command.";

fn usage(text: &str) -> CliError {
    CliError::Var(text.into())
}

fn client(g: &GlobalOpts) -> Result<Client, CliError> {
    Client::new(g).map_err(CliError::Client)
}

/// `-namespace` or `NOMAD_NAMESPACE` (the global flag), `default` when neither is given.
fn namespace(g: &GlobalOpts) -> String {
    g.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".into())
}

fn var_path(path: &str) -> String {
    format!("/v1/var/{path}")
}

/// Nomad's `-check-index` parsing and texts.
fn check_index(raw: &Option<String>) -> Result<Option<u64>, CliError> {
    let Some(s) = raw else { return Ok(None) };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(&format!("Invalid -check-index value {}: not parsable as uint64", go_quote(s))));
    }
    s.parse::<u64>()
        .map(Some)
        .map_err(|_| usage(&format!("Invalid -check-index value {}: out of range for uint64", go_quote(s))))
}

/// The go-api's error for a status it does not expect.
fn status_error(status: u16, body: &[u8]) -> ClientError {
    ClientError::Status { status, body: String::from_utf8_lossy(body).trim().to_string() }
}

fn json_body(bytes: &[u8]) -> Result<Value, CliError> {
    serde_json::from_slice(bytes).map_err(|e| usage(&format!("Error decoding response: {e}")))
}

/// Nomad's variable JSON as `AsPrettyJSON` prints it: two-space indent.
fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// Nomad's `renderSVAsUiTable`: metadata lines then the items, each a padded key/value list.
fn table(v: &Value) -> String {
    let time = |k: &str| format::go_time(&rfc3339_nanos(v[k].as_i64().unwrap_or(0)));
    let mut meta = vec![
        ("Namespace", format::cell(&v["Namespace"])),
        ("Path", format::cell(&v["Path"])),
        ("Create Time", time("CreateTime")),
    ];
    if v["CreateTime"] != v["ModifyTime"] {
        meta.push(("Modify Time", time("ModifyTime")));
    }
    meta.push(("Check Index", format::cell(&v["ModifyIndex"])));
    let items: Vec<(String, String)> = v["Items"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    let item_refs: Vec<(&str, String)> = items.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    format!("{}\nItems\n{}", format::key_values(&meta), format::key_values(&item_refs))
}

/// Unix nanoseconds as RFC 3339 in UTC.
fn rfc3339_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    crate::go::rfc3339(u64::try_from(secs).unwrap_or(0))
}

fn is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

/// Runs one `var` command; `Ok` is the text for stdout.
pub async fn execute(g: &GlobalOpts, cmd: Var) -> Result<String, CliError> {
    match cmd {
        Var::Get(a) => get(g, a).await,
        Var::Put(a) => put(g, a).await,
        Var::List(a) => list(g, a).await,
        Var::Purge(a) => purge(g, a).await,
    }
}

async fn get(g: &GlobalOpts, a: VarGet) -> Result<String, CliError> {
    let ns = namespace(g);
    let Some(path) = a.path else { return Err(usage("This command takes one argument: <path>")) };
    let out = a.out.unwrap_or_else(|| if is_terminal() { "table" } else { "json" }.into());
    if !matches!(out.as_str(), "json" | "table" | "none") {
        return Err(usage("Invalid value for \"-out\"; valid values are [json, none, table] (hcl and go-template are not implemented)"));
    }
    if ns == "*" {
        return Err(usage(WILDCARD));
    }
    let (status, body) = client(g)?
        .raw(Method::GET, &var_path(&path), &[("namespace", &ns)], None)
        .await
        .map_err(|e| usage(&format!("Error retrieving variable: {e}")))?;
    match status {
        200 => {}
        404 => return Err(usage("Variable not found")),
        _ => return Err(usage(&format!("Error retrieving variable: {}", status_error(status, &body)))),
    }
    let v = json_body(&body)?;
    if let Some(item) = a.item.or(a.item_arg) {
        return match v["Items"].get(&item).and_then(Value::as_str) {
            Some(value) => Ok(value.to_string()),
            None => Err(usage(&format!("Variable does not contain {} item", go_quote(&item)))),
        };
    }
    Ok(match out.as_str() {
        "json" => pretty(&v),
        "none" => String::new(),
        _ => table(&v),
    })
}

/// `key=value` arguments (Nomad's `KVBuilder` for the plain form; `@file` and `-` are not
/// supported here).
fn parse_items(args: &[String]) -> Result<serde_json::Map<String, Value>, CliError> {
    let mut items = serde_json::Map::new();
    for raw in args.iter().filter(|a| !a.is_empty()) {
        let Some((k, v)) = raw.split_once('=') else {
            return Err(usage(&format!("invalid key/value pair {}: format must be key=value", go_quote(raw))));
        };
        let v = v.strip_prefix('\\').filter(|rest| rest.starts_with('@')).unwrap_or(v);
        items.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(items)
}

/// Nomad's `handleCASError` text, without colour.
fn cas_conflict(check_index: u64, conflict: &Value) -> CliError {
    let server_index = conflict["ModifyIndex"].as_u64().unwrap_or(0);
    let last = if server_index > 0 {
        format!(
            "The server-side item was last updated on {}.\n",
            format::go_time(&rfc3339_nanos(conflict["ModifyTime"].as_i64().unwrap_or(0)))
        )
    } else {
        String::new()
    };
    usage(&format!(
        "\nCheck-and-Set conflict\n\n    Your provided check-index ({check_index}) does not match the server-side index ({server_index}).\n    {last}    If you are sure you want to perform this operation, add the -force or -check-index={server_index} flag before the positional arguments.\n"
    ))
}

async fn put(g: &GlobalOpts, a: VarPut) -> Result<String, CliError> {
    let ns = namespace(g);
    let Some(path) = a.path else { return Err(usage("Not enough arguments (expected >1, got 0)")) };
    let cas = check_index(&a.check_index)?;
    if a.force && cas.is_some() {
        return Err(usage("Only one of -force or -check-index may be specified"));
    }
    if !matches!(a.out.as_str(), "json" | "table" | "none") {
        return Err(usage("Invalid value for \"-out\"; valid values are [json, none, table] (hcl and go-template are not implemented)"));
    }
    if ns == "*" {
        return Err(usage(WILDCARD));
    }
    let items = parse_items(&a.items)?;
    let body = serde_json::json!({ "Namespace": ns, "Path": path, "Items": items });
    // Without -force the write is checked: against -check-index, or "must not exist".
    let check = if a.force { None } else { Some(cas.unwrap_or(0)) };
    let check_text = check.map(|c| c.to_string());
    let query: Vec<(&str, &str)> = check_text.iter().map(|c| ("cas", c.as_str())).collect();
    let (status, resp) = client(g)?
        .raw(Method::PUT, &var_path(&path), &query, Some(&body))
        .await
        .map_err(|e| usage(&format!("Error creating variable: {e}")))?;
    match status {
        200 => {}
        409 => return Err(cas_conflict(check.unwrap_or(0), &json_body(&resp)?)),
        _ => return Err(usage(&format!("Error creating variable: {}", status_error(status, &resp)))),
    }
    let v = json_body(&resp)?;
    let success = format!(
        "Created variable {} with modify index {}\n",
        go_quote(v["Path"].as_str().unwrap_or_default()),
        format::cell(&v["ModifyIndex"])
    );
    Ok(match a.out.as_str() {
        "json" => pretty(&v),
        "table" => table(&v),
        _ => success,
    })
}

async fn list(g: &GlobalOpts, a: VarList) -> Result<String, CliError> {
    let ns = namespace(g);
    if a.prefix.len() > 1 {
        return Err(usage("This command takes flags and either no arguments or one: <prefix>"));
    }
    let prefix = a.prefix.first().cloned().unwrap_or_default();
    let per_page = a.per_page.to_string();
    let query = [
        ("namespace", ns.as_str()),
        ("prefix", prefix.as_str()),
        ("per_page", per_page.as_str()),
        ("next_token", a.page_token.as_str()),
    ];
    let c = client(g)?;
    let (status, body) = c
        .raw(Method::GET, "/v1/vars", &query, None)
        .await
        .map_err(|e| usage(&format!("Error retrieving vars: {e}")))?;
    if status != 200 {
        return Err(usage(&format!("Error retrieving vars: {}", status_error(status, &body))));
    }
    let vars = json_body(&body)?;
    if a.json {
        return Ok(format::json(&vars)?);
    }
    let entries = vars.as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        return Ok("No matching variables found\n".into());
    }
    let mut rows = vec![vec!["Namespace".to_string(), "Path".to_string(), "Last Updated".to_string()]];
    for v in &entries {
        rows.push(vec![
            format::cell(&v["Namespace"]),
            format::cell(&v["Path"]),
            format::go_time(&rfc3339_nanos(v["ModifyTime"].as_i64().unwrap_or(0))),
        ]);
    }
    Ok(format::columnize(&rows, "  ", ""))
}

async fn purge(g: &GlobalOpts, a: VarPurge) -> Result<String, CliError> {
    let ns = namespace(g);
    if a.path.len() != 1 {
        return Err(usage("This command takes one argument: <path>"));
    }
    let path = &a.path[0];
    let cas = check_index(&a.check_index)?;
    if ns == "*" {
        return Err(usage(WILDCARD));
    }
    let cas_text = cas.map(|c| c.to_string());
    let mut query = vec![("namespace", ns.as_str())];
    if let Some(c) = &cas_text {
        query.push(("cas", c.as_str()));
    }
    let (status, body) = client(g)?
        .raw(Method::DELETE, &var_path(path), &query, None)
        .await
        .map_err(|e| usage(&format!("Error purging variable: {e}")))?;
    match status {
        200 | 204 => Ok(format!("Successfully purged variable {}!\n", go_quote(path))),
        409 => Err(cas_conflict(cas.unwrap_or(0), &json_body(&body)?)),
        _ => Err(usage(&format!("Error purging variable: {}", status_error(status, &body)))),
    }
}
