//! `raftwarden acl bootstrap|policy|token ...`: Nomad's ACL commands (`command/acl_*.go`) with
//! their flags, texts and exit codes. The text forms are Nomad's `outputACLToken`,
//! `formatACLPolicy`, `formatPolicies` and `formatTokens`; `-json` prints what Nomad's Go `api`
//! structs marshal to (no `Hash`, no null `ExpirationTime`).

use std::io::Read;

use clap::ArgAction;
use clap::Args;
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;
use serde_json::Map;
use serde_json::Value;

use super::client::Client;
use super::error::CliError;
use super::format;
use super::opts::GlobalOpts;
use super::opts::Output;
use super::render;
use crate::go;
use crate::go::flag::go_bool;

#[derive(Debug, Subcommand)]
pub enum Acl {
    /// Bootstrap the ACL system for initial token
    Bootstrap(Bootstrap),
    /// Interact with ACL policies
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Policy(Policy),
    /// Interact with ACL tokens
    #[command(subcommand, subcommand_required = true, arg_required_else_help = true)]
    Token(Token),
}

#[derive(Debug, Subcommand)]
pub enum Policy {
    /// Create or update an ACL policy
    Apply(PolicyApply),
    /// List ACL policies
    List(Listing),
    /// Fetch info on an existing ACL policy
    Info(Positional),
    /// Delete an existing ACL policy
    Delete(Positional),
}

#[derive(Debug, Subcommand)]
pub enum Token {
    /// Create a new ACL token
    Create(TokenCreate),
    /// List ACL tokens
    List(Listing),
    /// Fetch information on an existing ACL token
    Info(Positional),
    /// Lookup self ACL token
    #[command(name = "self")]
    Own(Positional),
    /// Update an existing ACL token
    Update(TokenUpdate),
    /// Delete an existing ACL token
    Delete(Positional),
}

#[derive(Debug, Args)]
pub struct Bootstrap {
    #[command(flatten)]
    pub output: Output,
    /// File holding the operator-generated bootstrap secret ("-" reads stdin)
    #[arg(value_name = "path")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PolicyApply {
    /// Specifies a human readable description for the policy
    #[arg(long, value_name = "description", default_value = "", allow_hyphen_values = true)]
    pub description: String,
    /// <name> <path>: the policy's name and its rules file ("-" reads stdin)
    #[arg(value_name = "arg")]
    pub args: Vec<String>,
}

