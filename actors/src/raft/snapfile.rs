//! The snapshot file format: a header with the snapshot meta, then each replicated table as a
//! table record followed by its rows, then an end record with the row count and a CRC-32 of
//! every byte before the CRC. Records are length-prefixed, so a file of any size is written and
//! read one row at a time.
//!
//! ```text
//! magic "rwsnap\0\x01" | u32 len, postcard SnapshotMeta
//! (TABLE u16 len, name | ROW u32 len, key, u32 len, value)*
//! END u64 rows, u32 crc32
//! ```
//!
//! Raft snapshots (the store) and the `state.bin` of a snapshot archive
//! ([`crate::snapshot::archive`]) are both files in this format, so an archive's state installs
//! through the same code as a raft snapshot.

use std::io::Read;
use std::io::Write;

pub const MAGIC: &[u8; 8] = b"rwsnap\0\x01";
pub const TABLE: u8 = 2;
pub const ROW: u8 = 1;
pub const END: u8 = 0;
/// The largest key, value or header accepted when reading: anything bigger is a corrupt
/// length prefix, and must not become an allocation.
pub const MAX_FIELD: usize = 64 << 20;

/// Writes a snapshot, computing the CRC as it goes.
pub struct Writer<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    rows: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, meta: &[u8]) -> std::io::Result<Self> {
        let mut w = Self { out, crc: crc32fast::Hasher::new(), rows: 0 };
        w.put(MAGIC)?;
        w.field_u32(meta)?;
        Ok(w)
    }

    pub fn table(&mut self, name: &str) -> std::io::Result<()> {
        let len = u16::try_from(name.len()).map_err(std::io::Error::other)?;
        self.put(&[TABLE])?;
        self.put(&len.to_le_bytes())?;
        self.put(name.as_bytes())
    }

    pub fn row(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.put(&[ROW])?;
        self.field_u32(key)?;
        self.field_u32(value)?;
        self.rows += 1;
        Ok(())
    }

    /// Writes the end record and returns the sink, flushed.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.put(&[END])?;
        self.put(&self.rows.to_le_bytes())?;
        let crc = self.crc.clone().finalize();
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn field_u32(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        self.put(&len.to_le_bytes())?;
        self.put(bytes)
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.out.write_all(bytes)
    }
}

/// One record of a snapshot being read.
pub enum Record {
    Table(String),
    /// A row; its key and value are in the reader's buffers.
    Row,
    End,
}

/// Reads a snapshot record by record, checking the CRC at the end. Every byte read is also
/// written to `copy` (the file the snapshot is kept in once installed).
pub struct Reader<R: Read, C: Write> {
    src: R,
    copy: C,
    crc: crc32fast::Hasher,
    rows: u64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

fn corrupt(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("raft snapshot file: {}", what.into()))
}

impl<R: Read, C: Write> Reader<R, C> {
    /// Checks the magic and returns the reader with the encoded meta of the header.
    pub fn new(src: R, copy: C) -> std::io::Result<(Self, Vec<u8>)> {
        let mut r = Self { src, copy, crc: crc32fast::Hasher::new(), rows: 0, key: Vec::new(), value: Vec::new() };
        let mut magic = [0u8; 8];
        r.take(&mut magic)?;
        if &magic != MAGIC {
            return Err(corrupt("not a raftwarden snapshot"));
        }
        let mut meta = Vec::new();
        r.field_u32(&mut meta)?;
        Ok((r, meta))
    }

    pub fn next(&mut self) -> std::io::Result<Record> {
        let mut kind = [0u8; 1];
        self.take(&mut kind)?;
        match kind[0] {
            TABLE => {
                let mut len = [0u8; 2];
                self.take(&mut len)?;
                let mut name = vec![0u8; usize::from(u16::from_le_bytes(len))];
                self.take(&mut name)?;
                String::from_utf8(name).map(Record::Table).map_err(|_| corrupt("table name is not UTF-8"))
            }
            ROW => {
                let mut key = std::mem::take(&mut self.key);
                let mut value = std::mem::take(&mut self.value);
                self.field_u32(&mut key)?;
                self.field_u32(&mut value)?;
                self.key = key;
                self.value = value;
                self.rows += 1;
                Ok(Record::Row)
            }
            END => {
                let mut rows = [0u8; 8];
                self.take(&mut rows)?;
                let expected = self.crc.clone().finalize();
                let mut crc = [0u8; 4];
                self.take(&mut crc)?;
                if u64::from_le_bytes(rows) != self.rows {
                    return Err(corrupt("row count does not match"));
                }
                if u32::from_le_bytes(crc) != expected {
                    return Err(corrupt("checksum mismatch"));
                }
                let mut more = [0u8; 1];
                if self.src.read(&mut more)? != 0 {
                    return Err(corrupt("data after the end record"));
                }
                Ok(Record::End)
            }
            other => Err(corrupt(format!("unknown record kind {other}"))),
        }
    }

    /// Returns the copy sink, flushed.
    pub fn into_copy(mut self) -> std::io::Result<C> {
        self.copy.flush()?;
        Ok(self.copy)
    }

    fn field_u32(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        let mut len = [0u8; 4];
        self.take(&mut len)?;
        let len = usize::try_from(u32::from_le_bytes(len)).map_err(std::io::Error::other)?;
        if len > MAX_FIELD {
            return Err(corrupt("record too large"));
        }
        buf.clear();
        buf.resize(len, 0);
        self.take(buf)
    }

    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.src.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => corrupt("truncated"),
            _ => e,
        })?;
        self.crc.update(buf);
        self.copy.write_all(buf)
    }
}
