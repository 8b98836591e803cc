//! A request's query string and token headers as every handler reads them. The input is up
//! to three lines: the raw query, `X-Nomad-Token`, `Authorization` (a missing line: no header).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let raw = lines.next().unwrap_or("");
    let x_nomad_token = lines.next();
    let authorization = lines.next();
    if let Err(broken) = raftwarden::fuzzing::query_string(raw, x_nomad_token, authorization) {
        panic!("{broken}");
    }
});
