//! state.json as hull reads it: any bytes give a state or an error, and a
//! state read survives its own round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::state(data));
