//! CNI results: /etc/hosts and resolv.conf made from any result hold only
//! their own kinds of line, each address an IP.
#![no_main]
use libfuzzer_sys::fuzz_target;

use hull_engine::cni::files;

fuzz_target!(|data: &[u8]| {
    let Ok(result) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(hosts) = files::hosts("box", &[&result]) {
        for line in hosts.lines() {
            let (ip, name) = line.split_once('\t').expect("address TAB names");
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{line:?}");
            assert!(!name.contains('\t') || name.starts_with("localhost"), "{line:?}");
        }
    }
    if let Ok(resolv) = files::resolv_conf(&result["dns"]) {
        for line in resolv.lines() {
            let (key, rest) = line.split_once(' ').expect("key and value");
            assert!(matches!(key, "nameserver" | "search" | "options"), "{line:?}");
            assert!(!rest.chars().any(char::is_control), "{line:?}");
        }
    }
});
