//! Go's `time.Time` as Nomad's JSON carries it (the implementation is shared with the server:
//! [`raftwarden_actors::rfc3339`]).

/// RFC 3339 in UTC with whole seconds, as Go prints `time.Time` rounded to the second.
pub fn rfc3339(unix_secs: u64) -> String {
    raftwarden_actors::rfc3339::format(i64::try_from(unix_secs).unwrap_or(i64::MAX))
}
