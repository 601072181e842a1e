//! Making the rootfs the container's `/`: pivot_root, or MS_MOVE + chroot for
//! `--no-pivot` (for roots on ramfs, where pivot_root is not possible).

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::inroot;

pub fn pivot(root: &OwnedFd) -> Result<()> {
    let old = inroot::open_dir(std::path::Path::new("/"))?;
    nix::unistd::fchdir(root.as_raw_fd()).context("chdir into the rootfs")?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    // The old root is now stacked under the new one at "."; detach it without
    // letting the unmount propagate back to the host.
    nix::unistd::fchdir(old.as_raw_fd()).context("chdir to the old root")?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make the old root a slave")?;
    umount2(".", MntFlags::MNT_DETACH).context("detach the old root")?;
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

pub fn move_root(root: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(root.as_raw_fd()).context("chdir into the rootfs")?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>).context("move the rootfs onto /")?;
    nix::unistd::chroot(".").context("chroot")?;
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

/// Without a mount namespace of its own the container shares the caller's
/// mounts: pivot_root or a move would change the host's `/`, so hull only
/// chroots, as runc does (see README: a chroot is not a mount boundary).
pub fn chroot_only(root: &OwnedFd) -> Result<()> {
    nix::unistd::fchdir(root.as_raw_fd()).context("chdir into the rootfs")?;
    nix::unistd::chroot(".").context("chroot")?;
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}
