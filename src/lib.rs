//! raftwarden: a Raft-replicated control-plane server that speaks Nomad's `/v1/operator` API.
//!
//! The root package holds the daemon ([`agent`]), the HTTP layer ([`http`]) and the
//! Nomad-compatible command line ([`cli`]). The replicated machinery itself lives in the
//! `raftwarden-actors` crate so that it can be embedded without HTTP.

pub mod acl;
pub mod agent;
pub mod cli;
#[doc(hidden)]
pub mod fuzzing;
pub mod go;
pub mod http;
pub mod tls;
pub mod ui;
