//! `docker save` archives: any bytes as the archive give an image or an
//! error.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::docker_archive(data));
