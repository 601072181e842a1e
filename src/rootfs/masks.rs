//! maskedPaths and readonlyPaths, applied after pivot_root through handles.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};

use super::inroot::{self, fd_path, Follow};
use super::mounts::{locked_flags, remount};

/// /dev/null, checked to be the real 1:3 character device before anything is
/// bound from it (CVE-2025-31133: an image could swap it for a symlink).
fn dev_null(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = inroot::open_path(root, Path::new("/dev/null"), Follow::NoSymlinks).context("open /dev/null")?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).context("stat /dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        bail!("/dev/null in the container is not the 1:3 character device");
    }
    Ok(fd)
}

/// The path itself, never what a symlink there points to (the rootfs is the
/// image's, and a link would choose what gets covered); None if it is absent.
fn open_target(root: &OwnedFd, p: &str, field: &str, i: usize) -> Result<Option<OwnedFd>> {
    match inroot::open_path(root, Path::new(p), Follow::NoSymlinks) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            bail!("linux.{field}[{i}]: {p:?} is, or passes through, a symlink in the rootfs: hull does not follow it")
        }
        Err(e) => Err(e).with_context(|| format!("linux.{field}[{i}]: {p:?}")),
    }
}

pub fn mask(root: &OwnedFd, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = dev_null(root)?;
    for (i, p) in paths.iter().enumerate() {
        let Some(target) = open_target(root, p, "maskedPaths", i)? else {
            continue;
        };
        let is_dir = nix::sys::stat::fstat(target.as_raw_fd()).map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)?;
        let res = if is_dir {
            mount(
                Some("tmpfs"),
                &fd_path(&target),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some(&fd_path(&null)),
                &fd_path(&target),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        res.with_context(|| format!("linux.maskedPaths[{i}]: {p:?}"))?;
    }
    Ok(())
}

pub fn readonly(root: &OwnedFd, paths: &[String]) -> Result<()> {
    for (i, p) in paths.iter().enumerate() {
        let Some(target) = open_target(root, p, "readonlyPaths", i)? else {
            continue;
        };
        mount(
            Some(&fd_path(&target)),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("linux.readonlyPaths[{i}]: {p:?}"))?;
        let fresh = inroot::open_path(root, Path::new(p), Follow::NoSymlinks)?;
        let keep = locked_flags(&fresh)?;
        remount(&fresh, MsFlags::MS_BIND | MsFlags::MS_RDONLY | keep)
            .with_context(|| format!("linux.readonlyPaths[{i}]: {p:?}"))?;
    }
    Ok(())
}
