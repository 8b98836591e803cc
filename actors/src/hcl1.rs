//! HCL version 1, the configuration language of Nomad's agent files, read into a JSON value.
//!
//! Nomad reads agent files with HCL1, which accepts what HCL2 does not: several attributes on
//! one line (`ports { http = 4646 rpc = 4647 }`), commas between them, quoted keys
//! (`"X-Frame-Options" = "DENY"`). So the same files load here unchanged.
//!
//! Mapping: an object body is a JSON object; `key { ... }` and `key = { ... }` give objects;
//! `key "label" { ... }` nests (`{"key": {"label": {...}}}`); a key given several objects holds
//! them as a list; a key given several plain values keeps the last.

use serde_json::Map;
use serde_json::Number;
use serde_json::Value;

/// A syntax error with its 1-based position.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct Error {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses one file's text.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Parser { chars: text.chars().collect(), pos: 0 };
    let body = p.object_items(None)?;
    Ok(Value::Object(body))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> Error {
        let before = &self.chars[..pos.min(self.chars.len())];
        let line = before.iter().filter(|c| **c == '\n').count() + 1;
        let column = before.iter().rev().take_while(|c| **c != '\n').count() + 1;
        Error { line, column, message: message.into() }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        self.error_at(self.pos, message)
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of file".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// Skips white space and `#`, `//` and `/* */` comments.
    fn skip_blank(&mut self) -> Result<(), Error> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => self.pos += 1,
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.pos;
                    self.pos += 2;
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => {
                                self.pos += 2;
                                break;
                            }
                            (Some(_), _) => self.pos += 1,
                            (None, _) => return Err(self.error_at(start, "comment not terminated")),
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Items up to `close` (or the end of the file when `close` is None), optionally separated
    /// by commas.
    fn object_items(&mut self, close: Option<char>) -> Result<Map<String, Value>, Error> {
        let mut map = Map::new();
        loop {
            self.skip_blank()?;
            match (self.peek(), close) {
                (None, None) => return Ok(map),
                (None, Some(c)) => return Err(self.error(format!("expected {c:?} or a key, found end of file"))),
                (Some(c), Some(want)) if c == want => {
                    self.pos += 1;
                    return Ok(map);
                }
                _ => {}
            }
            self.object_item(&mut map)?;
            self.skip_blank()?;
            if self.peek() == Some(',') {
                self.pos += 1;
            }
        }
    }

    /// `key [key...] = value` or `key [label...] { items }`.
    fn object_item(&mut self, map: &mut Map<String, Value>) -> Result<(), Error> {
        let mut keys = vec![self.key()?];
        loop {
            self.skip_blank()?;
            match self.peek() {
                Some('=') => {
                    if keys.len() > 1 {
                        return Err(self.error(format!("nested keys {keys:?} take a block, not `=`")));
                    }
                    self.pos += 1;
                    self.skip_blank()?;
                    let value = self.value()?;
                    insert(map, keys.remove(0), value);
                    return Ok(());
                }
                Some('{') => {
                    self.pos += 1;
                    let mut value = Value::Object(self.object_items(Some('}'))?);
                    while keys.len() > 1 {
                        let label = keys.pop().unwrap_or_default();
                        value = Value::Object(Map::from_iter([(label, value)]));
                    }
                    insert(map, keys.remove(0), value);
                    return Ok(());
                }
                Some(c) if c == '"' || is_ident_start(c) => keys.push(self.key()?),
                _ => {
                    let key = keys.last().cloned().unwrap_or_default();
                    return Err(self.error(format!("expected `=` or `{{` after key {key:?}, found {}", self.found())));
                }
            }
        }
    }

    fn key(&mut self) -> Result<String, Error> {
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if is_ident_start(c) => Ok(self.ident()),
            _ => Err(self.error(format!("expected a key, found {}", self.found()))),
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some('"') => self.string().map(Value::String),
            Some('<') if self.peek_at(1) == Some('<') => self.heredoc().map(Value::String),
            Some('[') => self.list(),
            Some('{') => {
                self.pos += 1;
                self.object_items(Some('}')).map(Value::Object)
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if is_ident_start(c) => {
                let start = self.pos;
                match self.ident().as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    other => Err(self.error_at(start, format!("unexpected {other:?}: strings need double quotes"))),
                }
            }
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    fn list(&mut self) -> Result<Value, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_blank()?;
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {}
                _ => return Err(self.error(format!("expected `,` or `]` in a list, found {}", self.found()))),
            }
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let bad = || self.error_at(start, format!("invalid number {text:?}"));
        let digits = text.strip_prefix('+').unwrap_or(&text);
        let (negative, magnitude) = match digits.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, digits),
        };
        if let Some(hex) = magnitude.strip_prefix("0x").or_else(|| magnitude.strip_prefix("0X")) {
            let n = i64::from_str_radix(hex, 16).map_err(|_| bad())?;
            return Ok(Value::from(if negative { -n } else { n }));
        }
        if let Ok(n) = digits.parse::<i64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = digits.parse::<u64>() {
            return Ok(Value::from(n));
        }
        let f = digits.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(bad)?;
        Number::from_f64(f).map(Value::Number).ok_or_else(bad)
    }

    /// A double-quoted string with Go's escapes; `${ ... }` may hold quotes of its own.
    fn string(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut braces = 0usize;
        loop {
            let Some(c) = self.peek() else { return Err(self.error_at(start, "string not terminated")) };
            self.pos += 1;
            match c {
                '"' if braces == 0 => return Ok(out),
                '\n' if braces == 0 => return Err(self.error_at(start, "string not terminated before end of line")),
                '$' if self.peek() == Some('{') => {
                    braces += 1;
                    self.pos += 1;
                    out.push_str("${");
                }
                '}' if braces > 0 => {
                    braces -= 1;
                    out.push('}');
                }
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, Error> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else { return Err(self.error_at(at, "string not terminated")) };
        self.pos += 1;
        let hex = |p: &mut Self, n: usize| -> Result<char, Error> {
            let digits: String = p.chars.get(p.pos..p.pos + n).map(|s| s.iter().collect()).unwrap_or_default();
            p.pos += n;
            u32::from_str_radix(&digits, 16)
                .ok()
                .filter(|_| digits.len() == n)
                .and_then(char::from_u32)
                .ok_or_else(|| p.error_at(at, format!("invalid escape \\{c}{digits}")))
        };
        Ok(match c {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            '"' => '"',
            'x' => hex(self, 2)?,
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            other => return Err(self.error_at(at, format!("unknown escape \\{other}"))),
        })
    }

    /// `<<ID` ... `ID` (text as written, with its final newline) or `<<-ID` (the common
    /// indentation removed).
    fn heredoc(&mut self) -> Result<String, Error> {
        let start = self.pos;
        self.pos += 2;
        let indented = self.peek() == Some('-');
        if indented {
            self.pos += 1;
        }
        let marker = self.ident();
        if marker.is_empty() || self.peek() != Some('\n') {
            return Err(self.error_at(start, "heredoc needs an identifier and a new line after <<"));
        }
        self.pos += 1;
        let mut lines = Vec::new();
        loop {
            if self.peek().is_none() {
                return Err(self.error_at(start, format!("heredoc not terminated: no line {marker:?}")));
            }
            let line_start = self.pos;
            while self.peek().is_some_and(|c| c != '\n') {
                self.pos += 1;
            }
            let line: String = self.chars[line_start..self.pos].iter().collect();
            if self.peek() == Some('\n') {
                self.pos += 1;
            }
            let closing = if indented { line.trim_start() } else { line.as_str() };
            if closing.trim_end_matches('\r') == marker {
                break;
            }
            lines.push(line);
        }
        if indented {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for l in &mut lines {
                *l = l.chars().skip(indent).collect();
            }
        }
        Ok(lines.iter().map(|l| format!("{l}\n")).collect())
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// A key given an object again collects the objects in a list; a plain value replaces.
fn insert(map: &mut Map<String, Value>, key: String, value: Value) {
    match (map.get_mut(&key), value) {
        (Some(Value::Array(items)), value @ Value::Object(_)) if items.iter().all(Value::is_object) => {
            items.push(value)
        }
        (Some(existing @ Value::Object(_)), value @ Value::Object(_)) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        (_, value) => {
            map.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;

    #[test]
    fn nomad_agent_file() {
        let text = r#"
# a server
name = "s1"   // trailing comment
data_dir = "/var/lib/x" /* block
comment */
ports { http = 4646 rpc = 4647 serf = 4648 }
acl { enabled = true }
server {
  enabled = true, bootstrap_expect = 3
  server_join { retry_join = ["10.0.0.1", "10.0.0.2:4647",] }
}
http_api_response_headers {
  "X-Frame-Options" = "DENY"
}
"#;
        assert_eq!(
            parse(text).unwrap(),
            json!({
                "name": "s1", "data_dir": "/var/lib/x",
                "ports": {"http": 4646, "rpc": 4647, "serf": 4648},
                "acl": {"enabled": true},
                "server": {"enabled": true, "bootstrap_expect": 3,
                           "server_join": {"retry_join": ["10.0.0.1", "10.0.0.2:4647"]}},
                "http_api_response_headers": {"X-Frame-Options": "DENY"}
            })
        );
    }

    #[test]
    fn repeated_blocks_labels_and_values() {
        let text = "server { enabled = true }\nserver { bootstrap_expect = 1 }\nname = \"a\"\nname = \"b\"\n\
                    plugin \"docker\" { config { x = 1.5 } }\nports = { http = -1 }\n";
        assert_eq!(
            parse(text).unwrap(),
            json!({
                "server": [{"enabled": true}, {"bootstrap_expect": 1}],
                "name": "b",
                "plugin": {"docker": {"config": {"x": 1.5}}},
                "ports": {"http": -1}
            })
        );
    }

    #[test]
    fn strings_and_heredocs() {
        let text = "a = \"tab\\there \\\"q\\\" \\u00e9\"\nb = \"${env(\"X\")}\"\nc = <<EOF\nline 1\n  line 2\nEOF\n\
                    d = <<-EOT\n    x\n      y\n    EOT\ne = 0x1F\n";
        assert_eq!(
            parse(text).unwrap(),
            json!({"a": "tab\there \"q\" é", "b": "${env(\"X\")}", "c": "line 1\n  line 2\n", "d": "x\n  y\n", "e": 31})
        );
    }

    #[test]
    fn errors_say_where_and_what() {
        let cases = [
            ("name = {\n", "line 2, column 1: expected '}' or a key, found end of file"),
            ("name \"x\"\n", "line 2, column 1: expected `=` or `{` after key \"x\", found end of file"),
            ("name = bare\n", "line 1, column 8: unexpected \"bare\": strings need double quotes"),
            ("name = \"open\n", "line 1, column 8: string not terminated before end of line"),
            ("a = [1 2]\n", "line 1, column 8: expected `,` or `]` in a list, found '2'"),
            ("a = 1x\n", "line 1, column 5: invalid number \"1x\""),
            ("a = \"\\q\"\n", "line 1, column 6: unknown escape \\q"),
            ("/* open", "line 1, column 1: comment not terminated"),
            ("a = <<EOF\nx\n", "line 1, column 5: heredoc not terminated: no line \"EOF\""),
            ("= 1", "line 1, column 1: expected a key, found '='"),
            ("}", "line 1, column 1: expected a key, found '}'"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    proptest::proptest! {
        /// Any text, valid or not, gives a value or an error; never a panic.
        #[test]
        fn never_panics(text in "[a-z\"={}\\[\\],<\\-#/*\\\\ \n0-9.xuEOF$]{0,64}") {
            let _ = parse(&text);
        }
    }
}
