//! The part of Go's `text/template` that Nomad users pass to `-template` (`var get`, `var put`,
//! `var list -out=go-template`), evaluated over the JSON of the Go value Nomad renders.
//!
//! Supported: text with `{{ }}` actions and `{{-`/`-}}` trimming; `.`, `.Field.Sub`, `$`,
//! `$name.Field`; string, raw-string and number literals; `{{ range PIPE }}`,
//! `{{ range $v := PIPE }}`, `{{ range $k, $v := PIPE }}` (maps in key order) with `{{ else }}`;
//! `{{ if PIPE }}`/`{{ else }}`/`{{ end }}`; `{{ $x := PIPE }}` and `{{ $x = PIPE }}`; the
//! functions `index`, `len`, `printf` (`%s %v %d %q %%`, width and `-`), `print`, `println`,
//! `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `not`, `and`, `or`; parentheses. Not supported: `with`,
//! `define`/`template`/`block`, pipes with `|`, comments, methods of Go types.

use std::collections::BTreeMap;

use serde_json::Value;

/// Renders `template` over `data`; the error is Go's `template: <name>: ...` text.
pub fn render(name: &str, template: &str, data: &Value) -> Result<String, String> {
    let nodes = parse(template).map_err(|e| format!("template: {name}: {e}"))?;
    let mut out = String::new();
    let mut scope = Scope { vars: vec![BTreeMap::from([("$".to_string(), data.clone())])] };
    exec(&nodes, data, &mut scope, &mut out).map_err(|e| format!("template: {name}: {e}"))?;
    Ok(out)
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Expr),
    Assign { name: String, declare: bool, value: Expr },
    Range { key: Option<String>, value: Option<String>, over: Expr, body: Vec<Node>, otherwise: Vec<Node> },
    If { cond: Expr, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Debug, Clone)]
enum Expr {
    /// `.A.B` (empty path: `.`), from the dot or a variable.
    Field {
        var: Option<String>,
        path: Vec<String>,
    },
    Literal(Value),
    Call {
        func: String,
        args: Vec<Expr>,
    },
}

/// Splits the text into text and action pieces, trimming around `{{-` and `-}}`.
fn lex(src: &str) -> Result<Vec<(bool, String)>, String> {
    let mut pieces: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        let mut text = rest[..open].to_string();
        let mut inner_start = open + 2;
        if rest[inner_start..].starts_with("- ")
            || rest[inner_start..].starts_with("-\t")
            || rest[inner_start..].starts_with("-\n")
        {
            text = text.trim_end().to_string();
            inner_start += 1;
        }
        pieces.push((false, text));
        let Some(close) = rest[inner_start..].find("}}") else {
            return Err("unclosed action".into());
        };
        let mut inner = &rest[inner_start..inner_start + close];
        let mut after = inner_start + close + 2;
        let mut trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        pieces.push((true, inner.trim().to_string()));
        if trim_next {
            let skipped = rest[after..].len() - rest[after..].trim_start().len();
            after += skipped;
        }
        rest = &rest[after..];
    }
    pieces.push((false, rest.to_string()));
    Ok(pieces)
}

fn parse(src: &str) -> Result<Vec<Node>, String> {
    let pieces = lex(src)?;
    let mut it = pieces.into_iter().peekable();
    let (nodes, end) = parse_list(&mut it)?;
    match end {
        None => Ok(nodes),
        Some(word) => Err(format!("unexpected {{{{{word}}}}}")),
    }
}

type Pieces = std::iter::Peekable<std::vec::IntoIter<(bool, String)>>;

/// Nodes until `{{end}}` or `{{else}}` (returned) or the end of input (`None`).
fn parse_list(it: &mut Pieces) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some((action, text)) = it.next() {
        if !action {
            if !text.is_empty() {
                nodes.push(Node::Text(text));
            }
            continue;
        }
        let words = text.as_str();
        if words == "end" || words == "else" {
            return Ok((nodes, Some(words.to_string())));
        }
        if let Some(rest) = keyword(words, "range") {
            let (key, value, over) = range_head(rest)?;
            let (body, end) = parse_list(it)?;
            let otherwise = branch_else(it, end, "range")?;
            nodes.push(Node::Range { key, value, over, body, otherwise });
        } else if let Some(rest) = keyword(words, "if") {
            let cond = parse_expr(rest)?;
            let (body, end) = parse_list(it)?;
            let otherwise = branch_else(it, end, "if")?;
            nodes.push(Node::If { cond, body, otherwise });
        } else if words.starts_with("/*") {
            continue;
        } else if let Some((name, declare, value)) = assignment(words) {
            nodes.push(Node::Assign { name, declare, value: parse_expr(value)? });
        } else {
            nodes.push(Node::Print(parse_expr(words)?));
        }
    }
    Ok((nodes, None))
}

