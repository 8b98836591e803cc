//! The `var` commands against a real agent (the HTTP side is `tests/api/t95_variables.rs`).

use crate::net;
use crate::support::*;

/// The `var` commands against the agent: put, get (json, item), list, purge, CAS conflicts.
#[test]
fn cli_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let addr = a.http();
    let (code, out, err) = cli(&addr, &["var", "put", "app/cli", "user=admin", "pass=x=y"]);
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
    let (code, out, _) = cli(&addr, &["var", "list", "app/"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Namespace  Path     Last Updated\ndefault    app/cli  "), "{out}");
    let (code, out, _) = cli(&addr, &["var", "list", "-json", "nothing"]);
    assert_eq!((code, out.as_str()), (0, "[]\n"));

    let (code, out, err) = cli(&addr, &["var", "purge", "app/cli"]);
    assert_eq!((code, out.as_str()), (0, "Successfully purged variable \"app/cli\"!\n"), "{err}");
    let (code, _, err) = cli(&addr, &["var", "get", "app/cli"]);
    assert_eq!((code, err.as_str()), (1, "Variable not found\n"));
}
