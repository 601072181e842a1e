//! Per-namespace kernel settings the init makes before pivot_root: hostname,
//! domainname, sysctls, oom_score_adj, time offsets. /proc is reached only
//! through a handle checked to be procfs.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

use crate::rootfs::inroot::{openat2, Follow};

/// The host's /proc, verified to be procfs.
pub fn open_proc() -> Result<OwnedFd> {
    let fd = crate::rootfs::inroot::open_dir(Path::new("/proc"))?;
    let fs = nix::sys::statfs::fstatfs(&fd).context("statfs /proc")?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        bail!("/proc is not procfs");
    }
    Ok(fd)
}

/// Writes a file under /proc. `self` is procfs's own symlink to our pid as the
/// host's procfs counts it, so paths under it are followed (in-root, no magic links).
fn write_proc(proc_fd: &OwnedFd, rel: &str, value: &str) -> Result<()> {
    let mut f = open_under_proc(proc_fd, rel, libc::O_WRONLY)?;
    f.write_all(value.as_bytes())
        .with_context(|| format!("write {value:?} to /proc/{rel}"))
}

fn read_proc(proc_fd: &OwnedFd, rel: &str) -> Result<String> {
    let mut s = String::new();
    open_under_proc(proc_fd, rel, libc::O_RDONLY)?
        .read_to_string(&mut s)
        .with_context(|| format!("read /proc/{rel}"))?;
    Ok(s)
}

fn open_under_proc(proc_fd: &OwnedFd, rel: &str, flags: libc::c_int) -> Result<std::fs::File> {
    let follow = if rel.starts_with("self/") {
        Follow::InRoot
    } else {
        Follow::NoSymlinks
    };
    let fd =
        openat2(proc_fd.as_raw_fd(), Path::new(rel), flags, follow).with_context(|| format!("open /proc/{rel}"))?;
    Ok(std::fs::File::from(fd))
}

pub fn apply(spec: &Spec, proc_fd: &OwnedFd) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("hostname: {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: pointer and length of a live byte slice.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("domainname: {d:?}"));
        }
    }
    if let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = map.keys().collect();
        keys.sort();
        for k in keys {
            let rel = format!("sys/{}", k.replace('.', "/"));
            write_proc(proc_fd, &rel, &map[k]).with_context(|| format!("linux.sysctl: {k:?}"))?;
        }
    }
    oom_score_adj(proc_fd, spec.process().as_ref().and_then(|p| p.oom_score_adj()))
}

/// process.oomScoreAdj, for this process and what it forks.
pub fn oom_score_adj(proc_fd: &OwnedFd, adj: Option<i32>) -> Result<()> {
    let Some(adj) = adj else { return Ok(()) };
    // The value it has already needs no write, nor the right to lower it
    // (rootless podman asks for the one it runs with).
    if read_proc(proc_fd, "self/oom_score_adj").is_ok_and(|v| v.trim() == adj.to_string()) {
        return Ok(());
    }
    write_proc(proc_fd, "self/oom_score_adj", &adj.to_string())
        .with_context(|| format!("process.oomScoreAdj: {adj} (lowering it needs CAP_SYS_RESOURCE)"))
}

/// A fresh, anonymous session keyring, so the container does not share the
/// caller's keys. Kernels without keyrings (ENOSYS) have nothing to share.
pub fn join_new_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a null name joins a new anonymous keyring.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(err).context("join a new session keyring (--no-new-keyring skips this)");
        }
    }
    Ok(())
}

/// Clock offsets of a new time namespace; written before its first process.
pub fn time_offsets(spec: &Spec, proc_fd: &OwnedFd) -> Result<()> {
    let Some(offs) = spec.linux().as_ref().and_then(|l| l.time_offsets().as_ref()) else {
        return Ok(());
    };
    for (clock, o) in offs {
        if clock != "monotonic" && clock != "boottime" {
            bail!("linux.timeOffsets: {clock:?} is not monotonic or boottime");
        }
        let line = format!("{clock} {} {}", o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0));
        write_proc(proc_fd, "self/timens_offsets", &line).with_context(|| format!("linux.timeOffsets.{clock}"))?;
    }
    Ok(())
}

