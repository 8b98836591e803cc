//! Go's `flag` package as Nomad's commands use it: [`parse_go_style`] runs Go-style argv (see
//! [`argv`]) through a clap grammar, and the value parsers give clap Go's
//! `strconv`/`time` rules and error texts (`go_bool` for `BoolVar` switches, `go_bool_value`,
//! `go_uint` and `go_duration` for Nomad's `flaghelper` values). The CLI and the agent share them.

use std::collections::BTreeSet;

use clap::Parser;

use super::argv;
use crate::go;

/// Parses argv (without the program name) written in Go flag syntax into any clap grammar;
/// `bin` names the program in clap's texts (the agent's flags; the CLI's root grammar adds Go's
/// "flags end at the first argument" rule on top).
pub(crate) fn parse_go_style<P: Parser>(bin: &str, args: &[String]) -> Result<P, clap::Error> {
    let value_flags = value_flags(&P::command());
    let rewritten = argv::rewrite(args, |name| value_flags.contains(name));
    P::try_parse_from(std::iter::once(bin.to_string()).chain(rewritten))
}

/// Names of the flags, in any command, that take the next word as their value when written
/// without `=` (boolean flags require `=`, so they never do).
pub(crate) fn value_flags(cmd: &clap::Command) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for arg in cmd.get_arguments() {
        if arg.get_action().takes_values() && !arg.is_require_equals_set() {
            names.extend(arg.get_long().map(str::to_string));
            names.extend(arg.get_short().map(String::from));
        }
    }
    for sub in cmd.get_subcommands() {
        names.extend(value_flags(sub));
    }
    names
}

/// Go's `strconv.ParseBool`, with the text Go's `flag` package gives a bad boolean.
pub(crate) fn go_bool(s: &str) -> Result<bool, String> {
    go::parse_bool(s).ok_or_else(|| format!("parse error: strconv.ParseBool: parsing {}: invalid syntax", go::quote(s)))
}

/// A boolean flag that takes a value (Nomad's `flaghelper.BoolValue`): `-flag true` and
/// `-flag=true`, never `-flag` alone; errors carry `strconv`'s text.
pub(crate) fn go_bool_value(s: &str) -> Result<bool, String> {
    go::parse_bool(s).ok_or_else(|| format!("strconv.ParseBool: parsing {}: invalid syntax", go::quote(s)))
}

/// Go's `strconv.ParseUint(s, 0, 64)` (Nomad's `flaghelper.UintValue`): decimal, `0x`, `0o`,
/// `0b` or leading-`0` octal, with `_` between digits; `strconv`'s error texts.
pub(crate) fn go_uint(s: &str) -> Result<u64, String> {
    let fail = |why: &str| format!("strconv.ParseUint: parsing {}: {why}", go::quote(s));
    if s.is_empty() {
        return Err(fail("invalid syntax"));
    }
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = match lower.as_bytes() {
        [b'0', b'b', _, ..] => (&s[2..], 2),
        [b'0', b'o', _, ..] => (&s[2..], 8),
        [b'0', b'x', _, ..] => (&s[2..], 16),
        [b'0', ..] => (&s[1..], 8),
        _ => (s, 10),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(36).filter(|&d| d < radix).ok_or_else(|| fail("invalid syntax"))?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or_else(|| fail("value out of range"))?;
    }
    if underscores && !underscore_ok(s) {
        return Err(fail("invalid syntax"));
    }
    Ok(n)
}

/// Go's `flag.IntVar` (`strconv.ParseInt(s, 0, 64)`): a sign, then what [`go_uint`] reads;
/// the `flag` package's own texts, `parse error` and `value out of range`.
pub(crate) fn go_int(s: &str) -> Result<i64, String> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_uint(digits).map_err(|e| {
        if e.ends_with("value out of range") {
            "value out of range".to_string()
        } else {
            "parse error".to_string()
        }
    })?;
    let limit = if negative { i64::MIN.unsigned_abs() } else { i64::MAX.unsigned_abs() };
    if magnitude > limit {
        return Err("value out of range".into());
    }
    Ok(if negative { 0i64.wrapping_sub_unsigned(magnitude) } else { magnitude as i64 })
}

/// Go's `underscoreOK`: underscores only between digits, or after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub(crate) fn go_duration(s: &str) -> Result<i64, go::duration::DurationError> {
    go::duration::parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_signed_integers() {
        let ok = [("0", 0), ("365", 365), ("-1", -1), ("+7", 7), ("0x10", 16), ("-9223372036854775808", i64::MIN)];
        for (s, want) in ok {
            assert_eq!(go_int(s), Ok(want), "{s}");
        }
        for s in ["", "-", "abc", "1.5", "--1", " 1"] {
            assert_eq!(go_int(s), Err("parse error".to_string()), "{s}");
        }
        for s in ["9223372036854775808", "-9223372036854775809", "99999999999999999999"] {
            assert_eq!(go_int(s), Err("value out of range".to_string()), "{s}");
        }
    }

    #[test]
    fn go_unsigned_integers() {
        let ok = [
            ("0", 0),
            ("10", 10),
            ("010", 8),
            ("0x1f", 31),
            ("0X1F", 31),
            ("0b101", 5),
            ("0o17", 15),
            ("1_000", 1000),
            ("0x_1", 1),
        ];
        for (s, want) in ok {
            assert_eq!(go_uint(s), Ok(want), "{s}");
        }
        for s in ["", "-1", "+1", "1_", "_1", "1__0", "0x", "09", "1e3", " 1"] {
            assert_eq!(go_uint(s), Err(format!("strconv.ParseUint: parsing {}: invalid syntax", go::quote(s))), "{s}");
        }
        assert!(go_uint("18446744073709551616").unwrap_err().ends_with("value out of range"));
        assert_eq!(go_uint("18446744073709551615"), Ok(u64::MAX));
    }
}
