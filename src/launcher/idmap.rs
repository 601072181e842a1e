//! Writing a new user namespace's uid_map and gid_map, from the parent (which
//! holds the rights in the namespace's parent). root writes them directly.
//! An unprivileged caller may write only a map of its own uid (and, after
//! setgroups is denied, its own gid); anything more goes through the
//! setuid helpers newuidmap/newgidmap, which check /etc/subuid and
//! /etc/subgid, as runc does.

use std::process::Command;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

/// Only the caller's own id, once: what the kernel lets anyone map.
fn only_own(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

fn helper(tool: &str, pid: i32, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id(), m.host_id(), m.size()].map(|x| x.to_string()));
    }
    let out = cmd
        .output()
        .with_context(|| format!("{field}: mapping more than your own id needs {tool} (Debian package uidmap)"))?;
    if !out.status.success() {
        bail!(
            "{field}: {tool} refused {:?}: {} (check /etc/subuid and /etc/subgid)",
            crate::spec::id_map_lines(maps),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Writes `maps` as /proc/`pid`/`kind`_map (kind: uid or gid): directly, or
/// through new{kind}map when an unprivileged caller (`own`) maps more than
/// its own id.
pub(crate) fn write_one(pid: i32, maps: &[LinuxIdMapping], own: Option<u32>, kind: &str, field: &str) -> Result<()> {
    let path = format!("/proc/{pid}/{kind}_map");
    match own {
        Some(own) if !only_own(maps, own) => helper(&format!("new{kind}map"), pid, maps, field),
        _ => std::fs::write(&path, crate::spec::id_map_lines(maps))
            .with_context(|| format!("{field}: write {:?}", crate::spec::id_map_lines(maps))),
    }
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    let privileged = nix::unistd::geteuid().is_root();
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    let own = |v| (!privileged).then_some(v);
    write_one(pid, &uids, own(uid), "uid", "linux.uidMappings")?;
    if !privileged && only_own(&gids, gid) {
        // The kernel's rule for an unprivileged gid_map: setgroups(2) goes first.
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny").context("deny setgroups before the gid map")?;
    }
    write_one(pid, &gids, own(gid), "gid", "linux.gidMappings")
}
