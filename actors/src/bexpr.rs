//! Nomad's `?filter=` expressions: a parser and evaluator for go-bexpr's grammar
//! (`github.com/hashicorp/go-bexpr`, `grammar/grammar.peg`), as Nomad's paginator runs them on
//! each entry of a listing (`nomad/state/paginator/paginator.go`).
//!
//! Pure functions: [`parse`] turns the text into an [`Expr`] (the PEG's ordered choices are
//! tried in the grammar's order, with backtracking, so the quirks carry over: an unquoted value
//! is a selector, `"/a/b"` as a value is the JSON pointer `a/b`); [`Expr::evaluate`] checks it
//! against anything that names its fields through [`Datum`].
//!
//! Supported: `==`, `!=`, `contains`, `not contains`, `in`, `not in`, `is empty`,
//! `is not empty`, `matches`, `not matches`, `and`, `or`, `not`, parentheses, double-quoted
//! and backquoted strings, numbers, unquoted values, selectors with `.name`, `["key"]` and
//! `"/json/pointer"`. Not supported: the newer `is nil`, `all`/`any` collection expressions.

use std::fmt;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Match { selector: Selector, op: Op, value: Option<String> },
}

/// go-bexpr's match operators (`contains` is `In` with the selector on the left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Matches,
    NotMatches,
}

/// A field path: `a.b["c"]` or the JSON pointer `"/a/b"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub path: Vec<String>,
    pointer: bool,
}

impl fmt::Display for Selector {
    /// go-bexpr's `Selector.String`: dotted, or slashed for a JSON pointer (no leading slash).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path.join(if self.pointer { "/" } else { "." }))
    }
}

/// One field's value, typed as the Go field it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    Str(&'a str),
    Int(i64),
    Uint(u64),
}

impl Field<'_> {
    fn go_type(&self) -> &'static str {
        match self {
            Field::Str(_) => "string",
            Field::Int(_) => "int64",
            Field::Uint(_) => "uint64",
        }
    }
}

/// What a filter is evaluated against: a struct whose fields are looked up by path.
pub trait Datum {
    /// The field at `name` (the first part of a selector), or `None` if there is none.
    fn field(&self, name: &str) -> Option<Field<'_>>;
}

/// The pointer text go's `pointerstructure` prints in its errors: `/a/b`.
fn pointer_text(path: &[String]) -> String {
    path.iter().map(|p| format!("/{p}")).collect()
}

/// Go's `strconv` error text.
fn strconv_error(func: &str, raw: &str, range: bool) -> String {
    let why = if range { "value out of range" } else { "invalid syntax" };
    format!("error getting match value in expression: strconv.{func}: parsing {}: {why}", go_quote(raw))
}

/// Go's `%q` for the texts errors show.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base from the prefix (`0x`, `0o`, `0b`, a leading `0`
/// for octal), underscores allowed only with a prefix base.
fn parse_go_uint(raw: &str) -> Result<u64, bool> {
    let (digits, radix) = match raw.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0x") => (&raw[2..], 16),
        Some("0o") => (&raw[2..], 8),
        Some("0b") => (&raw[2..], 2),
        _ if raw.len() > 1 && raw.starts_with('0') => (&raw[1..], 8),
        _ => (raw, 10),
    };
    let cleaned: String = if radix != 10 { digits.replace('_', "") } else { digits.to_string() };
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_digit(radix)) {
        return Err(false);
    }
    u64::from_str_radix(&cleaned, radix).map_err(|_| true)
}

