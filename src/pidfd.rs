//! pidfds: a handle on one process that a later process on the same pid
//! cannot take over.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// pidfd_open(2) of `pid`.
pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from pidfd_open, owned here alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2): `sig` to the process `pidfd` holds.
pub fn send_signal(pidfd: &OwnedFd, sig: i32) -> std::io::Result<()> {
    // SAFETY: a pidfd we hold, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `sig` to `pid` only while it is still the process that started at
/// `start` (state.json's pid and start time). Ok(false): that process is
/// gone.
pub fn signal_if_same(pid: i32, start: u64, sig: i32) -> std::io::Result<bool> {
    signal_checked(pid, sig, || crate::state::is_alive(pid, start))
}

/// `sig` to the process on `pid` if `still` holds once it is held: the
/// check then sees the process the signal goes to, so one that has taken
/// the pid since is never signalled. Ok(false): there is no such process,
/// or `still` said no.
pub fn signal_checked(pid: i32, sig: i32, still: impl Fn() -> bool) -> std::io::Result<bool> {
    let Some(held) = Held::take(pid)? else {
        return Ok(false);
    };
    if !still() {
        return Ok(false);
    }
    held.signal(sig)
}

/// A process held for a signal: through a pidfd, or by its pid alone where
/// pidfds are unavailable (before 5.3, or a seccomp profile that predates
/// them: ENOSYS, EPERM), and then checked just before.
pub struct Held {
    pub pid: i32,
    fd: Option<OwnedFd>,
}

impl Held {
    /// None: no process has `pid`. EINVAL also means that: the pid is still
    /// taken, as the session or group id of processes the dead one left.
    pub fn take(pid: i32) -> std::io::Result<Option<Held>> {
        match open(pid) {
            Ok(fd) => Ok(Some(Held { pid, fd: Some(fd) })),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::EINVAL)) => Ok(None),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {
                Ok(Some(Held { pid, fd: None }))
            }
            Err(e) => Err(e),
        }
    }

    /// Ok(false): the process is gone.
    pub fn signal(&self, sig: i32) -> std::io::Result<bool> {
        let sent = match &self.fd {
            Some(fd) => send_signal(fd, sig),
            // SAFETY: kill(2) with plain integers.
            None => match unsafe { libc::kill(self.pid, sig) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            },
        };
        match sent {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            r => r.map(|()| true),
        }
    }
}
