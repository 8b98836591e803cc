//! Command-line words (separated by NUL bytes) through the Go-style argv rewriting, the CLI's
//! parser and the agent's flags: never a panic, and rewriting is idempotent.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if text.is_empty() {
        return;
    }
    let words: Vec<String> = text.split('\0').map(str::to_string).collect();
    if let Err(broken) = raftwarden::fuzzing::argv(&words) {
        panic!("{broken}");
    }
});
