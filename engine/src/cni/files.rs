//! /etc/hosts and /etc/resolv.conf from CNI results. A plugin's result is
//! its word on addresses and DNS, not text to paste: each address and
//! nameserver must parse as an IP, and each search domain or option must be
//! one word, so no result can add a line of its own to either file.

use std::net::IpAddr;

use anyhow::{bail, Result};
use serde_json::Value;

/// The addresses of a result (`10.1.2.3/24`), in order; each one checked.
pub fn addresses(result: &Value) -> Result<Vec<String>> {
    let mut out = vec![];
    for (i, ip) in result["ips"].as_array().into_iter().flatten().enumerate() {
        let Some(a) = ip["address"].as_str() else { continue };
        let (host, prefix) = a.split_once('/').unwrap_or((a, ""));
        if host.parse::<IpAddr>().is_err() || (!prefix.is_empty() && prefix.parse::<u8>().is_err()) {
            bail!("CNI result ips[{i}].address: {a:?} is not an IP address with a prefix length");
        }
        out.push(a.to_string());
    }
    Ok(out)
}

/// /etc/hosts: localhost, then each address under the container's hostname.
pub fn hosts(hostname: &str, results: &[&Value]) -> Result<String> {
    let mut hosts = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let mut any = false;
    for r in results {
        for addr in addresses(r)? {
            let ip = addr.split('/').next().unwrap_or_default();
            hosts.push_str(&format!("{ip}\t{hostname}\n"));
            any = true;
        }
    }
    if !any {
        hosts.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    Ok(hosts)
}

fn one_word(field: &str, w: &str) -> Result<()> {
    if w.is_empty()
        || w.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == ';')
    {
        bail!("CNI result dns.{field}: {w:?} is not one word");
    }
    Ok(())
}

/// resolv.conf from a result's `dns`.
pub fn resolv_conf(dns: &Value) -> Result<String> {
    let mut s = String::new();
    for (i, ns) in dns["nameservers"].as_array().into_iter().flatten().enumerate() {
        let text = ns.as_str().unwrap_or_default();
        if text.parse::<IpAddr>().is_err() {
            bail!("CNI result dns.nameservers[{i}]: {ns} is not an IP address");
        }
        s.push_str(&format!("nameserver {text}\n"));
    }
    for key in ["search", "options"] {
        let words: Vec<&str> = dns[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for w in &words {
            one_word(key, w)?;
        }
        if !words.is_empty() {
            s.push_str(&format!("{key} {}\n", words.join(" ")));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_result_cannot_add_lines() {
        let evil = json!({"ips": [{"address": "10.0.0.2/24\n6.6.6.6\tregistry"}]});
        assert!(hosts("box", &[&evil]).is_err());
        let evil_ns = json!({"nameservers": ["10.0.0.1\nnameserver 6.6.6.6"]});
        assert!(resolv_conf(&evil_ns).is_err());
        let evil_search = json!({"nameservers": ["10.0.0.1"], "search": ["a\noptions ndots:15"]});
        assert!(resolv_conf(&evil_search).is_err());
    }

    #[test]
    fn a_plain_result_gives_the_files() {
        let r = json!({"ips": [{"address": "10.0.0.2/24"}, {"address": "fd00::2/64"}],
            "dns": {"nameservers": ["10.0.0.1"], "search": ["example.org"], "options": ["ndots:2"]}});
        assert!(hosts("box", &[&r]).unwrap().ends_with("10.0.0.2\tbox\nfd00::2\tbox\n"));
        assert_eq!(
            resolv_conf(&r["dns"]).unwrap(),
            "nameserver 10.0.0.1\nsearch example.org\noptions ndots:2\n"
        );
    }
}