fn branch_else(it: &mut Pieces, end: Option<String>, what: &str) -> Result<Vec<Node>, String> {
    match end.as_deref() {
        Some("end") => Ok(Vec::new()),
        Some("else") => match parse_list(it)? {
            (nodes, Some(e)) if e == "end" => Ok(nodes),
            _ => Err(format!("unexpected EOF in {what}")),
        },
        _ => Err(format!("unexpected EOF in {what}")),
    }
}

fn keyword<'a>(words: &'a str, kw: &str) -> Option<&'a str> {
    let rest = words.strip_prefix(kw)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// `$x := expr` or `$x = expr`.
fn assignment(words: &str) -> Option<(String, bool, &str)> {
    if !words.starts_with('$') {
        return None;
    }
    let (name, rest) = words.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    if let Some(v) = rest.strip_prefix(":=") {
        return Some((name.to_string(), true, v.trim()));
    }
    rest.strip_prefix('=').filter(|v| !v.starts_with('=')).map(|v| (name.to_string(), false, v.trim()))
}

fn range_head(rest: &str) -> Result<(Option<String>, Option<String>, Expr), String> {
    if let Some((vars, over)) = rest.split_once(":=") {
        let names: Vec<String> = vars.split(',').map(|v| v.trim().to_string()).collect();
        if names.iter().any(|n| !n.starts_with('$')) || names.is_empty() || names.len() > 2 {
            return Err(format!("bad range variables {:?}", vars.trim()));
        }
        let over = parse_expr(over.trim())?;
        return Ok(match names.as_slice() {
            [v] => (None, Some(v.clone()), over),
            [k, v] => (Some(k.clone()), Some(v.clone()), over),
            _ => unreachable!("checked above"),
        });
    }
    Ok((None, None, parse_expr(rest)?))
}

/// Splits an action into its words, keeping quoted strings and parenthesised groups whole.
fn words(src: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated quoted string".into());
                }
                i += 1;
            }
            '`' => {
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("unterminated raw quoted string".into());
                }
                i += 1;
            }
            '(' => {
                let mut depth = 0;
                while i < chars.len() {
                    match chars[i] {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if depth != 0 {
                    return Err("unclosed left paren".into());
                }
            }
            _ => {
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
            }
        }
        out.push(chars[start..i].iter().collect());
    }
    Ok(out)
}

fn parse_expr(src: &str) -> Result<Expr, String> {
    let ws = words(src)?;
    let Some(first) = ws.first() else { return Err("missing value for command".into()) };
    let is_func = first.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if is_func && !matches!(first.as_str(), "true" | "false" | "nil") {
        let args = ws[1..].iter().map(|w| operand(w)).collect::<Result<_, _>>()?;
        return Ok(Expr::Call { func: first.clone(), args });
    }
    if ws.len() > 1 {
        return Err(format!("can't give argument to non-function {first}"));
    }
    operand(first)
}

fn operand(w: &str) -> Result<Expr, String> {
    if let Some(inner) = w.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        return parse_expr(inner);
    }
    if w.starts_with('"') {
        return serde_json::from_str::<String>(w)
            .map(|s| Expr::Literal(Value::String(s)))
            .map_err(|_| format!("bad string {w}"));
    }
    if let Some(raw) = w.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(Expr::Literal(Value::String(raw.into())));
    }
    if w == "true" || w == "false" {
        return Ok(Expr::Literal(Value::Bool(w == "true")));
    }
    if let Ok(n) = w.parse::<i64>() {
        return Ok(Expr::Literal(Value::from(n)));
    }
    let (var, rest) = if let Some(r) = w.strip_prefix('$') {
        let end = r.find('.').unwrap_or(r.len());
        (Some(format!("${}", &r[..end])), &r[end..])
    } else if w.starts_with('.') {
        (None, w)
    } else {
        return Err(format!("function {w:?} not defined"));
    };
    let path = rest.split('.').filter(|p| !p.is_empty()).map(String::from).collect();
    Ok(Expr::Field { var, path })
}

