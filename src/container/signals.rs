//! Signals by runc's names and numbers, to the init or to every process.

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use std::os::fd::{AsRawFd, FromRawFd};
use std::str::FromStr;

use crate::state::State;

/// "KILL", "SIGKILL", "kill" or "9"; 0, as in runc, checks that the
/// process is there and signals nothing.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (0..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        bail!("signal {s:?}: not a signal number (0-{})", libc::SIGRTMAX());
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

/// The deepest pid namespaces nest (the kernel's MAX_PID_NS_LEVEL).
const MAX_PIDNS_DEPTH: usize = 32;
/// ioctl_ns(2)'s NS_GET_PARENT: _IO(0xb7, 0x2).
const NS_GET_PARENT: libc::c_ulong = 0xb702;

/// A pid namespace as (device, inode): the ns file's identity.
fn ns_id(ns: &std::fs::File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    ns.metadata().ok().map(|m| (m.dev(), m.ino()))
}

fn pidns_of(pid: i32) -> Option<std::fs::File> {
    std::fs::File::open(format!("/proc/{pid}/ns/pid")).ok()
}

/// Whether `pid` is in pid namespace `ns` or in one nested in it.
fn in_pidns(pid: i32, ns: (u64, u64)) -> bool {
    let Some(mut f) = pidns_of(pid) else {
        return false;
    };
    for _ in 0..MAX_PIDNS_DEPTH {
        if ns_id(&f) == Some(ns) {
            return true;
        }
        // SAFETY: NS_GET_PARENT on an nsfs fd we hold returns a new
        // CLOEXEC fd or -1 (EPERM past our own pid namespace).
        let parent = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_PARENT as _) };
        if parent < 0 {
            return false;
        }
        // SAFETY: a fresh fd from the ioctl, owned here alone.
        f = unsafe { std::fs::File::from_raw_fd(parent) };
    }
    false
}

/// The processes descended from `roots` now, each with its start time, so
/// that a signal later reaches that process and no other on its pid.
fn descendants(roots: &[i32]) -> Vec<(i32, u64)> {
    let all = match procfs::process::all_processes() {
        Ok(all) => all,
        Err(e) => {
            tracing::warn!("kill --all: read /proc: {e}; only the init is signalled");
            return vec![];
        }
    };
    let stats: Vec<(i32, i32, u64)> = all
        .flatten()
        .filter_map(|p| p.stat().ok())
        .map(|s| (s.pid, s.ppid, s.starttime))
        .collect();
    let mut found = vec![];
    let mut parents = roots.to_vec();
    while let Some(parent) = parents.pop() {
        for &(pid, ppid, start) in &stats {
            if ppid == parent {
                found.push((pid, start));
                parents.push(pid);
            }
        }
    }
    found
}

/// `sig` to the processes `exec` put into a container without a cgroup that
/// shares a pid namespace (recorded in its state directory, see
/// `state::execs`) and to those descended from them. They outlive its init
/// there, so this is also for a container whose init is gone.
pub fn signal_execs(state_dir: &std::path::Path, sig: i32) {
    let execs = crate::state::execs::recorded(state_dir);
    let roots: Vec<i32> = execs.iter().map(|e| e.0).collect();
    // Read before any is signalled: a child of one killed is reparented.
    let tree = descendants(&roots);
    for (pid, start) in execs.into_iter().chain(tree) {
        let _ = crate::pidfd::signal_if_same(pid, start, sig);
    }
}

/// Every process of a container without a cgroup, whose state directory is
/// `state_dir`. In a pid namespace of its own that is every process in it
/// and in the namespaces nested in it; in one it shares (the host's, a
/// pod's) it is the init, the processes `exec` recorded there, and those
/// descended from them (one that left the tree, reparented to that
/// namespace's reaper, cannot be told apart from the others there).
pub fn signal_all(st: &State, state_dir: &std::path::Path, sig: i32) -> Result<()> {
    if !st.own_pid_ns {
        // Read before the init is signalled: once it dies its children
        // are reparented, out of its tree.
        let tree = descendants(&[st.pid]);
        let sent = send_to_init(st, sig);
        signal_execs(state_dir, sig);
        for (pid, start) in tree {
            let _ = crate::pidfd::signal_if_same(pid, start, sig);
        }
        return sent;
    }
    // Read before the init is signalled (it may die of it); the init's
    // check then vouches that this was its namespace, which the open file
    // keeps from being freed, its inode taken by another, meanwhile.
    let ns_file = pidns_of(st.pid);
    let ns = ns_file.as_ref().and_then(ns_id);
    send_to_init(st, sig)?;
    // The init's SIGKILL takes the whole namespace with it.
    let Some(ns) = ns.filter(|_| sig != libc::SIGKILL) else {
        return Ok(());
    };
    let procs = match std::fs::read_dir("/proc") {
        Ok(procs) => procs,
        Err(e) => {
            tracing::warn!("kill --all: read /proc: {e}; only the init was signalled");
            return Ok(());
        }
    };
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == st.pid {
            continue;
        }
        // Checked before the pidfd is taken (most of /proc is not ours to
        // hold a pidfd of), and again after.
        let ours = || in_pidns(pid, ns);
        if ours() {
            let _ = crate::pidfd::signal_checked(pid, sig, ours);
        }
    }
    drop(ns_file);
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
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("-1").is_err());
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("65").is_err());
    }
}