/// `list`: `-json` and `-t`, no arguments.
#[derive(Debug, Args)]
pub struct Listing {
    #[command(flatten)]
    pub output: Output,
    /// Nomad takes no arguments; any given is reported as an error
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// Commands whose only input is their positional arguments.
#[derive(Debug, Args)]
pub struct Positional {
    #[arg(value_name = "arg")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    /// Sets the human readable name for the ACL token
    #[arg(long, value_name = "name", default_value = "", allow_hyphen_values = true)]
    pub name: String,
    /// Sets the type of token: "client" (default) or "management"
    #[arg(long = "type", value_name = "type", default_value = "client")]
    pub token_type: String,
    /// Toggles the global mode of the token
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub global: bool,
    /// A policy to associate with the token; repeatable
    #[arg(long = "policy", value_name = "policy", action = ArgAction::Append)]
    pub policies: Vec<String>,
    /// Time-to-live of the token, e.g. 5m or 1h (default: never expires)
    #[arg(long, value_name = "duration", default_value = "", allow_hyphen_values = true)]
    pub ttl: String,
    #[command(flatten)]
    pub output: Output,
    /// Nomad takes no arguments; any given is reported as an error
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenUpdate {
    /// Sets the human readable name for the ACL token
    #[arg(long, value_name = "name", default_value = "", allow_hyphen_values = true)]
    pub name: String,
    /// Sets the type of token: "client" or "management"
    #[arg(long = "type", value_name = "type", default_value = "")]
    pub token_type: String,
    /// Toggles the global mode of the token (as in Nomad, omitting it makes the token local)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", value_name = "bool", value_parser = go_bool)]
    pub global: bool,
    /// A policy to associate with the token, replacing the current ones; repeatable
    #[arg(long = "policy", value_name = "policy", action = ArgAction::Append)]
    pub policies: Vec<String>,
    /// <token_accessor_id>
    #[arg(value_name = "token_accessor_id")]
    pub args: Vec<String>,
}

const BOOTSTRAP: &str = "/v1/acl/bootstrap";
const POLICIES: &str = "/v1/acl/policies";
const TOKENS: &str = "/v1/acl/tokens";
const TOKEN: &str = "/v1/acl/token";
const TOKEN_SELF: &str = "/v1/acl/token/self";

/// Nomad's `api.ACLToken` fields, in its JSON order.
const TOKEN_FIELDS: &[&str] = &[
    "ExpirationTTL",
    "AccessorID",
    "SecretID",
    "Name",
    "Type",
    "Policies",
    "Roles",
    "Global",
    "CreateTime",
    "ExpirationTime",
    "CreateIndex",
    "ModifyIndex",
];
/// Nomad's `api.ACLTokenListStub` fields.
const TOKEN_STUB_FIELDS: &[&str] = &[
    "AccessorID",
    "Name",
    "Type",
    "Policies",
    "Roles",
    "Global",
    "CreateTime",
    "ExpirationTime",
    "CreateIndex",
    "ModifyIndex",
];
/// Nomad's `api.ACLPolicyListStub` fields.
const POLICY_STUB_FIELDS: &[&str] = &["Name", "Description", "CreateIndex", "ModifyIndex"];

fn fail(text: String) -> CliError {
    CliError::Acl(text)
}

fn client(g: &GlobalOpts) -> Result<Client, CliError> {
    Client::new(g).map_err(CliError::Client)
}

/// Runs one `acl` command; `Ok` is the text for stdout.
pub async fn execute(g: &GlobalOpts, cmd: Acl) -> Result<String, CliError> {
    match cmd {
        Acl::Bootstrap(a) => bootstrap(g, a).await,
        Acl::Policy(Policy::Apply(a)) => policy_apply(g, a).await,
        Acl::Policy(Policy::List(a)) => policy_list(g, a).await,
        Acl::Policy(Policy::Info(a)) => policy_info(g, a).await,
        Acl::Policy(Policy::Delete(a)) => policy_delete(g, a).await,
        Acl::Token(Token::Create(a)) => token_create(g, a).await,
        Acl::Token(Token::List(a)) => token_list(g, a).await,
        Acl::Token(Token::Info(a)) => token_info(g, a).await,
        Acl::Token(Token::Own(a)) => token_self(g, a).await,
        Acl::Token(Token::Update(a)) => token_update(g, a).await,
        Acl::Token(Token::Delete(a)) => token_delete(g, a).await,
    }
}

/// Go's text for a failed `os.ReadFile`/`io.ReadAll`: `open <path>: no such file or directory`.
fn read_error(path: &str, e: &std::io::Error) -> String {
    let cause = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => return format!("read {path}: is a directory"),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            text[..1.min(text.len())].to_lowercase() + &text[1.min(text.len())..]
        }
    };
    format!("open {path}: {cause}")
}

/// Reads `path`, or stdin for `-`.
fn read_input(path: &str) -> Result<Vec<u8>, std::io::Error> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path)
}

/// `value` with only `fields`, in their order; a null or missing `ExpirationTime` is left out
/// (`omitempty` on a pointer).
fn project(value: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for &f in fields {
        let v = value.get(f).cloned().unwrap_or(Value::Null);
        if f == "ExpirationTime" && v.is_null() {
            continue;
        }
        out.insert(f.to_string(), v);
    }
    Value::Object(out)
}

fn project_all(list: &Value, fields: &[&str]) -> Value {
    Value::Array(list.as_array().map(|a| a.iter().map(|v| project(v, fields)).collect()).unwrap_or_default())
}

/// `-json` / `-t` output, or `None` for the text form.
fn formatted(output: &Output, data: &Value) -> Result<Option<String>, CliError> {
    render::formatted(output.json, output.template.as_deref(), data)
}

