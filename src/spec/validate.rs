//! Checks on a parsed config that serde cannot make: each error names the
//! field by its JSON path and quotes the value.

use std::collections::HashSet;

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};

use super::{has_namespace, namespaces};

pub fn validate(spec: &Spec) -> Result<()> {
    version(spec)?;
    process(spec)?;
    let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().as_deref());
    crate::process::lsm::check(spec.process().as_ref(), mount_label)?;
    mounts(spec)?;
    namespaces_unique(spec)?;
    id_mappings(spec)?;
    ids(spec)?;
    without_mount_ns(spec)?;
    uts(spec)?;
    time_offsets(spec)?;
    paths(spec)?;
    devices(spec)?;
    sysctls(spec)?;
    hooks(spec)?;
    process_linux(spec)?;
    crate::launcher::netdevices::validate(spec)?;
    unsupported(spec)?;
    resources(spec)?;
    Ok(())
}

fn version(spec: &Spec) -> Result<()> {
    let v = spec.version();
    if !v.starts_with("1.") {
        bail!("ociVersion: {v:?} is not a 1.x runtime-spec version");
    }
    Ok(())
}

fn process(spec: &Spec) -> Result<()> {
    spec.process().as_ref().map_or(Ok(()), check_process)
}

/// A process as config.json's or `exec`'s: the fields named as config.json
/// names them.
pub fn check_process(p: &oci_spec::runtime::Process) -> Result<()> {
    match p.args() {
        Some(a) if !a.is_empty() => {}
        _ => bail!("process.args: must name a program, got none"),
    }
    if !p.cwd().is_absolute() {
        bail!(
            "process.cwd: {:?} is not an absolute path",
            p.cwd().display().to_string()
        );
    }
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if !seen.insert(r.typ().to_string()) {
            bail!("process.rlimits[{i}].type: duplicate rlimit {:?}", r.typ().to_string());
        }
        if r.soft() > r.hard() {
            bail!(
                "process.rlimits[{i}]: soft limit {} is above hard limit {}",
                r.soft(),
                r.hard()
            );
        }
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            bail!("process.env[{i}]: {e:?} is not NAME=VALUE");
        }
    }
    let groups = p.user().additional_gids().as_ref().map_or(0, |g| g.len());
    if groups > NGROUPS_MAX {
        bail!("process.user.additionalGids: {groups} groups, more than the kernel's {NGROUPS_MAX}");
    }
    crate::process::affinity::ExecAffinity::of(p)?;
    crate::process::sched::validate(p)
}

/// include/uapi/linux/limits.h
const NGROUPS_MAX: usize = 65536;

/// Every hook's path is absolute, its timeout positive and its env NAME=VALUE.
fn hooks(spec: &Spec) -> Result<()> {
    for phase in crate::hooks::Phase::ALL {
        for (i, h) in crate::hooks::list(spec, phase).iter().enumerate() {
            let at = format!("hooks.{}[{i}]", phase.name());
            if !h.path().is_absolute() {
                bail!(
                    "{at}.path: {:?} is not an absolute path",
                    h.path().display().to_string()
                );
            }
            if let Some(t) = h.timeout().filter(|t| *t <= 0) {
                bail!("{at}.timeout: {t}: must be a positive number of seconds");
            }
            if let Some((j, e)) = h.env().iter().flatten().enumerate().find(|(_, e)| !e.contains('=')) {
                bail!("{at}.env[{j}]: {e:?} is not NAME=VALUE");
            }
        }
    }
    Ok(())
}

fn mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination().display().to_string();
        if dest.is_empty() {
            bail!("mounts[{i}].destination: empty");
        }
        if !m.destination().is_absolute() {
            tracing::warn!("mounts[{i}].destination: {dest:?} is not absolute; taken relative to /");
        }
        let opts = m.options().as_deref().unwrap_or(&[]);
        let is_bind = m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
        if is_bind && m.source().is_none() {
            bail!("mounts[{i}].source: a bind mount of {dest:?} needs a source");
        }
        if let Err(e) = crate::rootfs::options::check(m.typ().as_deref().unwrap_or("none"), opts) {
            bail!("mounts[{i}].options: {e}");
        }
    }
    Ok(())
}

fn namespaces_unique(spec: &Spec) -> Result<()> {
    let mut seen = HashSet::new();
    for (i, ns) in namespaces(spec).iter().enumerate() {
        if !seen.insert(ns.typ() as u32) {
            bail!(
                "linux.namespaces[{i}].type: duplicate namespace {:?}",
                ns_name(ns.typ())
            );
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                bail!(
                    "linux.namespaces[{i}].path: {:?} is not an absolute path",
                    p.display().to_string()
                );
            }
        }
    }
    Ok(())
}