fn parse_go_int(raw: &str) -> Result<i64, bool> {
    let (neg, rest) = match raw.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let magnitude = parse_go_uint(rest)?;
    if neg {
        if magnitude > i64::MAX as u64 + 1 {
            return Err(true);
        }
        Ok((magnitude as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(magnitude).map_err(|_| true)
    }
}

impl Expr {
    /// go-bexpr's `Evaluate`: whether `datum` passes, or the error Nomad answers (its text).
    pub fn evaluate(&self, datum: &dyn Datum) -> Result<bool, String> {
        match self {
            Expr::Or(l, r) => Ok(l.evaluate(datum)? || r.evaluate(datum)?),
            Expr::And(l, r) => Ok(l.evaluate(datum)? && r.evaluate(datum)?),
            Expr::Not(e) => Ok(!e.evaluate(datum)?),
            Expr::Match { selector, op, value } => evaluate_match(selector, *op, value.as_deref(), datum),
        }
    }
}

fn evaluate_match(selector: &Selector, op: Op, value: Option<&str>, datum: &dyn Datum) -> Result<bool, String> {
    let not_found = |at: usize, why: String| {
        format!("error finding value in datum: {} at part {at}: {why}", pointer_text(&selector.path))
    };
    let Some(first) = selector.path.first() else {
        return Err(not_found(0, "couldn't find struct field with name \"\"".into()));
    };
    let Some(field) = datum.field(first) else {
        return Err(not_found(0, format!("couldn't find struct field with name {}", go_quote(first))));
    };
    if selector.path.len() > 1 {
        return Err(not_found(1, format!("invalid value kind: {}", field.go_type())));
    }
    let raw = value.unwrap_or("");
    match op {
        Op::Equal | Op::NotEqual => {
            let equal = match field {
                Field::Str(s) => s == raw,
                Field::Int(i) => parse_go_int(raw).map_err(|range| strconv_error("ParseInt", raw, range))? == i,
                Field::Uint(u) => parse_go_uint(raw).map_err(|range| strconv_error("ParseUint", raw, range))? == u,
            };
            Ok(equal == (op == Op::Equal))
        }
        Op::In | Op::NotIn => match field {
            Field::Str(s) => Ok(s.contains(raw) == (op == Op::In)),
            other => Err(format!(
                "Cannot perform in/contains operations on type {} for selector: {}",
                other.go_type(),
                go_quote(&selector.to_string())
            )),
        },
        Op::IsEmpty | Op::IsNotEmpty => match field {
            Field::Str(s) => Ok(s.is_empty() == (op == Op::IsEmpty)),
            other => Err(format!("unable to check emptiness of a value of type {}", other.go_type())),
        },
        Op::Matches | Op::NotMatches => match field {
            Field::Str(s) => {
                let re = regex::Regex::new(raw).map_err(|e| {
                    format!("Failed to compile regular expression {}: {}", go_quote(raw), first_line(&e.to_string()))
                })?;
                Ok(re.is_match(s) == (op == Op::Matches))
            }
            other => Err(format!("Value of type {} is not convertible to []byte", other.go_type())),
        },
    }
}

fn first_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Parses a filter as go-bexpr's `CreateEvaluator`; the error is the parser's text, with the
/// line, column and byte offset where it stopped.
pub fn parse(input: &str) -> Result<Expr, String> {
    let mut p = Parser { s: input.as_bytes(), farthest: 0, custom: None };
    match p.input() {
        Some(e) => Ok(e),
        None => {
            if let Some((at, rule, msg)) = p.custom.take() {
                return Err(format!("{}: rule {rule}: {msg}", position(input, at)));
            }
            Err(format!("{}: no match found", position(input, p.farthest)))
        }
    }
}

/// pigeon's `line:col (offset)` of a byte offset.
fn position(input: &str, at: usize) -> String {
    let before = &input.as_bytes()[..at.min(input.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    format!("{line}:{col} ({at})")
}

/// A backtracking parser of the PEG, one method per rule. Each returns the value and the
/// position after it, or `None` (the caller tries its next alternative).
struct Parser<'a> {
    s: &'a [u8],
    /// The farthest offset any rule reached, where the error is reported.
    farthest: usize,
    /// The first of the grammar's own error actions that fired: offset, rule, text.
    custom: Option<(usize, &'static str, &'static str)>,
}

type At<T> = Option<(T, usize)>;

/// A rule that reads an operator and the blanks around it, answering where it ends.
type OpRule = fn(&mut Parser<'_>, usize) -> Option<usize>;

impl Parser<'_> {
    fn reach(&mut self, at: usize) {
        self.farthest = self.farthest.max(at);
    }

    fn fail<T>(&mut self, at: usize, rule: &'static str, msg: &'static str) -> Option<T> {
        if self.custom.is_none() {
            self.custom = Some((at, rule, msg));
        }
        None
    }

    fn lit(&mut self, at: usize, text: &str) -> Option<usize> {
        if self.s[at..].starts_with(text.as_bytes()) {
            Some(at + text.len())
        } else {
            self.reach(at);
            None
        }
    }

    /// `_`: one or more blanks.
    fn ws(&mut self, at: usize) -> Option<usize> {
        let n = self.s[at..].iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
        if n == 0 {
            self.reach(at);
            None
        } else {
            Some(at + n)
        }
    }

    /// `_?`
    fn ows(&mut self, at: usize) -> usize {
        self.ws(at).unwrap_or(at)
    }

    fn eof(&mut self, at: usize) -> bool {
        if at == self.s.len() {
            true
        } else {
            self.reach(at);
            false
        }
    }

    fn input(&mut self) -> Option<Expr> {
        let start = self.ows(0);
        if let Some(at) = self.lit(start, "(") {
            let at = self.ows(at);
            if let Some((e, at)) = self.or_expr(at) {
                let at = self.ows(at);
                if let Some(at) = self.lit(at, ")") {
                    let at = self.ows(at);
                    if self.eof(at) {
                        return Some(e);
                    }
                }
            }
        }
        let (e, at) = self.or_expr(start)?;
        let at = self.ows(at);
        self.eof(at).then_some(e)
    }

    /// `left _ "kw" _ right / left`, right-recursive as the grammar.
    fn binary(
        &mut self,
        at: usize,
        kw: &str,
        operand: fn(&mut Self, usize) -> At<Expr>,
        this: fn(&mut Self, usize) -> At<Expr>,
        make: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> At<Expr> {
        let (left, after) = operand(self, at)?;
        let rest = self.ws(after).and_then(|a| self.lit(a, kw)).and_then(|a| self.ws(a)).and_then(|a| this(self, a));
        match rest {
            Some((right, end)) => Some((make(Box::new(left), Box::new(right)), end)),
            None => Some((left, after)),
        }
    }

    fn or_expr(&mut self, at: usize) -> At<Expr> {
        self.binary(at, "or", Self::and_expr, Self::or_expr, Expr::Or)
    }

    fn and_expr(&mut self, at: usize) -> At<Expr> {
        self.binary(at, "and", Self::not_expr, Self::and_expr, Expr::And)
    }

    fn not_expr(&mut self, at: usize) -> At<Expr> {
        if let Some(a) = self.lit(at, "not").and_then(|a| self.ws(a)) {
            if let Some((e, end)) = self.not_expr(a) {
                // `not not x` is `x`, as go-bexpr folds it.
                return Some((
                    match e {
                        Expr::Not(inner) => *inner,
                        other => Expr::Not(Box::new(other)),
                    },
                    end,
                ));
            }
        }
        self.paren_expr(at)
    }

    fn paren_expr(&mut self, at: usize) -> At<Expr> {
        if let Some(a) = self.lit(at, "(") {
            let a = self.ows(a);
            if let Some((e, end)) = self.or_expr(a) {
                let end = self.ows(end);
                if let Some(close) = self.lit(end, ")") {
                    return Some((e, close));
                }
            }
        }
        if let Some(found) = self.match_expr(at) {
            return Some(found);
        }
        if let Some(a) = self.lit(at, "(") {
            let a = self.ows(a);
            if let Some((_, end)) = self.or_expr(a) {
                let end = self.ows(end);
                if !self.s[end..].starts_with(b")") {
                    return self.fail(end, "grouping", "Unmatched parentheses");
                }
            }
        }
        None
    }

    fn match_expr(&mut self, at: usize) -> At<Expr> {
        // Selector op Value
        if let Some((selector, a)) = self.selector(at) {
            let ops: [(OpRule, Op); 6] = [
                (|p, a| p.symbol(a, "=="), Op::Equal),
                (|p, a| p.symbol(a, "!="), Op::NotEqual),
                (|p, a| p.words(a, &["contains"]), Op::In),
                (|p, a| p.words(a, &["not", "contains"]), Op::NotIn),
                (|p, a| p.words(a, &["matches"]), Op::Matches),
                (|p, a| p.words(a, &["not", "matches"]), Op::NotMatches),
            ];
            for (op_rule, op) in ops {
                if let Some(v) = op_rule(self, a) {
                    if let Some((value, end)) = self.value(v) {
                        return Some((Expr::Match { selector, op, value: Some(value) }, end));
                    }
                    break;
                }
            }
            // Selector is [not] empty
            for (words, op) in [(&["is", "empty"][..], Op::IsEmpty), (&["is", "not", "empty"][..], Op::IsNotEmpty)] {
                if let Some(end) = self.words_then(a, words) {
                    return Some((Expr::Match { selector: selector.clone(), op, value: None }, end));
                }
            }
        }
        // Value [not] in Selector
        let (value, a) = self.value(at)?;
        for (words, op) in [(&["in"][..], Op::In), (&["not", "in"][..], Op::NotIn)] {
            if let Some(s) = self.words(a, words) {
                return match self.selector(s) {
                    Some((selector, end)) => Some((Expr::Match { selector, op, value: Some(value) }, end)),
                    None => self.fail(s, "match", "Invalid selector"),
                };
            }
        }
        None
    }

    /// `_? sym _?`
    fn symbol(&mut self, at: usize, sym: &str) -> Option<usize> {
        let at = self.ows(at);
        let end = self.lit(at, sym)?;
        Some(self.ows(end))
    }

    /// `_ w1 _ w2 ... _`: keywords between blanks, blanks after.
    fn words(&mut self, at: usize, words: &[&str]) -> Option<usize> {
        let end = self.words_then(at, words)?;
        self.ws(end)
    }

    /// `_ w1 _ w2 ...`: keywords each after blanks.
    fn words_then(&mut self, mut at: usize, words: &[&str]) -> Option<usize> {
        for w in words {
            at = self.ws(at)?;
            at = self.lit(at, w)?;
        }
        Some(at)
    }

    fn identifier(&mut self, at: usize) -> At<String> {
        let s = &self.s[at..];
        if !s.first().is_some_and(u8::is_ascii_alphabetic) {
            self.reach(at);
            return None;
        }
        let n = 1 + s[1..].iter().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/')).count();
        Some((String::from_utf8_lossy(&s[..n]).into_owned(), at + n))
    }

    fn selector(&mut self, at: usize) -> At<Selector> {
        if let Some((first, mut a)) = self.identifier(at) {
            let mut path = vec![first];
            loop {
                if let Some(d) = self.lit(a, ".") {
                    if let Some((ident, end)) = self.identifier(d) {
                        path.push(ident);
                        a = end;
                        continue;
                    }
                }
                if let Some(open) = self.lit(a, "[") {
                    let i = self.ows(open);
                    match self.string_literal(i) {
                        Some((key, k)) => {
                            let k = self.ows(k);
                            match self.lit(k, "]") {
                                Some(end) => {
                                    path.push(key);
                                    a = end;
                                    continue;
                                }
                                None => return self.fail(k, "index", "Unclosed index expression"),
                            }
                        }
                        None => return self.fail(i, "index", "Invalid index"),
                    }
                }
                if let Some(d) = self.lit(a, ".") {
                    let n = self.s[d..].iter().take_while(|b| b.is_ascii_digit()).count();
                    if n > 0 {
                        path.push(String::from_utf8_lossy(&self.s[d..d + n]).into_owned());
                        a = d + n;
                        continue;
                    }
                }
                return Some((Selector { path, pointer: false }, a));
            }
        }
        // '"' ('/' [\pL\pN-_.~:|]+)* '"'
        let mut a = self.lit(at, "\"")?;
        let mut path = Vec::new();
        while self.s.get(a) == Some(&b'/') {
            let rest = std::str::from_utf8(&self.s[a + 1..]).ok()?;
            let n: usize = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | '|'))
                .map(char::len_utf8)
                .sum();
            if n == 0 {
                break;
            }
            path.push(rest[..n].to_string());
            a += 1 + n;
        }
        let end = self.lit(a, "\"")?;
        // pointerstructure decodes `~1` and `~0` in each part.
        let path = path.into_iter().map(|p| p.replace("~1", "/").replace("~0", "~")).collect();
        Some((Selector { path, pointer: true }, end))
    }

    fn value(&mut self, at: usize) -> At<String> {
        if let Some((sel, end)) = self.selector(at) {
            return Some((sel.to_string(), end));
        }
        if let Some(found) = self.number(at) {
            return Some(found);
        }
        self.string_literal(at)
    }

    fn number(&mut self, at: usize) -> At<String> {
        let mut a = at;
        if self.s.get(a) == Some(&b'-') {
            a += 1;
        }
        match self.s.get(a) {
            Some(b'0') => a += 1,
            Some(b'1'..=b'9') => a += self.s[a..].iter().take_while(|b| b.is_ascii_digit()).count(),
            _ => {
                self.reach(a);
                return None;
            }
        }
        if self.s.get(a) == Some(&b'.') {
            let n = self.s[a + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if n > 0 {
                a += 1 + n;
            }
        }
        let after_ok = matches!(self.s.get(a), None | Some(b' ' | b'\t' | b'\r' | b'\n' | b')'));
        if !after_ok {
            return self.fail(a, "number", "Invalid number literal");
        }
        Some((String::from_utf8_lossy(&self.s[at..a]).into_owned(), a))
    }

    fn string_literal(&mut self, at: usize) -> At<String> {
        let quote = match self.s.get(at) {
            Some(q @ (b'"' | b'`')) => *q,
            _ => {
                self.reach(at);
                return None;
            }
        };
        let Some(len) = self.s[at + 1..].iter().position(|&b| b == quote) else {
            return self.fail(self.s.len(), "string", "Unterminated string literal");
        };
        let end = at + 1 + len + 1;
        let body = String::from_utf8_lossy(&self.s[at + 1..end - 1]).into_owned();
        if quote == b'`' {
            return Some((body.replace('\r', ""), end));
        }
        match go_unquote(&body) {
            Some(s) => Some((s, end)),
            None => {
                // strconv.Unquote's error fails the action, which pigeon reports there.
                self.fail(at, "string", "invalid syntax")
            }
        }
    }
}

/// The body of a Go double-quoted string, unescaped as `strconv.Unquote`; `None` when invalid.
fn go_unquote(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<u32> {
            let digits: String = chars.take(n).collect();
            (digits.len() == n).then(|| u32::from_str_radix(&digits, 16).ok()).flatten()
        };
        match escaped {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
            'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
            'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
            d @ '0'..='7' => {
                let rest: String = chars.by_ref().take(2).collect();
                let v = u32::from_str_radix(&format!("{d}{rest}"), 8).ok().filter(|v| *v < 256)?;
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Meta {
        namespace: &'static str,
        path: &'static str,
        create_index: u64,
        modify_time: i64,
    }

    impl Datum for Meta {
        fn field(&self, name: &str) -> Option<Field<'_>> {
            match name {
                "Namespace" => Some(Field::Str(self.namespace)),
                "Path" => Some(Field::Str(self.path)),
                "CreateIndex" => Some(Field::Uint(self.create_index)),
                "ModifyTime" => Some(Field::Int(self.modify_time)),
                _ => None,
            }
        }
    }

    const M: Meta = Meta { namespace: "default", path: "app/db/pass", create_index: 12, modify_time: -5 };

    fn eval(filter: &str) -> Result<bool, String> {
        parse(filter)?.evaluate(&M)
    }

    #[test]
    fn operators() {
        let cases: &[(&str, bool)] = &[
            (r#"Path == "app/db/pass""#, true),
            ("Path == app/db/pass", true),
            ("Path == `app/db/pass`", true),
            (r#"Path != "app/db/pass""#, false),
            (r#"Path contains "db""#, true),
            (r#"Path not contains "db""#, false),
            (r#""db" in Path"#, true),
            (r#""web" not in Path"#, true),
            ("Path is empty", false),
            ("Path is not empty", true),
            (r#"Path matches "^app/.*s$""#, true),
            (r#"Path not matches "^web""#, true),
            ("CreateIndex == 12", true),
            // Go's ParseUint with base 0 reads the prefix; unquoted, `0xc` is not a number.
            (r#"CreateIndex == "0xc""#, true),
            ("CreateIndex != 12", false),
            ("ModifyTime == -5", true),
            (r#"Namespace == default and Path contains "db""#, true),
            (r#"Namespace == other or Path contains "db""#, true),
            (r#"not Namespace == other"#, true),
            (r#"not not Namespace == other"#, false),
            (r#"(Namespace == other or CreateIndex == 12) and not Path is empty"#, true),
            (r#"( Namespace == default )"#, true),
            (r#"  Namespace == default  "#, true),
            (r#"Namespace==default"#, true),
            // A quoted value that reads as a JSON pointer is one: go-bexpr compares `app/db/pass`.
            (r#""/Path" == "/app/db/pass""#, true),
            (r#""/Path" == "app/db/pass""#, true),
            (r#"Path == "a\u0062""#, false),
        ];
        for (filter, want) in cases {
            assert_eq!(eval(filter), Ok(*want), "{filter}");
        }
    }

    #[test]
    fn precedence_is_and_over_or() {
        // a or (b and c), not (a or b) and c.
        assert_eq!(eval("Namespace == default or Namespace == x and Path == y"), Ok(true));
        assert_eq!(eval("(Namespace == default or Namespace == x) and Path == y"), Ok(false));
    }

    #[test]
    fn evaluation_errors_are_go_bexprs() {
        assert_eq!(
            eval(r#"Nope == "x""#).unwrap_err(),
            "error finding value in datum: /Nope at part 0: couldn't find struct field with name \"Nope\""
        );
        assert_eq!(
            eval("CreateIndex == abc").unwrap_err(),
            "error getting match value in expression: strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            eval("CreateIndex == -1").unwrap_err(),
            "error getting match value in expression: strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            eval(r#""1" in CreateIndex"#).unwrap_err(),
            "Cannot perform in/contains operations on type uint64 for selector: \"CreateIndex\""
        );
        assert_eq!(
            eval(r#"CreateIndex matches "1""#).unwrap_err(),
            "Value of type uint64 is not convertible to []byte"
        );
        assert!(eval(r#"Path matches "(""#).unwrap_err().starts_with("Failed to compile regular expression \"(\": "));
    }

    #[test]
    fn parse_errors_name_the_position() {
        let cases: &[(&str, &str)] = &[
            ("NotValid", "1:9 (8): no match found"),
            ("Path ==", "1:8 (7): no match found"),
            (r#"Path == "open"#, "1:14 (13): rule string: Unterminated string literal"),
            ("(Path == a", "1:11 (10): rule grouping: Unmatched parentheses"),
            ("CreateIndex == 12x", "1:18 (17): rule number: Invalid number literal"),
            (r#"Path["a" == b"#, "1:10 (9): rule index: Unclosed index expression"),
            ("CreateIndex == 0xc", "1:17 (16): rule number: Invalid number literal"),
            ("", "1:1 (0): no match found"),
            ("Path == a and", "1:14 (13): no match found"),
        ];
        for (filter, want) in cases {
            assert_eq!(parse(filter).unwrap_err(), *want, "{filter}");
        }
    }

    #[test]
    fn selectors() {
        let e = parse(r#"Meta.a["b c"].0 == x"#).unwrap();
        let Expr::Match { selector, .. } = e else { panic!() };
        assert_eq!(selector.path, ["Meta", "a", "b c", "0"]);
        assert_eq!(
            eval("Path.x == y").unwrap_err(),
            "error finding value in datum: /Path/x at part 1: invalid value kind: string"
        );
    }
}
