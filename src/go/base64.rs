//! Go's `base64.StdEncoding.DecodeString`, with its error text (`illegal base64 data at input
//! byte N`) and its leniencies: line breaks anywhere are skipped and the unused bits of the
//! last symbol need not be zero.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn value(b: u8) -> Option<u8> {
    ALPHABET.iter().position(|&a| a == b).map(|p| p as u8)
}

fn corrupt(at: usize) -> String {
    format!("illegal base64 data at input byte {at}")
}

/// Decodes standard, padded base64 as Go does.
pub fn std_decode(s: &str) -> Result<Vec<u8>, String> {
    let src = s.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quantum = [0u8; 4];
        let mut j = 0;
        let mut dlen = 4;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - j));
            }
            let b = src[si];
            si += 1;
            if let Some(v) = value(b) {
                quantum[j] = v;
                j += 1;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                continue;
            }
            if b != b'=' {
                return Err(corrupt(si - 1));
            }
            // Padding: only after two or three symbols, and "==" after two.
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(corrupt(si));
            }
            dlen = j;
            break;
        }
        let v = (u32::from(quantum[0]) << 18)
            | (u32::from(quantum[1]) << 12)
            | (u32::from(quantum[2]) << 6)
            | u32::from(quantum[3]);
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if dlen < 4 {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_go() {
        assert_eq!(std_decode("").unwrap(), b"");
        assert_eq!(std_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(std_decode("Zm9vYg==").unwrap(), b"foob");
        assert_eq!(std_decode("Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(std_decode("Zm9v\r\nYmFy\n").unwrap(), b"foobar");
        // Go ignores the unused low bits of the last symbol outside strict mode.
        assert_eq!(std_decode("Zm9vYh==").unwrap(), b"foob");
        let key = std_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn errors_name_the_byte_as_go() {
        // Each expected offset is what Go's encoding/base64 reports for the same input.
        for (input, at) in [
            ("not base64!", 3),
            ("Zm9", 0),
            ("Zm9vY", 4),
            ("Zm9vYg=", 7),
            ("Zm9vYg=x", 6),
            ("Zm9vYmFy=", 8),
            ("=AAA", 0),
            ("Zm9vYmE=Zg==", 8),
            ("Zm9vYmE*", 7),
        ] {
            assert_eq!(std_decode(input).unwrap_err(), format!("illegal base64 data at input byte {at}"), "{input:?}");
        }
    }
}
