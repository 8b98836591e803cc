//! Entry points for the cargo-fuzz targets in `fuzz/` (hidden; see `crate::fuzzing`): a whole
//! config file, written where `-config` finds it and loaded by [`super::load`], and the agent's
//! flags.

use std::path::PathBuf;

use super::ConfigError;

/// Loads `text` as the only config file (`.json` or `.hcl`, which picks the parser) through
/// [`super::load`], exactly as `raftwarden agent -config=<file>` would. A config that loads
/// must validate again to itself; `Err` is that property broken. The file is this process's
/// own, in the temporary directory, rewritten on every call.
pub fn load_file(text: &[u8], json: bool) -> Result<Result<(), ConfigError>, String> {
    let ext = if json { "json" } else { "hcl" };
    let path: PathBuf = std::env::temp_dir().join(format!("raftwarden-fuzz-{}.{ext}", std::process::id()));
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let loaded = super::load(&["-config".to_string(), path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    let cfg = match loaded {
        Ok(cfg) => cfg,
        Err(e) => return Ok(Err(e)),
    };
    match super::validate::validate(cfg.clone()) {
        Ok(again) if again == cfg => Ok(Ok(())),
        Ok(again) => Err(format!("validated twice, the config changed: {cfg:?} then {again:?}")),
        Err(e) => Err(format!("a loaded config no longer validates: {e}")),
    }
}

/// The words after `raftwarden agent`, parsed as agent flags.
pub fn flags(args: &[String]) -> Result<(), ConfigError> {
    super::flags::parse(args).map(drop)
}
