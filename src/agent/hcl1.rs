//! HCL version 1, read into a JSON value: the agent's configuration files and the snapshot
//! agent's. The parser lives in the actors crate (`raftwarden_actors::hcl1`), which parses ACL
//! policies with it where operations are authorised; re-exported here.

pub use raftwarden_actors::hcl1::*;
