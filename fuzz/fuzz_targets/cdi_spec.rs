//! CDI spec files: any bytes, as YAML, give edits or an error naming the
//! file, for each device the file names.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_yaml::from_slice::<serde_json::Value>(data) else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), data).unwrap();
    let kind = doc["kind"].as_str().unwrap_or("vendor.com/class");
    let names: Vec<String> = doc["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str().map(|n| format!("{kind}={n}")))
        .collect();
    let mut spec = serde_json::json!({"ociVersion": "1.0.2", "process": {"args": ["true"]}});
    if let Err(e) = hull_engine::cdi::apply(&names, &[dir.path().to_path_buf()], &mut spec) {
        let _ = format!("{e:#}");
    }
});