pub fn ns_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

fn id_mappings(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    let new_user = namespaces(spec)
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    if new_user && !has_maps {
        bail!("linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    }
    if has_maps && !new_user {
        bail!("linux.uidMappings: id mappings need a new user namespace in linux.namespaces");
    }
    for (field, maps) in [
        ("uidMappings", linux.uid_mappings()),
        ("gidMappings", linux.gid_mappings()),
    ] {
        if new_user && maps.as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.{field}: missing, but a new user namespace needs it");
        }
        for (i, m) in maps.iter().flatten().enumerate() {
            if m.size() == 0 {
                bail!("linux.{field}[{i}].size: 0 maps nothing");
            }
        }
    }
    Ok(())
}

/// (uid_t)-1 is "no change" to setresuid, chown and the id maps: a uid or gid
/// of 4294967295 would leave the process as root or the file as it was.
const NO_ID: u32 = u32::MAX;

fn check_id(field: &str, id: Option<u32>) -> Result<()> {
    if id == Some(NO_ID) {
        bail!("{field}: {NO_ID} is (uid_t)-1, which the kernel takes as \"no change\": not an id");
    }
    Ok(())
}

/// Each range within 0..4294967295 (the kernel refuses one that reaches -1).
fn check_ranges(field: &str, maps: &[oci_spec::runtime::LinuxIdMapping]) -> Result<()> {
    for (i, m) in maps.iter().enumerate() {
        for (name, first) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if u64::from(first) + u64::from(m.size()) > u64::from(NO_ID) {
                bail!(
                    "{field}[{i}]: {name} {first} + size {} reaches past 4294967294, the highest id",
                    m.size()
                );
            }
        }
    }
    Ok(())
}

/// Every id the config carries is a real id, and the process's ids are
/// mapped in a new user namespace.
fn ids(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        let u = p.user();
        check_id("process.user.uid", Some(u.uid()))?;
        check_id("process.user.gid", Some(u.gid()))?;
        for (i, g) in u.additional_gids().iter().flatten().enumerate() {
            check_id(&format!("process.user.additionalGids[{i}]"), Some(*g))?;
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        check_ranges(
            &format!("mounts[{i}].uidMappings"),
            m.uid_mappings().as_deref().unwrap_or(&[]),
        )?;
        check_ranges(
            &format!("mounts[{i}].gidMappings"),
            m.gid_mappings().as_deref().unwrap_or(&[]),
        )?;
    }
    let Some(linux) = spec.linux() else { return Ok(()) };
    let uid_maps = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gid_maps = linux.gid_mappings().as_deref().unwrap_or(&[]);
    check_ranges("linux.uidMappings", uid_maps)?;
    check_ranges("linux.gidMappings", gid_maps)?;
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        check_id(&format!("linux.devices[{i}].uid"), d.uid())?;
        check_id(&format!("linux.devices[{i}].gid"), d.gid())?;
    }
    if let (Some(p), false) = (spec.process(), uid_maps.is_empty()) {
        let mapped = |maps: &[oci_spec::runtime::LinuxIdMapping], id: u32| {
            maps.iter()
                .any(|m| id >= m.container_id() && u64::from(id) < u64::from(m.container_id()) + u64::from(m.size()))
        };
        let u = p.user();
        if !mapped(uid_maps, u.uid()) {
            bail!("process.user.uid: {} is not mapped by linux.uidMappings", u.uid());
        }
        let gids = std::iter::once(("process.user.gid".to_string(), u.gid())).chain(
            u.additional_gids()
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, g)| (format!("process.user.additionalGids[{i}]"), *g)),
        );
        for (field, g) in gids {
            if !mapped(gid_maps, g) {
                bail!("{field}: {g} is not mapped by linux.gidMappings");
            }
        }
    }
    Ok(())
}

/// What only a mount namespace of the container's own can do without
/// changing the host's mounts.
fn without_mount_ns(spec: &Spec) -> Result<()> {
    if has_namespace(spec, LinuxNamespaceType::Mount) {
        return Ok(());
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        bail!("root.readonly: needs a mount namespace in linux.namespaces (it would remount the host's filesystem)");
    }
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.rootfs_propagation().as_ref()) {
        if !p.is_empty() {
            bail!("linux.rootfsPropagation: {p:?} needs a mount namespace in linux.namespaces (it would change the host's mounts)");
        }
    }
    Ok(())
}

fn uts(spec: &Spec) -> Result<()> {
    let uts = has_namespace(spec, LinuxNamespaceType::Uts);
    if let Some(h) = spec.hostname() {
        if !h.is_empty() && !uts {
            bail!("hostname: {h:?} needs a uts namespace in linux.namespaces");
        }
    }
    if let Some(d) = spec.domainname() {
        if !d.is_empty() && !uts {
            bail!("domainname: {d:?} needs a uts namespace in linux.namespaces");
        }
    }
    Ok(())
}

