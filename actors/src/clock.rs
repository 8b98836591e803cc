//! The wall clock, read where a leader stamps time into a command: the value travels in the
//! raft entry, so that apply stays deterministic on every server.

use std::time::SystemTime;
use std::time::UNIX_EPOCH;

/// The wall clock in unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The wall clock in unix nanoseconds.
pub(crate) fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
