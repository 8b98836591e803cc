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
    /// Output format: go-template, hcl, json, none or table (default: table on a terminal,
    /// json otherwise)
    #[arg(long, value_name = "format")]
    pub out: Option<String>,
    /// Template to render output with (with -out=go-template)
    #[arg(long, value_name = "template", default_value = "")]
    pub template: String,
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VarPut {
    /// Act only if the variable's modify index matches (0: only if it does not exist)
    #[arg(long = "check-index", value_name = "index")]
    pub check_index: Option<String>,
    /// Write regardless of the variable's state on the server
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub force: bool,
    /// Parser for a specification from stdin or a file without a known extension: hcl or json
    #[arg(long = "in", value_name = "format", default_value = "json")]
    pub in_format: String,
    /// Output format: go-template, hcl, json, none or table (default: none on a terminal,
    /// json otherwise)
    #[arg(long, value_name = "format")]
    pub out: Option<String>,
    /// Template to render output with (with -out=go-template)
    #[arg(long, value_name = "template", default_value = "")]
    pub template: String,
    /// Say on stderr what is read and written
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub verbose: bool,
    /// `<path>` or a specification (`@file`, `-`), then an optional specification and items
    #[arg(allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VarList {
    /// Maximum number of results in one page (0: all)
    #[arg(long = "per-page", value_name = "n", default_value = "0")]
    pub per_page: i32,
    /// The token of the page to start at
    #[arg(long = "page-token", value_name = "token", default_value = "")]
    pub page_token: String,
    /// A go-bexpr expression the listed metadata must pass
    #[arg(long, value_name = "expression", default_value = "")]
    pub filter: String,
    /// Output format: go-template, json, table or terse (default: table on a terminal, json
    /// otherwise)
    #[arg(long, value_name = "format")]
    pub out: Option<String>,
    /// Template to render output with (with -out=go-template)
    #[arg(long, value_name = "template", default_value = "")]
    pub template: String,
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

/// JSON text built in a field order of our choosing (Go marshals struct fields in declaration
/// order, map keys sorted), printed as Go's `json.MarshalIndent`.
enum Json {
    Obj(Vec<(&'static str, Json)>),
    Arr(Vec<Json>),
    Map(Option<std::collections::BTreeMap<String, String>>),
    Raw(String),
}

/// A Go-encoded JSON string: `<`, `>`, `&`, U+2028 and U+2029 escaped as `encoding/json` does.
fn go_string(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    quoted
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

impl Json {
    fn str(v: &Value) -> Json {
        Json::Raw(go_string(v.as_str().unwrap_or_default()))
    }

    fn num(v: &Value) -> Json {
        Json::Raw(v.as_i64().map(|n| n.to_string()).or_else(|| v.as_u64().map(|n| n.to_string())).unwrap_or("0".into()))
    }

    fn print(&self, indent: &str, level: usize, out: &mut String) {
        let pad = |l: usize| indent.repeat(l);
        match self {
            Json::Raw(t) => out.push_str(t),
            Json::Map(None) => out.push_str("null"),
            Json::Map(Some(m)) if m.is_empty() => out.push_str("{}"),
            Json::Map(Some(m)) => {
                out.push_str("{\n");
                let n = m.len();
                for (i, (k, v)) in m.iter().enumerate() {
                    out.push_str(&format!("{}{}: {}", pad(level + 1), go_string(k), go_string(v)));
                    out.push_str(if i + 1 < n { ",\n" } else { "\n" });
                }
                out.push_str(&pad(level));
                out.push('}');
            }
            Json::Obj(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(&format!("{}\"{k}\": ", pad(level + 1)));
                    v.print(indent, level + 1, out);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(level));
                out.push('}');
            }
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    out.push_str(&pad(level + 1));
                    v.print(indent, level + 1, out);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(level));
                out.push(']');
            }
        }
    }

    fn indented(&self, indent: &str) -> String {
        let mut out = String::new();
        self.print(indent, 0, &mut out);
        out
    }
}

fn items_of(v: &Value) -> Option<std::collections::BTreeMap<String, String>> {
    v["Items"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
}

/// The Go client's `api.VariableMetadata`, in its field order.
fn api_metadata(v: &Value) -> Vec<(&'static str, Json)> {
    vec![
        ("Namespace", Json::str(&v["Namespace"])),
        ("Path", Json::str(&v["Path"])),
        ("CreateIndex", Json::num(&v["CreateIndex"])),
        ("ModifyIndex", Json::num(&v["ModifyIndex"])),
        ("CreateTime", Json::num(&v["CreateTime"])),
        ("ModifyTime", Json::num(&v["ModifyTime"])),
    ]
}

/// The Go client's `api.Variable` as `AsPrettyJSON` prints it: its field order (`Namespace,
/// Path, CreateIndex, ModifyIndex, CreateTime, ModifyTime, Items`), two-space indent.
fn pretty(v: &Value) -> String {
    let mut fields = api_metadata(v);
    fields.push(("Items", Json::Map(items_of(v))));
    Json::Obj(fields).indented("  ") + "\n"
}

/// Nomad's `renderAsHCL` (`command/var.go`): the metadata lines, then the items with their keys
/// right-aligned to the longest (its `printf "  %*s = %q"`).
fn hcl(v: &Value) -> String {
    let items = items_of(v).unwrap_or_default();
    let pad = items.keys().map(|k| k.len()).max().unwrap_or(0);
    let mut out = format!(
        "\nnamespace    = \"{}\"\npath         = \"{}\"\ncreate_index = {}  # Set by server\nmodify_index = {}  # Set by server; consulted for check-and-set\ncreate_time  = {}   # Set by server\nmodify_time  = {}   # Set by server\n\nitems = {{\n",
        v["Namespace"].as_str().unwrap_or_default(),
        v["Path"].as_str().unwrap_or_default(),
        format::cell(&v["CreateIndex"]),
        format::cell(&v["ModifyIndex"]),
        format::cell(&v["CreateTime"]),
        format::cell(&v["ModifyTime"]),
    );
    for (k, value) in &items {
        out.push_str(&format!("  {k:>pad$} = {}\n", go_quote(value)));
    }
    out.push_str("}\n");
    out
}

/// The Go value a template sees: the client's `api.Variable` (field names as Go's).
fn template_data(v: &Value) -> Value {
    serde_json::json!({
        "Namespace": v["Namespace"], "Path": v["Path"], "CreateIndex": v["CreateIndex"],
        "ModifyIndex": v["ModifyIndex"], "CreateTime": v["CreateTime"], "ModifyTime": v["ModifyTime"],
        "Items": v["Items"],
    })
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
    let items: Vec<(String, String)> = items_of(v).unwrap_or_default().into_iter().collect();
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

fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal()
}

/// Nomad's `commandErrorText`: the line after a usage error.
fn with_help(text: &str, command: &str) -> CliError {
    usage(&format!("{text}\nFor additional help try 'raftwarden var {command} -help'"))
}

const MISSING_TEMPLATE: &str = "A template must be supplied using '-template' when using go-template formatting";
const UNEXPECTED_TEMPLATE: &str = "The '-template' flag is only valid when using 'go-template' formatting";
const INVALID_OUT: &str = "Invalid value for \"-out\"; valid values are [go-template, hcl, json, none, table]";
const INVALID_LIST_OUT: &str = "Invalid value for \"-out\"; valid values are [go-template, json, table, terse]";
const INVALID_IN: &str = "Invalid value for \"-in\"; valid values are [hcl, json]";
const FILTER_WARNING: &str = "Filter queries require a full scan of the data; use prefix searching where possible";

/// Nomad's `validateOutputFlag` of `var get` and `var put` (`valid` are the plain formats).
fn validate_out(out: &str, template: &str, valid: &[&str], invalid: &str) -> Result<(), &'static str> {
    if out != "go-template" && !template.is_empty() {
        return Err(UNEXPECTED_TEMPLATE);
    }
    match out {
        "go-template" if template.is_empty() => Err(MISSING_TEMPLATE),
        "go-template" => Ok(()),
        o if valid.contains(&o) => Ok(()),
        _ => Err(if invalid == INVALID_LIST_OUT { INVALID_LIST_OUT } else { INVALID_OUT }),
    }
}

/// One variable in the `-out` format (`table` and `none` are the callers').
fn render_variable(v: &Value, out: &str, template: &str) -> Result<String, CliError> {
    Ok(match out {
        "json" => pretty(v),
        "hcl" => hcl(v) + "\n",
        _ => crate::cli::gotemplate::render("var", template, &template_data(v)).map_err(|e| usage(&e))? + "\n",
    })
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
    if a.args.len() != 1 {
        return Err(with_help("This command takes one argument: <path>", "get"));
    }
    let path = &a.args[0];
    let out = a.out.unwrap_or_else(|| if is_terminal() { "table" } else { "json" }.into());
    validate_out(&out, &a.template, &["hcl", "json", "none", "table"], INVALID_OUT).map_err(|e| with_help(e, "get"))?;
    if ns == "*" {
        return Err(usage(WILDCARD));
    }
    let (status, body) = client(g)?
        .raw(Method::GET, &var_path(path.trim_matches([' ', '/'])), &[("namespace", &ns)], None)
        .await
        .map_err(|e| usage(&format!("Error retrieving variable: {e}")))?;
    match status {
        200 => {}
        404 => return Err(usage("Variable not found")),
        _ => return Err(usage(&format!("Error retrieving variable: {}", status_error(status, &body)))),
    }
    let v = json_body(&body)?;
    if let Some(item) = a.item.filter(|i| !i.is_empty()) {
        return match v["Items"].get(&item).and_then(Value::as_str) {
            Some(value) => Ok(value.to_string()),
            None => Err(usage(&format!("Variable does not contain {} item", go_quote(&item)))),
        };
    }
    match out.as_str() {
        "none" => Ok(String::new()),
        "table" => Ok(table(&v)),
        other => render_variable(&v, other, &a.template),
    }
}

/// Nomad's `KVBuilder` over the `key=value` arguments of `var put`: `@file` and `-` values are
/// read from the file and stdin, `\@` escapes a leading `@`, a bare `-` or `@file.json` merges
/// a JSON object of items. An empty value removes the item.
fn parse_items(args: &[String], stdin_used: &mut bool) -> Result<Vec<(String, String)>, CliError> {
    let fail = |raw: &str, why: String| {
        usage(&format!("Failed to parse K=V data: invalid key/value pair {}: {why}", go_quote(raw)))
    };
    let read_stdin = |used: &mut bool, raw: &str| -> Result<String, CliError> {
        if *used {
            return Err(fail(raw, "stdin already consumed".into()));
        }
        *used = true;
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf).map_err(|e| fail(raw, e.to_string()))?;
        Ok(buf)
    };
    let mut items: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String, raw: &str| -> Result<(), CliError> {
        if items.iter().any(|(key, _)| *key == k) {
            // Nomad turns a repeated key into a list, which a variable cannot hold.
            return Err(fail(raw, format!("item {} is given more than once", go_quote(&k))));
        }
        items.push((k, v));
        Ok(())
    };
    for raw in args.iter().filter(|a| !a.is_empty()) {
        let Some((k, v)) = raw.split_once('=') else {
            let merged = if raw == "-" {
                Some(read_stdin(stdin_used, raw)?)
            } else if let Some(file) = raw.strip_prefix('@') {
                Some(std::fs::read_to_string(file).map_err(|e| fail(raw, open_error(file, &e)))?)
            } else {
                None
            };
            let Some(text) = merged else { return Err(fail(raw, "format must be key=value".into())) };
            let map: serde_json::Map<String, Value> =
                serde_json::from_str(&text).map_err(|e| fail(raw, e.to_string()))?;
            for (k, v) in map {
                let Value::String(v) = v else {
                    return Err(fail(raw, format!("item {} is not a string", go_quote(&k))));
                };
                set(k, v, raw)?;
            }
            continue;
        };
        let value = if let Some(file) = v.strip_prefix('@') {
            std::fs::read_to_string(file)
                .map_err(|e| fail(raw, format!("error reading file: {}", open_error(file, &e))))?
        } else if v.starts_with("\\@") {
            v[1..].to_string()
        } else if v == "-" {
            read_stdin(stdin_used, raw)?
        } else {
            v.to_string()
        };
        set(k.to_string(), value, raw)?;
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

/// A variable specification (`var put @file`, `var put -`): Nomad's `api.Variable` decoded from
/// JSON (`encoding/json`, case-insensitive keys) or HCL (`parseVariableSpec`).
fn parse_spec(contents: &str, format_name: &str) -> Result<Value, String> {
    let field = |m: &serde_json::Map<String, Value>, name: &str| -> Option<Value> {
        m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let (map, hcl_keys) = match format_name {
        "json" => match serde_json::from_str::<Value>(contents) {
            Ok(Value::Object(m)) => (m, false),
            Ok(other) => {
                return Err(format!(
                    "error unmarshaling json: json: cannot unmarshal {} into Go value of type api.Variable",
                    json_kind(&other)
                ))
            }
            Err(e) => return Err(format!("error unmarshaling json: {e}")),
        },
        _ => match raftwarden_actors::hcl1::parse(contents) {
            Ok(Value::Object(m)) => (m, true),
            Ok(_) => return Err("error parsing hcl: error parsing: root should be an object".into()),
            Err(e) => return Err(format!("error parsing hcl: {e}")),
        },
    };
    let name = |go: &'static str, hcl: &'static str| if hcl_keys { hcl } else { go };
    if hcl_keys {
        let valid = ["namespace", "path", "create_index", "modify_index", "create_time", "modify_time", "items"];
        if let Some(bad) = map.keys().find(|k| !valid.contains(&k.as_str())) {
            return Err(format!("error parsing hcl: invalid key: {bad}"));
        }
    }
    let get = |go: &'static str, hcl: &'static str| if hcl_keys { map.get(hcl).cloned() } else { field(&map, go) };
    let mut items = serde_json::Map::new();
    match get("Items", "items") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => items.insert(k, Value::String(s)),
                    other => items.insert(k, Value::String(format::go_print(&other))),
                };
            }
        }
        Some(Value::Array(list)) if hcl_keys => {
            for m in list.into_iter().filter_map(|v| v.as_object().cloned()) {
                for (k, v) in m {
                    items.insert(k, Value::String(v.as_str().map(String::from).unwrap_or_else(|| format::go_print(&v))));
                }
            }
        }
        Some(other) => return Err(format!("error unmarshaling json: json: cannot unmarshal {} into Go struct field Variable.Items of type api.VariableItems", json_kind(&other))),
    }
    let text = |go, hcl| get(go, hcl).and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let number = |go: &'static str, hcl: &'static str| -> Result<i64, String> {
        match get(go, hcl) {
            None | Some(Value::Null) => Ok(0),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.as_i64().unwrap_or(i64::MAX)),
            Some(other) if hcl_keys => {
                Err(format!("error parsing hcl: {} must be integer; got {}", name(go, hcl), format::go_print(&other)))
            }
            Some(other) => Err(format!(
                "error unmarshaling json: json: cannot unmarshal {} into Go struct field Variable.{go} of type int64",
                json_kind(&other)
            )),
        }
    };
    Ok(serde_json::json!({
        "Namespace": text("Namespace", "namespace"),
        "Path": text("Path", "path"),
        "CreateIndex": number("CreateIndex", "create_index")?,
        "ModifyIndex": number("ModifyIndex", "modify_index")?,
        "CreateTime": number("CreateTime", "create_time")?,
        "ModifyTime": number("ModifyTime", "modify_time")?,
        "Items": items,
    }))
}

