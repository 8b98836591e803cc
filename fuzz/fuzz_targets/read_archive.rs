//! Any bytes given to the archive reader are refused or read, never a panic, and never an
//! allocation sized by the input: `cargo +nightly fuzz run read_archive`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raftwarden_actors::snapshot::archive;

fuzz_target!(|data: &[u8]| {
    let _ = archive::read_archive(data, std::io::sink());
    let _ = archive::read_tar(data, std::io::sink());
});