/// Opens the exec fifo for writing through its O_PATH handle; blocks until
/// `start` opens the other end.
pub fn open_fifo_for_write(proc_fd: &OwnedFd, fifo: &OwnedFd) -> Result<OwnedFd> {
    let rel = std::ffi::CString::new(format!("self/fd/{}", fifo.as_raw_fd()))?;
    loop {
        // SAFETY: a directory fd we hold and a valid C string.
        let fd = unsafe { libc::openat(proc_fd.as_raw_fd(), rel.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: fresh fd from openat.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err).context("open the exec fifo");
        }
    }
}

/// clone3's CLONE_INTO_CGROUP (linux/sched.h).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(), with the child born in the cgroup2 directory `cgroup` when given
/// (clone3 with CLONE_INTO_CGROUP: no migration, so none of the global
/// lock a write to cgroup.procs takes). Where clone3 refuses (kernels
/// before 5.7), a plain fork; the bool says whether the child is there.
pub fn fork_into(cgroup: Option<&OwnedFd>) -> Result<(nix::unistd::ForkResult, bool)> {
    if let Some(fd) = cgroup {
        match clone3(Some(fd), nix::sched::CloneFlags::empty()) {
            Ok(r) => return Ok((r, true)),
            // Kernels without clone3 (ENOSYS) or CLONE_INTO_CGROUP (EINVAL,
            // E2BIG) refuse before making anything. Any other failure may
            // have spent a new pid namespace's first pid, after which no
            // fork succeeds there: it is the error.
            Err(e) if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL | libc::E2BIG)) => {
                return Err(e).context("clone3 into the container's cgroup2 directory")
            }
            Err(e) => tracing::debug!("clone3 into the cgroup: {e}; forking"),
        }
    }
    // SAFETY: the caller is single-threaded.
    let r = unsafe { nix::unistd::fork() }.context("fork")?;
    Ok((r, false))
}

/// clone3 straight into the new namespaces `ns`, and into `cgroup` as
/// fork_into does; the bool says whether the child is in `cgroup`. None
/// where the kernel (before 5.3, or 5.7 for a cgroup) or a seccomp filter
/// refuses: a failed clone3 made nothing, so the caller can fork instead.
/// The caller must be single-threaded: a raw clone skips glibc's fork
/// handlers, which would reset locks another thread holds.
pub fn clone_into(cgroup: Option<&OwnedFd>, ns: nix::sched::CloneFlags) -> Option<(nix::unistd::ForkResult, bool)> {
    match clone3(cgroup, ns) {
        Ok(r) => Some((r, cgroup.is_some())),
        Err(e) => {
            tracing::debug!("clone3 into the new namespaces: {e}; forking stage 1");
            None
        }
    }
}

fn clone3(cgroup: Option<&OwnedFd>, ns: nix::sched::CloneFlags) -> std::io::Result<nix::unistd::ForkResult> {
    use nix::unistd::{ForkResult, Pid};
    // SAFETY: clone_args is plain data; zeroed is a valid value.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = ns.bits() as u64;
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    args.exit_signal = libc::SIGCHLD as u64;
    // SAFETY: clone3 without CLONE_VM is a fork of this process, which the
    // callers keep single-threaded; the struct outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match r {
        0 => Ok(ForkResult::Child),
        pid if pid > 0 => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Whether this process has one thread (procfs counts a task directory's
/// links as two plus its threads).
pub fn single_threaded() -> bool {
    std::fs::metadata("/proc/self/task").is_ok_and(|m| std::os::unix::fs::MetadataExt::nlink(&m) == 3)
}