/// A Go `time.Time` JSON value as `%v` prints it.
fn time_text(v: &Value) -> String {
    format::go_time(v.as_str().unwrap_or("0001-01-01T00:00:00Z"))
}

/// Whether an RFC 3339 expiry is set (not null, not Go's zero time).
fn expiry(v: &Value) -> Option<&str> {
    v.as_str().filter(|t| !t.starts_with("0001-01-01T00:00:00"))
}

fn policies_text(v: &Value) -> String {
    match v {
        Value::Array(_) => format::go_print(v),
        _ => "[]".into(),
    }
}

/// Nomad's `outputACLToken`.
pub fn token_text(t: &Value) -> String {
    let mut kv = vec![
        ("Accessor ID", format::cell(&t["AccessorID"])),
        ("Secret ID", format::cell(&t["SecretID"])),
        ("Name", format::cell(&t["Name"])),
        ("Type", format::cell(&t["Type"])),
        ("Global", t["Global"].as_bool().unwrap_or(false).to_string()),
        ("Create Time", time_text(&t["CreateTime"])),
        ("Expiry Time", expiry(&t["ExpirationTime"]).map_or_else(|| "<none>".to_string(), format::go_time)),
        ("Create Index", t["CreateIndex"].as_u64().unwrap_or(0).to_string()),
        ("Modify Index", t["ModifyIndex"].as_u64().unwrap_or(0).to_string()),
    ];
    if t["Type"] == "management" {
        kv.push(("Policies", "n/a".into()));
        kv.push(("Roles", "n/a".into()));
        return format::key_values(&kv);
    }
    kv.push(("Policies", policies_text(&t["Policies"])));
    let mut roles = Vec::new();
    for r in t["Roles"].as_array().into_iter().flatten() {
        roles.push(vec![format::cell(&r["ID"]), format::cell(&r["Name"])]);
    }
    let roles = if roles.is_empty() {
        "<none>\n".to_string()
    } else {
        roles.insert(0, vec!["ID".into(), "Name".into()]);
        format::columnize(&roles, "  ", "<none>")
    };
    format!("{}\nRoles\n{roles}", format::key_values(&kv))
}

/// Nomad's `formatACLPolicy`, without colour.
pub fn policy_text(p: &Value) -> String {
    let kv = [
        ("Name", format::cell(&p["Name"])),
        ("Description", format::cell(&p["Description"])),
        ("CreateIndex", p["CreateIndex"].as_u64().unwrap_or(0).to_string()),
        ("ModifyIndex", p["ModifyIndex"].as_u64().unwrap_or(0).to_string()),
    ];
    format!("{}\nRules\n\n{}\n", format::key_values(&kv), p["Rules"].as_str().unwrap_or_default())
}

/// Nomad's `formatPolicies`.
pub fn policies_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No policies found\n".into();
    }
    let mut rows = vec![vec!["Name".to_string(), "Description".to_string()]];
    rows.extend(items.iter().map(|p| vec![format::cell(&p["Name"]), format::cell(&p["Description"])]));
    format::columnize(&rows, "  ", "<none>")
}

/// Nomad's `formatTokens`; `now` is RFC 3339 UTC (expired: expiry before now).
pub fn tokens_table(list: &Value, now_nanos: i64) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No tokens found\n".into();
    }
    let mut rows = vec![["Name", "Type", "Global", "Accessor ID", "Expired"].map(String::from).to_vec()];
    for t in &items {
        let expired = expiry(&t["ExpirationTime"])
            .and_then(raftwarden_actors::rfc3339::parse_nanos)
            .is_some_and(|exp| exp < now_nanos);
        rows.push(vec![
            format::cell(&t["Name"]),
            format::cell(&t["Type"]),
            t["Global"].as_bool().unwrap_or(false).to_string(),
            format::cell(&t["AccessorID"]),
            expired.to_string(),
        ]);
    }
    format::columnize(&rows, "  ", "<none>")
}

fn now_nanos() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

