//! Operator snapshots: Nomad's snapshot archive format ([`archive`]), pure and streamed.

pub mod archive;
