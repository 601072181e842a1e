//! A `cgroup` mount: cgroup2 on a unified host; on a v1 or hybrid host a tmpfs
//! with one directory per hierarchy, as runc lays it out.

use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::MsFlags;

use super::inroot::{self, fd_path, Follow};
use super::mounts::{remount, MountContext};
use super::options::MountOptions;

fn is_cgroup2(path: &str) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// (directory name, mount data) of each v1 hierarchy this process is in.
fn v1_hierarchies() -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if ctrls.is_empty() {
            continue;
        }
        match ctrls.strip_prefix("name=") {
            Some(name) => out.push((name.to_string(), format!("none,name={name}"))),
            None => out.push((ctrls.to_string(), ctrls.to_string())),
        }
    }
    Ok(out)
}

pub fn mount(ctx: &MountContext, dest: &Path, opts: &MountOptions) -> Result<()> {
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let target = inroot::mkdir_all(ctx.root, dest, Follow::NoSymlinks)?;
    if is_cgroup2("/sys/fs/cgroup") {
        return cgroup2(ctx, &target, "/sys/fs/cgroup", flags);
    }
    let base = flags & !MsFlags::MS_RDONLY;
    nix::mount::mount(Some("tmpfs"), &fd_path(&target), Some("tmpfs"), base, Some("mode=755"))
        .context("tmpfs for cgroup hierarchies")?;
    for (dir, data) in v1_hierarchies()? {
        let sub = inroot::mkdir_all(ctx.root, &dest.join(&dir), Follow::NoSymlinks)?;
        let res = nix::mount::mount(
            Some("cgroup"),
            &fd_path(&sub),
            Some("cgroup"),
            flags,
            Some(data.as_str()),
        );
        if res.is_err() {
            // Not allowed in a user namespace: bind the host's hierarchy instead.
            let host = Path::new("/sys/fs/cgroup").join(&dir);
            nix::mount::mount(
                Some(&host),
                &fd_path(&sub),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("cgroup hierarchy {dir}"))?;
            let fresh = inroot::open_path(ctx.root, &dest.join(&dir), Follow::NoSymlinks)?;
            remount(&fresh, flags | MsFlags::MS_BIND)?;
        }
    }
    // The hybrid host's cgroup2 tree (/sys/fs/cgroup/unified) is not shown, as in runc.
    // The tmpfs itself stays writable as in runc; each hierarchy carries the flags.
    Ok(())
}

fn cgroup2(ctx: &MountContext, target: &std::os::fd::OwnedFd, host: &str, flags: MsFlags) -> Result<()> {
    match nix::mount::mount(Some("cgroup2"), &fd_path(target), Some("cgroup2"), flags, None::<&str>) {
        Ok(()) => Ok(()),
        Err(nix::Error::EPERM | nix::Error::EBUSY) if ctx.in_userns => nix::mount::mount(
            Some(host),
            &fd_path(target),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .context("bind cgroup2"),
        Err(e) => Err(e).context("mount cgroup2"),
    }
}
