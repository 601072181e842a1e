//! Finding process.args[0] in the container and replacing the init with it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Resolves args[0] through PATH from the process's env, as execvp would, and
/// fails at create (not at start) when there is nothing to run.
pub fn find_program(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        if !p.exists() {
            bail!("process.args[0]: {arg0:?}: no such file or directory in the container");
        }
        if !executable(&p) {
            // "permission denied" is what execve says, and what podman maps to 126.
            bail!("process.args[0]: {arg0:?}: permission denied: not an executable file");
        }
        return Ok(p);
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(arg0);
        if executable(&cand) {
            return Ok(cand);
        }
    }
    bail!("process.args[0]: {arg0:?}: executable file not found in $PATH ({path})")
}

fn cstrings(v: &[String], what: &str) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).with_context(|| format!("{what}: {s:?} contains a NUL byte")))
        .collect()
}

/// Makes this process non-dumpable before it enters the container: its
/// /proc/<pid>/exe and memory are then closed to the container's processes,
/// so none can reopen the hull binary for writing (CVE-2019-5736). The
/// program exec'd at the end gets the usual dumpable flag back from execve.
pub fn not_dumpable() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("PR_SET_DUMPABLE");
    }
    Ok(())
}

/// Marks every fd from `first` up close-on-exec, so only stdio and the
/// preserved fds reach the container (CVE-2024-21626).
pub fn cloexec_from(first: u32) -> Result<()> {
    // SAFETY: close_range with the CLOEXEC flag only changes fd flags.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 (or a filter that denies it): one fd at a time.
    for fd in open_fds()?.into_iter().filter(|fd| *fd >= first as i32) {
        // SAFETY: setting FD_CLOEXEC on an fd number; a stale one just fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// This process's open fd numbers (collected first: reading the directory
/// opens one more).
fn open_fds() -> Result<Vec<i32>> {
    Ok(std::fs::read_dir("/proc/self/fd")
        .context("read /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// Closes every fd from `first` up except `keep`: the container's processes
/// must not hold hull's files (a state-dir lock held by a waiting init would
/// block every later command on that container).
pub fn close_fds_except(first: i32, keep: &[i32]) -> Result<()> {
    for fd in open_fds()?.into_iter().filter(|fd| *fd >= first && !keep.contains(fd)) {
        // SAFETY: closing an fd number this process has; nothing else uses it
        // (the process is single-threaded and owns no handle on these fds).
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// execve; returns only on failure.
pub fn exec(prog: &Path, args: &[String], env: &[String]) -> anyhow::Error {
    let run = || -> Result<()> {
        let p = CString::new(prog.as_os_str().as_bytes())?;
        let a = cstrings(args, "process.args")?;
        let e = cstrings(env, "process.env")?;
        let r = nix::unistd::execve(&p, &a, &e);
        if r == Err(nix::errno::Errno::E2BIG) {
            bail!(
                "exec {:?}: process.args and process.env are too long for the kernel (E2BIG)",
                prog.display().to_string()
            );
        }
        r.with_context(|| format!("exec {:?}", prog.display().to_string()))?;
        Ok(())
    };
    match run() {
        Err(e) => e,
        Ok(()) => anyhow::anyhow!("execve returned"),
    }
}

/// Every signal back to its default action: an ignored signal stays ignored
/// across exec, and Rust ignores SIGPIPE in every program it starts.
pub fn reset_signal_handlers() {
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // The raw syscall, because glibc refuses its own reserved signals (32, 33),
        // which may arrive ignored from the caller too. An all-zero kernel
        // sigaction is SIG_DFL with no flags and an empty mask.
        let dfl = [0u64; 4];
        // SAFETY: a valid, zeroed kernel sigaction of the size the kernel reads; no old action requested.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            )
        };
    }
}
