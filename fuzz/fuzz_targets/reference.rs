//! Image references: a parsed reference's canonical form parses to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = hull_provision::reference::parse_registry(s) {
        let canon = r.canonical();
        let again = hull_provision::reference::parse_registry(&canon).expect("a canonical reference parses");
        assert_eq!(again.canonical(), canon);
    }
    let _ = hull_provision::reference::parse(s);
});