async fn bootstrap(g: &GlobalOpts, a: Bootstrap) -> Result<String, CliError> {
    if a.args.len() > 1 {
        return Err(CliError::Usage("This command takes up to one argument", "raftwarden acl bootstrap"));
    }
    let secret = match a.args.first().map(String::as_str) {
        None | Some("") => Vec::new(),
        Some(path) => read_input(path).map_err(|e| {
            let e = if path == "-" { format!("read /dev/stdin: {e}") } else { read_error(path, &e) };
            fail(format!("Error reading provided token: {e}"))
        })?,
    };
    let secret = String::from_utf8_lossy(&secret);
    let secret = secret.strip_suffix('\n').unwrap_or(&secret);
    let body = json!({ "BootstrapSecret": secret });
    let token =
        client(g)?.put(BOOTSTRAP, &[], Some(&body)).await.map_err(|e| fail(format!("Error bootstrapping: {e}")))?;
    match formatted(&a.output, &project(&token, TOKEN_FIELDS))? {
        Some(out) => Ok(out),
        None => Ok(token_text(&token)),
    }
}

async fn policy_apply(g: &GlobalOpts, a: PolicyApply) -> Result<String, CliError> {
    let [name, path] = a.args.as_slice() else {
        return Err(CliError::Usage(
            "This command takes two arguments: <name> and <path>",
            "raftwarden acl policy apply",
        ));
    };
    let rules = read_input(path).map_err(|e| {
        if path == "-" {
            fail(format!("Failed to read stdin: read /dev/stdin: {e}"))
        } else {
            fail(format!("Failed to read file: {}", read_error(path, &e)))
        }
    })?;
    if name.is_empty() {
        return Err(fail("Error writing ACL policy: missing policy name".into()));
    }
    let body = json!({
        "Name": name,
        "Description": a.description,
        "Rules": String::from_utf8_lossy(&rules),
    });
    client(g)?
        .put_unanswered(&format!("/v1/acl/policy/{name}"), &[], &body)
        .await
        .map_err(|e| fail(format!("Error writing ACL policy: {e}")))?;
    Ok(format!("Successfully wrote {} ACL policy!\n", go::quote(name)))
}

async fn policy_list(g: &GlobalOpts, a: Listing) -> Result<String, CliError> {
    if !a.args.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden acl policy list"));
    }
    let list = client(g)?.get(POLICIES, &[]).await.map_err(|e| fail(format!("Error listing ACL policies: {e}")))?;
    match formatted(&a.output, &project_all(&list, POLICY_STUB_FIELDS))? {
        Some(out) => Ok(out),
        None => Ok(policies_table(&list)),
    }
}

async fn policy_info(g: &GlobalOpts, a: Positional) -> Result<String, CliError> {
    let [name] = a.args.as_slice() else {
        return Err(CliError::Usage("This command takes one argument: <name>", "raftwarden acl policy info"));
    };
    if name.is_empty() {
        return Err(fail("Error fetching info on ACL policy: missing policy name".into()));
    }
    let policy = client(g)?
        .get(&format!("/v1/acl/policy/{name}"), &[])
        .await
        .map_err(|e| fail(format!("Error fetching info on ACL policy: {e}")))?;
    Ok(policy_text(&policy))
}

async fn policy_delete(g: &GlobalOpts, a: Positional) -> Result<String, CliError> {
    let [name] = a.args.as_slice() else {
        return Err(CliError::Usage("This command takes one argument: <name>", "raftwarden acl policy delete"));
    };
    if name.is_empty() {
        return Err(fail("Error deleting ACL policy: missing policy name".into()));
    }
    client(g)?
        .write(Method::DELETE, &format!("/v1/acl/policy/{name}"), &[])
        .await
        .map_err(|e| fail(format!("Error deleting ACL policy: {e}")))?;
    Ok(format!("Successfully deleted {name} policy!\n"))
}

