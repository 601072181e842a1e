//! The layer applier: whatever the tar holds (../, absolute names, links
//! out, whiteouts, devices), nothing lands outside the directory it is
//! applied to.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::tar_layer(data));
