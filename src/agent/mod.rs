//! The agent: configuration, start-up and shutdown of one server.

pub mod config;
