//! Output formatting shared by the commands: Go `columnize` tables, `key = value` lists,
//! 4-space JSON, and a subset of Go's text/template for `-t`.

use serde_json::Value;

/// Go's `columnize` with `|`-separated cells: each column padded to its widest cell, joined
/// by `glue`, trailing spaces trimmed.
pub fn columnize(rows: &[Vec<String>], glue: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str(glue);
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Nomad's `formatKV`: keys padded to the longest, ` = ` between key and value.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = pairs.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect();
    let width = pairs.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        out.push_str(&format!("{:width$} = {}", row[0], row[1]));
        out.push('\n');
    }
    out
}

/// JSON with a 4-space indent and a trailing newline, as `nomad ... -json` prints.
pub fn json(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    if serde::Serialize::serialize(v, &mut ser).is_err() {
        return "null\n".into();
    }
    let mut s = String::from_utf8_lossy(&out).into_owned();
    s.push('\n');
    s
}

/// How Go's text/template prints a value.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", go_print(v))).collect::<Vec<_>>().join(" "))
        }
    }
}

/// Renders a template of literal text and `{{ .Field.Sub }}` actions against `data`.
pub fn template(tmpl: &str, data: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "unclosed action".to_string())?;
        let action = after[..end].trim().trim_start_matches('-').trim_end_matches('-').trim();
        out.push_str(&eval(action, data)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn eval(action: &str, data: &Value) -> Result<String, String> {
    if action == "." {
        return Ok(go_print(data));
    }
    let Some(path) = action.strip_prefix('.') else {
        return Err(format!("unsupported template action {{{{{action}}}}} (only {{{{.Field}}}} is supported)"));
    };
    let mut v = data;
    for part in path.split('.') {
        if part.is_empty() || !part.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!("unsupported template action {{{{{action}}}}}"));
        }
        v = match v {
            Value::Object(m) => m.get(part).ok_or_else(|| format!("can't evaluate field {part}"))?,
            _ => return Err(format!("can't evaluate field {part} in a non-object")),
        };
    }
    Ok(go_print(v))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columnize_pads_and_trims() {
        let rows = vec![
            vec!["Node".into(), "ID".into(), "State".into()],
            vec!["alpha.global".into(), "x".into(), "leader".into()],
        ];
        assert_eq!(columnize(&rows, "  "), "Node          ID  State\nalpha.global  x   leader\n");
    }

    #[test]
    fn kv_padding() {
        let s =
            key_values(&[("Scheduler Algorithm", "binpack".into()), ("Node Limit For Feasibility Checks", "0".into())]);
        assert!(s.starts_with("Scheduler Algorithm               = binpack\n"), "{s}");
    }

    #[test]
    fn templates() {
        let d = json!({"A": true, "B": {"C": "binpack"}, "N": 3});
        assert_eq!(template("{{.A}}", &d).unwrap(), "true");
        assert_eq!(template("{{ .B.C }}!!!", &d).unwrap(), "binpack!!!");
        assert_eq!(template("n={{.N}}", &d).unwrap(), "n=3");
        assert!(template("{{range .B}}", &d).is_err());
        assert!(template("{{.Missing}}", &d).is_err());
        assert!(template("{{.A", &d).is_err());
    }

    #[test]
    fn json_is_four_spaces() {
        assert_eq!(json(&json!({"A": [1]})), "{\n    \"A\": [\n        1\n    ]\n}\n");
    }
}
