//! RFC 3339 times as Go writes and reads them (`time.Time` in Nomad's JSON), in UTC: whole
//! seconds, or nanoseconds with the fraction's trailing zeros dropped. Proleptic Gregorian
//! dates after Howard Hinnant's civil-from-days algorithms.

const NANOS: i64 = 1_000_000_000;

/// RFC 3339 in UTC with whole seconds (`2017-03-06T22:07:51Z`), as Go prints such a time.
pub fn format(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let rem = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`) to unix seconds; fractions are
/// dropped.
pub fn parse(s: &str) -> Option<i64> {
    parse_parts(s).map(|(secs, _)| secs)
}

/// Parses RFC 3339 to unix nanoseconds (fraction digits past the ninth are dropped, as Go
/// does); `None` also past what nanoseconds in an `i64` hold (the year 2262).
pub fn parse_nanos(s: &str) -> Option<i64> {
    let (secs, nanos) = parse_parts(s)?;
    secs.checked_mul(NANOS)?.checked_add(nanos)
}

/// Unix seconds and the fraction's nanoseconds.
fn parse_parts(s: &str) -> Option<(i64, i64)> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        nanos = format!("{:0<9}", &frac[..digits.min(9)]).parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob[3] != b':' {
                return None;
            }
            let sign = match ob[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset, nanos))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// RFC 3339 with nanoseconds, as Go marshals a `time.Time` (`2017-03-06T22:07:51.12Z`; no
/// fraction when it is zero).
pub fn format_nanos(nanos: i64) -> String {
    let whole = format(nanos.div_euclid(NANOS));
    let frac = nanos.rem_euclid(NANOS);
    if frac == 0 {
        return whole;
    }
    let digits = format!("{frac:09}");
    format!("{}.{}Z", whole.trim_end_matches('Z'), digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse() {
        for (text, unix) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2017-03-06T22:07:51Z", 1_488_838_071),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("2099-12-31T23:59:59Z", 4_102_444_799),
        ] {
            assert_eq!(parse(text), Some(unix), "{text}");
            assert_eq!(format(unix), text);
        }
        assert_eq!(parse("2017-03-06T23:07:51.123456789+01:00"), Some(1_488_838_071));
        assert_eq!(parse("2017-03-06T17:07:51-05:00"), Some(1_488_838_071));
        for bad in [
            "",
            "2017-03-06",
            "2017-02-30T00:00:00Z",
            "2017-03-06T22:07:51",
            "2017-03-06T22:07:51.Z",
            "2017-13-01T00:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn nanoseconds() {
        assert_eq!(format_nanos(1_488_838_071_000_000_000), "2017-03-06T22:07:51Z");
        assert_eq!(format_nanos(1_488_838_071_120_000_000), "2017-03-06T22:07:51.12Z");
        for n in [0, 1, 1_488_838_071_123_456_789, 4_102_444_799_999_999_999] {
            assert_eq!(parse_nanos(&format_nanos(n)), Some(n), "{n}");
        }
        assert_eq!(parse_nanos("2017-03-06T23:07:51+01:00"), Some(1_488_838_071_000_000_000));
        assert_eq!(parse_nanos("nope"), None);
        assert_eq!(parse("2999-01-01T00:00:00Z"), Some(32_472_144_000));
        assert_eq!(parse_nanos("2999-01-01T00:00:00Z"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(1_488_838_071), "2017-03-06T22:07:51Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
