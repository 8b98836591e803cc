//! hashicorp/go-uuid's `ParseUUID` checks, with its error texts (Nomad validates raft peer
//! IDs with it).

use super::quote::unicode;

/// Checks `s` the way `uuid.ParseUUID` does: 36 characters, dashes at 8, 13, 18 and 23, hex
/// digits elsewhere.
pub fn check_uuid(s: &str) -> Result<(), String> {
    if s.len() != 36 {
        return Err("uuid string is wrong length".into());
    }
    let b = s.as_bytes();
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return Err("uuid is improperly formatted".into());
    }
    for (i, c) in s.char_indices() {
        if ![8, 13, 18, 23].contains(&i) && !c.is_ascii_hexdigit() {
            return Err(format!("encoding/hex: invalid byte: {}", unicode(c)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_uuid;

    #[test]
    fn texts_like_go_uuid() {
        assert_eq!(check_uuid("d1f3b2c4-0a1b-4c2d-8e3f-0123456789ab"), Ok(()));
        assert_eq!(check_uuid("abc"), Err("uuid string is wrong length".into()));
        assert_eq!(check_uuid("d1f3b2c40a1b-4c2d-8e3f-0123456789ab-"), Err("uuid is improperly formatted".into()));
        assert_eq!(
            check_uuid("x1f3b2c4-0a1b-4c2d-8e3f-0123456789ab"),
            Err("encoding/hex: invalid byte: U+0078 'x'".into())
        );
    }
}
