//! Go compatibility: the texts and parsers of Go's standard library (and of the Go packages
//! Nomad uses) that Nomad clients see byte for byte, in one place.
//!
//! - [`duration`], `time.Duration` text both ways (`"1m30s"`);
//! - [`quote`] and [`time_quote`], `strconv.Quote` and the `time` package's own quoting;
//! - [`parse_bool`], `strconv.ParseBool`;
//! - [`rfc3339`], `time.Time` in JSON;
//! - [`json_float`], floats as Nomad's JSON codec writes them;
//! - [`check_uuid`] and [`check_addr_port`], go-uuid's `ParseUUID` and `netip.ParseAddrPort`.

pub mod duration;
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
    use super::parse_bool;

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
