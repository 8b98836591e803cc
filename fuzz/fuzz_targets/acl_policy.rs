//! ACL policy rules (HCL1 or JSON) as a policy upsert hands them to the leader: parsed and
//! validated, with the two agreeing on whether the rules are valid; and the same text through
//! the HCL1 parser alone.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rules) = std::str::from_utf8(data) else { return };
    raftwarden_actors::fuzzing::hcl1(rules);
    if let Err(broken) = raftwarden_actors::fuzzing::acl_policy(rules) {
        panic!("{broken}");
    }
});
