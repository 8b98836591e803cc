//! Go's `netip.ParseAddrPort` checks, with its error texts (Nomad validates raft peer
//! addresses with it).

use super::quote::quote;

/// A literal IP (IPv6 in brackets) and a port; no host names.
pub fn check_addr_port(s: &str) -> Result<(), String> {
    let Some(colon) = s.rfind(':') else { return Err("not an ip:port".into()) };
    let (ip, port) = (&s[..colon], &s[colon + 1..]);
    if ip.is_empty() {
        return Err("not an ip:port".into());
    }
    let ip_ok = if let Some(inner) = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        ip.parse::<std::net::Ipv4Addr>().is_ok()
    };
    if !ip_ok {
        return Err(format!("ParseAddr({}): unable to parse IP", quote(ip)));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!("invalid port {} parsing {}", quote(port), quote(s)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_addr_port;

    #[test]
    fn texts_like_netip() {
        for ok in ["127.0.0.1:4647", "[::1]:4647", "10.0.0.5:0"] {
            assert_eq!(check_addr_port(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("127.0.0.1", "not an ip:port"),
            (":4647", "not an ip:port"),
            ("host:4647", "ParseAddr(\"host\"): unable to parse IP"),
            ("127.0.0.1:x", "invalid port \"x\" parsing \"127.0.0.1:x\""),
            ("127.0.0.1:70000", "invalid port \"70000\" parsing \"127.0.0.1:70000\""),
        ];
        for (s, want) in cases {
            assert_eq!(check_addr_port(s), Err(want.to_string()), "{s}");
        }
    }
}