struct Scope {
    vars: Vec<BTreeMap<String, Value>>,
}

impl Scope {
    fn get(&self, name: &str) -> Result<Value, String> {
        self.vars.iter().rev().find_map(|f| f.get(name).cloned()).ok_or_else(|| format!("undefined variable: {name}"))
    }

    fn set(&mut self, name: &str, value: Value, declare: bool) -> Result<(), String> {
        if declare {
            if let Some(frame) = self.vars.last_mut() {
                frame.insert(name.to_string(), value);
            }
            return Ok(());
        }
        match self.vars.iter_mut().rev().find(|f| f.contains_key(name)) {
            Some(frame) => {
                frame.insert(name.to_string(), value);
                Ok(())
            }
            None => Err(format!("undefined variable: {name}")),
        }
    }
}

fn exec(nodes: &[Node], dot: &Value, scope: &mut Scope, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Print(e) => out.push_str(&print(&eval(e, dot, scope)?)),
            Node::Assign { name, declare, value } => {
                let v = eval(value, dot, scope)?;
                scope.set(name, v, *declare)?;
            }
            Node::If { cond, body, otherwise } => {
                let branch = if truth(&eval(cond, dot, scope)?) { body } else { otherwise };
                scope.vars.push(BTreeMap::new());
                let r = exec(branch, dot, scope, out);
                scope.vars.pop();
                r?;
            }
            Node::Range { key, value, over, body, otherwise } => {
                let items: Vec<(Value, Value)> = match eval(over, dot, scope)? {
                    Value::Array(a) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
                    Value::Object(m) => {
                        let sorted: BTreeMap<String, Value> = m.into_iter().collect();
                        sorted.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                    }
                    Value::Null => Vec::new(),
                    other => return Err(format!("range can't iterate over {}", print(&other))),
                };
                if items.is_empty() {
                    exec(otherwise, dot, scope, out)?;
                }
                for (k, v) in items {
                    let mut frame = BTreeMap::new();
                    match (key, value) {
                        (Some(kn), Some(vn)) => {
                            frame.insert(kn.clone(), k);
                            frame.insert(vn.clone(), v.clone());
                        }
                        (None, Some(vn)) => {
                            frame.insert(vn.clone(), v.clone());
                        }
                        _ => {}
                    }
                    scope.vars.push(frame);
                    let r = exec(body, &v, scope, out);
                    scope.vars.pop();
                    r?;
                }
            }
        }
    }
    Ok(())
}

fn eval(e: &Expr, dot: &Value, scope: &Scope) -> Result<Value, String> {
    match e {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Field { var, path } => {
            let mut cur = match var {
                Some(name) => scope.get(name)?,
                None => dot.clone(),
            };
            for p in path {
                cur = match &cur {
                    Value::Object(m) => match m.get(p) {
                        Some(v) => v.clone(),
                        // A map's missing key is Go's `<no value>`.
                        None => Value::Null,
                    },
                    Value::Null => return Err(format!("nil pointer evaluating .{p}")),
                    other => return Err(format!("can't evaluate field {p} in type {}", go_type(other))),
                };
            }
            Ok(cur)
        }
        Expr::Call { func, args } => {
            let vals = args.iter().map(|a| eval(a, dot, scope)).collect::<Result<Vec<_>, _>>()?;
            call(func, vals)
        }
    }
}

fn call(func: &str, args: Vec<Value>) -> Result<Value, String> {
    let need = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("wrong number of args for {func}: want {n} got {}", args.len()))
        }
    };
    match func {
        "len" => {
            need(1)?;
            match &args[0] {
                Value::String(s) => Ok(Value::from(s.len())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(m) => Ok(Value::from(m.len())),
                other => Err(format!("error calling len: len of type {}", go_type(other))),
            }
        }
        "index" => {
            let mut cur = args.first().cloned().unwrap_or(Value::Null);
            for k in args.iter().skip(1) {
                cur = match (&cur, k) {
                    (Value::Object(m), Value::String(key)) => m.get(key).cloned().unwrap_or(Value::Null),
                    (Value::Array(a), Value::Number(n)) => match n.as_u64().and_then(|i| a.get(i as usize)) {
                        Some(v) => v.clone(),
                        None => return Err(format!("error calling index: index out of range: {n}")),
                    },
                    _ => return Err("error calling index: cannot index".into()),
                };
            }
            Ok(cur)
        }
        "printf" => {
            let Some(Value::String(f)) = args.first() else { return Err("wrong type for printf format".into()) };
            Ok(Value::String(sprintf(f, &args[1..])))
        }
        "print" => Ok(Value::String(args.iter().map(print).collect::<Vec<_>>().join(""))),
        "println" => Ok(Value::String(args.iter().map(print).collect::<Vec<_>>().join(" ") + "\n")),
        "not" => {
            need(1)?;
            Ok(Value::Bool(!truth(&args[0])))
        }
        "and" => Ok(args.iter().find(|v| !truth(v)).or(args.last()).cloned().unwrap_or(Value::Null)),
        "or" => Ok(args.iter().find(|v| truth(v)).or(args.last()).cloned().unwrap_or(Value::Null)),
        "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
            need(2)?;
            let ord = compare(&args[0], &args[1])
                .ok_or_else(|| format!("error calling {func}: incompatible types for comparison"))?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match func {
                "eq" => ord == Equal,
                "ne" => ord != Equal,
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            }))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => (x == y).then_some(std::cmp::Ordering::Equal).or(Some(x.cmp(y))),
        _ => None,
    }
}

fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// A value as Go's `fmt.Print` shows it.
fn print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            format!("map[{}]", sorted.iter().map(|(k, v)| format!("{k}:{}", print(v))).collect::<Vec<_>>().join(" "))
        }
    }
}

/// Go's `fmt.Sprintf` for `%s %v %d %q %%` with an optional `-` flag and width.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = String::new();
        while let Some(&f) = chars.peek() {
            if f == '-' {
                left = true;
                chars.next();
            } else if f.is_ascii_digit() {
                width.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let text = match verb {
            'q' => match arg {
                Value::String(s) => crate::go::quote(s),
                other => print(other),
            },
            _ => print(arg),
        };
        let width: usize = width.parse().unwrap_or(0);
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var() -> Value {
        serde_json::json!({
            "Namespace": "default", "Path": "app/db", "CreateIndex": 5, "ModifyIndex": 7,
            "CreateTime": 1, "ModifyTime": 2, "Items": {"user": "admin", "pass": "s3"}
        })
    }

    #[test]
    fn what_nomad_users_write() {
        let cases: &[(&str, &str)] = &[
            ("{{ .Items.user }}", "admin"),
            ("{{ .Path }}@{{ .ModifyIndex }}", "app/db@7"),
            ("{{ index .Items \"pass\" }}", "s3"),
            ("{{ range $k, $v := .Items }}{{ $k }}={{ $v }}\n{{ end }}", "pass=s3\nuser=admin\n"),
            ("{{- range $k, $v := .Items -}}\n{{ $k }} {{ end -}}\n!", "pass user !"),
            ("{{ range .Items }}[{{ . }}]{{ end }}", "[s3][admin]"),
            ("{{ len .Items }}", "2"),
            ("{{ printf \"%-6s|%5s|%q\" .Path \"x\" .Items.user }}", "app/db|    x|\"admin\""),
            ("{{ if eq .Namespace \"default\" }}yes{{ else }}no{{ end }}", "yes"),
            ("{{ if gt (len .Items) 5 }}big{{ else }}small{{ end }}", "small"),
            ("{{ $n := 0 }}{{ range .Items }}{{ $n = (len .) }}{{ end }}{{ $n }}", "5"),
            ("{{ .Items.missing }}", "<no value>"),
            ("{{ .Items }}", "map[pass:s3 user:admin]"),
            ("{{ range .Nothing }}x{{ else }}empty{{ end }}", "empty"),
        ];
        for (t, want) in cases {
            assert_eq!(render("var", t, &var()).as_deref(), Ok(*want), "{t}");
        }
        let list = serde_json::json!([{"Path": "a"}, {"Path": "b"}]);
        assert_eq!(render("format", "{{ range . }}{{ .Path }}\n{{ end }}", &list).unwrap(), "a\nb\n");
    }

    #[test]
    fn errors() {
        assert_eq!(
            render("var", "{{ .Path.x }}", &var()).unwrap_err(),
            "template: var: can't evaluate field x in type string"
        );
        assert_eq!(render("var", "{{ nope 1 }}", &var()).unwrap_err(), "template: var: function \"nope\" not defined");
        assert_eq!(render("var", "{{ range .Items }}", &var()).unwrap_err(), "template: var: unexpected EOF in range");
        assert_eq!(render("var", "{{ .Path ", &var()).unwrap_err(), "template: var: unclosed action");
    }
}
