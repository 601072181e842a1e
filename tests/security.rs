//! Regression tests for known runtime escapes: each one tries the attack.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::json;

fn sha256_of(path: &str) -> String {
    let o = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// CVE-2019-5736: while the init is still the hull binary (created, waiting on
/// the exec fifo), a process in the container must not reach it through
/// /proc/1/exe, to read it or to reopen it for writing.
#[test]
fn the_hull_binary_is_out_of_reach_through_proc_exe() {
    let before = sha256_of(common::HULL);
    let b = Bundle::new(&["true"]);
    assert!(b.create("cve5736", &[]).status.success());
    let o = b.out(&[
        "exec",
        "cve5736",
        "sh",
        "-c",
        "cat /proc/1/exe > /dev/null 2>&1 && echo read-ok || echo read-denied; \
         (echo x >> /proc/1/exe) 2>/dev/null && echo write-ok || echo write-denied; \
         readlink /proc/1/exe >/dev/null 2>&1 && echo link-ok || echo link-denied",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("read-denied") && out.contains("write-denied") && out.contains("link-denied"),
        "{out}"
    );
    assert_eq!(sha256_of(common::HULL), before, "the hull binary changed");
}

/// CVE-2022-29162: no inheritable capabilities unless the config asks.
#[test]
fn no_inheritable_capabilities_by_default() {
    let b = Bundle::new(&["grep", "CapInh", "/proc/self/status"]);
    assert_eq!(b.run_ok("inh"), "CapInh:\t0000000000000000\n");
}

/// CVE-2023-27561 / CVE-2019-16884: a symlink at /proc or /sys in the image
/// must not redirect the proc or sysfs mount.
#[test]
fn symlinked_proc_and_sys_are_refused() {
    for dir in ["proc", "sys"] {
        let b = Bundle::new(&["true"]);
        let target = b.tmp.path().join("elsewhere");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::remove_dir(b.rootfs().join(dir)).unwrap();
        std::os::unix::fs::symlink(&target, b.rootfs().join(dir)).unwrap();
        let o = b.create("symproc", &[]);
        assert!(!o.status.success(), "symlinked /{dir} accepted");
        assert!(
            std::fs::read_dir(&target).unwrap().next().is_none(),
            "something was made through the /{dir} link"
        );
        assert!(b.leftovers().is_empty());
    }
}

/// CVE-2025-31133: a /dev/null that is not the 1:3 device (here a plain file)
/// must not be bound over masked paths.
#[test]
fn a_fake_dev_null_is_not_used_for_masking() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        // /dev from the image (a bind of its own dir), with a regular file at dev/null.
        c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"},
                             {"destination": "/dev", "type": "bind", "source": b.rootfs().join("dev"), "options": ["rbind"]}]);
        c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/cmdline"]);
    });
    std::fs::write(b.rootfs().join("dev/null"), "not a device").unwrap();
    let o = b.create("fakenull", &[]);
    assert!(!o.status.success(), "masking through a fake /dev/null");
    assert!(stderr(&o).contains("/dev/null"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}
