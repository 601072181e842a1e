//! The container's filesystem: mounts, devices, pivot_root, masked and
//! read-only paths. Runs inside the init, in its own mount namespace.

mod cgroupfs;
mod copyup;
pub use cgroupfs::OwnCgroups;
pub mod detached;
mod devices;
pub mod idmapped;
pub mod inroot;
mod masks;
mod mounts;
pub mod options;
mod pivot;

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};

use crate::spec::Bundle;

pub fn propagation_flag(name: &str) -> Option<MsFlags> {
    options::propagation(name)
}

/// Everything up to pivot_root: root propagation, the rootfs as a mount point,
/// every mount in order, the device nodes. Returns a handle on the rootfs.
pub fn prepare(
    bundle: &Bundle,
    in_userns: bool,
    detached: &[detached::Prepared],
    cgroups: &OwnCgroups,
    host_mounts: &[hull_sys::mountinfo::Entry],
) -> Result<OwnedFd> {
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref();
    if own_mount_ns(bundle) {
        own_root_mount(bundle, host_mounts)?;
    }
    let root = inroot::open_dir(&bundle.rootfs)?;
    let ctx = mounts::MountContext {
        root: &root,
        root_path: std::fs::read_link(inroot::fd_path(&root)).ok(),
        bundle: &bundle.dir,
        in_userns,
        detached,
        host_propagation: host_side(root_propagation(bundle)),
        cgroups,
        new_cgroup_ns: crate::spec::has_new_namespace(spec, oci_spec::runtime::LinuxNamespaceType::Cgroup),
        mount_label: crate::process::lsm::effective_mount_label(linux.and_then(|l| l.mount_label().as_deref())),
    };
    let list = spec.mounts().as_deref().unwrap_or(&[]);
    mounts::mount_all(&ctx, list)?;
    let binds_dev = list.iter().any(|m| {
        inroot::relative(m.destination()) == Path::new("dev")
            && (m.typ().as_deref() == Some("bind") || options::parse(m.options().as_deref().unwrap_or(&[])).is_bind())
    });
    let extra = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    devices::create_all(&root, extra, !binds_dev, in_userns)?;
    if let Some(p) = spec.process() {
        // runc makes a missing cwd.
        if inroot::open_path(&root, p.cwd(), inroot::Follow::InRoot).is_err() {
            inroot::mkdir_all(&root, p.cwd(), inroot::Follow::InRoot).context("process.cwd")?;
        }
    }
    Ok(root)
}

/// Whether the container has a mount namespace apart from the caller's.
/// Without one (runtime-tools' linux_ns_itype, runc allows it) hull changes
/// nothing of the caller's mounts but what the config's mounts ask for.
pub fn own_mount_ns(bundle: &Bundle) -> bool {
    crate::spec::has_namespace(&bundle.spec, oci_spec::runtime::LinuxNamespaceType::Mount)
}

/// In the container's own mount namespace: the host's tree made a slave (or
/// as rootfsPropagation asks), and the rootfs a mount point of its own.
fn own_root_mount(bundle: &Bundle, host_mounts: &[hull_sys::mountinfo::Entry]) -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        host_side(root_propagation(bundle)),
        None::<&str>,
    )
    .context("linux.rootfsPropagation: set on /")?;
    // pivot_root refuses a shared parent mount, and with `rshared` the
    // self-bind below would show up on the host: make the mount holding the
    // rootfs (the rootfs itself, when it is a mount point as containerd's
    // snapshots are) private first.
    private_parent(&bundle.rootfs, host_mounts)?;
    mount(
        Some(&bundle.rootfs),
        &bundle.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {} onto itself", bundle.rootfs.display()))
}

/// The propagation the host's tree gets in the container's mount namespace,
/// before pivot_root: recursive, so no host mount below `/` stays a peer of
/// the host's and carries the container's mounts out; unbindable would make
/// the host paths that mounts bind from unbindable, so that is a slave here
/// and unbindable only on the container's own `/` (see `enter`).
fn host_side(requested: Option<MsFlags>) -> MsFlags {
    match requested {
        Some(p) if !p.contains(MsFlags::MS_UNBINDABLE) => p | MsFlags::MS_REC,
        _ => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    }
}

fn private_parent(rootfs: &Path, host_mounts: &[hull_sys::mountinfo::Entry]) -> Result<()> {
    let mp = host_mounts
        .iter()
        .map(|m| &m.point)
        .filter(|mp| rootfs.starts_with(mp))
        .max_by_key(|mp| mp.components().count())
        .map_or(Path::new("/"), |p| p.as_path());
    mount(None::<&str>, mp, None::<&str>, MsFlags::MS_PRIVATE, None::<&str>)
        .with_context(|| format!("make {} private", mp.display()))
}

/// linux.rootfsPropagation, when set (validated with the spec).
fn root_propagation(bundle: &Bundle) -> Option<MsFlags> {
    let linux = bundle.spec.linux().as_ref()?;
    linux
        .rootfs_propagation()
        .as_deref()
        .filter(|p| !p.is_empty())
        .and_then(propagation_flag)
}

/// Switches `/` to the rootfs, then gives the new `/` the propagation asked
/// for: set before, it went to the host's root in this namespace, and the
/// rootfs mount made from a private parent is private.
pub fn enter(bundle: &Bundle, root: &OwnedFd, no_pivot: bool) -> Result<()> {
    if !own_mount_ns(bundle) {
        return pivot::chroot_only(root);
    }
    if no_pivot {
        pivot::move_root(root)?;
    } else {
        pivot::pivot(root)?;
    }
    if let Some(prop) = root_propagation(bundle) {
        mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .context("linux.rootfsPropagation: set on the container's /")?;
    }
    Ok(())
}

/// Masked and read-only paths, then a read-only root: still before
/// pivot_root, so every /proc/self/fd path goes through the host's procfs and
/// none through a /proc the image could have shaped.
pub fn finalize(bundle: &Bundle, root: &OwnedFd) -> Result<()> {
    let spec = &bundle.spec;
    if let Some(linux) = spec.linux() {
        masks::mask(root, linux.masked_paths().as_deref().unwrap_or(&[]))?;
        masks::readonly(root, linux.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        let fd = inroot::open_path(root, Path::new("/"), inroot::Follow::InRoot)?;
        let keep = mounts::locked_flags(&fd)?;
        mounts::remount(&fd, MsFlags::MS_BIND | MsFlags::MS_RDONLY | keep).context("root.readonly")?;
    }
    Ok(())
}
