//! The little DER the `tls` commands need beyond rcgen: reading a certificate's fields and a
//! private key's structure, and writing the few structures Nomad's files hold (SEC1 keys,
//! PKCS#8 wrappers). Single-byte tags and definite lengths only, as DER requires.

/// Universal and context tags used by certificates and keys.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    #[cfg(test)]
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const TELETEX_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[n]` constructed (EXPLICIT tagging, or an IMPLICIT SEQUENCE).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive (IMPLICIT tagging of a primitive type).
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | n
    }
}

/// The input is not the DER structure expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub &'static str);

/// Reads consecutive DER elements from a byte slice.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: its tag and contents.
    pub fn next_any(&mut self) -> Result<(u8, &'a [u8]), DerError> {
        let (&tag, rest) = self.rest.split_first().ok_or(DerError("unexpected end"))?;
        if tag & 0x1f == 0x1f {
            return Err(DerError("multi-byte tag"));
        }
        let (&first, mut rest) = rest.split_first().ok_or(DerError("missing length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(DerError("bad length"));
            }
            let (bytes, after) = rest.split_at(n);
            rest = after;
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 || bytes[0] == 0 {
                return Err(DerError("non-minimal length"));
            }
            len
        };
        if rest.len() < len {
            return Err(DerError("truncated element"));
        }
        let (body, after) = rest.split_at(len);
        self.rest = after;
        Ok((tag, body))
    }

    /// The next element, which must have tag `want`; its contents.
    pub fn next(&mut self, want: u8) -> Result<&'a [u8], DerError> {
        match self.next_any()? {
            (tag, body) if tag == want => Ok(body),
            _ => Err(DerError("unexpected tag")),
        }
    }

    /// The next element's contents if its tag is `want`; otherwise nothing is consumed.
    pub fn optional(&mut self, want: u8) -> Result<Option<&'a [u8]>, DerError> {
        if self.peek() == Some(want) {
            self.next(want).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A SEQUENCE's contents as a reader.
    pub fn sequence(&mut self) -> Result<Reader<'a>, DerError> {
        self.next(tag::SEQUENCE).map(Reader::new)
    }

    /// The whole remaining input must have been read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError("trailing data"))
        }
    }
}

/// One element: `tag`, the DER length of `body`, `body`.
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(tag);
    let len = body.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(body);
    out
}

/// A SEQUENCE of already-encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// An OID's dotted text (`2.5.4.3`) from its DER contents.
pub fn oid_text(body: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in body {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// An OID's arcs from its DER contents (for rcgen's custom attribute types).
pub fn oid_arcs(body: &[u8]) -> Vec<u64> {
    oid_text(body).split('.').filter_map(|a| a.parse().ok()).collect()
}

/// The decimal text of an unsigned big-endian integer (a certificate's serial number).
pub fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    while !n.is_empty() {
        let mut rem: u32 = 0;
        let mut quotient = Vec::with_capacity(n.len());
        for &b in &n {
            let cur = (rem << 8) | u32::from(b);
            let q = (cur / 10) as u8;
            rem = cur % 10;
            if !(quotient.is_empty() && q == 0) {
                quotient.push(q);
            }
        }
        digits.push(b'0' + rem as u8);
        n = quotient;
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.iter().rev().map(|d| char::from(*d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 70000] {
            let body = vec![7u8; len];
            let enc = tlv(tag::OCTET_STRING, &body);
            let mut r = Reader::new(&enc);
            assert_eq!(r.next(tag::OCTET_STRING).unwrap(), &body[..], "{len}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x30],
            &[0x30, 0x05, 0x01],
            &[0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
            &[0x30, 0x82, 0x00, 0x80],
            &[0x1f, 0x01, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
        ];
        for bytes in cases {
            assert!(Reader::new(bytes).next_any().is_err(), "{bytes:?}");
        }
        let mut r = Reader::new(&[0x02, 0x01, 0x05]);
        assert_eq!(r.next(tag::SEQUENCE), Err(DerError("unexpected tag")));
        let mut r = Reader::new(&[0x02, 0x01, 0x05, 0x00]);
        assert_eq!(r.optional(tag::BOOLEAN).unwrap(), None);
        assert_eq!(r.next(tag::INTEGER).unwrap(), &[5]);
        assert!(r.finish().is_err());
    }

    #[test]
    fn oids_and_decimals() {
        assert_eq!(oid_text(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(oid_text(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]), "1.2.840.10045.3.1.7");
        assert_eq!(oid_arcs(&[0x55, 0x1d, 0x11]), [2, 5, 29, 17]);
        assert_eq!(decimal(&[]), "0");
        assert_eq!(decimal(&[0, 0]), "0");
        assert_eq!(decimal(&[0x01, 0x00]), "256");
        assert_eq!(decimal(&u128::MAX.to_be_bytes()), u128::MAX.to_string());
        let twenty = [0xffu8; 20];
        assert_eq!(decimal(&twenty), "1461501637330902918203684832716283019655932542975");
    }
}
