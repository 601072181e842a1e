//! The proxy a registry is reached through, from the environment as Go's
//! net/http reads it (and so podman and containerd): HTTPS_PROXY for https,
//! HTTP_PROXY for http, each also in lower case; NO_PROXY lists the hosts
//! reached directly. Loopback is always reached directly.

use crate::registry::{host_name, is_loopback};

/// The proxy URL for `host` (a name or address, with an optional port)
/// reached over `scheme`, or None to connect directly.
pub fn for_host(host: &str, scheme: &str) -> Option<String> {
    let var = |names: &[&str]| {
        names.iter().find_map(|n| {
            std::env::var(n)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    };
    if is_loopback(host) || bypassed(host, scheme, &var(&["NO_PROXY", "no_proxy"]).unwrap_or_default()) {
        return None;
    }
    match scheme {
        "https" => var(&["HTTPS_PROXY", "https_proxy"]),
        _ => var(&["HTTP_PROXY", "http_proxy"]),
    }
}

/// A proxy URL fit for messages: any `user:password@` left out.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, hostport)| hostport);
    if scheme.is_empty() {
        rest.to_string()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// Whether a NO_PROXY list names `host` reached over `scheme`: `*`, the host
/// itself, `host:port` for that port only (a host without one is on the
/// scheme's), a domain it is in (`example.com`, `.example.com` or
/// `*.example.com`), or an address range it is in (`10.0.0.0/8`).
fn bypassed(host: &str, scheme: &str, no_proxy: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    let default_port = if scheme == "https" { "443" } else { "80" };
    let port = host
        .strip_prefix(host_name(host))
        .or_else(|| host.strip_prefix(&format!("[{}]", host_name(host))))
        .and_then(|p| p.strip_prefix(':'))
        .unwrap_or(default_port);
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry.to_ascii_lowercase();
            if entry == "*" {
                return true;
            }
            if let Some(inside) = in_cidr(&name, &entry) {
                return inside;
            }
            // A bare address, IPv6 ones without brackets included.
            if let Ok(ip) = entry
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
            {
                return name.parse::<std::net::IpAddr>().is_ok_and(|n| n == ip);
            }
            let entry_name = host_name(&entry);
            let entry_port = entry.strip_prefix(entry_name).and_then(|p| p.strip_prefix(':'));
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            let domain = entry_name
                .trim_start_matches("*.")
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

    fn bypassed_https(host: &str, list: &str) -> bool {
        bypassed(host, "https", list)
    }

    #[test]
    fn credentials_stay_out_of_messages() {
        assert_eq!(redacted("http://user:secret@proxy:3128"), "http://proxy:3128");
        assert_eq!(redacted("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(redacted("user:p@ss@proxy:3128"), "proxy:3128");
    }

    #[test]
    fn no_proxy_entries() {
        let list = "example.com, .corp.test,reg.local:5000,10.1.2.3,[::2]";
        assert!(bypassed_https("example.com", list));
        assert!(bypassed_https("registry.example.com:443", list));
        assert!(bypassed_https("a.corp.test", list));
        assert!(bypassed_https("corp.test", list));
        assert!(bypassed_https("reg.local:5000", list));
        assert!(!bypassed_https("reg.local:5001", list));
        assert!(!bypassed_https("reg.local", list));
        assert!(bypassed_https("10.1.2.3:5000", list));
        assert!(bypassed_https("[::2]:5000", list));
        assert!(!bypassed_https("notexample.com", list));
        assert!(!bypassed_https("10.1.2.30", list));
        assert!(bypassed_https("10.9.8.7:5000", "10.0.0.0/8"));
        assert!(!bypassed_https("11.0.0.1", "10.0.0.0/8"));
        assert!(bypassed_https("192.168.1.200", "192.168.1.128/25"));
        assert!(!bypassed_https("192.168.1.100", "192.168.1.128/25"));
        assert!(bypassed_https("[fd00::5]:443", "fd00::/8"));
        assert!(!bypassed_https("registry.example", "10.0.0.0/8"));
        assert!(bypassed_https("a.corp.example", "*.corp.example"));
        assert!(bypassed_https("[fd00::5]:5000", "fd00::5"));
        assert!(bypassed_https("reg.local", "reg.local:443"));
        assert!(!bypassed_https("reg.local", "reg.local:80"));
        assert!(bypassed_https("a.corp:5000", ".corp:5000"));
        assert!(!bypassed_https("a.corp:5001", ".corp:5000"));
        assert!(bypassed_https("anything", "*"));
        assert!(!bypassed_https("anything", ""));
    }
}
