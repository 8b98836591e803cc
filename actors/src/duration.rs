//! Go `time.Duration` text format (being written).
