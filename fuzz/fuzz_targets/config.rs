//! config.json: parsing and validation return an error, never panic, for
//! any bytes; a config that passes parses again the same from its own JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = hull::spec::parse_config(data, "config.json") {
        let again = serde_json::to_vec(&spec).expect("a parsed config serializes");
        hull::spec::parse_config(&again, "config.json").expect("a valid config stays valid");
    }
});
