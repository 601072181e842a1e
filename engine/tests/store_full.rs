//! A store whose disk fills up mid-unpack (a 1.5 MB tmpfs: the busybox
//! layer's blob fits, its unpacked files do not): the pull fails and says
//! why, no image is listed, nothing half-written is kept (every blob hashes
//! to its name, tmp/ is empty, no layer directory without its rootfs), and
//! once the disk has room the same pull completes and verifies.

mod common;

use std::path::Path;
use std::process::Command;

use common::{hull_bin, image, stderr};

struct Tmpfs<'a>(&'a Path);

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn hull(args: &[&str]) -> std::process::Output {
    Command::new(hull_bin()).args(args).output().unwrap()
}

fn sha256_hex(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Nothing half-written: blobs match their names, tmp/ is empty, and every
/// layer directory is a whole one.
fn consistent(store: &Path) {
    for e in std::fs::read_dir(store.join("blobs/sha256"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        assert_eq!(sha256_hex(&e.path()), name, "a blob that is not what its name says");
    }
    let tmp: Vec<_> = std::fs::read_dir(store.join("tmp"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(tmp.is_empty(), "left in tmp/: {tmp:?}");
    for e in std::fs::read_dir(store.join("layers")).into_iter().flatten().flatten() {
        assert!(
            e.path().join("rootfs").is_dir(),
            "a layer directory without its rootfs: {:?}",
            e.path()
        );
    }
}

#[test]
fn a_full_disk_mid_unpack_fails_the_pull_and_the_next_one_completes() {
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("store");
    std::fs::create_dir(&store).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &store,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1500k"),
    )
    .unwrap();
    let _umount = Tmpfs(&store);
    let s = store.to_str().unwrap();
    let img = image();

    let o = hull(&["image", "pull", "-q", "--store", s, &img]);
    assert!(!o.status.success(), "the pull fit in 1.5 MB");
    assert!(stderr(&o).contains("No space left on device"), "{}", stderr(&o));
    let ls = hull(&["image", "ls", "-q", "--store", s]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    assert!(
        ls.stdout.is_empty(),
        "a failed pull is listed: {}",
        String::from_utf8_lossy(&ls.stdout)
    );
    consistent(&store);

    nix::mount::mount(
        None::<&str>,
        &store,
        None::<&str>,
        nix::mount::MsFlags::MS_REMOUNT,
        Some("size=64m"),
    )
    .unwrap();
    let o = hull(&["image", "pull", "-q", "--store", s, &img]);
    assert!(o.status.success(), "the pull once there is room: {}", stderr(&o));
    let ls = hull(&["image", "ls", "-q", "--store", s]);
    assert_eq!(String::from_utf8_lossy(&ls.stdout).lines().count(), 1);
    consistent(&store);
}
