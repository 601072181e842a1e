//! CDI spec files: any bytes, as YAML, give edits or an error naming the
//! file, for each device the file names.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::cdi_spec(data));
