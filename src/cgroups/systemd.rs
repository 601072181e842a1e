//! The systemd cgroup driver (`--systemd-cgroup`), as runc's: the config's
//! cgroupsPath `slice:prefix:name` names a transient scope `prefix-name.scope`
//! in that slice, which systemd starts over D-Bus (cgroups-rs's
//! SystemdManager) with the container's init as its process. The limits go
//! to systemd as unit properties, so a daemon-reload keeps them, and are
//! written to the scope's cgroup directories by the cgroupfs code as well,
//! for what systemd has no property for. Delete stops the unit.

use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use cgroups_rs::{CgroupPid, Manager, SystemdManager};
use oci_spec::runtime::LinuxResources;

static ENABLED: OnceLock<bool> = OnceLock::new();

/// Turns the driver on for this command (from `--systemd-cgroup`).
pub fn enable() {
    let _ = ENABLED.set(true);
}

pub fn enabled() -> bool {
    ENABLED.get().copied().unwrap_or(false)
}

/// The unit for a container without a cgroupsPath, as runc's `:runc:<id>`.
pub fn default_spec(id: &str) -> String {
    format!(":hull:{id}")
}

/// The cgroup directory (below each hierarchy's root) systemd gives the
/// unit that `spec` (`slice:prefix:name`) names.
pub fn fs_path(spec: &str) -> Result<String> {
    let field = || format!("linux.cgroupsPath: {spec:?}");
    let parts: Vec<&str> = spec.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        bail!("{}: --systemd-cgroup needs slice:prefix:name", field());
    };
    if name.is_empty() || name.contains('/') {
        bail!("{}: the unit name {name:?} is empty or holds a /", field());
    }
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let base =
        cgroups_rs::systemd::utils::expand_slice(slice).map_err(|e| anyhow!("{}: slice {slice:?}: {e}", field()))?;
    let unit = match (prefix, name.ends_with(".slice")) {
        (_, true) => name.to_string(),
        ("", false) => format!("{name}.scope"),
        (p, false) => format!("{p}-{name}.scope"),
    };
    Ok(if base.is_empty() {
        unit
    } else {
        format!("{base}/{unit}")
    })
}

fn manager(spec: &str) -> Result<SystemdManager<'static>> {
    SystemdManager::new(spec).map_err(|e| anyhow!("systemd unit for {spec:?}: {e}"))
}

/// Starts the transient unit with `pid` in it.
pub fn start(spec: &str, pid: i32) -> Result<()> {
    manager(spec)?
        .add_proc(CgroupPid::from(pid as u64))
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("start the systemd unit for {spec:?} (is systemd reachable on the system bus?)"))
}

/// The limits as the unit's properties.
pub fn set(spec: &str, r: &LinuxResources) -> Result<()> {
    manager(spec)?
        .set(r)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("set the systemd unit's properties for {spec:?}"))
}

/// Stops the unit (systemd removes its cgroups); one already gone is fine.
pub fn stop(spec: &str) -> Result<()> {
    manager(spec)?
        .destroy()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("stop the systemd unit for {spec:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_runcs_directories() {
        assert_eq!(fs_path("system.slice:hull:ct1").unwrap(), "system.slice/hull-ct1.scope");
        assert_eq!(fs_path(":hull:ct1").unwrap(), "system.slice/hull-ct1.scope");
        assert_eq!(
            fs_path("kubepods-besteffort.slice:cri-containerd:abc").unwrap(),
            "kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope"
        );
        assert_eq!(fs_path("user.slice::x").unwrap(), "user.slice/x.scope");
        assert!(fs_path("/a/b").unwrap_err().to_string().contains("slice:prefix:name"));
        assert!(fs_path("notaslice:p:n").unwrap_err().to_string().contains("slice"));
    }
}
