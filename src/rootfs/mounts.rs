//! config.json `mounts`, in listed order, each onto a handle resolved in-root.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;

use super::inroot::{self, fd_path, Follow};
use super::options::{self, MountOptions};

/// What the mount step needs to know about the container being made.
pub struct MountContext<'a> {
    pub root: &'a OwnedFd,
    /// Where `root` is on the host, as the kernel names it.
    pub root_path: Option<PathBuf>,
    pub bundle: &'a Path,
    pub in_userns: bool,
    /// Bind mounts the parent made, by index in `mounts`.
    pub detached: &'a [super::detached::Prepared],
    /// The propagation the host's tree has in the container's mount namespace.
    pub host_propagation: MsFlags,
    /// The host's directories of the container's own cgroups.
    pub cgroups: &'a super::OwnCgroups,
    pub new_cgroup_ns: bool,
    /// linux.mountLabel (SELinux), for the filesystems the runtime mounts.
    pub mount_label: Option<&'a str>,
}

/// Files under /proc that a bind mount may cover (lxcfs and friends); any other
/// mount under /proc could hide what the runtime writes there (CVE-2019-16884).
const PROC_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

pub fn mount_all(ctx: &MountContext, mounts: &[Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        mount_one(ctx, m, i).with_context(|| {
            format!(
                "mounts[{i}]: {:?} on {:?}",
                m.typ().as_deref().unwrap_or("none"),
                m.destination().display().to_string()
            )
        })?;
    }
    Ok(())
}