async fn token_create(g: &GlobalOpts, a: TokenCreate) -> Result<String, CliError> {
    if !a.args.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden acl token create"));
    }
    let mut body = json!({
        "Name": a.name,
        "Type": a.token_type,
        "Policies": if a.policies.is_empty() { Value::Null } else { json!(a.policies) },
        "Global": a.global,
    });
    if !a.ttl.is_empty() {
        let ttl =
            go::duration::parse(&a.ttl).map_err(|e| fail(format!("Failed to parse TTL as time duration: {e}")))?;
        body["ExpirationTTL"] = json!(go::duration::format(ttl));
    }
    let token =
        client(g)?.put(TOKEN, &[], Some(&body)).await.map_err(|e| fail(format!("Error creating token: {e}")))?;
    match formatted(&a.output, &project(&token, TOKEN_FIELDS))? {
        Some(out) => Ok(out),
        None => Ok(token_text(&token)),
    }
}

async fn token_list(g: &GlobalOpts, a: Listing) -> Result<String, CliError> {
    if !a.args.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden acl token list"));
    }
    let list = client(g)?.get(TOKENS, &[]).await.map_err(|e| fail(format!("Error listing ACL tokens: {e}")))?;
    match formatted(&a.output, &project_all(&list, TOKEN_STUB_FIELDS))? {
        Some(out) => Ok(out),
        None => Ok(tokens_table(&list, now_nanos())),
    }
}

fn token_path(accessor: &str) -> String {
    format!("{TOKEN}/{accessor}")
}

async fn token_info(g: &GlobalOpts, a: Positional) -> Result<String, CliError> {
    let [accessor] = a.args.as_slice() else {
        return Err(CliError::Usage(
            "This command takes one argument: <token_accessor_id>",
            "raftwarden acl token info",
        ));
    };
    if accessor.is_empty() {
        return Err(fail("Error fetching token: missing accessor ID".into()));
    }
    let token =
        client(g)?.get(&token_path(accessor), &[]).await.map_err(|e| fail(format!("Error fetching token: {e}")))?;
    Ok(token_text(&token))
}

async fn token_self(g: &GlobalOpts, a: Positional) -> Result<String, CliError> {
    if !a.args.is_empty() {
        return Err(CliError::Usage("This command takes no arguments", "raftwarden acl token self"));
    }
    let c = client(g)?;
    let secret = g.token.as_deref().map(str::trim).unwrap_or_default();
    if secret.is_empty() {
        return Err(fail("No token present in the environment or set via the CLI flag".into()));
    }
    // Nomad looks a non-UUID up as a workload identity, which this server has none of.
    if go::check_uuid(secret).is_err() {
        return Err(fail("No ACL tokens, nor ACL policies attached to a workload identity found.".into()));
    }
    let token = c.get(TOKEN_SELF, &[]).await.map_err(|e| fail(format!("Error fetching self token: {e}")))?;
    Ok(token_text(&token))
}

async fn token_update(g: &GlobalOpts, a: TokenUpdate) -> Result<String, CliError> {
    let [accessor] = a.args.as_slice() else {
        return Err(CliError::Usage(
            "This command takes one argument: <token_accessor_id>",
            "raftwarden acl token update",
        ));
    };
    if accessor.is_empty() {
        return Err(fail("Error fetching token: missing accessor ID".into()));
    }
    let c = client(g)?;
    let mut token = c.get(&token_path(accessor), &[]).await.map_err(|e| fail(format!("Error fetching token: {e}")))?;
    if !a.name.is_empty() {
        token["Name"] = json!(a.name);
    }
    if !a.token_type.is_empty() {
        token["Type"] = json!(a.token_type);
    }
    token["Global"] = json!(a.global);
    if !a.policies.is_empty() {
        token["Policies"] = json!(a.policies);
    }
    let body = project(&token, TOKEN_FIELDS);
    let target = body["AccessorID"].as_str().unwrap_or_default().to_string();
    if target.is_empty() {
        return Err(fail("Error updating token: missing accessor ID".into()));
    }
    let updated =
        c.put(&token_path(&target), &[], Some(&body)).await.map_err(|e| fail(format!("Error updating token: {e}")))?;
    Ok(token_text(&updated))
}

