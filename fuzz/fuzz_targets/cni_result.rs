//! CNI results: /etc/hosts and resolv.conf made from any result hold only
//! their own kinds of line, each address an IP.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::cni_result(data));
