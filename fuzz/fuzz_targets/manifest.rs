//! Manifests and indexes as a registry or a layout hands them: the bytes
//! are the blob of the digest asked for (an index points nowhere else: any
//! other digest is missing), its config is the one below.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::manifest(data));