async fn token_delete(g: &GlobalOpts, a: Positional) -> Result<String, CliError> {
    let [accessor] = a.args.as_slice() else {
        return Err(CliError::Usage(
            "This command takes one argument: <token_accessor_id>",
            "raftwarden acl token delete",
        ));
    };
    if accessor.is_empty() {
        return Err(fail("Error deleting token: missing accessor ID".into()));
    }
    client(g)?
        .write(Method::DELETE, &token_path(accessor), &[])
        .await
        .map_err(|e| fail(format!("Error deleting token: {e}")))?;
    Ok(format!("Token {accessor} successfully deleted\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_token() -> Value {
        json!({
            "ExpirationTTL": "",
            "AccessorID": "a1",
            "SecretID": "s1",
            "Name": "",
            "Type": "client",
            "Policies": ["ops", "dev"],
            "Roles": null,
            "Global": false,
            "Hash": "xx",
            "CreateTime": "2017-03-06T22:07:51.12Z",
            "ExpirationTime": null,
            "CreateIndex": 7,
            "ModifyIndex": 8
        })
    }

    #[test]
    fn client_token_text() {
        assert_eq!(
            token_text(&client_token()),
            "Accessor ID  = a1\n\
             Secret ID    = s1\n\
             Name         = <none>\n\
             Type         = client\n\
             Global       = false\n\
             Create Time  = 2017-03-06 22:07:51.12 +0000 UTC\n\
             Expiry Time  = <none>\n\
             Create Index = 7\n\
             Modify Index = 8\n\
             Policies     = [ops dev]\n\
             \n\
             Roles\n\
             <none>\n"
        );
    }

    #[test]
    fn management_token_text() {
        let mut t = client_token();
        t["Type"] = json!("management");
        t["ExpirationTime"] = json!("2030-01-02T03:04:05Z");
        let text = token_text(&t);
        assert!(text.contains("Expiry Time  = 2030-01-02 03:04:05 +0000 UTC\n"), "{text}");
        assert!(text.ends_with("Policies     = n/a\nRoles        = n/a\n"), "{text}");
    }

    #[test]
    fn json_is_the_api_struct() {
        let p = project(&client_token(), TOKEN_FIELDS);
        let keys: Vec<&String> = p.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "ExpirationTTL",
                "AccessorID",
                "SecretID",
                "Name",
                "Type",
                "Policies",
                "Roles",
                "Global",
                "CreateTime",
                "CreateIndex",
                "ModifyIndex"
            ]
        );
    }

    #[test]
    fn policy_texts() {
        let p = json!({"Name": "ops", "Description": "", "Rules": "operator { policy = \"read\" }\n",
                       "CreateIndex": 3, "ModifyIndex": 4});
        assert_eq!(
            policy_text(&p),
            "Name        = ops\nDescription = <none>\nCreateIndex = 3\nModifyIndex = 4\n\nRules\n\noperator { policy = \"read\" }\n\n"
        );
        assert_eq!(policies_table(&json!([])), "No policies found\n");
        assert_eq!(
            policies_table(&json!([{"Name": "anonymous", "Description": "x y"}, {"Name": "ops", "Description": ""}])),
            "Name       Description\nanonymous  x y\nops        <none>\n"
        );
    }

    #[test]
    fn token_table_marks_expired() {
        let now = raftwarden_actors::rfc3339::parse_nanos("2025-01-01T00:00:00Z").unwrap();
        let list = json!([
            {"Name": "old", "Type": "client", "Global": false, "AccessorID": "a", "ExpirationTime": "2024-01-01T00:00:00Z"},
            {"Name": "", "Type": "management", "Global": true, "AccessorID": "b"}
        ]);
        assert_eq!(
            tokens_table(&list, now),
            "Name    Type        Global  Accessor ID  Expired\nold     client      false   a            true\n<none>  management  true    b            false\n"
        );
        assert_eq!(tokens_table(&json!([]), now), "No tokens found\n");
    }

    #[test]
    fn read_errors_in_go_words() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(read_error("/x", &e), "open /x: no such file or directory");
    }
}
