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
/// for that port only, or a domain it is in (`example.com` or `.example.com`).
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
        assert!(bypassed("anything", "*"));
        assert!(!bypassed("anything", ""));
    }
}
