//! tar, as Go's `archive/tar` writes and reads it, over the `tar` crate: headers are
//! `tar::Header`s, entries are read by `tar::Archive`. Here stay what the crate leaves to its
//! caller: the PAX record Go writes for a size USTAR cannot hold, Go's end of archive (two zero
//! blocks, or the input ending between entries), entries that end short, the header checks by
//! which Go refuses what the crate reads ([`go_name`]), and a bound on what the crate reads
//! whole before it hands out an entry: unbounded, a 0.5 MB upload whose PAX record inflates to
//! 512 MiB held 580 MiB, here it stops after Go's 1 MiB.
//!
//! Where the crate is stricter than Go, archives Go reads are refused (none that Go or this
//! module writes): a header whose checksum only matches as a signed sum, an empty size field, a
//! GNU sparse type in a USTAR header, two PAX record sets for one entry, and a PAX record set
//! that the input's end follows.

use std::cell::Cell;
use std::io;
use std::io::Read;
use std::io::Write;

use super::error::StreamFault;

pub(super) const BLOCK: usize = 512;

/// Go's `archive/tar` limit on PAX and GNU long-name records.
const MAX_SPECIAL_FILE: u64 = 1 << 20;

/// What the `tar` crate may read on its own between two entries past the previous entry's data
/// and padding, which it keeps in memory when it is a PAX record set or a GNU long name: one such
/// record of Go's largest size with its header, and the entry's header. A larger record is Go's
/// `header field too long`.
const BETWEEN_ENTRIES: u64 = MAX_SPECIAL_FILE + 2 * BLOCK as u64;

/// Largest size a USTAR size field holds (11 octal digits).
const USTAR_MAX_SIZE: u64 = 0o77777777777;

/// Writes tar entries as Go's `tar.Writer` does for a `Header{Name, Mode: 0600, Size, ModTime}`.
pub(super) struct TarWriter<W: Write> {
    pub(super) out: W,
    pub(super) mtime: u64,
}

impl<W: Write> TarWriter<W> {
    /// A USTAR header block; a name longer than the name field is cut, as ours never are.
    pub(super) fn header(name: &str, size: u64, mtime: u64, typeflag: u8) -> [u8; BLOCK] {
        let mut h = ::tar::Header::new_ustar();
        let field = &mut h.as_old_mut().name;
        let len = name.len().min(field.len());
        field[..len].copy_from_slice(&name.as_bytes()[..len]);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        // Go writes 0 for a size USTAR cannot hold and puts the size in a PAX record (`begin`).
        h.set_size(if size > USTAR_MAX_SIZE { 0 } else { size });
        h.set_mtime(mtime.min(USTAR_MAX_SIZE));
        h.set_entry_type(::tar::EntryType::new(typeflag));
        if let Some(ustar) = h.as_ustar_mut() {
            ustar.set_device_major(0);
            ustar.set_device_minor(0);
        }
        h.set_cksum();
        *h.as_bytes()
    }

    pub(super) fn pad(&mut self, size: u64) -> io::Result<()> {
        let pad = ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize;
        self.out.write_all(&[0u8; BLOCK][..pad])
    }

    /// Starts an entry; its `size` data bytes follow through [`Self::out`], then [`Self::pad`].
    pub(super) fn begin(&mut self, name: &str, size: u64) -> io::Result<()> {
        if size > USTAR_MAX_SIZE {
            // Go switches to PAX for a size USTAR cannot hold.
            let body = pax_record("size", &size.to_string());
            let pax_name = format!("PaxHeaders.0/{name}");
            self.out.write_all(&Self::header(&pax_name, body.len() as u64, self.mtime, b'x'))?;
            self.out.write_all(body.as_bytes())?;
            self.pad(body.len() as u64)?;
        }
        self.out.write_all(&Self::header(name, size, self.mtime, b'0'))
    }

    pub(super) fn small(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        self.begin(name, data.len() as u64)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)
    }

    /// The end of the archive: two zero blocks.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }
}

/// One PAX record, `"<len> <key>=<value>\n"`.
pub(super) fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    // The length prefix counts its own digits.
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// One entry of the tar stream: its name and data size.
pub(super) struct TarEntry {
    pub(super) name: Vec<u8>,
    pub(super) size: u64,
}

/// Reads a tar stream as Go's `tar.Reader` does, through `tar::Archive`: hands each file entry
/// to `visit` with its data as a `Read` that ends at the entry's size (an input that ends first
/// is `unexpected EOF`), then checks the end of the archive. The tar layer's failures reach the
/// caller as `tar_fault` of Go's texts; `visit`'s errors pass through.
pub(super) fn read_entries<E>(
    input: impl Read,
    tar_fault: impl Fn(StreamFault) -> E,
    mut visit: impl FnMut(TarEntry, &mut dyn Read) -> Result<(), E>,
) -> Result<(), E> {
    let watch = Watch::default();
    let mut archive = ::tar::Archive::new(Watched { src: input, watch: &watch });
    let mut entries = archive.entries().map_err(|e| tar_fault(watch.fault(e)))?;
    let mut rest_of_last = 0;
    loop {
        watch.allowance.set(Some(BETWEEN_ENTRIES.saturating_add(rest_of_last)));
        let mut entry = match entries.next() {
            None => break,
            Some(entry) => entry.map_err(|e| tar_fault(watch.fault(e)))?,
        };
        watch.allowance.set(None);
        let name = go_name(&mut entry).map_err(&tar_fault)?;
        let found = TarEntry { name, size: entry.size() };
        let mut data = Exact { left: found.size, inner: entry };
        let padding = (BLOCK as u64 - found.size % BLOCK as u64) % BLOCK as u64;
        visit(found, &mut data)?;
        rest_of_last = data.left + padding;
    }
    end_of_archive(archive.into_inner()).map_err(tar_fault)
}

