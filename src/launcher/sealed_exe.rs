//! CVE-2019-5736: a process in the container that can open a hull process's
//! /proc/<pid>/exe gets the hull binary, and once that process is gone can
//! reopen it for writing and replace the runtime on the host.
//!
//! Non-dumpable children (see `process::exec::not_dumpable`) shut out every
//! container process without CAP_SYS_PTRACE over the host. One with it (a
//! config that grants it, or another container sharing the pid namespace that
//! has it) still opens the link, so before hull forks anything into a pid
//! namespace that already exists, it re-execs itself from a read-only view of
//! its own binary: a detached bind mount of that one file, never attached
//! anywhere, with MOUNT_ATTR_RDONLY. Every later /proc/<pid>/exe then names a
//! file on a read-only mount, and opening it for writing fails with EROFS.
//!
//! The peers: runc 1.1 and crun copy the binary into a sealed memfd on every
//! run (a copy per invocation, 7 MB here); runc 1.2 mounts a read-only
//! overlayfs of its directory. The bind view costs no copy and no superblock:
//! open_tree and mount_setattr take microseconds; the second execve is what
//! costs (hack/bench prints it). Without the privilege to clone a mount
//! (rootless) a binary the caller could write goes through a sealed memfd.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{bail, Context, Result};

const SELF_EXE: &std::ffi::CStr = c"/proc/self/exe";

/// Re-execs hull from a read-only view of its binary unless it already runs
/// from one. Call it before anything is made: the whole command runs again,
/// starting with signal mask `mask` (the one it was started with).
pub fn ensure(mask: &nix::sys::signal::SigSet) -> Result<()> {
    let exe = open(SELF_EXE, libc::O_RDONLY).context("open /proc/self/exe")?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let view = match read_only_view() {
        Ok(v) => v,
        // EPERM without the privilege to clone a mount (rootless); ENOSYS
        // or EINVAL on kernels before open_tree (5.2) or mount_setattr (5.12).
        Err(_) if !writable_by_caller() => {
            // Nobody the container can be (its ids map to the caller's at
            // most) can write the binary: nothing to guard.
            return Ok(());
        }
        Err(_) => sealed_copy(&exe)?,
    };
    drop(exe);
    if !is_sealed(&view) {
        bail!("the read-only view of the hull binary is still writable");
    }
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(mask), None)
        .context("restore the signal mask")?;
    reexec(&view)
}

fn open(path: &std::ffi::CStr, flags: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: a C path and flags; the fd returned is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// On a read-only mount (fstatvfs answers for an O_PATH fd too), or a memfd
/// sealed against writes.
fn is_sealed(fd: &OwnedFd) -> bool {
    let ro = nix::sys::statvfs::fstatvfs(fd)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    // SAFETY: F_GET_SEALS reads flags of an fd we own.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    ro || (seals > 0 && seals & libc::F_SEAL_WRITE != 0)
}

/// A detached, read-only bind mount of the running binary (O_PATH fd).
fn read_only_view() -> std::io::Result<OwnedFd> {
    let self_exe = std::path::Path::new(std::ffi::OsStr::from_bytes(SELF_EXE.to_bytes()));
    let view = crate::rootfs::detached::clone_tree(self_exe, false)?;
    use hull_sys::mount_attr as attr;
    attr::mount_setattr(
        view.as_raw_fd(),
        c"",
        libc::AT_EMPTY_PATH,
        attr::RDONLY | attr::NOSUID | attr::NODEV,
        0,
        None,
    )
    .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    Ok(view)
}

fn writable_by_caller() -> bool {
    // SAFETY: access with a C path.
    unsafe { libc::access(SELF_EXE.as_ptr(), libc::W_OK) == 0 }
}

/// The binary copied into a memfd sealed against every change.
fn sealed_copy(exe: &OwnedFd) -> Result<OwnedFd> {
    let fd = nix::sys::memfd::memfd_create(
        c"hull",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC | nix::sys::memfd::MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .context("memfd_create")?;
    let mut from = std::fs::File::from(exe.try_clone()?);
    let mut to = std::fs::File::from(fd);
    std::io::copy(&mut from, &mut to).context("copy the hull binary into a memfd")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on the memfd we own.
    if unsafe { libc::fcntl(to.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd copy of hull");
    }
    Ok(to.into())
}

fn cstrings(items: impl Iterator<Item = OsString>) -> Result<Vec<CString>> {
    items
        .map(|s| CString::new(s.as_bytes()).context("an argument or variable holds a NUL byte"))
        .collect()
}

/// execveat(view, "", AT_EMPTY_PATH) with this process's own argv and environment.
fn reexec(view: &OwnedFd) -> Result<()> {
    let args = cstrings(std::env::args_os())?;
    let env = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }))?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: NULL-terminated arrays of C strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            view.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(std::io::Error::last_os_error()).context("re-exec hull from its read-only view")
}