/// The destination with `.` and `..` taken lexically, `..` stopping at `/`
/// as it does in-root: "/dev/../proc" is /proc.
fn normalized(dest: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

fn check_proc(dest: &Path, typ: &str) -> Result<()> {
    let d = normalized(dest);
    if d == Path::new("/proc") && typ != "proc" {
        bail!("only a proc filesystem may be mounted on /proc");
    }
    if d != Path::new("/proc") && d.starts_with("/proc") && !PROC_ALLOWED.iter().any(|a| d == Path::new(a)) {
        bail!("mounts under /proc are limited to {}", PROC_ALLOWED.join(", "));
    }
    Ok(())
}

/// check_proc on where the destination resolved to: a symlink in the rootfs
/// ("/plink" -> "/proc") must not carry a mount onto /proc.
fn check_proc_resolved(ctx: &MountContext, target: &OwnedFd, typ: &str) -> Result<()> {
    let (Some(root), Ok(at)) = (&ctx.root_path, std::fs::read_link(fd_path(target))) else {
        return Ok(());
    };
    match at.strip_prefix(root) {
        Ok(rel) => check_proc(&Path::new("/").join(rel), typ),
        Err(_) => Ok(()),
    }
}

fn mount_one(ctx: &MountContext, m: &Mount, index: usize) -> Result<()> {
    let typ = m.typ().clone().unwrap_or_else(|| "none".into());
    let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
    let dest = m.destination();
    check_proc(dest, &typ)?;
    if opts.is_bind() || typ == "bind" {
        return bind(ctx, m, &opts, index);
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return super::cgroupfs::mount(ctx, dest, &opts);
    }
    let follow = if matches!(typ.as_str(), "proc" | "sysfs") {
        Follow::NoSymlinks
    } else {
        Follow::InRoot
    };
    let target = inroot::mkdir_all(ctx.root, dest, follow)?;
    check_proc_resolved(ctx, &target, &typ)?;
    // What the mount will cover, for tmpcopyup; opened before it is covered.
    let covered = (opts.tmpcopyup && typ == "tmpfs")
        .then(|| inroot::reopen_dir(&target))
        .transpose()?;
    let source = m
        .source()
        .as_ref()
        .map(|s| s.display().to_string())
        .unwrap_or_else(|| typ.clone());
    let data = match typ.as_str() {
        // runc labels neither these nor binds and cgroups.
        "proc" | "sysfs" | "mqueue" => opts.data_string(),
        _ => crate::process::lsm::with_mount_label(opts.data_string(), ctx.mount_label),
    };
    let res = mount(
        Some(source.as_str()),
        &fd_path(&target),
        Some(typ.as_str()),
        opts.flags,
        data.as_deref(),
    );
    match res {
        Ok(()) => {}
        // sysfs needs a network namespace of our own user namespace, and
        // refuses (EBUSY) a container that shares the host's over the
        // host's /sys: runc binds the host's instead, in both cases.
        Err(nix::Error::EPERM | nix::Error::EBUSY) if typ == "sysfs" => {
            mount(
                Some("/sys"),
                &fd_path(&target),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
            let fresh = inroot::open_path(ctx.root, dest, follow)?;
            remount(&fresh, opts.flags | MsFlags::MS_BIND)?;
        }
        Err(nix::Error::EINVAL) if data.is_some() => {
            return Err(nix::Error::EINVAL).with_context(|| format!("mount: {typ} refused the options {data:?}"))
        }
        Err(e) => return Err(e).context("mount"),
    }
    if let Some(covered) = covered {
        let top = inroot::reopen_dir(&inroot::open_path(ctx.root, dest, follow)?)?;
        super::copyup::copy_up(&covered, &top).context("tmpcopyup")?;
    }
    after_mount(ctx, dest, &opts, follow)
}

/// A bind mount's source: absolute, or else relative to the bundle.
pub(super) fn bind_source(m: &Mount, bundle: &Path) -> Result<PathBuf> {
    let src = m.source().as_ref().context("a bind mount needs a source")?;
    Ok(if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    })
}

fn bind(ctx: &MountContext, m: &Mount, opts: &MountOptions, index: usize) -> Result<()> {
    let src = bind_source(m, ctx.bundle)?;
    let prepared = ctx.detached.iter().find(|p| p.index == index);
    let is_dir = match prepared {
        Some(p) => super::detached::is_dir(&p.fd)?,
        None => std::fs::metadata(&src)
            .with_context(|| format!("source {:?}", src.display().to_string()))?
            .is_dir(),
    };
    let dest = m.destination();
    let target = if is_dir {
        inroot::mkdir_all(ctx.root, dest, Follow::InRoot)?
    } else {
        inroot::create_file(ctx.root, dest, Follow::InRoot)?
    };
    check_proc_resolved(ctx, &target, "bind")?;
    match prepared {
        Some(p) => super::detached::attach(&p.fd, &target)?,
        None => {
            let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
            mount(Some(&src), &fd_path(&target), None::<&str>, flags, None::<&str>)
                .with_context(|| format!("bind {:?}", src.display().to_string()))?;
        }
    }
    let fresh = inroot::open_path(ctx.root, dest, Follow::InRoot)?;
    if prepared.is_some() {
        // A clone of a host mount is its peer where that is shared, so the
        // container's mounts under it would reach the host: it gets what a
        // bind from the container's own copy of the host's tree has.
        mount(
            None::<&str>,
            &fd_path(&fresh),
            None::<&str>,
            ctx.host_propagation,
            None::<&str>,
        )
        .context("give the prepared mount the propagation of the container's copy of the host's tree")?;
    }
    if !opts.remount_flags().is_empty() {
        remount(&fresh, opts.remount_flags() | MsFlags::MS_BIND)?;
    }
    after_mount(ctx, dest, opts, Follow::InRoot)
}

/// A bind remount; flags the kernel locked on the source (nosuid, nodev, ... in a
/// user namespace) are kept, as a remount may not clear them.
pub fn remount(target: &OwnedFd, flags: MsFlags) -> Result<()> {
    let flags = flags | MsFlags::MS_REMOUNT;
    match mount(None::<&str>, &fd_path(target), None::<&str>, flags, None::<&str>) {
        Ok(()) => Ok(()),
        Err(nix::Error::EPERM) => {
            let locked = locked_flags(target)?;
            mount(
                None::<&str>,
                &fd_path(target),
                None::<&str>,
                flags | locked,
                None::<&str>,
            )
            .context("remount")
        }
        Err(e) => Err(e).context("remount"),
    }
}

pub fn locked_flags(target: &OwnedFd) -> Result<MsFlags> {
    let st = nix::sys::statvfs::fstatvfs(target).context("statvfs")?;
    use nix::sys::statvfs::FsFlags as S;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (s, m) in [
        (S::ST_NOSUID, MsFlags::MS_NOSUID),
        (S::ST_NODEV, MsFlags::MS_NODEV),
        (S::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (S::ST_RDONLY, MsFlags::MS_RDONLY),
        (S::ST_NOATIME, MsFlags::MS_NOATIME),
        (S::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (S::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    Ok(out)
}

/// Propagation and recursive attributes, applied to the mount just made.
fn after_mount(ctx: &MountContext, dest: &Path, opts: &MountOptions, follow: Follow) -> Result<()> {
    if opts.propagation.is_empty() && opts.attr_set == 0 && opts.attr_clr == 0 {
        return Ok(());
    }
    let fresh = inroot::open_path(ctx.root, dest, follow)?;
    for p in &opts.propagation {
        mount(None::<&str>, &fd_path(&fresh), None::<&str>, *p, None::<&str>).context("set propagation")?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        set_attr_recursive(&fresh, opts.attr_set, opts.attr_clr)?;
    }
    Ok(())
}

fn set_attr_recursive(fd: &OwnedFd, set: u64, clr: u64) -> Result<()> {
    hull_sys::mount_attr::mount_setattr(
        fd.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
        set,
        clr,
        None,
    )
    .context("mount_setattr (recursive mount options)")
}
