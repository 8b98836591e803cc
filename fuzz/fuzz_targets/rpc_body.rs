//! One internal RPC request body (a peer can send anything): the first byte picks the path
//! (of `wire::paths::ALL`), the rest is the body, decoded with that path's codec as the RPC
//! server decodes it. What decodes encodes again to bytes that decode to the same encoding.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let paths: Vec<&str> = raftwarden_actors::fuzzing::rpc_paths().collect();
    let path = paths[pick as usize % paths.len()];
    if let Err(broken) = raftwarden_actors::fuzzing::rpc_body(path, body) {
        panic!("{path}: {broken}");
    }
});
