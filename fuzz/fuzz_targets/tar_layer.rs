//! The layer applier: whatever the tar holds (../, absolute names, links
//! out, whiteouts, devices), nothing lands outside the directory it is
//! applied to.
#![no_main]
use libfuzzer_sys::fuzz_target;

use hull_provision::layer::{apply, Compression};

fuzz_target!(|data: &[u8]| {
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("rootfs");
    std::fs::create_dir(&dest).unwrap();
    let _ = apply(data, Compression::sniff(data), &dest);
    let names: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("rootfs")], "the layer wrote beside its rootfs");
});
