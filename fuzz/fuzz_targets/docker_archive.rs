//! `docker save` archives: any bytes as the archive give an image or an
//! error.
#![no_main]
use hull_provision::source::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, data).unwrap();
    if let Ok(a) = hull_provision::docker_archive::DockerArchive::open(&path, None) {
        if let Ok(img) = a.image() {
            let _ = img.layers();
        }
    }
});
