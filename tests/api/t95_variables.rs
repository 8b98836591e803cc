//! Nomad variables (`/v1/var`, `/v1/vars`) against a real agent: shapes, CAS, paging, Nomad's
//! rules and texts (the `var` commands are in `tests/cli/t95_var_cli.rs`).

use std::collections::BTreeSet;

use crate::net;
use crate::support::*;

fn put(a: &Agent, path: &str, body: &str) -> Resp {
    a.request("PUT", path, Some(body))
}

/// Create, read, update with CAS, conflicts (409 with the current variable), delete, 404.
#[test]
fn crud_and_cas() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");

    let missing = a.get("/v1/var/app/db");
    assert_eq!((missing.status, missing.text()), (404, "variable not found".into()));
    assert!(missing.header("x-nomad-index").is_some());
    assert_eq!(missing.header("x-nomad-knownleader").as_deref(), Some("true"));

    let created = put(&a, "/v1/var/app/db?cas=0", r#"{"Items":{"user":"admin","pass":"s3cret"}}"#);
    assert_eq!(created.status, 200, "{}", created.text());
    let v = created.json();
    let index = v["ModifyIndex"].as_u64().unwrap();
    assert_eq!(v["CreateIndex"].as_u64(), Some(index));
    assert_eq!(created.header("x-nomad-index"), Some(index.to_string()));
    let ct = v["CreateTime"].as_i64().unwrap();
    assert!(ct > 1_600_000_000_000_000_000, "unix nanos: {ct}");
    assert_eq!(
        created.text(),
        format!(
            "{{\"Namespace\":\"default\",\"Path\":\"app/db\",\"CreateIndex\":{index},\"CreateTime\":{ct},\
             \"ModifyIndex\":{index},\"ModifyTime\":{ct},\"Items\":{{\"pass\":\"s3cret\",\"user\":\"admin\"}}}}"
        )
    );

    let read = a.get("/v1/var/app/db");
    assert_eq!((read.status, read.text()), (200, created.text()));
    assert_eq!(read.header("x-nomad-index"), Some(index.to_string()));

    // cas=0 on an existing variable: 409 with the current variable, index header its ModifyIndex.
    let conflict = put(&a, "/v1/var/app/db?cas=0", r#"{"Items":{"user":"x"}}"#);
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.text(), created.text());
    assert_eq!(conflict.header("x-nomad-index"), Some(index.to_string()));
    // A stale index: the same.
    let stale = put(&a, &format!("/v1/var/app/db?cas={}", index - 1), r#"{"Items":{"user":"x"}}"#);
    assert_eq!((stale.status, stale.json()["Items"]["user"].as_str()), (409, Some("admin")));

    let updated = put(&a, &format!("/v1/var/app/db?cas={index}"), r#"{"Items":{"user":"root"}}"#);
    assert_eq!(updated.status, 200, "{}", updated.text());
    let u = updated.json();
    assert!(u["ModifyIndex"].as_u64().unwrap() > index);
    assert_eq!((u["CreateIndex"].as_u64(), u["CreateTime"].as_i64()), (Some(index), Some(ct)));
    assert_eq!(u["Items"], serde_json::json!({"user": "root"}));

    // CAS on a variable that does not exist: 409 with Nomad's zero value.
    let absent = put(&a, "/v1/var/app/none?cas=7", r#"{"Items":{"a":"b"}}"#);
    assert_eq!(absent.status, 409);
    assert_eq!(
        absent.text(),
        "{\"Namespace\":\"default\",\"Path\":\"app/none\",\"CreateIndex\":0,\"CreateTime\":0,\
         \"ModifyIndex\":0,\"ModifyTime\":0}"
    );
    assert_eq!(absent.header("x-nomad-index").as_deref(), Some("0"));

    // Delete: CAS mismatch is a 409, a match is a 204 with the index, then 404.
    let current = u["ModifyIndex"].as_u64().unwrap();
    let bad_delete = a.request("DELETE", "/v1/var/app/db?cas=1", None);
    assert_eq!((bad_delete.status, bad_delete.json()["ModifyIndex"].as_u64()), (409, Some(current)));
    let deleted = a.request("DELETE", &format!("/v1/var/app/db?cas={current}"), None);
    assert_eq!((deleted.status, deleted.text()), (204, String::new()));
    assert!(deleted.header("x-nomad-index").unwrap().parse::<u64>().unwrap() > current);
    assert_eq!(a.get("/v1/var/app/db").status, 404);
    // Deleting what is not there succeeds; with cas=0 too.
    assert_eq!(a.request("DELETE", "/v1/var/app/db", None).status, 204);
    assert_eq!(a.request("DELETE", "/v1/var/app/db?cas=0", None).status, 204);

    // Namespaces: from the body, else ?namespace=, else default.
    assert_eq!(put(&a, "/v1/var/shared?namespace=ops", r#"{"Items":{"k":"v"}}"#).json()["Namespace"], "ops");
    assert_eq!(put(&a, "/v1/var/shared", r#"{"Namespace":"dev","Items":{"k":"v"}}"#).json()["Namespace"], "dev");
    assert_eq!(a.get("/v1/var/shared").status, 404);
    assert_eq!(a.get("/v1/var/shared?namespace=ops").status, 200);
}

/// Nomad's rules and texts: body, path, size, CAS parsing, methods.
#[test]
fn rules_and_texts() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let check = |r: Resp, status: u16, text: &str| {
        assert_eq!((r.status, r.text()), (status, text.to_string()));
    };
    check(put(&a, "/v1/var/x", "{}"), 400, "variable missing required Items object");
    check(put(&a, "/v1/var/x", r#"{"Items":{}}"#), 400, "variable missing required Items object");
    check(a.request("PUT", "/v1/var/x", None), 400, "Request body is empty");
    check(a.get("/v1/var/"), 400, "missing variable path");
    check(a.request("PATCH", "/v1/var/x", None), 400, "Invalid method");
    check(a.request("POST", "/v1/vars", None), 405, "Invalid method");
    check(
        put(&a, "/v1/var/x?cas=abc", r#"{"Items":{"a":"b"}}"#),
        400,
        "can not parse cas: strconv.ParseUint: parsing \"abc\": invalid syntax",
    );
    check(put(&a, "/v1/var/a%20b", r#"{"Items":{"a":"b"}}"#), 500, "invalid path \"a b\"");
    check(
        put(&a, &format!("/v1/var/{}", "p".repeat(129)), r#"{"Items":{"a":"b"}}"#),
        500,
        &format!("invalid path \"{}\"", "p".repeat(129)),
    );
    check(
        put(&a, "/v1/var/nomad", r#"{"Items":{"a":"b"}}"#),
        500,
        "\"nomad\" is a reserved top-level directory path, but you may write variables to \"nomad/jobs\", \"nomad/job-templates\", or below",
    );
    check(
        put(&a, "/v1/var/nomad/other", r#"{"Items":{"a":"b"}}"#),
        500,
        "only paths at \"nomad/jobs\" or \"nomad/job-templates\" and below are valid paths under the top-level \"nomad\" directory",
    );
    assert_eq!(put(&a, "/v1/var/nomad/jobs/web", r#"{"Items":{"a":"b"}}"#).status, 200);
    check(put(&a, "/v1/var/x?namespace=*", r#"{"Items":{"a":"b"}}"#), 500, "can not target wildcard (\"*\")namespace");

    // 64 KiB of keys and values is the limit, one byte more is refused.
    let at_limit = format!(r#"{{"Items":{{"k":"{}"}}}}"#, "v".repeat(65535));
    assert_eq!(put(&a, "/v1/var/big", &at_limit).status, 200);
    let over = format!(r#"{{"Items":{{"kk":"{}"}}}}"#, "v".repeat(65535));
    check(put(&a, "/v1/var/big", &over), 500, "variables are limited to 64KiB in total size");
    assert_eq!(a.get("/v1/var/big").json()["Items"]["k"].as_str().map(str::len), Some(65535));
}

/// Listing: metadata only, prefix, paging with X-Nomad-NextToken, namespaces and `*`.
#[test]
fn list_with_prefix_and_paging() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let empty = a.get("/v1/vars");
    assert_eq!((empty.status, empty.text()), (200, "[]".into()));
    for p in ["app/a", "app/b", "app/c", "app/d", "app/e", "web/a"] {
        assert_eq!(put(&a, &format!("/v1/var/{p}"), r#"{"Items":{"k":"v"}}"#).status, 200);
    }
    assert_eq!(put(&a, "/v1/var/app/z?namespace=ops", r#"{"Items":{"k":"v"}}"#).status, 200);

    let all = a.get("/v1/vars");
    let list = all.json();
    assert_eq!(list.as_array().unwrap().len(), 6);
    assert!(list[0].get("Items").is_none(), "metadata only: {}", all.text());
    let keys: Vec<&str> = list[0].as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> =
        ["Namespace", "Path", "CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime"].into();
    assert_eq!(keys.iter().copied().collect::<BTreeSet<_>>(), expected);
    assert!(all.text().starts_with("[{\"Namespace\":\"default\",\"Path\":\"app/a\",\"CreateIndex\":"));
    assert!(all.header("x-nomad-nexttoken").is_none());
    let last_index = list[5]["ModifyIndex"].as_u64().unwrap();
    assert!(all.header("x-nomad-index").unwrap().parse::<u64>().unwrap() > last_index, "the ops write came last");

    let paths = |r: &Resp| -> Vec<String> {
        r.json().as_array().unwrap().iter().map(|v| v["Path"].as_str().unwrap().to_string()).collect()
    };
    let page1 = a.get("/v1/vars?prefix=app/&per_page=2");
    assert_eq!(paths(&page1), ["app/a", "app/b"]);
    assert_eq!(page1.header("x-nomad-nexttoken").as_deref(), Some("default.app/c"));
    let page2 = a.get("/v1/vars?prefix=app/&per_page=2&next_token=default.app/c");
    assert_eq!(paths(&page2), ["app/c", "app/d"]);
    let page3 = a.get("/v1/vars?prefix=app/&per_page=2&next_token=default.app/e");
    assert_eq!(paths(&page3), ["app/e"]);
    assert!(page3.header("x-nomad-nexttoken").is_none());

    assert_eq!(paths(&a.get("/v1/vars?namespace=ops")), ["app/z"]);
    let every = a.get("/v1/vars?namespace=*&prefix=app/z");
    assert_eq!(every.json()[0]["Namespace"], "ops");
    let wild = a.get("/v1/vars?namespace=*&per_page=6");
    assert_eq!(wild.header("x-nomad-nexttoken").as_deref(), Some("ops.app/z"));
    assert_eq!(a.get("/v1/vars?per_page=x").text(), "Expect a number for `per_page` query string parameter");
}

/// Nomad's `VariableMetadata.Lock` and `VariableDecrypted.Items` are `json:",omitempty"`
/// (`nomad/structs/variables.go`): no `Lock` without a lock, on reads, writes, lists and 409s,
/// and no `Items` in the zero-value conflict. A 409 goes out as `text/plain; charset=utf-8`
/// because `command/agent/variable_endpoint.go` calls `resp.WriteHeader(http.StatusConflict)`
/// before the JSON wrapper sets the type, so Go's `http.DetectContentType` names the body.
#[test]
fn omitempty_fields_and_conflict_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let written = put(&a, "/v1/var/shape/a", r#"{"Items":{"k":"v"}}"#);
    assert_eq!(written.status, 200);
    assert_eq!(written.header("content-type").as_deref(), Some("application/json"));
    for r in [&written, &a.get("/v1/var/shape/a"), &a.get("/v1/vars?prefix=shape/")] {
        assert!(!r.text().contains("Lock"), "{}", r.text());
    }
    let conflict = put(&a, "/v1/var/shape/a?cas=0", r#"{"Items":{"k":"w"}}"#);
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(conflict.text(), written.text());
    let zero = put(&a, "/v1/var/shape/none?cas=3", r#"{"Items":{"k":"w"}}"#);
    assert_eq!(zero.header("content-type").as_deref(), Some("text/plain; charset=utf-8"));
    let keys: BTreeSet<String> = zero.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["Namespace", "Path", "CreateIndex", "CreateTime", "ModifyIndex", "ModifyTime"].map(String::from).into()
    );
    let del = a.request("DELETE", "/v1/var/shape/a?cas=1", None);
    assert_eq!((del.status, del.header("content-type").as_deref()), (409, Some("text/plain; charset=utf-8")));
    // ?pretty keeps Nomad's 4-space indent in the 409 body too.
    let pretty = put(&a, "/v1/var/shape/a?cas=0&pretty", r#"{"Items":{"k":"w"}}"#);
    assert!(pretty.text().starts_with("{\n    \"Namespace\": \"default\",\n"), "{}", pretty.text());
}

/// The query string, percent-encoded (a filter carries spaces and quotes).
fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A GET on another thread: its answer arrives on the channel.
fn get_async(a: &Agent, path: &str) -> std::sync::mpsc::Receiver<(Resp, std::time::Duration)> {
    let url = format!("{}{}", a.http(), path);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let resp = Resp::from(client().get(url).send().expect("blocking GET"));
        let _ = tx.send((resp, started.elapsed()));
    });
    rx
}

/// Blocking queries on `GET /v1/var/<path>` and `GET /v1/vars`, as Nomad's `blockingRPC`
/// (`nomad/rpc.go`) runs the reads of `nomad/variables_endpoint.go`: with `?index=` at the
/// current index the answer waits until a write moves it past (then carries the write and its
/// `X-Nomad-Index`), or until `?wait=` is over (then the same index); `index=0` never waits.
#[test]
fn blocking_queries() {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let first = put(&a, "/v1/var/block/a", r#"{"Items":{"v":"1"}}"#);
    let index: u64 = first.header("x-nomad-index").unwrap().parse().unwrap();

    // One variable: blocks while nothing changes, wakes on the write.
    let waiting = get_async(&a, &format!("/v1/var/block/a?index={index}&wait=20s"));
    assert!(matches!(waiting.recv_timeout(Duration::from_millis(800)), Err(RecvTimeoutError::Timeout)));
    // A write elsewhere does not end the wait on this variable.
    assert_eq!(put(&a, "/v1/var/block/other", r#"{"Items":{"v":"x"}}"#).status, 200);
    assert!(matches!(waiting.recv_timeout(Duration::from_millis(800)), Err(RecvTimeoutError::Timeout)));
    let second = put(&a, &format!("/v1/var/block/a?cas={index}"), r#"{"Items":{"v":"2"}}"#);
    let (woke, took) = waiting.recv_timeout(Duration::from_secs(10)).expect("the write ends the wait");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert_eq!((woke.status, woke.json()["Items"]["v"].as_str()), (200, Some("2")));
    assert_eq!(woke.header("x-nomad-index"), second.header("x-nomad-index"));

    // The list: wakes on a write to any variable it lists.
    let list_index: u64 = a.get("/v1/vars").header("x-nomad-index").unwrap().parse().unwrap();
    let waiting = get_async(&a, &format!("/v1/vars?index={list_index}&wait=20s"));
    assert!(matches!(waiting.recv_timeout(Duration::from_millis(800)), Err(RecvTimeoutError::Timeout)));
    assert_eq!(put(&a, "/v1/var/block/new", r#"{"Items":{"v":"3"}}"#).status, 200);
    let (woke, _) = waiting.recv_timeout(Duration::from_secs(10)).expect("the write ends the list's wait");
    assert!(woke.text().contains("block/new"), "{}", woke.text());
    assert!(woke.header("x-nomad-index").unwrap().parse::<u64>().unwrap() > list_index);

    // Nothing changes: the answer comes when ?wait= (plus at most wait/16) is over.
    let now: u64 = a.get("/v1/var/block/a").header("x-nomad-index").unwrap().parse().unwrap();
    let (timed_out, took) = get_async(&a, &format!("/v1/var/block/a?index={now}&wait=1s"))
        .recv_timeout(Duration::from_secs(10))
        .expect("the wait ends");
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!((timed_out.status, timed_out.header("x-nomad-index")), (200, Some(now.to_string())));
    // A missing variable blocks on the table index, and answers 404 when the wait is over.
    let (missing, took) = get_async(&a, &format!("/v1/var/block/none?index={}&wait=500ms", now + 1000))
        .recv_timeout(Duration::from_secs(10))
        .expect("the wait ends");
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert_eq!(missing.status, 404);

    // An index already passed, or index=0, answers at once.
    let (at_once, took) = get_async(&a, &format!("/v1/var/block/a?index={}&wait=20s", now - 1))
        .recv_timeout(Duration::from_secs(10))
        .expect("answer");
    assert!(took < Duration::from_secs(5) && at_once.status == 200, "{took:?}");
    assert_eq!(a.get("/v1/vars?index=abc").text(), "Invalid index");
    assert_eq!(a.get("/v1/var/block/a?wait=5").text(), "Invalid wait time");
}

/// `?filter=` on `/v1/vars`: go-bexpr expressions on the metadata, evaluated by Nomad's
/// paginator (`nomad/state/paginator/paginator.go`) before the page is counted, with its
/// coded 400s from `nomad/variables_endpoint.go` for a filter that does not parse or fails.
#[test]
fn list_filter() {
    let dir = tempfile::tempdir().unwrap();
    let a = single(&net(), &dir, "alpha");
    let mut created = Vec::new();
    for p in ["db/main", "db/replica", "web/front", "web/db-cache"] {
        let r = put(&a, &format!("/v1/var/{p}"), r#"{"Items":{"k":"v"}}"#);
        created.push(r.json()["CreateIndex"].as_u64().unwrap());
    }
    assert_eq!(put(&a, "/v1/var/db/ops?namespace=ops", r#"{"Items":{"k":"v"}}"#).status, 200);
    let paths = |filter: &str, extra: &str| -> Vec<String> {
        let r = a.get(&format!("/v1/vars?filter={}{extra}", enc(filter)));
        assert_eq!(r.status, 200, "{filter}: {}", r.text());
        r.json().as_array().unwrap().iter().map(|v| v["Path"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(paths(r#"Path contains "db""#, ""), ["db/main", "db/replica", "web/db-cache"]);
    assert_eq!(paths(r#"Path matches "^web/""#, ""), ["web/db-cache", "web/front"]);
    assert_eq!(paths(r#"Path not contains "db" and Namespace == default"#, ""), ["web/front"]);
    assert_eq!(paths(&format!("CreateIndex == {}", created[1]), ""), ["db/replica"]);
    assert_eq!(paths(&format!("ModifyIndex != {} and \"db\" in Path", created[0]), ""), ["db/replica", "web/db-cache"]);
    assert_eq!(paths(r#"(Path == db/main or Path == web/front) and not Path is empty"#, ""), ["db/main", "web/front"]);
    assert_eq!(paths(r#"Namespace == ops"#, "&namespace=*"), ["db/ops"]);
    // The page counts only what passes: one per page, tokens of passing entries.
    let page = a.get(&format!("/v1/vars?per_page=1&filter={}", enc(r#"Path contains "db""#)));
    assert_eq!(page.json()[0]["Path"], "db/main");
    assert_eq!(page.header("x-nomad-nexttoken").as_deref(), Some("default.db/replica"));
    let page =
        a.get(&format!("/v1/vars?per_page=1&next_token=default.db/replica&filter={}", enc(r#"Path contains "db""#)));
    assert_eq!(page.json()[0]["Path"], "db/replica");
    assert_eq!(page.header("x-nomad-nexttoken").as_deref(), Some("default.web/db-cache"));

    // Nomad's texts: a filter that does not parse, and one that fails on an entry.
    let bad = a.get(&format!("/v1/vars?filter={}", enc("NotValid")));
    assert_eq!(
        (bad.status, bad.text()),
        (400, "failed to create result paginator: failed to read filter expression: 1:9 (8): no match found".into())
    );
    let unknown = a.get(&format!("/v1/vars?filter={}", enc(r#"Nope == "x""#)));
    assert_eq!(
        (unknown.status, unknown.text()),
        (
            400,
            "failed to read result page: error finding value in datum: /Nope at part 0: couldn't find struct field with name \"Nope\""
                .into()
        )
    );
    // Evaluated per entry, as Nomad's: nothing to evaluate, nothing fails.
    assert_eq!(a.get(&format!("/v1/vars?prefix=zzz&filter={}", enc(r#"Nope == "x""#))).text(), "[]");
}
