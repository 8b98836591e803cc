//! Every JSON body decoder of the HTTP API (variables, autopilot and scheduler configuration,
//! ACL token, policy and bootstrap bodies, keyring bodies, the license PUT body) on any bytes:
//! an error text or a value, never a panic; a decoded value, encoded as the API encodes it,
//! decodes to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = raftwarden::fuzzing::json_bodies(data) {
        panic!("{broken}");
    }
});
