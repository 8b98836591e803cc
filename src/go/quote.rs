//! Go's two ways of quoting a string in an error text.
//!
//! Go has two because its `time` package may not import `strconv`: `time` carries its own
//! small `quote`, which escapes every byte of a non-ASCII or control character as `\xNN`,
//! while `strconv.Quote` (what `%q` prints) keeps printable Unicode and uses named escapes.
//! Nomad's texts contain both (`time: invalid duration "…"` and `parsing "…": invalid syntax`),
//! so both are here, side by side.

/// Go's `strconv.Quote` (the `%q` verb).
pub fn quote(s: &str) -> String {
    raftwarden_actors::go::quote_bytes(s.as_bytes())
}

/// The `quote` of Go's `time` package, used in `time.ParseDuration` errors: ASCII from the
/// space up is kept (`"` and `\` backslashed); every byte of anything else is `\xNN`.
pub fn time_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='\u{7f}' => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// Go's `%#U` verb, as `encoding/hex` errors print an invalid byte: `U+0078 'x'`, without the
/// quoted character when it is not printable.
pub fn unicode(c: char) -> String {
    if c.is_control() || (c.is_whitespace() && c != ' ') {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{c}'", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_strconv() {
        let cases = [
            ("abc", r#""abc""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\there\n", r#""tab\there\n""#),
            ("\u{1}", r#""\x01""#),
            ("\u{85}", r#""\u0085""#),
            ("µs", r#""µs""#),
        ];
        for (s, want) in cases {
            assert_eq!(quote(s), want, "{s:?}");
        }
    }

    #[test]
    fn quotes_like_the_time_package() {
        let cases = [
            ("5", r#""5""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\t", r#""tab\x09""#),
            ("µs", r#""\xc2\xb5s""#),
            ("\u{7f}", "\"\u{7f}\""),
        ];
        for (s, want) in cases {
            assert_eq!(time_quote(s), want, "{s:?}");
        }
    }

    #[test]
    fn unicode_verb() {
        assert_eq!(unicode('x'), "U+0078 'x'");
        assert_eq!(unicode('é'), "U+00E9 'é'");
        assert_eq!(unicode('\n'), "U+000A");
    }
}