/// Go's `*PathError` text of a failed open: `open <path>: no such file or directory`.
fn open_error(path: &str, e: &std::io::Error) -> String {
    format!("open {path}: {}", crate::go::os_error(e))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `@file`'s parser from its extension (Nomad's `setParserForFileArg`).
fn format_of_file(arg: &str) -> Result<&'static str, CliError> {
    match std::path::Path::new(arg).extension().and_then(|e| e.to_str()) {
        Some("json") => Ok("json"),
        Some("hcl") => Ok("hcl"),
        _ => Err(usage(&format!("Unable to determine format of {arg}; Use the -in flag to specify it."))),
    }
}

fn read_all_stdin() -> Result<String, CliError> {
    if stdin_is_terminal() {
        return Ok(String::new());
    }
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
        .map_err(|e| usage(&format!("Error reading from stdin: {e}")))?;
    Ok(buf)
}

async fn put(g: &GlobalOpts, a: VarPut) -> Result<String, CliError> {
    let verbose = |msg: String| {
        if a.verbose {
            eprintln!("{msg}");
        }
    };
    let (check, enforce) = match a.check_index.as_deref() {
        None | Some("") => (0, false),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => (n, true),
            _ => {
                let why = if s.bytes().all(|b| b.is_ascii_digit()) { "value out of range" } else { "invalid syntax" };
                return Err(usage(&format!(
                    "Error parsing check-index value {}: strconv.ParseUint: parsing {}: {why}",
                    go_quote(s),
                    go_quote(s)
                )));
            }
        },
    };
    let meta_namespace = g.namespace.clone().unwrap_or_default();
    if meta_namespace == "*" {
        return Err(usage(WILDCARD));
    }
    let is_ref = |s: &str| s == "-" || (s.starts_with('@') && !s.starts_with("\\@"));
    match a.args.as_slice() {
        [] => return Err(with_help("Not enough arguments (expected >1, got 0)", "put")),
        [one] if !is_ref(one) => return Err(with_help("Must supply data", "put")),
        _ => {}
    }
    let mut in_format = a.in_format.clone();
    if !matches!(in_format.as_str(), "hcl" | "json") {
        return Err(with_help(INVALID_IN, "put"));
    }
    let out = a.out.clone().unwrap_or_else(|| if is_terminal() { "none" } else { "json" }.into());
    validate_out(&out, &a.template, &["none", "json", "hcl", "table"], INVALID_OUT).map_err(|e| with_help(e, "put"))?;

    let mut contents = String::new();
    let mut path = String::new();
    let first = &a.args[0];
    if first == "-" {
        contents = read_all_stdin()?;
        verbose(format!("Reading whole {} variable specification from stdin", in_format.to_uppercase()));
    } else if let Some(spec) = first.strip_prefix('@').filter(|_| is_ref(first)) {
        in_format = format_of_file(spec)?.into();
        verbose(format!("Reading whole {} variable specification from {}", in_format.to_uppercase(), go_quote(spec)));
        contents = std::fs::read_to_string(spec)
            .map_err(|e| usage(&format!("Error reading {}: {}", go_quote(spec), open_error(spec, &e))))?;
    } else {
        path = first.trim().trim_matches('/').to_string();
        verbose(format!("Writing to path {}", go_quote(&path)));
    }
    let mut rest = &a.args[1..];
    if let Some(second) = rest.first() {
        if second == "-" {
            verbose(format!("Creating variable {} using specification from stdin", go_quote(&path)));
            contents = read_all_stdin()?;
            rest = &rest[1..];
        } else if let Some(spec) = second.strip_prefix('@').filter(|_| is_ref(second)) {
            in_format = format_of_file(second)?.into();
            verbose(format!("Creating variable {} from specification file {}", go_quote(&path), go_quote(second)));
            contents = std::fs::read_to_string(spec)
                .map_err(|e| usage(&format!("error reading {}: {}", go_quote(spec), open_error(spec, &e))))?;
            rest = &rest[1..];
        }
    }

    // Nomad's makeVariable: the specification, with the flag's namespace and the argument's
    // path stepping on it (and then the indexes and times reset, as for a copy).
    let mut var = if contents.is_empty() {
        serde_json::json!({ "Namespace": meta_namespace, "Path": path, "CreateIndex": 0, "ModifyIndex": 0, "CreateTime": 0, "ModifyTime": 0, "Items": {} })
    } else {
        let mut v =
            parse_spec(&contents, &in_format).map_err(|e| usage(&format!("Failed to parse variable data: {e}")))?;
        let mut reset = false;
        if !meta_namespace.is_empty() && v["Namespace"] != meta_namespace.as_str() {
            v["Namespace"] = Value::String(meta_namespace.clone());
            reset = true;
        }
        if !path.is_empty() && v["Path"] != path.as_str() {
            v["Path"] = Value::String(path.clone());
            reset = true;
        }
        if reset {
            for k in ["CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime"] {
                v[k] = Value::from(0);
            }
        }
        v
    };
    let mut stdin_used = false;
    for (k, value) in parse_items(rest, &mut stdin_used)? {
        let Some(items) = var["Items"].as_object_mut() else { continue };
        if value.is_empty() {
            if items.remove(&k).is_some() {
                verbose(format!("Removed item {}", go_quote(&k)));
            } else {
                verbose(format!("Item {} does not exist, continuing...", go_quote(&k)));
            }
            continue;
        }
        items.insert(k, Value::String(value));
    }
    if enforce {
        var["ModifyIndex"] = Value::from(check);
    }
    let var_path_text = var["Path"].as_str().unwrap_or_default().trim_matches([' ', '/']).to_string();
    let check_index = var["ModifyIndex"].as_u64().unwrap_or(0);
    let cas_text = check_index.to_string();
    let mut query: Vec<(&str, &str)> = Vec::new();
    if !a.force {
        query.push(("cas", cas_text.as_str()));
    }
    if let Some(ns) = g.namespace.as_deref().filter(|n| !n.is_empty()) {
        query.push(("namespace", ns));
    }
    let (status, resp) = client(g)?
        .raw(Method::PUT, &var_path(&var_path_text), &query, Some(&var))
        .await
        .map_err(|e| usage(&format!("Error creating variable: {e}")))?;
    match status {
        200 => {}
        409 if !a.force => return Err(cas_conflict(check_index, &json_body(&resp)?)),
        _ => return Err(usage(&format!("Error creating variable: {}", status_error(status, &resp)))),
    }
    let v = json_body(&resp)?;
    let success = format!(
        "Created variable {} with modify index {}",
        go_quote(v["Path"].as_str().unwrap_or_default()),
        format::cell(&v["ModifyIndex"])
    );
    match out.as_str() {
        "none" => Ok(success + "\n"),
        "table" => {
            verbose(success);
            Ok(table(&v))
        }
        other => {
            let rendered = render_variable(&v, other, &a.template)?;
            verbose(success);
            Ok(rendered)
        }
    }
}

