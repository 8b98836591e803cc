//! raftwarden-actors: the embeddable actor system.

pub mod duration;
pub mod state;
