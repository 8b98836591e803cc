//! A license file's text (or a license's JSON payload) as `PUT /v1/operator/license` hands it
//! to the license actor: refused with a text unless signed; a payload signed here reads back
//! as itself and verifies unless its times say otherwise.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(broken) = raftwarden_actors::fuzzing::license(text, 1_700_000_000) {
        panic!("{broken}");
    }
});