async fn list(g: &GlobalOpts, a: VarList) -> Result<String, CliError> {
    let ns = namespace(g);
    if a.prefix.len() > 1 {
        return Err(with_help("This command takes flags and either no arguments or one: <prefix>", "list"));
    }
    let out = a.out.clone().unwrap_or_else(|| if is_terminal() { "table" } else { "json" }.into());
    validate_out(&out, &a.template, &["json", "terse", "table"], INVALID_LIST_OUT).map_err(|e| with_help(e, "list"))?;
    let prefix = a.prefix.first().cloned().unwrap_or_default();
    let c = client(g)?;
    if !a.filter.is_empty() {
        eprintln!("{FILTER_WARNING}");
    }
    let per_page = a.per_page.to_string();
    let mut query = vec![("namespace", ns.as_str()), ("prefix", prefix.as_str())];
    if a.per_page != 0 {
        query.push(("per_page", per_page.as_str()));
    }
    if !a.page_token.is_empty() {
        query.push(("next_token", a.page_token.as_str()));
    }
    if !a.filter.is_empty() {
        query.push(("filter", a.filter.as_str()));
    }
    let started = std::time::Instant::now();
    let (status, body, headers) = c
        .raw_with_headers(Method::GET, "/v1/vars", &query, None)
        .await
        .map_err(|e| usage(&format!("Error retrieving vars: {e}")))?;
    let request_time = started.elapsed();
    if status != 200 {
        return Err(usage(&format!("Error retrieving vars: {}", status_error(status, &body))));
    }
    let vars = json_body(&body)?;
    let entries = vars.as_array().cloned().unwrap_or_default();
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let next_token = header("X-Nomad-NextToken").unwrap_or_default();
    let text = match out.as_str() {
        "json" => {
            let items = Json::Arr(entries.iter().map(|v| Json::Obj(api_metadata(v))).collect());
            // A paged listing carries its QueryMeta, so a script can find the next page.
            let obj = if a.per_page > 0 {
                let num = |h: &str| Json::Raw(header(h).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0).to_string());
                let known = header("X-Nomad-KnownLeader").is_some_and(|v| v == "true");
                Json::Obj(vec![
                    ("Data", items),
                    (
                        "QueryMeta",
                        Json::Obj(vec![
                            ("LastIndex", num("X-Nomad-Index")),
                            (
                                "LastContact",
                                Json::Raw(
                                    (header("X-Nomad-LastContact").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                                        * 1_000_000)
                                        .to_string(),
                                ),
                            ),
                            ("KnownLeader", Json::Raw(known.to_string())),
                            ("RequestTime", Json::Raw(request_time.as_nanos().to_string())),
                            ("NextToken", Json::Raw(go_string(&next_token))),
                        ]),
                    ),
                ])
            } else {
                items
            };
            return Ok(obj.indented("    ") + "\n");
        }
        "terse" => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|v| {
                    if ns == "*" {
                        vec![format::cell(&v["Namespace"]), format::cell(&v["Path"])]
                    } else {
                        vec![format::cell(&v["Path"])]
                    }
                })
                .collect();
            let text = format::columnize(&rows, "  ", "");
            if text.ends_with('\n') {
                text
            } else {
                text + "\n"
            }
        }
        "go-template" => {
            let data = Value::Array(entries.iter().map(template_data).collect());
            crate::cli::gotemplate::render("format", &a.template, &data).map_err(|e| usage(&e))? + "\n"
        }
        _ if entries.is_empty() => "No matching variables found\n".into(),
        _ => {
            let mut rows = vec![vec!["Namespace".to_string(), "Path".to_string(), "Last Updated".to_string()]];
            for v in &entries {
                rows.push(vec![
                    format::cell(&v["Namespace"]),
                    format::cell(&v["Path"]),
                    format::go_time(&rfc3339_nanos(v["ModifyTime"].as_i64().unwrap_or(0))),
                ]);
            }
            format::columnize(&rows, "  ", "")
        }
    };
    if !next_token.is_empty() {
        // Nomad's Ui.Warn: the token goes to stderr, so stdout holds only the listing.
        eprintln!("Next page token: {next_token}");
    }
    Ok(text)
}

async fn purge(g: &GlobalOpts, a: VarPurge) -> Result<String, CliError> {
    let ns = namespace(g);
    if a.path.len() != 1 {
        return Err(with_help("This command takes one argument: <path>", "purge"));
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
