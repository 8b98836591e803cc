//! The data-dir identity: the permanent raft ID of a server lives in
//! `<data_dir>/server/node-id`, guarded by a format marker so that a foreign directory is never
//! adopted.

use std::path::Path;
use std::path::PathBuf;

use crate::settings::StartError;

/// Marker written into `<data_dir>/server/` so that a foreign directory is never adopted.
const FORMAT_FILE: &str = "raftwarden-format";
const FORMAT: &str = "raftwarden-data-v1\n";

/// Loads (or on first start creates) this server's permanent raft ID in `<server_dir>/node-id`.
pub(crate) fn load_identity(server_dir: &Path) -> Result<uuid::Uuid, StartError> {
    let io = |e| StartError::DataDir { path: server_dir.to_path_buf(), source: e };
    std::fs::create_dir_all(server_dir).map_err(io)?;
    let marker = server_dir.join(FORMAT_FILE);
    let id_file = server_dir.join("node-id");
    let has_entries = std::fs::read_dir(server_dir).map_err(io)?.next().is_some();
    match std::fs::read_to_string(&marker) {
        Ok(s) if s == FORMAT => {}
        Ok(s) => return Err(foreign(server_dir, format!("unknown format marker {:?}", s.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !has_entries => {
            write_durably(&marker, FORMAT.as_bytes()).map_err(io)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(foreign(server_dir, format!("it has files but no {FORMAT_FILE} marker")))
        }
        Err(e) => return Err(io(e)),
    }
    match std::fs::read_to_string(&id_file) {
        Ok(s) => uuid::Uuid::parse_str(s.trim()).map_err(|e| foreign(&id_file, format!("node-id is not a UUID: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4();
            write_durably(&id_file, id.to_string().as_bytes()).map_err(io)?;
            Ok(id)
        }
        Err(e) => Err(io(e)),
    }
}

fn foreign(path: &Path, reason: String) -> StartError {
    StartError::Foreign { path: PathBuf::from(path), reason }
}

/// Write to a temp file, fsync, rename, fsync the directory: the file is whole or absent.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
