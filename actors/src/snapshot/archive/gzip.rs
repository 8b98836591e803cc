//! gzip (RFC 1952) as Go's multistream `gzip.Reader` reads it, over `flate2`'s member decoder,
//! with Go's error texts: Nomad's restore answers with them. One difference stays: `flate2`
//! refuses a member header with a reserved flag bit set, as RFC 1952 asks; Go ignores the bit.

use std::io;
use std::io::BufRead;
use std::io::Read;

use flate2::bufread::GzDecoder;

use super::error::StreamFault;

/// What `flate2` says when the deflate data is corrupt, as told apart from its trailer checksum
/// error (both are `InvalidInput`); the unit tests pin both texts.
const FLATE2_CORRUPT_DEFLATE: &str = "corrupt deflate stream";

/// Go's buffer for a header's file name or comment.
const GO_HEADER_STRING: usize = 512;

/// The input under the decoder: counts the bytes the decoder took, so that a deflate error
/// carries Go's offset, and marks the input's own errors so they keep their meaning.
struct Counted<R> {
    src: R,
    taken: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.src.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StreamFault::from_io(e).into_io()),
            }
        }
        // Filled above: this returns the buffer without reading.
        self.src.fill_buf().map_err(|e| StreamFault::from_io(e).into_io())
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.taken += n as u64;
    }
}

/// One member being decoded, and where its deflate data started in the input.
struct Member<R> {
    decoder: GzDecoder<Counted<R>>,
    body_at: u64,
}

/// A gzip decoder that reports Go's errors and leaves nothing unchecked: `flate2` verifies each
/// member's CRC-32 and size at its end and treats a truncated deflate stream as `unexpected EOF`;
/// members follow one another as in Go's multistream reader.
pub(super) struct Gunzip<R: BufRead> {
    /// `None` once the input ended after a member.
    member: Option<Member<R>>,
}

impl<R: BufRead> Gunzip<R> {
    /// Reads the first member header (Go's `gzip.NewReader`); an empty input is `EOF`.
    pub(super) fn new(src: R) -> Result<Self, StreamFault> {
        let mut src = Counted { src, taken: 0 };
        if src.fill_buf().map_err(StreamFault::from_io)?.is_empty() {
            return Err(StreamFault::Eof);
        }
        Ok(Self { member: Some(Self::member(src)?) })
    }

    /// Starts a member at `src`, its header read and checked.
    fn member(src: Counted<R>) -> Result<Member<R>, StreamFault> {
        let mut decoder = GzDecoder::new(src);
        if decoder.header().is_none() {
            // The decoder keeps the header's error for the first read.
            if let Err(e) = decoder.read(&mut []) {
                return Err(header_fault(e));
            }
            if decoder.header().is_none() {
                return Err(StreamFault::GzipHeader);
            }
        }
        // Go reads a file name or comment into 512 bytes, its NUL included; flate2 allows 64 KiB.
        let too_long = |field: Option<&[u8]>| field.is_some_and(|f| f.len() >= GO_HEADER_STRING);
        if decoder.header().is_some_and(|h| too_long(h.filename()) || too_long(h.comment())) {
            return Err(StreamFault::GzipHeader);
        }
        let body_at = decoder.get_ref().taken;
        Ok(Member { decoder, body_at })
    }

    fn read_inner(&mut self, out: &mut [u8]) -> Result<usize, StreamFault> {
        loop {
            let Some(member) = self.member.as_mut() else { return Ok(0) };
            if out.is_empty() {
                return Ok(0);
            }
            match member.decoder.read(out) {
                Ok(0) => {}
                Ok(n) => return Ok(n),
                Err(e) => return Err(body_fault(e, member.decoder.get_ref().taken - member.body_at)),
            }
            // The member ended with its trailer verified: another member, or the end.
            let Some(member) = self.member.take() else { return Ok(0) };
            let mut src = member.decoder.into_inner();
            if src.fill_buf().map_err(StreamFault::from_io)?.is_empty() {
                return Ok(0);
            }
            self.member = Some(Self::member(src)?);
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_inner(out).map_err(StreamFault::into_io)
    }
}

/// Go's name for a failure while reading a member header.
fn header_fault(e: io::Error) -> StreamFault {
    match StreamFault::carried(e) {
        Ok(fault) => fault,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => StreamFault::UnexpectedEof,
        // A bad magic, method, flag or header CRC, or an over-long name.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => StreamFault::GzipHeader,
        Err(e) => StreamFault::Io(e),
    }
}

/// Go's name for a failure in a member's deflate data or trailer, `offset` bytes into its
/// deflate data.
fn body_fault(e: io::Error, offset: u64) -> StreamFault {
    match StreamFault::carried(e) {
        Ok(fault) => fault,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => StreamFault::UnexpectedEof,
        Err(e) if e.kind() == io::ErrorKind::InvalidInput && e.to_string() == FLATE2_CORRUPT_DEFLATE => {
            StreamFault::Flate(offset)
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => StreamFault::GzipChecksum,
        Err(e) => StreamFault::Io(e),
    }
}
