//! Test-only fault injection: crash points inside a write and failing fsyncs, armed by
//! environment variables of the agent process. Compiled only with the cargo feature
//! `fault-injection`, which the root crate enables for its own test build (its
//! dev-dependencies); without it every hook is an empty inline function and the variables
//! are never read, so a release binary carries neither the hooks nor their names.
//!
//! ```text
//! RAFTWARDEN_CRASH_AT=<point>[:<nth>]   exit at once (code 86, no destructor, no flush) the
//!                                       nth time (1st by default) <point> is reached
//! RAFTWARDEN_FSYNC_FAIL_AT=<nth>        every store fsync from the nth on fails with EIO
//! RAFTWARDEN_SEGMENT_BYTES=<bytes>      raft log segments roll at this size (not 64 MiB),
//!                                       so a test reaches a segment roll with a few writes
//! ```
//!
//! The points are the names in [`POINTS`]; an unknown name stops the agent at start with an
//! error rather than arming nothing.

/// The exit code of a crash point, so a test tells it from any other exit.
pub const CRASH_EXIT_CODE: i32 = 86;

/// Every crash point, where it sits in a write.
pub const POINTS: &[(&str, &str)] = &[
    ("log-appended", "raft log: entries written and fdatasynced, before openraft hears of it (so before apply)"),
    ("apply-staged", "state machine: a batch's rows written in its redb transaction, before the commit"),
    ("apply-committed", "state machine: a batch committed without fsync, before the next durable commit"),
    ("snapshot-install-rows", "raft snapshot install on a follower: after the first row, before the rest"),
    ("snapshot-install-published", "raft snapshot install: the file published, before its redb commit"),
    ("restore-staged", "snapshot restore: one chunk of rows staged, before the rest arrive"),
    ("restore-commit", "snapshot restore: the commit entry applying, before the tables are swapped"),
    ("segment-roll-synced", "raft log segment roll: the full segment fsynced, before the new file exists"),
    ("segment-roll-created", "raft log segment roll: the new segment file created, before its directory sync"),
];

#[cfg(feature = "fault-injection")]
mod armed {
    use std::sync::atomic::AtomicU64;
    use std::sync::atomic::Ordering;
    use std::sync::OnceLock;

    pub(super) struct Faults {
        crash: Option<(String, u64)>,
        crash_hits: AtomicU64,
        fsync_fail_at: Option<u64>,
        fsyncs: AtomicU64,
        pub(super) segment_bytes: Option<u64>,
    }

    pub(super) fn faults() -> &'static Faults {
        static FAULTS: OnceLock<Faults> = OnceLock::new();
        FAULTS.get_or_init(|| {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            Faults {
                crash: var("RAFTWARDEN_CRASH_AT").and_then(|v| super::parse_crash_at(&v).ok()),
                crash_hits: AtomicU64::new(0),
                fsync_fail_at: var("RAFTWARDEN_FSYNC_FAIL_AT").and_then(|v| v.parse().ok()),
                fsyncs: AtomicU64::new(0),
                segment_bytes: var("RAFTWARDEN_SEGMENT_BYTES").and_then(|v| v.parse().ok()),
            }
        })
    }

    pub(super) fn crash_point(point: &str) {
        let f = faults();
        let Some((armed, nth)) = &f.crash else { return };
        if armed != point {
            return;
        }
        let hit = f.crash_hits.fetch_add(1, Ordering::SeqCst) + 1;
        if hit == *nth {
            eprintln!("raftwarden: fault injection: crash at {point} (hit {hit})");
            // SAFETY: _exit ends the process at once; nothing of ours runs after it, which is
            // the crash this point stands for.
            unsafe { libc::_exit(super::CRASH_EXIT_CODE) };
        }
    }

    pub(super) fn fsync() -> std::io::Result<()> {
        let f = faults();
        let Some(at) = f.fsync_fail_at else { return Ok(()) };
        let n = f.fsyncs.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= at {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }
}