/// The entry's name as Go's `tar.Reader` gives it: a PAX `path` whole, another name up to its
/// first NUL. Refuses what Go refuses and the `tar` crate lets through: a PAX record set that does
/// not parse or whose `size` is no number, and a header Go would not read ([`go_refuses`]).
fn go_name(entry: &mut ::tar::Entry<'_, impl Read>) -> Result<Vec<u8>, StreamFault> {
    if go_refuses(entry.header(), entry.size()) {
        return Err(StreamFault::TarHeader);
    }
    let mut pax_path = None;
    // A global header's records are its data, which is the caller's to read.
    if !entry.header().entry_type().is_pax_global_extensions() {
        for record in entry.pax_extensions().map_err(|_| StreamFault::TarHeader)?.into_iter().flatten() {
            let record = record.map_err(|_| StreamFault::TarHeader)?;
            match record.key_bytes() {
                b"path" => pax_path = Some(record.value_bytes().to_vec()),
                b"size" if record.value().ok().and_then(|v| v.parse::<u64>().ok()).is_none() => {
                    return Err(StreamFault::TarHeader)
                }
                _ => {}
            }
        }
    }
    Ok(pax_path.unwrap_or_else(|| {
        let name = entry.path_bytes();
        name.split(|&b| b == 0).next().unwrap_or_default().to_vec()
    }))
}

/// Header fields Go refuses that the `tar` crate reads: octal checksum and size fields with other
/// than spaces and NULs around their digits, a base-256 size beyond 63 bits (the crate reads its
/// last 8 bytes), and data after a link, device, directory or FIFO header (Go reads none,
/// whatever the size field says, so those bytes are its next header).
fn go_refuses(header: &::tar::Header, size: u64) -> bool {
    let old = header.as_old();
    let base256 = old.size[0] & 0x80 != 0;
    let too_big = old.size[0] & 0x7f != 0 || old.size[1..4] != [0; 3] || old.size[4] & 0x80 != 0;
    let header_only = matches!(header.entry_type().as_byte(), b'1'..=b'6');
    !go_octal(&old.cksum) || (base256 && too_big) || (!base256 && !go_octal(&old.size)) || (header_only && size > 0)
}

/// Go's `parseOctal` reads the field between leading and trailing spaces and NULs.
fn go_octal(field: &[u8]) -> bool {
    let padding = |b: &u8| *b == b' ' || *b == 0;
    let start = field.iter().position(|b| !padding(b)).unwrap_or(field.len());
    let end = field.iter().rposition(|b| !padding(b)).map_or(start, |at| at + 1);
    field[start..end].iter().all(|b| (b'0'..=b'7').contains(b))
}

/// After the `tar` crate's end (a zero block, or the input ending between entries), Go reads one
/// more block: the input may end there, or the block must be zeros too.
fn end_of_archive(mut src: impl Read) -> Result<(), StreamFault> {
    let mut block = [0u8; BLOCK];
    if read_full_or_eof(&mut src, &mut block)? && block.iter().any(|&b| b != 0) {
        return Err(StreamFault::TarHeader);
    }
    Ok(())
}

/// Like `read_exact`, but zero bytes read is a clean end (`Ok(false)`); a short read is
/// `unexpected EOF`.
fn read_full_or_eof(src: &mut impl Read, buf: &mut [u8]) -> Result<bool, StreamFault> {
    let mut at = 0;
    while at < buf.len() {
        match src.read(&mut buf[at..]) {
            Ok(0) if at == 0 => return Ok(false),
            Ok(0) => return Err(StreamFault::UnexpectedEof),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StreamFault::from_io(e)),
        }
    }
    Ok(true)
}

/// What the tar input has seen, for naming the `tar` crate's errors and bounding its reads.
#[derive(Default)]
struct Watch {
    /// Bytes the crate may still read before it hands out the next entry; `None` while the
    /// caller reads an entry's data.
    allowance: Cell<Option<u64>>,
    /// The input returned its end.
    ended: Cell<bool>,
}

impl Watch {
    /// Go's name for an error out of the `tar` crate: the input's own fault, else a block cut
    /// short by the end of the input, else a header Go would refuse.
    fn fault(&self, e: io::Error) -> StreamFault {
        match StreamFault::carried(e) {
            Ok(fault) => fault,
            Err(_) if self.ended.get() => StreamFault::UnexpectedEof,
            Err(_) => StreamFault::TarHeader,
        }
    }
}

/// The input as the `tar` crate reads it: under [`Watch`]'s allowance, its errors marked as the
/// input's.
struct Watched<'w, R> {
    src: R,
    watch: &'w Watch,
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let allowance = self.watch.allowance.get();
        let want = match allowance {
            Some(0) if !buf.is_empty() => return Err(StreamFault::TarFieldTooLong.into_io()),
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let n = loop {
            match self.src.read(&mut buf[..want]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StreamFault::from_io(e).into_io()),
            }
        };
        if n == 0 && want > 0 {
            self.watch.ended.set(true);
        }
        if let Some(left) = allowance {
            self.watch.allowance.set(Some(left - n as u64));
        }
        Ok(n)
    }
}

/// An entry's data, which must not end before its size.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(StreamFault::UnexpectedEof.into_io());
        }
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}
