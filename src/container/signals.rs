//! Signals by runc's names and numbers, to the init or to every process.

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

use crate::state::State;

/// "KILL", "SIGKILL", "kill" or "9".
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        bail!("signal {s:?}: not a signal number (1-{})", libc::SIGRTMAX());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if let Some(off) = name.strip_prefix("SIGRTMIN+").and_then(|n| n.parse::<u8>().ok()) {
        let n = libc::SIGRTMIN() + i32::from(off);
        if n <= libc::SIGRTMAX() {
            return Ok(n);
        }
    }
    Signal::from_str(&name)
        .map(|s| s as i32)
        .map_err(|_| anyhow::anyhow!("signal {s:?}: unknown signal name"))
}

pub fn send(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill(2) with plain integers.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            anyhow::bail!("{} (pid {pid})", super::phrases::NO_SUCH_PROCESS);
        }
        return Err(e).context("kill");
    }
    Ok(())
}

/// `sig` to the container's init, through a pidfd taken while its pid is
/// still the process state.json names (same start time): an init that
/// exited since its status was read, its pid taken by another process, is
/// not signalled, nor is that process.
pub fn send_to_init(st: &State, sig: i32) -> Result<()> {
    let gone = || anyhow::anyhow!("{} (pid {})", super::phrases::NO_SUCH_PROCESS, st.pid);
    let pidfd = match crate::pidfd::open(st.pid) {
        Ok(fd) => fd,
        // Kernels before 5.3: the pid alone.
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return send(st.pid, sig),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Err(gone()),
        Err(e) => return Err(e).with_context(|| format!("pidfd_open({})", st.pid)),
    };
    if !crate::state::is_alive(st.pid, st.pid_start) {
        return Err(gone());
    }
    match crate::pidfd::send_signal(&pidfd, sig) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(gone()),
        r => r.context("pidfd_send_signal"),
    }
}

fn pidns(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// Every process of the container. With its own pid namespace, that is every
/// process in it; without, only the init can be told apart until cgroups land.
pub fn signal_all(st: &State, sig: i32) -> Result<()> {
    let Some(ns) = pidns(st.pid) else {
        return send_to_init(st, sig);
    };
    if Some(&ns) == pidns(std::process::id() as i32).as_ref() {
        return send_to_init(st, sig);
    }
    send_to_init(st, sig)?;
    for e in std::fs::read_dir("/proc").context("read /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid != st.pid && pidns(pid).as_ref() == Some(&ns) {
            let _ = send(pid, sig);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_forms() {
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("65").is_err());
    }
}
