//! AppArmor profiles and SELinux labels, applied as runc applies them where
//! the host has the LSM enabled: the process's profile or label goes into the
//! kernel's "on next exec" attribute just before the final execve, and the
//! mount label rides on the data of the filesystems the runtime mounts.
//! Where the LSM is not enabled a config that asks for a profile or a
//! process label is refused, naming the field: silently running unconfined
//! would be worse. A mount label alone confines nothing and is left off
//! there with a warning, as crun does.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lsm {
    AppArmor,
    SeLinux,
}

const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

pub fn enabled(lsm: Lsm) -> bool {
    match lsm {
        Lsm::AppArmor => {
            std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.trim() == "Y")
        }
        Lsm::SeLinux => {
            nix::sys::statfs::statfs("/sys/fs/selinux").is_ok_and(|s| s.filesystem_type().0 == SELINUX_MAGIC)
        }
    }
}

/// Refuses what this host cannot apply.
pub fn check(process: Option<&Process>, mount_label: Option<&str>) -> Result<()> {
    let asked = |v: Option<&String>| v.filter(|s| !s.is_empty()).cloned();
    if let Some(p) = asked(process.and_then(|p| p.apparmor_profile().as_ref())) {
        if !enabled(Lsm::AppArmor) {
            bail!("process.apparmorProfile: {p:?}: AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not Y)");
        }
    }
    if let Some(l) = asked(process.and_then(|p| p.selinux_label().as_ref())) {
        if !enabled(Lsm::SeLinux) {
            bail!("process.selinuxLabel: {l:?}: SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)");
        }
    }
    if let Some(l) = mount_label.filter(|l| !l.is_empty()) {
        if !enabled(Lsm::SeLinux) {
            tracing::warn!("linux.mountLabel: {l:?}: SELinux is not enabled on this host: the mounts stay unlabelled");
        }
    }
    Ok(())
}

/// The mount label to put on mounts: none where SELinux is off, since a
/// label confines nothing by itself (the process label, which does, is
/// refused there) and the kernel would refuse the `context=` option.
pub fn effective_mount_label(label: Option<&str>) -> Option<&str> {
    label.filter(|l| !l.is_empty() && enabled(Lsm::SeLinux))
}

/// Where under /proc/thread-self the value goes, and what is written: the
/// AppArmor "exec PROFILE" command (in its own attr directory on kernels that
/// stack LSMs), or the bare SELinux label.
pub fn exec_attr(lsm: Lsm, value: &str, apparmor_dir: bool) -> (&'static str, String) {
    match lsm {
        Lsm::AppArmor if apparmor_dir => ("attr/apparmor/exec", format!("exec {value}")),
        Lsm::AppArmor => ("attr/exec", format!("exec {value}")),
        Lsm::SeLinux => ("attr/exec", value.to_string()),
    }
}

/// Whether the process asks for a profile or a label.
pub fn asked(process: &Process) -> bool {
    [process.apparmor_profile(), process.selinux_label()]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()))
}

/// Sets the profile and label the process execs into, through `proc` (the
/// host's procfs, opened before the container's could be tampered with).
pub fn apply(proc: &OwnedFd, process: &Process) -> Result<()> {
    for (lsm, value) in [
        (Lsm::AppArmor, process.apparmor_profile()),
        (Lsm::SeLinux, process.selinux_label()),
    ] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let apparmor_dir = crate::rootfs::inroot::openat2(
            proc.as_raw_fd(),
            Path::new("thread-self/attr/apparmor"),
            libc::O_PATH | libc::O_DIRECTORY,
            crate::rootfs::inroot::Follow::NoSymlinks,
        )
        .is_ok();
        let (file, text) = exec_attr(lsm, value, apparmor_dir);
        write_attr(proc, file, &text).with_context(|| match lsm {
            Lsm::AppArmor => format!("process.apparmorProfile: {value:?}"),
            Lsm::SeLinux => format!("process.selinuxLabel: {value:?}"),
        })?;
    }
    Ok(())
}

fn write_attr(proc: &OwnedFd, file: &str, text: &str) -> Result<()> {
    let rel = Path::new("thread-self").join(file);
    let fd = crate::rootfs::inroot::openat2(
        proc.as_raw_fd(),
        &rel,
        libc::O_WRONLY | libc::O_CLOEXEC,
        crate::rootfs::inroot::Follow::NoSymlinks,
    )
    .with_context(|| format!("open /proc/{}", rel.display()))?;
    std::fs::File::from(fd)
        .write_all(text.as_bytes())
        .with_context(|| format!("write /proc/{}", rel.display()))
}

/// Mount data with the SELinux context option, as runc formats it.
pub fn with_mount_label(data: Option<String>, label: Option<&str>) -> Option<String> {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return data;
    };
    let context = format!("context=\"{label}\"");
    Some(match data {
        Some(d) if !d.is_empty() => format!("{d},{context}"),
        _ => context,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_each_lsm_is_given() {
        assert_eq!(
            exec_attr(Lsm::AppArmor, "docker-default", true),
            ("attr/apparmor/exec", "exec docker-default".to_string())
        );
        assert_eq!(
            exec_attr(Lsm::AppArmor, "docker-default", false),
            ("attr/exec", "exec docker-default".to_string())
        );
        assert_eq!(
            exec_attr(Lsm::SeLinux, "system_u:system_r:container_t:s0:c1,c2", false),
            ("attr/exec", "system_u:system_r:container_t:s0:c1,c2".to_string())
        );
    }

    #[test]
    fn mount_label_joins_the_data() {
        let l = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            with_mount_label(Some("size=65536k,mode=755".into()), l).unwrap(),
            "size=65536k,mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            with_mount_label(None, l).unwrap(),
            "context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(with_mount_label(Some("mode=755".into()), None).unwrap(), "mode=755");
    }

    #[test]
    fn a_host_without_the_lsm_refuses_by_field() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0}, "apparmorProfile": "x"
        }))
        .unwrap();
        if !enabled(Lsm::AppArmor) {
            let e = check(Some(&p), None).unwrap_err().to_string();
            assert!(
                e.contains("process.apparmorProfile") && e.contains("not enabled"),
                "{e}"
            );
        }
        if !enabled(Lsm::SeLinux) {
            assert!(check(None, Some("l")).is_ok(), "a mount label alone is left off");
            assert_eq!(effective_mount_label(Some("l")), None);
        }
    }
}
