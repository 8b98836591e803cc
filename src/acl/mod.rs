//! The ACL policy language and its pure allow/deny decisions. They live in the actors crate
//! (`raftwarden_actors::authz`), because the server that runs an operation decides there;
//! re-exported here so that the command line and the HTTP layer name them as before.

pub use raftwarden_actors::authz::*;
