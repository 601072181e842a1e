//! Manifests and indexes as a registry or a layout hands them: the bytes
//! are the blob of the digest asked for (an index points nowhere else: any
//! other digest is missing), its config is the one below.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = hull_provision::source::digest_of(data);
    let mut raw = |d: &str| -> anyhow::Result<Vec<u8>> {
        if d == first {
            Ok(data.to_vec())
        } else {
            anyhow::bail!("no blob {d}")
        }
    };
    let mut json = |_: &str| -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::json!({"rootfs": {"type": "layers", "diff_ids": [
            "sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}))
    };
    if let Ok(img) = hull_provision::platform::resolve(&first, &mut raw, &mut json) {
        for l in img.layers().unwrap_or_default() {
            let _ = hull_provision::source::digest_hex(&l.digest);
        }
    }
});
