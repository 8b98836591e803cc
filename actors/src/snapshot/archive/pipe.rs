//! A bounded pipe between two threads, for a state stream that one side writes while the
//! other parses it (`inspect`, and the snapshot actor's restore).

use std::io;
use std::io::Read;
use std::io::Write;

/// A `Write` half and a `Read` half joined by a bounded channel of chunks.
pub(crate) struct PipeWriter(std::sync::mpsc::SyncSender<Vec<u8>>);
pub(crate) struct PipeReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
    pub(super) read: u64,
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf.to_vec()).map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.read += n as u64;
        Ok(n)
    }
}

/// A pipe that holds at most `chunks` writes: a state stream between two threads.
pub(crate) fn pipe(chunks: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(chunks);
    (PipeWriter(tx), PipeReader { rx, chunk: Vec::new(), at: 0, read: 0 })
}
