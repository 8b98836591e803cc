//! A whole agent config file loaded as `raftwarden agent -config=<file>` loads it: the first
//! byte picks JSON (odd) or HCL (even), the rest is the file. Any bytes give a config or an
//! error, never a panic; a config that loads validates again to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, text)) = data.split_first() else { return };
    if let Err(broken) = raftwarden::fuzzing::agent_config(text, kind & 1 == 1) {
        panic!("{broken}");
    }
});
