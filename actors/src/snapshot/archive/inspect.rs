//! `operator snapshot inspect`: a verified archive's meta and the rows and bytes of each table
//! of its state, read as the archive streams.

use std::io;
use std::io::Read;

use super::error::ArchiveError;
use super::meta::SnapshotMetaJson;
use super::pipe::pipe;
use super::read::read_archive;
use crate::raft::snapfile;

/// Rows and bytes of one table in `state.bin`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// The table's name in the store (`sm_autopilot`, ...).
    pub name: String,
    pub count: u64,
    /// Bytes of its row records.
    pub size: u64,
}

/// What `operator snapshot inspect` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    pub meta: SnapshotMetaJson,
    /// Tables in the order of `state.bin`.
    pub tables: Vec<TableStats>,
    /// Bytes of `state.bin`.
    pub state_size: u64,
}

/// Why an archive could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The archive verified, but `state.bin` is not our state stream (a Nomad archive, say).
    #[error("state.bin: {0}")]
    State(io::Error),
}

/// Counts rows and bytes per table of a state stream.
fn table_stats(src: &mut impl Read) -> io::Result<Vec<TableStats>> {
    let (mut r, _header) = snapfile::Reader::new(src, io::sink())?;
    let mut tables: Vec<TableStats> = Vec::new();
    loop {
        match r.next()? {
            snapfile::Record::Table(name) => tables.push(TableStats { name, ..Default::default() }),
            snapfile::Record::Row => {
                let Some(t) = tables.last_mut() else {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "row outside a table"));
                };
                t.count += 1;
                t.size += (1 + 4 + r.key.len() + 4 + r.value.len()) as u64;
            }
            snapfile::Record::End => return Ok(tables),
        }
    }
}

/// Verifies an archive (as [`read_archive`]) and reads its `state.bin` as it streams: the meta
/// and the rows and bytes of each table. Memory stays flat: the state passes through a bounded
/// pipe to a second thread that parses it.
pub fn inspect(input: impl Read) -> Result<Inspection, InspectError> {
    let (tx, mut pipe) = pipe(4);
    let (archive, stats) = std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let stats = table_stats(&mut pipe);
            // Keep draining so the archive is still verified to its end.
            let _ = io::copy(&mut pipe, &mut io::sink());
            (stats, pipe.read)
        });
        let archive = read_archive(input, tx);
        let stats = parser.join().unwrap_or_else(|_| (Err(io::Error::other("state parser panicked")), 0));
        (archive, stats)
    });
    let meta = archive?;
    let (tables, state_size) = stats;
    let tables = tables.map_err(InspectError::State)?;
    Ok(Inspection { meta, tables, state_size })
}
