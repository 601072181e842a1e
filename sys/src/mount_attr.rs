//! mount_setattr(2) and its MOUNT_ATTR_* bits (linux/mount.h).

use std::ffi::CStr;
use std::os::fd::RawFd;

use anyhow::{Context, Result};

pub const RDONLY: u64 = 0x1;
pub const NOSUID: u64 = 0x2;
pub const NODEV: u64 = 0x4;
pub const NOEXEC: u64 = 0x8;
/// MOUNT_ATTR__ATIME: the atime bits, cleared to set one of them.
pub const ATIME_MASK: u64 = 0x70;
pub const RELATIME: u64 = 0x0;
pub const NOATIME: u64 = 0x10;
pub const STRICTATIME: u64 = 0x20;
pub const NODIRATIME: u64 = 0x80;
pub const NOSYMFOLLOW: u64 = 0x0020_0000;
pub const IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2): `set` and `clr` are MOUNT_ATTR_* bits, `flags` AT_*
/// (AT_RECURSIVE for the whole tree), `userns` for MOUNT_ATTR_IDMAP.
pub fn mount_setattr(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    set: u64,
    clr: u64,
    userns: Option<RawFd>,
) -> Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: userns.map_or(0, |f| f as u64),
    };
    // SAFETY: a C path, flags, and a mount_attr of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("mount_setattr");
    }
    Ok(())
}