/// Offsets are for a time namespace create makes: runc refuses them
/// otherwise, and ignoring them would hand the container the host's clocks.
fn time_offsets(spec: &Spec) -> Result<()> {
    let Some(offs) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else {
        return Ok(());
    };
    if offs.is_empty() {
        return Ok(());
    }
    match namespaces(spec)
        .iter()
        .enumerate()
        .find(|(_, n)| n.typ() == LinuxNamespaceType::Time)
    {
        None => bail!("linux.timeOffsets: needs a time namespace in linux.namespaces"),
        Some((i, n)) if n.path().is_some() => {
            bail!(
                "linux.timeOffsets: linux.namespaces[{i}] joins a time namespace by path, whose clocks are set already"
            )
        }
        Some(_) => Ok(()),
    }
}

fn paths(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    for (field, list) in [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                bail!("linux.{field}[{i}]: {p:?} is not an absolute path");
            }
        }
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !p.is_empty() && crate::rootfs::propagation_flag(p).is_none() {
            bail!("linux.rootfsPropagation: {p:?} is not one of shared, slave, private, unbindable (with optional r prefix)");
        }
    }
    Ok(())
}

fn devices(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let path = d.path().display().to_string();
        if !d.path().is_absolute() {
            bail!("linux.devices[{i}].path: {path:?} is not an absolute path");
        }
        match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::B | LinuxDeviceType::U | LinuxDeviceType::P => {}
            LinuxDeviceType::A => bail!("linux.devices[{i}].type: \"a\" is not a device type (c, b, u or p)"),
        }
        if d.major() < 0 || d.minor() < 0 {
            bail!("linux.devices[{i}]: negative major/minor {}:{}", d.major(), d.minor());
        }
    }
    Ok(())
}

/// What the linux section sets on each process, checked before any is made.
fn process_linux(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    crate::process::personality::warn_flags(linux.personality().as_ref());
    crate::process::mempolicy::validate(linux.memory_policy().as_ref())
}

/// Sections hull does not implement: refused by name, never ignored.
fn unsupported(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    if linux.intel_rdt().is_some() {
        bail!("linux.intelRdt: resctrl groups are not supported by hull (`hull features` says intelRdt.enabled false)");
    }
    Ok(())
}

/// What the cgroup files would refuse with no more than EINVAL, checked here
/// so that the error names the field.
fn resources(spec: &Spec) -> Result<()> {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return Ok(());
    };
    for (i, d) in r.devices().iter().flatten().enumerate() {
        for (name, n) in [("major", d.major()), ("minor", d.minor())] {
            if n.is_some_and(|n| n < -1 || n > i64::from(u32::MAX)) {
                bail!(
                    "linux.resources.devices[{i}].{name}: {} (only -1, any, may be negative; at most {})",
                    n.unwrap_or(0),
                    u32::MAX
                );
            }
        }
        if let Some(a) = d.access().as_deref().filter(|a| a.chars().any(|c| !"rwm".contains(c))) {
            bail!("linux.resources.devices[{i}].access: {a:?} is not made of r, w and m");
        }
    }
    crate::cgroups::check_devices(r.devices().as_deref().unwrap_or(&[]))?;
    if let Some(s) = r.memory().as_ref().and_then(|m| m.swappiness()).filter(|s| *s > 100) {
        bail!("linux.resources.memory.swappiness: {s} is above 100");
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let size = h.page_size();
        if !crate::cgroups::hugepage_sizes().iter().any(|s| s == size) {
            bail!(
                "linux.resources.hugepageLimits[{i}].pageSize: {size:?} is not a huge page size of this host ({})",
                crate::cgroups::hugepage_sizes().join(", ")
            );
        }
    }
    Ok(())
}

const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Only sysctls that live in a namespace of the container may be set.
fn sysctls(spec: &Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for key in map.keys() {
        let k = key.replace('/', ".");
        let need = if IPC_SYSCTLS.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
            LinuxNamespaceType::Ipc
        } else if k.starts_with("net.") {
            LinuxNamespaceType::Network
        } else if k == "kernel.hostname" || k == "kernel.domainname" {
            LinuxNamespaceType::Uts
        } else {
            bail!("linux.sysctl: {key:?} is not namespaced: it would change the host");
        };
        if !has_namespace(spec, need) {
            bail!(
                "linux.sysctl: {key:?} needs a {} namespace in linux.namespaces",
                ns_name(need)
            );
        }
    }
    Ok(())
}
