//! `tmpcopyup`, runc's and crun's mount extension that podman puts on every
//! tmpfs: what the image has under the mount point is copied into the new
//! tmpfs, with modes, owners and times, so `--read-only` or `--tmpfs /data`
//! over a directory the image fills does not empty it.
//!
//! The image is the container's, so nothing here follows a symlink: every
//! entry is reached by name from its directory's fd, and symlinks are copied
//! as symlinks.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};

/// Copies the tree under `from` (the covered directory) into `to` (the
/// tmpfs's root), and gives `to` the mode and owner of `from`.
pub fn copy_up(from: &OwnedFd, to: &OwnedFd) -> Result<()> {
    let st = nix::sys::stat::fstat(from.as_raw_fd()).context("stat the covered directory")?;
    copy_dir(from, to)?;
    nix::unistd::fchown(to.as_raw_fd(), Some(st.st_uid.into()), Some(st.st_gid.into()))
        .context("chown the tmpfs root")?;
    nix::sys::stat::fchmod(to.as_raw_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))
        .context("chmod the tmpfs root")
}

fn copy_dir(from: &OwnedFd, to: &OwnedFd) -> Result<()> {
    let mut dir = nix::dir::Dir::from_fd(dup(from)?).context("read the covered directory")?;
    for entry in dir.iter() {
        let entry = entry.context("read the covered directory")?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        copy_entry(from, to, name).with_context(|| format!("copy up {:?}", name.to_string_lossy()))?;
    }
    Ok(())
}

fn dup(fd: &OwnedFd) -> Result<std::os::fd::RawFd> {
    // SAFETY: F_DUPFD_CLOEXEC on an fd we hold; the new fd goes to Dir, which owns it.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("dup");
    }
    Ok(n)
}

fn open_at(dir: &OwnedFd, name: &CStr, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )?;
    // SAFETY: fd was just opened and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn copy_entry(from: &OwnedFd, to: &OwnedFd, name: &CStr) -> Result<()> {
    let st = fstatat(Some(from.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            nix::sys::stat::mkdirat(Some(to.as_raw_fd()), name, mode)?;
            let src = open_at(from, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
            let dst = open_at(to, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
            copy_dir(&src, &dst)?;
        }
        libc::S_IFREG => {
            let src = open_at(from, name, OFlag::O_RDONLY, Mode::empty())?;
            let dst = open_at(to, name, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, mode)?;
            std::io::copy(&mut std::fs::File::from(src), &mut std::fs::File::from(dst))?;
        }
        libc::S_IFLNK => {
            let target = nix::fcntl::readlinkat(Some(from.as_raw_fd()), name)?;
            nix::unistd::symlinkat(target.as_os_str(), Some(to.as_raw_fd()), name)?;
        }
        kind => {
            // Devices, fifos and sockets: the node itself.
            let dev = st.st_rdev;
            // SAFETY: a directory fd we hold and a C name; mknodat creates, never follows.
            if unsafe { libc::mknodat(to.as_raw_fd(), name.as_ptr(), kind | mode.bits(), dev) } != 0 {
                return Err(std::io::Error::last_os_error().into());
            }
        }
    }
    keep_metadata(to, name, &st)
}

/// Owner, mode (chown clears set-id bits) and times, on the copy itself.
fn keep_metadata(to: &OwnedFd, name: &CStr, st: &FileStat) -> Result<()> {
    let name_c = CString::from(name);
    nix::unistd::fchownat(
        Some(to.as_raw_fd()),
        name_c.as_c_str(),
        Some(st.st_uid.into()),
        Some(st.st_gid.into()),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        nix::sys::stat::fchmodat(
            Some(to.as_raw_fd()),
            name_c.as_c_str(),
            Mode::from_bits_truncate(st.st_mode & 0o7777),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )?;
    }
    let times = [
        nix::sys::time::TimeSpec::new(st.st_atime, st.st_atime_nsec),
        nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    ];
    nix::sys::stat::utimensat(
        Some(to.as_raw_fd()),
        name_c.as_c_str(),
        &times[0],
        &times[1],
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}
