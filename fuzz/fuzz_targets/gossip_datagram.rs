//! One datagram on the serf port (a peer can send anything): opened by memberlist's encryption
//! layer with a fixed key and without one, then decoded by foca as the gossip task does.
//! Sealing what opened gives it back; encrypting any bytes decrypts to them.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = raftwarden_actors::fuzzing::gossip_datagram(data) {
        panic!("{broken}");
    }
});