/// Checks the fault variables at start: a misspelt point must not silently arm nothing.
#[cfg(feature = "fault-injection")]
pub fn check_env() -> Result<(), String> {
    if let Ok(v) = std::env::var("RAFTWARDEN_CRASH_AT") {
        if !v.is_empty() {
            parse_crash_at(&v)?;
            tracing::warn!(crash_at = %v, "fault injection armed");
        }
    }
    for name in ["RAFTWARDEN_FSYNC_FAIL_AT", "RAFTWARDEN_SEGMENT_BYTES"] {
        if let Ok(v) = std::env::var(name) {
            if !v.is_empty() && v.parse::<u64>().is_err() {
                return Err(format!("{name}={v:?}: not a number"));
            }
        }
    }
    Ok(())
}

/// Without the feature there is nothing to check.
#[cfg(not(feature = "fault-injection"))]
pub fn check_env() -> Result<(), String> {
    Ok(())
}

/// Whether this build carries the hooks.
pub const ENABLED: bool = cfg!(feature = "fault-injection");

/// `<point>[:<nth>]`, the point one of [`POINTS`], nth at least 1.
#[cfg(any(test, feature = "fault-injection"))]
fn parse_crash_at(v: &str) -> Result<(String, u64), String> {
    let (point, nth) = match v.split_once(':') {
        Some((p, n)) => {
            let nth = n.parse::<u64>().ok().filter(|&n| n > 0);
            (p, nth.ok_or_else(|| format!("RAFTWARDEN_CRASH_AT={v:?}: the count after ':' must be a number from 1"))?)
        }
        None => (v, 1),
    };
    if !POINTS.iter().any(|(p, _)| *p == point) {
        let known: Vec<&str> = POINTS.iter().map(|(p, _)| *p).collect();
        return Err(format!("RAFTWARDEN_CRASH_AT={v:?}: unknown crash point (known: {})", known.join(", ")));
    }
    Ok((point.to_string(), nth))
}

/// A named crash point: the process exits here when `RAFTWARDEN_CRASH_AT` names it.
#[inline(always)]
pub(crate) fn crash_point(point: &'static str) {
    #[cfg(feature = "fault-injection")]
    armed::crash_point(point);
    #[cfg(not(feature = "fault-injection"))]
    let _ = point;
}

/// Called before each store fsync: fails with EIO once `RAFTWARDEN_FSYNC_FAIL_AT` is reached.
#[inline(always)]
pub(crate) fn fsync() -> std::io::Result<()> {
    #[cfg(feature = "fault-injection")]
    return armed::fsync();
    #[cfg(not(feature = "fault-injection"))]
    Ok(())
}

/// The raft log's segment size: `default`, or the test's `RAFTWARDEN_SEGMENT_BYTES`.
#[inline(always)]
pub(crate) fn segment_bytes(default: u64) -> u64 {
    #[cfg(feature = "fault-injection")]
    return armed::faults().segment_bytes.unwrap_or(default);
    #[cfg(not(feature = "fault-injection"))]
    default
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_at_names_a_known_point_and_a_count_from_one() {
        assert_eq!(parse_crash_at("log-appended"), Ok(("log-appended".into(), 1)));
        assert_eq!(parse_crash_at("restore-staged:3"), Ok(("restore-staged".into(), 3)));
        for bad in ["nowhere", "log-appended:0", "log-appended:x", "log-appended:", ""] {
            assert!(parse_crash_at(bad).is_err(), "{bad}");
        }
    }

    /// The hooks' names are only in a build with the feature: the release binary (no
    /// dev-dependencies, so no feature) has none of them.
    #[test]
    #[cfg(not(feature = "fault-injection"))]
    fn without_the_feature_no_hook_fires() {
        const { assert!(!ENABLED) };
        assert!(fsync().is_ok());
        assert_eq!(segment_bytes(7), 7);
        crash_point("log-appended");
    }
}
