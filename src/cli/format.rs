//! Output building blocks shared by the commands, as Nomad's CLI prints them: Go `columnize`
//! tables and `k = v` lists, 4-space JSON, Go's `%v`/`%q` printing of values, go-humanize's byte sizes,
//! and the subset of Go's text/template that `-t` supports.

use serde_json::Value;

/// Go `columnize`: cells trimmed, empty cells shown as `empty`, each column but the last padded
/// to its widest cell (in characters, as Go's `%-*s` counts runes) and joined by `glue`; an
/// empty last cell leaves the padding and glue before it, as in Go. Every line ends with a
/// newline.
pub fn columnize(rows: &[Vec<String>], glue: &str, empty: &str) -> String {
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| match cell.trim() {
                    "" => empty,
                    cell => cell,
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(w) => *w = (*w).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str(glue);
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Nomad's `formatKV`: keys padded to the longest, ` = ` between key and value, `<none>` for
/// an empty value.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = pairs.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect();
    columnize(&rows, " = ", "<none>")
}

/// JSON with a 4-space indent and a trailing newline, as `nomad ... -json` prints it.
pub fn json(v: &Value) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(v, &mut ser)?;
    out.push(b'\n');
    // serde_json writes valid UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `json.Marshal`: compact, with `<`, `>`, `&`, U+2028 and U+2029 escaped (they can only
/// occur inside strings, where the escape means the same character).
pub fn go_marshal(v: &Value) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(v)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A value as Go's `%v` prints the corresponding decoded struct field: strings raw, objects as
/// structs (`{a b}`, fields in wire order, which is Go's declaration order), arrays as `[a b]`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(fields) => format!("{{{}}}", fields.values().map(go_print).collect::<Vec<_>>().join(" ")),
    }
}

/// A value as a table cell: like [`go_print`], but a missing (null) value is an empty cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => go_print(other),
    }
}

/// An RFC 3339 UTC timestamp (`2017-03-06T22:07:51Z`) as Go's `time.Time` prints with `%s`
/// (`2017-03-06 22:07:51 +0000 UTC`); anything else is returned unchanged.
pub fn go_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((date, time)) if date.len() == 10 && time.len() >= 8 => format!("{date} {time} +0000 UTC"),
        _ => rfc3339.to_string(),
    }
}

/// go-humanize's `IBytes`: `512 B`, `1.5 KiB`, `15 MiB`.
pub fn human_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let e = ((n as f64).ln() / 1024f64.ln()).floor() as usize;
    let e = e.min(units.len() - 1);
    let val = (n as f64 / 1024f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", units[e])
    } else {
        format!("{val:.0} {}", units[e])
    }
}

/// Why a `-t` template could not be rendered; texts follow Go's text/template.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template: :{line}: unclosed action")]
    Unclosed { line: usize },
    #[error(
        "template: :{line}: unsupported action {{{{{action}}}}}: only literal text and {{{{.Field}}}} actions are supported"
    )]
    Unsupported { line: usize, action: String },
    #[error("template: :{line}:{col}: executing \"\" at <{action}>: can't evaluate field {field} in type {kind}")]
    NoField { line: usize, col: usize, action: String, field: String, kind: &'static str },
}

