//! Go compatibility: the texts and parsers of Go's standard library (and of the Go packages
//! Nomad uses) that Nomad clients see byte for byte, in one place.
//!
//! - [`duration`], `time.Duration` text both ways (`"1m30s"`);
//! - [`quote`] and [`time_quote`], `strconv.Quote` and the `time` package's own quoting;
//! - [`parse_bool`], `strconv.ParseBool`;
//! - [`rfc3339`], `time.Time` in JSON;
//! - [`json_float`], floats as Nomad's JSON codec writes them;
//! - [`check_uuid`] and [`check_addr_port`], go-uuid's `ParseUUID` and `netip.ParseAddrPort`;
//! - [`base64`], `base64.StdEncoding.DecodeString` with its error text;
//! - `argv` and `flag`, the `flag` package: Go-style argv for clap, and flag value parsers.

pub(crate) mod argv;
pub mod base64;
pub mod duration;
pub(crate) mod flag;
mod float;
mod netip;
mod quote;
mod rfc3339;
mod uuid;

pub use self::float::json_float;
pub use self::netip::check_addr_port;
pub use self::quote::quote;
pub use self::quote::time_quote;
pub use self::quote::unicode;
pub use self::rfc3339::rfc3339;
pub use self::uuid::check_uuid;

/// An OS error as Go's `syscall.Errno` prints it (`no such file or directory`): the C library's
/// text with a lower-case first letter and no `(os error N)`; other errors as Rust prints them.
pub fn os_error(e: &std::io::Error) -> String {
    let Some(code) = e.raw_os_error() else { return e.to_string() };
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let text = text.strip_suffix(&format!(" (os error {code})")).unwrap_or(&text);
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Go's `strconv.ParseBool`: `None` where Go returns `invalid syntax`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::os_error;
    use super::parse_bool;

    #[test]
    fn os_errors_as_go_prints_them() {
        assert_eq!(os_error(&std::io::Error::from_raw_os_error(2)), "no such file or directory");
        assert_eq!(os_error(&std::io::Error::from_raw_os_error(13)), "permission denied");
        assert_eq!(os_error(&std::io::Error::other("plain")), "plain");
    }

    #[test]
    fn parse_bool_like_strconv() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s), Some(true), "{s}");
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s), Some(false), "{s}");
        }
        for s in ["", "yes", "tRUE", "on", " true"] {
            assert_eq!(parse_bool(s), None, "{s}");
        }
    }
}
