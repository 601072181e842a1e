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

/// `sig` to the container's init, only while its pid is still the process
/// state.json names (see `pidfd::signal_if_same`): an init that exited
/// since its status was read, its pid taken by another process, is not
/// signalled, nor is that process.
pub fn send_to_init(st: &State, sig: i32) -> Result<()> {
    match crate::pidfd::signal_if_same(st.pid, st.pid_start, sig) {
        Ok(true) => Ok(()),
        Ok(false) => bail!("{} (pid {})", super::phrases::NO_SUCH_PROCESS, st.pid),
        Err(e) => Err(e).with_context(|| format!("signal {sig} to pid {}", st.pid)),
    }
}

fn pidns(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// Every process of a container without a cgroup. In a pid namespace of its
/// own that is every process in it; in one it shares (the host's, a pod's),
/// only the init can be told apart from the others there.
pub fn signal_all(st: &State, sig: i32) -> Result<()> {
    // Read before the init is signalled (it may die of it); the init's
    // check then vouches that this was its namespace.
    let ns = pidns(st.pid);
    send_to_init(st, sig)?;
    // The init's SIGKILL takes the whole namespace with it.
    if !st.own_pid_ns || sig == libc::SIGKILL {
        return Ok(());
    }
    let Some(ns) = ns else {
        return Ok(());
    };
    for e in std::fs::read_dir("/proc").context("read /proc")?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == st.pid {
            continue;
        }
        // Compared before the pidfd is taken (most of /proc is not ours to
        // hold a pidfd of), and again after.
        let ours = || pidns(pid).as_ref() == Some(&ns);
        if ours() {
            let _ = crate::pidfd::signal_checked(pid, sig, ours);
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