/// Renders a template of literal text, `{{.}}`, `{{.Field.Sub}}` (spaces allowed inside the
/// braces), `{{/* comments */}}` and Go's `{{-`/`-}}` whitespace trimming, against `data`.
pub fn template(tmpl: &str, data: &Value) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    while let Some(found) = tmpl[pos..].find("{{") {
        let open = pos + found;
        let mut text = &tmpl[pos..open];
        if trim_next_text {
            text = text.trim_start();
        }
        let inner_start = open + 2;
        let line = line_of(tmpl, open);
        let close = tmpl[inner_start..].find("}}").map(|i| inner_start + i).ok_or(TemplateError::Unclosed { line })?;
        let mut inner = &tmpl[inner_start..close];
        // Go only treats the dash as a trim marker when whitespace separates it from the action.
        if let Some(rest) = inner.strip_prefix('-').filter(|r| r.starts_with(|c: char| c.is_ascii_whitespace())) {
            text = text.trim_end();
            inner = rest;
        }
        trim_next_text = false;
        if let Some(rest) = inner.strip_suffix('-').filter(|r| r.ends_with(|c: char| c.is_ascii_whitespace())) {
            trim_next_text = true;
            inner = rest;
        }
        out.push_str(text);
        let action = inner.trim();
        let is_comment = action.starts_with("/*") && action.ends_with("*/") && action.len() >= 4;
        if !is_comment {
            let col = column_of(tmpl, tmpl.len() - tmpl[inner_start..].trim_start_matches(['-', ' ', '\t']).len());
            out.push_str(&go_print(lookup(action, data, line, col)?));
        }
        pos = close + 2;
    }
    let mut text = &tmpl[pos..];
    if trim_next_text {
        text = text.trim_start();
    }
    out.push_str(text);
    Ok(out)
}

/// Resolves `.`, `.A` or `.A.B` against `data`.
fn lookup<'a>(action: &str, data: &'a Value, line: usize, col: usize) -> Result<&'a Value, TemplateError> {
    let unsupported = || TemplateError::Unsupported { line, action: action.to_string() };
    if action == "." {
        return Ok(data);
    }
    let path = action.strip_prefix('.').ok_or_else(unsupported)?;
    let mut v = data;
    for field in path.split('.') {
        let identifier = field.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && field.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !identifier {
            return Err(unsupported());
        }
        let no_field = |kind| TemplateError::NoField { line, col, action: action.into(), field: field.into(), kind };
        v = match v {
            Value::Object(fields) => fields.get(field).ok_or_else(|| no_field("object"))?,
            Value::Null => return Err(no_field("nil")),
            Value::Bool(_) => return Err(no_field("bool")),
            Value::Number(_) => return Err(no_field("number")),
            Value::String(_) => return Err(no_field("string")),
            Value::Array(_) => return Err(no_field("array")),
        };
    }
    Ok(v)
}

/// 1-based line of byte offset `at`.
fn line_of(s: &str, at: usize) -> usize {
    s[..at].matches('\n').count() + 1
}

