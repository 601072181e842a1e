//! Images to bundles: an OCI layout (built by hack/images.sh) becomes a
//! bundle with the copy backend, and the bundle runs.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{stderr, stdout, HULL};

/// Unmounts and removes the bundles a test made, also when it fails.
struct Bundles(Vec<std::path::PathBuf>);

impl Drop for Bundles {
    fn drop(&mut self) {
        for b in &self.0 {
            let _ = Command::new(HULL).args(["bundle", "rm"]).arg(b).output();
        }
    }
}

#[test]
fn an_oci_layout_becomes_a_bundle_that_runs() {
    let t = tempfile::tempdir().unwrap();
    let _cleanup = Bundles(
        ["bundle", "ov1", "ov2", "bad", "au"]
            .iter()
            .map(|n| t.path().join(n))
            .collect(),
    );
    let images = t.path().join("images");
    let o = Command::new("./hack/images.sh").arg(&images).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let layout = t.path().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    let o = Command::new("tar")
        .arg("-C")
        .arg(&layout)
        .arg("-xf")
        .arg(images.join("multilayer-oci.tar"))
        .output()
        .unwrap();
    assert!(o.status.success());

    let bundle = t.path().join("bundle");
    let image = format!("oci:{}:multilayer", layout.display());
    let o = Command::new(HULL)
        .args(["bundle", "create", "--backend", "overlay", "--image", &image, "--store"])
        .arg(t.path().join("store"))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // What the container will write (the overlay's upper directory) is out
    // of host users' reach, even with the test's own directory open.
    std::fs::set_permissions(t.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = Command::new("/bin/ls")
        .arg(bundle.join("upper"))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!o.status.success(), "a host user reaches the bundle's upper directory");
    // A link where the bundle goes is refused, not followed.
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, t.path().join("link")).unwrap();
    let o = Command::new(HULL)
        .args(["bundle", "create", "--no-image"])
        .arg(t.path().join("link"))
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && stderr(&o).contains("a link is not followed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_file(t.path().join("link")).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["cwd"], "/data");
    assert_eq!(config["annotations"]["org.opencontainers.image.architecture"], "amd64");

    let root = t.path().join("state");
    let o = Command::new(HULL)
        .arg("--root")
        .arg(&root)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg("from-image")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.lines().any(|l| l == "new.txt"), "opaque dir: {out}");
    assert!(
        !out.contains("deleted.txt") && !out.contains("old.txt"),
        "whiteouts: {out}"
    );
    assert!(
        out.contains("layer2: modified") && out.lines().any(|l| l == "/data"),
        "{out}"
    );

    // A corrupted blob is refused, and nothing is left in the target.
    let blobs = layout.join("blobs/sha256");
    let mut layers: Vec<_> = std::fs::read_dir(&blobs).unwrap().map(|e| e.unwrap().path()).collect();
    layers.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    let mut data = std::fs::read(&layers[0]).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::write(&layers[0], data).unwrap();
    let bad = t.path().join("bad");
    let o = Command::new(HULL)
        .args(["bundle", "create", "--backend", "copy", "--image", &image, "--store"])
        .arg(t.path().join("store"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!o.status.success());
    // gzip's own CRC or the digest check, whichever reads it first.
    let e = stderr(&o);
    assert!(e.contains("hashes to") || e.contains("checksum"), "{e}");
    assert!(!bad.join("rootfs").exists() && !bad.join("config.json").exists());
}
