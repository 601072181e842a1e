//! Bind mounts the parent makes as detached trees, where it can reach their
//! sources, and the init attaches at their in-root targets: idmapped binds
//! (rootfs::idmapped), and binds of hull's own state (the notify socket's
//! directory), which the container's user could not reach by path.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x04;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// One prepared mount: its index in config.json `mounts` and the detached mount.
pub struct Prepared {
    pub index: usize,
    pub fd: OwnedFd,
}

/// A detached clone of `src` (of the whole tree under it when `recursive`).
pub fn clone_tree(src: &Path, recursive: bool) -> std::io::Result<OwnedFd> {
    let c = CString::new(src.as_os_str().as_encoded_bytes())?;
    let rec = if recursive {
        libc::AT_RECURSIVE as libc::c_uint
    } else {
        0
    };
    // SAFETY: a valid C path; the flags ask for a detached clone with CLOEXEC.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | rec,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: open_tree returned a new fd, now ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether a prepared mount is a directory (else a file is its mount point).
pub fn is_dir(tree: &OwnedFd) -> Result<bool> {
    let st = nix::sys::stat::fstat(tree.as_raw_fd()).context("fstat the prepared mount")?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Attaches a prepared mount on `target` (an O_PATH handle resolved in-root).
pub fn attach(tree: &OwnedFd, target: &OwnedFd) -> Result<()> {
    // SAFETY: two fds and empty C paths, as MOVE_MOUNT_*_EMPTY_PATH asks.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("move_mount the prepared mount");
    }
    Ok(())
}
