//! config.json: parsing and validation return an error, never panic, for
//! any bytes; a config that passes parses again the same from its own JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::config(data));
