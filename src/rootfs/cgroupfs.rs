//! A `cgroup` mount shows the container its own cgroups and nothing else, as
//! runc does: on a v1 or hybrid host a tmpfs with one directory per hierarchy,
//! each a bind of the host's directory of the container's own cgroup (so
//! /sys/fs/cgroup/memory/memory.limit_in_bytes is the container's limit, and
//! no other container's cgroup or pids are in sight); on a unified host the
//! container's own cgroup2 directory, or a fresh cgroup2 mount inside a cgroup
//! namespace (whose root is that directory). Binding also spares a fresh v1
//! superblock per hierarchy, which can wait on the kernel's RCU grace periods.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::mount::MsFlags;

use super::inroot::{self, fd_path, Follow};
use super::mounts::{remount, MountContext};
use super::options::MountOptions;

/// The host's directories of this process's own cgroups, read before it
/// enters a cgroup namespace (inside one, /proc/self/cgroup shows "/").
#[derive(Default)]
pub struct OwnCgroups {
    /// v1 hierarchies: (directory name under /sys/fs/cgroup, host directory).
    v1: Vec<(String, PathBuf)>,
    /// The cgroup2 directory, on a host whose /sys/fs/cgroup is cgroup2.
    v2: Option<PathBuf>,
}

impl OwnCgroups {
    /// `mounts`: this mount namespace's, from mountinfo.
    pub fn read(mounts: &[hull_sys::mountinfo::Entry]) -> Result<OwnCgroups> {
        let text = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        let mut own = OwnCgroups::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if ctrls.is_empty() {
                if is_cgroup2("/sys/fs/cgroup") {
                    own.v2 = host_dir(mounts, "cgroup2", |_| true, path);
                }
                continue;
            }
            let dir = ctrls.strip_prefix("name=").unwrap_or(ctrls).to_string();
            let wanted: Vec<&str> = ctrls.split(',').collect();
            let matches = |opts: &str| {
                let have: Vec<&str> = opts.split(',').collect();
                wanted.iter().all(|w| have.contains(w))
            };
            if let Some(host) = host_dir(mounts, "cgroup", matches, path) {
                own.v1.push((dir, host));
            }
        }
        Ok(own)
    }
}

/// The host path of cgroup `path` in the first mount of `fstype` whose
/// superblock options fit and whose root holds it.
fn host_dir(
    mounts: &[hull_sys::mountinfo::Entry],
    fstype: &str,
    fits: impl Fn(&str) -> bool,
    path: &str,
) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|m| m.fstype == fstype && fits(&m.super_opts))
        .find_map(|m| {
            let rel = Path::new(path).strip_prefix(&m.root).ok()?;
            Some(m.point.join(rel))
        })
}

fn is_cgroup2(path: &str) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

pub fn mount(ctx: &MountContext, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let target = inroot::mkdir_all(ctx.root, dest, Follow::NoSymlinks)?;
    if is_cgroup2("/sys/fs/cgroup") {
        return cgroup2(ctx, &target, dest, flags);
    }
    let base = flags & !MsFlags::MS_RDONLY;
    nix::mount::mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), base, Some("mode=755"))
        .context("tmpfs for cgroup hierarchies")?;
    let tmpfs = inroot::open_path(ctx.root, dest, Follow::NoSymlinks)?;
    for (dir, host) in &ctx.cgroups.v1 {
        bind_own(ctx, host, &dest.join(dir), flags).with_context(|| format!("cgroup hierarchy {dir}"))?;
        // cpu,cpuacct is also reached as cpu and cpuacct, as on the host.
        for alias in dir.split(',').filter(|_| dir.contains(',')) {
            nix::unistd::symlinkat(dir.as_str(), Some(tmpfs.as_raw_fd()), alias)
                .with_context(|| format!("cgroup hierarchy alias {alias} -> {dir}"))?;
        }
    }
    // The hybrid host's cgroup2 tree (/sys/fs/cgroup/unified) is not shown, as in runc.
    // The tmpfs itself stays writable as in runc; each hierarchy carries the flags.
    Ok(())
}

/// Binds the host's directory `host` at `dest` in the rootfs with `flags`.
fn bind_own(ctx: &MountContext, host: &Path, dest: &Path, flags: MsFlags) -> Result<()> {
    let sub = inroot::mkdir_all(ctx.root, dest, Follow::NoSymlinks)?;
    nix::mount::mount(
        Some(host),
        &fd_path(&sub),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind {}", host.display()))?;
    let fresh = inroot::open_path(ctx.root, dest, Follow::NoSymlinks)?;
    remount(&fresh, flags | MsFlags::MS_BIND)
}

fn cgroup2(ctx: &MountContext, target: &std::os::fd::OwnedFd, dest: &Path, flags: MsFlags) -> Result<()> {
    if !ctx.new_cgroup_ns {
        let own = ctx
            .cgroups
            .v2
            .as_deref()
            .context("this process's cgroup2 directory is not mounted")?;
        return bind_own(ctx, own, dest, flags);
    }
    match nix::mount::mount(Some("cgroup2"), &fd_path(target), Some("cgroup2"), flags, None::<&str>) {
        Ok(()) => Ok(()),
        // EPERM: a user namespace without the cgroup namespace's owner.
        // EBUSY: the kernel mounts no superblock on a mount of itself, as
        // when the rootfs is the host's root and /sys the host's (`hull
        // launch --no-image` without a network namespace of its own). runc
        // binds the container's own directory in both cases too.
        Err(e @ (nix::Error::EPERM | nix::Error::EBUSY)) if ctx.in_userns || e == nix::Error::EBUSY => {
            let own = ctx
                .cgroups
                .v2
                .as_deref()
                .context("this process's cgroup2 directory is not mounted")?;
            bind_own(ctx, own, dest, flags)
        }
        Err(e) => Err(e).context("mount cgroup2"),
    }
}
