//! What each fuzz target checks, one function per target, for any bytes.
//! The cargo-fuzz targets (fuzz_targets/) call them under libFuzzer; the
//! workspace's engine/tests/fuzz_corpus.rs replays the committed corpus and
//! regressions through them, and mutations of it, on stable Rust in CI.
//! Each panics where the code under test breaks a rule.

/// CDI spec files: any bytes, as YAML, give edits or an error naming the
/// file, for each device the file names.
pub fn cdi_spec(data: &[u8]) {
    let Ok(doc) = serde_yaml::from_slice::<serde_json::Value>(data) else {
        return;
    };
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
}

/// CNI results: /etc/hosts and resolv.conf made from any result hold only
/// their own kinds of line, each address an IP.
pub fn cni_result(data: &[u8]) {
    use hull_engine::cni::files;
    let Ok(result) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(hosts) = files::hosts("box", &[&result]) {
        for line in hosts.lines() {
            let (ip, name) = line.split_once('\t').expect("address TAB names");
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{line:?}");
            assert!(!name.contains('\t') || name.starts_with("localhost"), "{line:?}");
        }
    }
    if let Ok(resolv) = files::resolv_conf(&result["dns"]) {
        for line in resolv.lines() {
            let (key, rest) = line.split_once(' ').expect("key and value");
            assert!(matches!(key, "nameserver" | "search" | "options"), "{line:?}");
            assert!(!rest.chars().any(char::is_control), "{line:?}");
        }
    }
}

/// config.json: parsing and validation return an error, never panic, for
/// any bytes; a config that passes parses again the same from its own JSON.
pub fn config(data: &[u8]) {
    if let Ok(spec) = hull::spec::parse_config(data, "config.json") {
        let again = serde_json::to_vec(&spec).expect("a parsed config serializes");
        hull::spec::parse_config(&again, "config.json").expect("a valid config stays valid");
    }
}

/// `docker save` archives: any bytes as the archive give an image or an
/// error.
pub fn docker_archive(data: &[u8]) {
    use hull_provision::source::Source;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, data).unwrap();
    if let Ok(a) = hull_provision::docker_archive::DockerArchive::open(&path, None) {
        if let Ok(img) = a.image() {
            let _ = img.layers();
        }
    }
}

/// Manifests and indexes as a registry or a layout hands them: the bytes
/// are the blob of the digest asked for (an index points nowhere else: any
/// other digest is missing), its config is the one below.
pub fn manifest(data: &[u8]) {
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
}

/// Image references: a parsed reference's canonical form parses to itself.
pub fn reference(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = hull_provision::reference::parse_registry(s) {
        let canon = r.canonical();
        let again = hull_provision::reference::parse_registry(&canon).expect("a canonical reference parses");
        assert_eq!(again.canonical(), canon);
    }
    let _ = hull_provision::reference::parse(s);
}

/// state.json as hull reads it: any bytes give a state or an error, and a
/// state read survives its own round trip.
pub fn state(data: &[u8]) {
    if let Ok(st) = serde_json::from_slice::<hull::state::State>(data) {
        let again = serde_json::to_vec(&st).expect("a state serializes");
        serde_json::from_slice::<hull::state::State>(&again).expect("a state reads back");
    }
}

/// The layer applier: whatever the tar holds (../, absolute names, links
/// out, whiteouts, devices), nothing lands outside the directory it is
/// applied to.
pub fn tar_layer(data: &[u8]) {
    use hull_provision::layer::{apply, Compression};
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("rootfs");
    std::fs::create_dir(&dest).unwrap();
    let _ = apply(data, Compression::sniff(data), &dest);
    let names: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("rootfs")],
        "the layer wrote beside its rootfs"
    );
}
