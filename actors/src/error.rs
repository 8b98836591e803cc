//! The error every operator operation can return, shaped so that the HTTP layer can map it to
//! Nomad's status code and text in one place.

use serde::Deserialize;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OpError {
    /// No leader became known within the hold time (Nomad: `RPCHoldTimeout`).
    #[error("No cluster leader")]
    NoLeader,
    /// The config row has not been written by the first leader yet.
    #[error("{0} config not initialized yet")]
    NotInitialized(String),
    /// A plain (uncoded) server error: HTTP 500 with this text.
    #[error("{0}")]
    Plain(String),
    /// A coded error: HTTP status and text, passed through forwarding unchanged.
    #[error("{message}")]
    Coded { status: u16, message: String },
    /// A plain error that came back from the leader; Nomad prefixes these with `rpc error: `.
    #[error("rpc error: {0}")]
    Forwarded(String),
}

impl OpError {
    pub fn coded(status: u16, message: impl Into<String>) -> Self {
        OpError::Coded { status, message: message.into() }
    }

    /// The HTTP status Nomad would answer with.
    pub fn status(&self) -> u16 {
        match self {
            OpError::Coded { status, .. } => *status,
            _ => 500,
        }
    }

    /// How the error looks after one forwarding hop: plain errors gain `rpc error: `, coded
    /// errors pass through unchanged.
    pub fn forwarded(self) -> Self {
        match self {
            OpError::Coded { .. } | OpError::Forwarded(_) => self,
            other => OpError::Forwarded(other.to_string()),
        }
    }
}
