//! Checks on the merged configuration, and the defaults that depend on other keys.

use super::AgentConfig;
use super::ConfigError;

pub fn validate(mut cfg: AgentConfig) -> Result<AgentConfig, ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if !cfg.server.enabled {
        return invalid("raftwarden agent runs servers only: set server { enabled = true } or -server".into());
    }
    if cfg.region.is_empty() {
        return invalid("region must not be empty".into());
    }
    if cfg.bind_addr.parse::<std::net::IpAddr>().is_err() {
        return invalid(format!("bind_addr {:?} is not an IP address", cfg.bind_addr));
    }
    let p = &cfg.ports;
    if p.http != 0 && (p.http == p.rpc || p.http == p.serf) || p.rpc != 0 && p.rpc == p.serf {
        return invalid(format!("ports must be distinct (http {}, rpc {}, serf {})", p.http, p.rpc, p.serf));
    }
    let level = cfg.log_level.to_ascii_uppercase();
    if !["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level.as_str()) {
        return invalid(format!("log_level {:?} must be one of TRACE, DEBUG, INFO, WARN, ERROR", cfg.log_level));
    }
    cfg.log_level = level;
    if !cfg.dev && cfg.data_dir.is_none() {
        return invalid("data_dir is required for a server (set data_dir or use -dev)".into());
    }
    for key in &cfg.server.license_public_keys {
        if let Err(e) = raftwarden_actors::license::document::PublicKey::parse(key) {
            return invalid(format!("server.license_public_keys: {e}"));
        }
    }
    if cfg.server.bootstrap_expect == 0 {
        cfg.server.bootstrap_expect = 1;
    }
    if cfg.name.is_empty() {
        cfg.name = host_name();
    }
    if cfg.name.contains(char::is_whitespace) {
        return invalid(format!("name {:?} must not contain spaces", cfg.name));
    }
    Ok(cfg)
}

/// The machine's host name (Nomad's default node name), or `localhost` if it has none.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..len]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn host_name_is_the_kernels() {
        let name = host_name();
        assert!(!name.is_empty() && !name.contains('\0'));
        if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(name, kernel.trim());
        }
    }
}
