//! state.json as hull reads it: any bytes give a state or an error, and a
//! state read survives its own round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(st) = serde_json::from_slice::<hull::state::State>(data) {
        let again = serde_json::to_vec(&st).expect("a state serializes");
        serde_json::from_slice::<hull::state::State>(&again).expect("a state reads back");
    }
});