/// 0-based byte column of byte offset `at` within its line, as Go reports it.
fn column_of(s: &str, at: usize) -> usize {
    at - s[..at].rfind('\n').map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
        r.iter().map(|row| row.iter().map(|c| c.to_string()).collect()).collect()
    }

    #[test]
    fn columnize_pads_each_column_to_its_widest_cell() {
        let table = rows(&[&["Node", "ID", "State"], &["alpha.global", "x", "leader"], &["b", "yyyy", "follower"]]);
        assert_eq!(
            columnize(&table, "  ", ""),
            "Node          ID    State\nalpha.global  x     leader\nb             yyyy  follower\n"
        );
    }

    #[test]
    fn columnize_keeps_go_trailing_spaces_and_fills_empty_cells() {
        let table = rows(&[&["A", "B"], &["long", ""]]);
        assert_eq!(columnize(&table, "  ", ""), "A     B\nlong  \n");
        assert_eq!(columnize(&table, "  ", "<none>"), "A     B\nlong  <none>\n");
        // Widths count characters, not bytes.
        let table = rows(&[&["µs", "x"], &["ab", "y"]]);
        assert_eq!(columnize(&table, "  ", ""), "µs  x\nab  y\n");
        assert_eq!(columnize(&[], "  ", ""), "");
    }

    #[test]
    fn key_values_pad_keys_to_the_longest() {
        let s = key_values(&[
            ("Scheduler Algorithm", "binpack".into()),
            ("Preemption SysBatch Scheduler", "false".into()),
            ("Node Limit For Feasibility Checks", "0".into()),
            ("Empty", String::new()),
        ]);
        assert_eq!(
            s,
            "Scheduler Algorithm               = binpack\n\
             Preemption SysBatch Scheduler     = false\n\
             Node Limit For Feasibility Checks = 0\n\
             Empty                             = <none>\n"
        );
    }

    #[test]
    fn json_is_indented_by_four_spaces_with_a_trailing_newline() {
        assert_eq!(
            json(&json!({"A": [1], "B": "x"})).unwrap(),
            "{\n    \"A\": [\n        1\n    ],\n    \"B\": \"x\"\n}\n"
        );
        assert_eq!(json(&json!(true)).unwrap(), "true\n");
    }

    #[test]
    fn go_printing() {
        let cases = [
            (json!(true), "true"),
            (json!(42), "42"),
            (json!("200ms"), "200ms"),
            (json!(null), "<nil>"),
            (json!(["a", 1]), "[a 1]"),
            (json!({"System": true, "Batch": false}), "{true false}"),
        ];
        for (v, want) in cases {
            assert_eq!(go_print(&v), want, "{v}");
        }
        assert_eq!(cell(&json!(null)), "");
    }

    #[test]
    fn go_times() {
        assert_eq!(go_time("2017-03-06T22:07:51Z"), "2017-03-06 22:07:51 +0000 UTC");
        assert_eq!(go_time("2017-03-06T22:07:51.5Z"), "2017-03-06 22:07:51.5 +0000 UTC");
        assert_eq!(go_time("2017-03-06T22:07:51+01:00"), "2017-03-06T22:07:51+01:00");
        assert_eq!(go_time(""), "");
    }

    #[test]
    fn templates_render() {
        let d = json!({"CleanupDeadServers": true, "SchedulerConfig": {"SchedulerAlgorithm": "binpack"}, "N": 3});
        let cases = [
            ("{{.CleanupDeadServers}}", "true"),
            ("{{.SchedulerConfig.SchedulerAlgorithm}}!!!", "binpack!!!"),
            ("{{ .SchedulerConfig.SchedulerAlgorithm }}", "binpack"),
            ("n={{.N}} m={{.N}}", "n=3 m=3"),
            ("plain text", "plain text"),
            ("a }} b", "a }} b"),
            ("x  {{- .N -}}  y", "x3y"),
            ("{{/* note */}}ok", "ok"),
            ("", ""),
        ];
        for (t, want) in cases {
            assert_eq!(template(t, &d).as_deref(), Ok(want), "{t}");
        }
        assert_eq!(template("{{.}}", &json!({"A": 1})).as_deref(), Ok("{1}"));
    }

    #[test]
    fn template_errors() {
        let d = json!({"A": true, "B": {"C": 1}});
        assert_eq!(template("x\n{{.A", &d), Err(TemplateError::Unclosed { line: 2 }));
        assert!(matches!(template("{{range .B}}x{{end}}", &d), Err(TemplateError::Unsupported { .. })));
        assert!(matches!(template("{{.A | printf}}", &d), Err(TemplateError::Unsupported { .. })));
        assert!(matches!(template("{{.B..C}}", &d), Err(TemplateError::Unsupported { .. })));
        // Without whitespace after it the dash is not a trim marker (Go fails to parse it too).
        assert!(matches!(template("x {{-.A}}", &d), Err(TemplateError::Unsupported { .. })));
        let err = template("{{.Missing}}", &d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template: :1:2: executing \"\" at <.Missing>: can't evaluate field Missing in type object"
        );
        let err = template("ab{{ .A.X }}", &d).unwrap_err();
        assert_eq!(err.to_string(), "template: :1:5: executing \"\" at <.A.X>: can't evaluate field X in type bool");
    }

    #[test]
    fn go_marshal_is_compact_and_escapes_html() {
        let v = serde_json::json!({"B": "<a&b>\u{2028}", "A": 1});
        assert_eq!(go_marshal(&v).unwrap(), r#"{"B":"\u003ca\u0026b\u003e\u2028","A":1}"#);
    }

    #[test]
    fn human_bytes_as_go_humanize() {
        let cases = [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (15 * 1024, "15 KiB"),
            (64 << 20, "64 MiB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_bytes(n), want, "{n}");
        }
    }
}
