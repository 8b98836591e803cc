//! The `var` commands against a real agent (the HTTP side is `tests/api/t95_variables.rs`).

use crate::net;
use crate::support::*;

/// The `var` commands against the agent: put, get (json, item), list, purge, CAS conflicts.
#[test]
fn cli_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let addr = a.http();
    let (code, out, err) = cli(&addr, &["var", "put", "-out=none", "app/cli", "user=admin", "pass=x=y"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Created variable \"app/cli\" with modify index "), "{out}");

    let (code, _, err) = cli(&addr, &["var", "put", "app/cli", "user=other"]);
    assert_eq!(code, 1);
    assert!(err.contains("Check-and-Set conflict"), "{err}");

    let (code, out, _) = cli(&addr, &["var", "get", "app/cli"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Items"], serde_json::json!({"pass": "x=y", "user": "admin"}));
    let index = v["ModifyIndex"].as_u64().unwrap();

    let (code, out, _) = cli(&addr, &["var", "get", "-item=pass", "app/cli"]);
    assert_eq!((code, out.as_str()), (0, "x=y"));

    let check = format!("-check-index={index}");
    let (code, _, err) = cli(&addr, &["var", "put", &check, "app/cli", "user=root"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&addr, &["var", "list", "-out=table", "app/"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Namespace  Path     Last Updated\ndefault    app/cli  "), "{out}");
    let (code, out, _) = cli(&addr, &["var", "list", "nothing"]);
    assert_eq!((code, out.as_str()), (0, "[]\n"));

    let (code, out, err) = cli(&addr, &["var", "purge", "app/cli"]);
    assert_eq!((code, out.as_str()), (0, "Successfully purged variable \"app/cli\"!\n"), "{err}");
    let (code, _, err) = cli(&addr, &["var", "get", "app/cli"]);
    assert_eq!((code, err.as_str()), (1, "Variable not found\n"));
}

/// Runs the CLI with `input` on its stdin; returns (code, stdout, stderr).
fn cli_stdin(addr: &str, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_raftwarden"))
        .args(args)
        .env("NOMAD_ADDR", addr)
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run cli");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("cli output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `var get` as `command/var_get.go` prints it: `-out=json` (the default when stdout is not a
/// terminal) is the Go client's `api.Variable` through `AsPrettyJSON` (`api/variables.go`:
/// two-space indent, `Namespace, Path, CreateIndex, ModifyIndex, CreateTime, ModifyTime,
/// Items`, no `Lock`), `-out=hcl` is `renderAsHCL` (`command/var.go`), `-out=go-template` runs
/// `-template`, and the flag checks answer with `command/var.go`'s texts.
#[test]
fn var_get_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let addr = a.http();
    let put = a.put("/v1/var/app/get", r#"{"Items":{"user":"admin","long_key":"a<b","q":"say \"hi\""}}"#);
    assert_eq!(put.status, 200);
    let v = put.json();
    let (index, time) = (v["ModifyIndex"].as_u64().unwrap(), v["ModifyTime"].as_i64().unwrap());

    let (code, out, err) = cli(&addr, &["var", "get", "app/get"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        format!(
            "{{\n  \"Namespace\": \"default\",\n  \"Path\": \"app/get\",\n  \"CreateIndex\": {index},\n  \"ModifyIndex\": {index},\n  \"CreateTime\": {time},\n  \"ModifyTime\": {time},\n  \"Items\": {{\n    \"long_key\": \"a\\u003cb\",\n    \"q\": \"say \\\"hi\\\"\",\n    \"user\": \"admin\"\n  }}\n}}\n"
        )
    );
    let (code, out, _) = cli(&addr, &["var", "get", "-out=hcl", "app/get"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "\nnamespace    = \"default\"\npath         = \"app/get\"\ncreate_index = {index}  # Set by server\nmodify_index = {index}  # Set by server; consulted for check-and-set\ncreate_time  = {time}   # Set by server\nmodify_time  = {time}   # Set by server\n\nitems = {{\n  long_key = \"a<b\"\n         q = \"say \\\"hi\\\"\"\n      user = \"admin\"\n}}\n\n"
        )
    );
    let (code, out, _) = cli(
        &addr,
        &[
            "var",
            "get",
            "-out=go-template",
            "-template={{ .Path }}:{{ range $k, $v := .Items }} {{ $k }}{{ end }}",
            "app/get",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "app/get: long_key q user\n"));
    let (code, out, _) = cli(&addr, &["var", "get", "-out=none", "app/get"]);
    assert_eq!((code, out.as_str()), (0, ""));

    let usage = |args: &[&str], first: &str| {
        let (code, out, err) = cli(&addr, args);
        assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
        assert_eq!(err, format!("{first}\nFor additional help try 'raftwarden var get -help'\n"), "{args:?}");
    };
    usage(
        &["var", "get", "-out=yaml", "app/get"],
        "Invalid value for \"-out\"; valid values are [go-template, hcl, json, none, table]",
    );
    usage(
        &["var", "get", "-out=go-template", "app/get"],
        "A template must be supplied using '-template' when using go-template formatting",
    );
    usage(
        &["var", "get", "-template={{.Path}}", "app/get"],
        "The '-template' flag is only valid when using 'go-template' formatting",
    );
    usage(&["var", "get", "app/get", "user"], "This command takes one argument: <path>");

    // The help text is Nomad's Help().
    let (code, out, _) = cli(&addr, &["var", "get", "-help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Usage: raftwarden var get [options] <path>\n\n  The 'var get' command is used to get the contents of an existing variable.\n"), "{out}");
    assert!(
        out.contains("\n  -template\n     Template to render output with. Required when output is \"go-template\".\n"),
        "{out}"
    );
}

/// `var list` as `command/var_list.go`: `-out=json|table|terse|go-template` (json when stdout
/// is not a terminal; `-json` is no flag of it any more), the Go client's `VariableMetadata`
/// order in JSON, `Data`/`QueryMeta` when paged, the next page token and the `-filter`
/// warning on stderr.
#[test]
fn var_list_formats() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let addr = a.http();
    let mut meta = Vec::new();
    for p in ["list/a", "list/b", "list/c"] {
        meta.push(a.put(&format!("/v1/var/{p}"), r#"{"Items":{"k":"v"}}"#).json());
    }
    let (code, out, err) = cli(&addr, &["var", "list", "list/"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let first = &meta[0];
    assert!(
        out.starts_with(&format!(
            "[\n    {{\n        \"Namespace\": \"default\",\n        \"Path\": \"list/a\",\n        \"CreateIndex\": {i},\n        \"ModifyIndex\": {i},\n        \"CreateTime\": {t},\n        \"ModifyTime\": {t}\n    }},\n",
            i = first["ModifyIndex"],
            t = first["ModifyTime"]
        )),
        "{out}"
    );
    assert!(out.ends_with("    }\n]\n"), "{out}");

    let (code, out, err) = cli(&addr, &["var", "list", "-out=terse", "list/"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "list/a\nlist/b\nlist/c\n", ""));
    let (code, out, _) = cli(&addr, &["var", "list", "-out=table", "list/"]);
    assert!(code == 0 && out.starts_with("Namespace  Path    Last Updated\ndefault    list/a  "), "{out}");
    let (code, out, _) =
        cli(&addr, &["var", "list", "-out=go-template", "-template={{ range . }}{{ .Path }};{{ end }}", "list/"]);
    assert_eq!((code, out.as_str()), (0, "list/a;list/b;list/c;\n"));

    // Paged: JSON wraps the page with its QueryMeta; other formats say the token on stderr.
    let (code, out, _) = cli(&addr, &["var", "list", "-per-page=2", "list/"]);
    assert_eq!(code, 0);
    let paged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(paged["Data"].as_array().unwrap().len(), 2);
    assert_eq!(paged["QueryMeta"]["NextToken"], "default.list/c");
    assert_eq!(paged["QueryMeta"]["KnownLeader"], true);
    assert!(paged["QueryMeta"]["LastIndex"].as_u64().unwrap() >= meta[2]["ModifyIndex"].as_u64().unwrap());
    let (code, out, err) = cli(&addr, &["var", "list", "-per-page=2", "-out=terse", "list/"]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "list/a\nlist/b\n", "Next page token: default.list/c\n"));

    let (code, out, err) = cli(&addr, &["var", "list", "-out=terse", "-filter=Path contains \"b\"", "list/"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "list/b\n", "Filter queries require a full scan of the data; use prefix searching where possible\n")
    );

    let (code, _, err) = cli(&addr, &["var", "list", "-out=yaml"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Invalid value for \"-out\"; valid values are [go-template, json, table, terse]\nFor additional help try 'raftwarden var list -help'\n")
    );
    let (code, _, err) = cli(&addr, &["var", "list", "-json"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("flag provided but not defined: -json\n"), "{err}");
}

/// `var put` as `command/var_put.go`: a whole specification from `@file.json`, `@file.hcl` or
/// stdin (`-` with `-in`), item values from `@file`, `-` (stdin) and `\@` (a literal `@`),
/// `-verbose` on stderr, `-out` defaulting to json when stdout is not a terminal, and the
/// argument checks' texts.
#[test]
fn var_put_specs_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let addr = a.http();
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let json_spec = write("spec.json", r#"{"Path":"spec/json","Items":{"a":"1","b":"2"}}"#);
    let (code, out, err) = cli(&addr, &["var", "put", &format!("@{json_spec}")]);
    assert_eq!((code, err.as_str()), (0, ""));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["Path"].as_str(), v["Items"].clone()), (Some("spec/json"), serde_json::json!({"a": "1", "b": "2"})));
    assert!(
        out.starts_with("{\n  \"Namespace\": \"default\",\n  \"Path\": \"spec/json\",\n  \"CreateIndex\": "),
        "{out}"
    );

    // An HCL spec under another path, an item removed by an empty value, one added, verbose.
    let hcl_spec = write("spec.hcl", "path = \"spec/hcl\"\nitems {\n  user = \"admin\"\n  gone = \"x\"\n}\n");
    let (code, out, err) = cli(
        &addr,
        &["var", "put", "-verbose", "-out=none", "spec/other", &format!("@{hcl_spec}"), "gone=", "extra=\\@at"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Created variable \"spec/other\" with modify index "), "{out}");
    assert_eq!(
        err,
        format!(
            "Writing to path \"spec/other\"\nCreating variable \"spec/other\" from specification file \"@{hcl_spec}\"\nRemoved item \"gone\"\n"
        )
    );
    assert_eq!(a.get("/v1/var/spec/other").json()["Items"], serde_json::json!({"user": "admin", "extra": "@at"}));

    // A whole HCL spec from stdin, and a value from a file.
    let value_file = write("secret.txt", "from a file\n");
    let (code, out, err) = cli_stdin(
        &addr,
        &["var", "put", "-in=hcl", "-out=none", "-", &format!("file=@{value_file}")],
        "path = \"spec/stdin\"\nitems = { k = \"v\" }\n",
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(a.get("/v1/var/spec/stdin").json()["Items"], serde_json::json!({"k": "v", "file": "from a file\n"}));
    // A value from stdin.
    let (code, _, err) = cli_stdin(&addr, &["var", "put", "-out=none", "spec/value", "token=-"], "s3cret");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(a.get("/v1/var/spec/value").json()["Items"]["token"], "s3cret");

    let usage = |args: &[&str], first: &str| {
        let (code, out, err) = cli(&addr, args);
        assert_eq!((code, out.as_str()), (1, ""), "{args:?}");
        assert_eq!(err, format!("{first}\n"), "{args:?}");
    };
    let help = "\nFor additional help try 'raftwarden var put -help'";
    usage(&["var", "put"], &format!("Not enough arguments (expected >1, got 0){help}"));
    usage(&["var", "put", "only/path"], &format!("Must supply data{help}"));
    usage(
        &["var", "put", "-in=yaml", "p", "k=v"],
        &format!("Invalid value for \"-in\"; valid values are [hcl, json]{help}"),
    );
    usage(&["var", "put", "@spec.txt"], "Unable to determine format of spec.txt; Use the -in flag to specify it.");
    usage(
        &["var", "put", "p", "novalue"],
        "Failed to parse K=V data: invalid key/value pair \"novalue\": format must be key=value",
    );
    usage(
        &["var", "put", "-check-index=x", "p", "k=v"],
        "Error parsing check-index value \"x\": strconv.ParseUint: parsing \"x\": invalid syntax",
    );
    let (code, out, _) = cli(&addr, &["var", "put", "-help"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Usage:\nraftwarden var put [options] <variable spec file reference> [<key>=<value>]...\n"),
        "{out}"
    );
}
