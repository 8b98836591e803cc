//! Go `time.Duration` text: [`format`] is `Duration.String()`, [`parse`] is
//! `time.ParseDuration`, both byte-for-byte, because Nomad's wire format and agent configs
//! carry durations as these strings (`"200ms"`, `"1m0s"`).

use super::quote::time_quote as quote;

/// Errors with Go's exact texts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {}", quote(.0))]
    Invalid(String),
    #[error("time: missing unit in duration {}", quote(.0))]
    MissingUnit(String),
    #[error("time: unknown unit {} in duration {}", quote(.unit), quote(.input))]
    UnknownUnit { unit: String, input: String },
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

/// Go's `Duration.String()`: `"0s"`, `"1.5µs"`, `"123ms"`, `"1m0s"`, `"-2h45m30.5s"`.
pub fn format(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < S {
        // Sub-second: one unit with a fraction.
        let (unit, scale, prec) = match u {
            0 => return "0s".into(),
            _ if u < US => ("ns", NS, 0),
            _ if u < MS => ("µs", US, 3),
            _ => ("ms", MS, 6),
        };
        out.push_str(&frac(u / scale, u % scale, prec));
        out.push_str(unit);
    } else {
        let secs_frac = frac((u % M) / S, u % S, 9);
        u /= M;
        if u > 0 {
            let mins = u % 60;
            let hours = u / 60;
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{mins}m"));
        }
        out.push_str(&secs_frac);
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `whole` plus `rem` as a decimal fraction of `prec` digits, trailing zeros removed.
fn frac(whole: u64, rem: u64, prec: usize) -> String {
    if prec == 0 || rem == 0 {
        return whole.to_string();
    }
    let digits = format!("{rem:0prec$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn unit_scale(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NS,
        "us" | "µs" | "μs" => US,
        "ms" => MS,
        "s" => S,
        "m" => M,
        "h" => H,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`.
pub fn parse(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_str, rest) = s.split_at(int_len);
        s = rest;
        let mut whole: u64 = 0;
        for b in int_str.bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|w| w.checked_add(u64::from(b - b'0')))
                .filter(|w| *w <= 1 << 63)
                .ok_or_else(invalid)?;
        }
        // Fraction part.
        let mut frac_val: u64 = 0;
        let mut frac_scale: u64 = 1;
        let mut frac_len = 0;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            frac_len = s.bytes().take_while(u8::is_ascii_digit).count();
            let (f, rest) = s.split_at(frac_len);
            s = rest;
            let mut overflow = false;
            for b in f.bytes() {
                if overflow {
                    continue;
                }
                match frac_val.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                    Some(v) if v <= 1 << 63 => {
                        frac_val = v;
                        frac_scale *= 10;
                    }
                    _ => overflow = true,
                }
                if frac_scale >= 1 << 60 {
                    overflow = true;
                }
            }
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        // Unit.
        let unit_len = s.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(input.to_string()));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let scale = unit_scale(unit)
            .ok_or_else(|| DurationError::UnknownUnit { unit: unit.to_string(), input: input.to_string() })?;
        if whole > (1u64 << 63) / scale {
            return Err(invalid());
        }
        let mut v = whole * scale;
        if frac_val > 0 {
            let f = (frac_val as f64) * (scale as f64 / frac_scale as f64);
            v = v.checked_add(f as u64).ok_or_else(invalid)?;
            if v > 1 << 63 {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).filter(|t| *t <= 1 << 63).ok_or_else(invalid)?;
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    if total > i64::MAX as u64 {
        return Err(invalid());
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (200_000_000, "200ms"),
            (10_000_000_000, "10s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (4 * 60_000_000_000 + 5_000_000_000, "4m5s"),
            (4 * 60_000_000_000 + 5_001_000_000, "4m5.001s"),
            (5 * 3_600_000_000_000 + 6 * 60_000_000_000 + 7_001_000_000, "5h6m7.001s"),
            (8 * 60_000_000_000 + 1, "8m0.000000001s"),
            (-1_000_000_000, "-1s"),
            (-123_000_000, "-123ms"),
            (1_500_000_000, "1.5s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (n, want) in cases {
            assert_eq!(format(*n), *want, "{n}");
        }
    }

    #[test]
    fn parse_like_go() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * S as i64),
            ("30s", 30 * S as i64),
            ("1478s", 1478 * S as i64),
            ("-5s", -5 * S as i64),
            ("+5s", 5 * S as i64),
            ("-0", 0),
            ("5.6s", 5_600_000_000),
            ("5.s", 5 * S as i64),
            (".5s", 500_000_000),
            ("1.0s", S as i64),
            ("1.004s", 1_004_000_000),
            ("100.00100s", 100_001_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * S as i64),
            ("15m", 15 * M as i64),
            ("16h", 16 * H as i64),
            ("3h30m", (3 * H + 30 * M) as i64),
            ("10.5s4m", (4 * M + 10 * S + 500 * MS) as i64),
            ("-2m3.4s", -((2 * M + 3 * S + 400 * MS) as i64)),
            ("1h2m3s4ms5us6ns", (H + 2 * M + 3 * S + 4 * MS + 5 * US + 6) as i64),
            ("39h9m14.425s", (39 * H + 9 * M + 14 * S + 425 * MS) as i64),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * M as i64),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn parse_errors_like_go() {
        assert_eq!(parse("").unwrap_err().to_string(), "time: invalid duration \"\"");
        assert_eq!(parse("3").unwrap_err().to_string(), "time: missing unit in duration \"3\"");
        assert_eq!(parse("-").unwrap_err().to_string(), "time: invalid duration \"-\"");
        assert_eq!(parse("s").unwrap_err().to_string(), "time: invalid duration \"s\"");
        assert_eq!(parse(".").unwrap_err().to_string(), "time: invalid duration \".\"");
        assert_eq!(parse("-.").unwrap_err().to_string(), "time: invalid duration \"-.\"");
        assert_eq!(parse(".s").unwrap_err().to_string(), "time: invalid duration \".s\"");
        assert_eq!(parse("abc").unwrap_err().to_string(), "time: invalid duration \"abc\"");
        assert_eq!(parse("1d").unwrap_err().to_string(), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(
            parse("9223372036854775808ns").unwrap_err().to_string(),
            "time: invalid duration \"9223372036854775808ns\""
        );
        assert_eq!(parse("9999999999999h").unwrap_err().to_string(), "time: invalid duration \"9999999999999h\"");
    }

    #[test]
    fn round_trip() {
        let mut x: i64 = 1;
        while x < i64::MAX / 7 {
            for v in [x, -x, x + 3, x * 5 + 1] {
                assert_eq!(parse(&format(v)), Ok(v), "{v} -> {}", format(v));
            }
            x = x * 7 + 1;
        }
    }
}
