//! The proxy a registry is reached through, from the environment as curl and
//! Go's net/http read it (podman and containerd honour the same variables):
//! HTTPS_PROXY for https, HTTP_PROXY for http, ALL_PROXY for either, each
//! also in lower case; NO_PROXY lists the hosts reached directly. Loopback
//! is always reached directly.

use crate::registry::{host_name, is_loopback};

/// The proxy URL for `host` (a name or address, with an optional port)
/// reached over `scheme`, or None to connect directly.
pub fn for_host(host: &str, scheme: &str) -> Option<String> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
    };
    if is_loopback(host) || bypassed(host, &var(&["NO_PROXY", "no_proxy"]).unwrap_or_default()) {
        return None;
    }
    match scheme {
        "https" => var(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
        _ => var(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]),
    }
}

/// Whether a NO_PROXY list names `host`: `*`, the host itself, `host:port`
/// for that port only, a domain it is in (`example.com` or `.example.com`),
/// or an address range it is in (`10.0.0.0/8`).
fn bypassed(host: &str, no_proxy: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry.to_ascii_lowercase();
            if entry == "*" || entry == host.to_ascii_lowercase() {
                return true;
            }
            if let Some(inside) = in_cidr(&name, &entry) {
                return inside;
            }
            if host_name(&entry) != entry.trim_start_matches('[').trim_end_matches(']') {
                // An entry with a port matches that host and port only.
                return false;
            }
            let domain = entry
                .trim_start_matches('.')
                .trim_start_matches('[')
                .trim_end_matches(']');
            name == domain || name.ends_with(&format!(".{domain}"))
        })
}

/// For an `addr/prefix` entry: whether the address `name` is in that range
/// (false for a name that is no address); None when `entry` is no range.
fn in_cidr(name: &str, entry: &str) -> Option<bool> {
    let (net, bits) = entry.split_once('/')?;
    let net: std::net::IpAddr = net.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let Ok(ip) = name.parse::<std::net::IpAddr>() else {
        return Some(false);
    };
    let (ip, net, width) = match (ip, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return Some(false),
    };
    if bits > width {
        return None;
    }
    // The top `bits` of a `width`-bit address.
    let mask = if bits == 0 {
        0
    } else {
        (u128::MAX << (128 - bits)) >> (128 - width)
    };
    Some(ip & mask == net & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_entries() {
        let list = "example.com, .corp.test,reg.local:5000,10.1.2.3,[::2]";
        assert!(bypassed("example.com", list));
        assert!(bypassed("registry.example.com:443", list));
        assert!(bypassed("a.corp.test", list));
        assert!(bypassed("corp.test", list));
        assert!(bypassed("reg.local:5000", list));
        assert!(!bypassed("reg.local:5001", list));
        assert!(!bypassed("reg.local", list));
        assert!(bypassed("10.1.2.3:5000", list));
        assert!(bypassed("[::2]:5000", list));
        assert!(!bypassed("notexample.com", list));
        assert!(!bypassed("10.1.2.30", list));
        assert!(bypassed("10.9.8.7:5000", "10.0.0.0/8"));
        assert!(!bypassed("11.0.0.1", "10.0.0.0/8"));
        assert!(bypassed("192.168.1.200", "192.168.1.128/25"));
        assert!(!bypassed("192.168.1.100", "192.168.1.128/25"));
        assert!(bypassed("[fd00::5]:443", "fd00::/8"));
        assert!(!bypassed("registry.example", "10.0.0.0/8"));
        assert!(bypassed("anything", "*"));
        assert!(!bypassed("anything", ""));
    }
}
