//! The scope the unit tests (`tests.rs`, `use super::*`) are written against: the layers'
//! private items, and a look inside the tars the tests build, through the `tar` crate.

use std::collections::VecDeque;

pub(super) use sha2::Digest;
pub(super) use sha2::Sha256;
pub(super) use std::io;
pub(super) use std::io::Read;
pub(super) use std::io::Write;
pub(super) use std::time::UNIX_EPOCH;

use super::error::StreamFault;
pub(super) use super::gzip::Gunzip;
pub(super) use super::read::verify_sums;
pub(super) use super::tar::pax_record;
use super::tar::read_entries;
use super::tar::TarEntry;
pub(super) use super::tar::TarWriter;
pub(super) use super::tar::BLOCK;
pub(super) use super::write::hex;

/// A header block's text field, up to its first NUL.
pub(super) fn tar_string(field: &[u8]) -> &[u8] {
    field.split(|&b| b == 0).next().unwrap_or_default()
}

/// An octal header field.
pub(super) fn tar_number(field: &[u8]) -> Result<u64, StreamFault> {
    let text = std::str::from_utf8(tar_string(field)).map_err(|_| StreamFault::TarHeader)?;
    u64::from_str_radix(text.trim_matches(' '), 8).map_err(|_| StreamFault::TarHeader)
}

/// Whether a header block's checksum is the one the `tar` crate computes for it.
pub(super) fn tar_checksum_ok(block: &[u8; BLOCK]) -> Result<bool, StreamFault> {
    let header = ::tar::Header::from_byte_slice(block);
    let stored = header.cksum().map_err(|_| StreamFault::TarHeader)?;
    let mut fresh = header.clone();
    fresh.set_cksum();
    Ok(fresh.cksum().ok() == Some(stored))
}

/// One PAX record: key and value.
type PaxRecord = (Vec<u8>, Vec<u8>);

/// PAX records `"<len> <key>=<value>\n"` as the `tar` crate parses them.
pub(super) fn parse_pax(data: &[u8]) -> Result<Vec<PaxRecord>, StreamFault> {
    ::tar::PaxExtensions::new(data)
        .map(|record| {
            let record = record.map_err(|_| StreamFault::TarHeader)?;
            Ok((record.key_bytes().to_vec(), record.value_bytes().to_vec()))
        })
        .collect()
}

/// A tar read entry by entry as [`read_entries`] hands the entries out, held in memory: the
/// tests' tars are small.
pub(super) struct TarReader<R> {
    src: Option<R>,
    entries: VecDeque<(TarEntry, Vec<u8>)>,
    data: io::Cursor<Vec<u8>>,
}

impl<R: Read> TarReader<R> {
    pub(super) fn new(src: R) -> Self {
        Self { src: Some(src), entries: VecDeque::new(), data: io::Cursor::new(Vec::new()) }
    }

    /// The next entry; its data is what `read` gives until the next call.
    pub(super) fn next(&mut self) -> Result<Option<TarEntry>, StreamFault> {
        if let Some(src) = self.src.take() {
            read_entries(
                src,
                |fault| fault,
                |entry, data| {
                    let mut bytes = Vec::new();
                    data.read_to_end(&mut bytes).map_err(StreamFault::from_io)?;
                    self.entries.push_back((entry, bytes));
                    Ok(())
                },
            )?;
        }
        let Some((entry, data)) = self.entries.pop_front() else { return Ok(None) };
        self.data = io::Cursor::new(data);
        Ok(Some(entry))
    }
}

impl<R> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.data.read(buf)
    }
}
