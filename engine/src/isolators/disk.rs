//! disk/du: the sandbox and what the container wrote to its rootfs (the
//! overlay backend's upper dir), measured as du measures, polled; past the
//! quota the container ends with reason `disk` (Mesos's disk/du with
//! enforcement on). With the copy backend the writes are not told apart
//! from the image's files, so only the sandbox counts.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hull::rootfs::inroot::{openat2, Follow};
use nix::dir::Dir;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstat, fstatat};

use serde_json::{json, Map, Value};

use crate::isolator::Isolator;
use crate::record::{Record, Sandbox};

pub struct Du;

/// Bytes allocated under `dir`, on its filesystem only. Every directory is
/// opened from `dir`'s handle with no link on the way (openat2): the
/// sandbox can be its container's user's, who could swap a directory for a
/// link to anywhere on the host mid-walk.
pub fn used(dir: &Path) -> u64 {
    let Ok(top) = hull::rootfs::inroot::open_dir(dir) else {
        return 0;
    };
    let Ok(st) = fstat(top.as_raw_fd()) else {
        return 0;
    };
    let mut total = st.st_blocks as u64 * 512;
    let mut stack = vec![PathBuf::from(".")];
    while let Some(rel) = stack.pop() {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let Ok(fd) = openat2(top.as_raw_fd(), &rel, flags, Follow::NoSymlinks) else {
            continue;
        };
        let Ok(mut d) = Dir::from_fd(fd.into_raw_fd()) else {
            continue;
        };
        let dfd = d.as_raw_fd();
        // An entry that cannot be read ends the listing (nix's iterator
        // would go on erring).
        for e in d.iter().map_while(Result::ok) {
            let name = e.file_name();
            if name.to_bytes() == b"." || name.to_bytes() == b".." {
                continue;
            }
            let Ok(s) = fstatat(Some(dfd), name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            if s.st_dev != st.st_dev {
                continue;
            }
            total += s.st_blocks as u64 * 512;
            if s.st_mode & libc::S_IFMT == libc::S_IFDIR {
                stack.push(rel.join(std::ffi::OsStr::from_bytes(name.to_bytes())));
            }
        }
    }
    total
}

fn sandbox_usage(sb: &Sandbox) -> u64 {
    used(&sb.sandbox()) + used(&sb.upper())
}

impl Isolator for Du {
    fn usage(&self, rec: &Record, sb: &Sandbox, stats: &mut Map<String, Value>) {
        stats.insert("disk_used_bytes".into(), json!(sandbox_usage(sb)));
        stats.insert("disk_limit_bytes".into(), json!(rec.limits.disk));
    }

    fn watch(&self, rec: &Record, sb: &Sandbox) -> Option<&'static str> {
        let limit = rec.limits.disk?;
        (sandbox_usage(sb) > limit).then_some("disk")
    }
}
