//! Is a container's init still the process we started? A pid alone can be
//! reused, so the start time recorded at create must match too.

use procfs::process::Process;

/// Start time of a process in clock ticks since boot, if it exists.
pub fn start_time(pid: i32) -> Option<u64> {
    Process::new(pid).ok()?.stat().ok().map(|s| s.starttime)
}

/// True while `pid` runs and is the process that started at `start`; a zombie
/// counts as dead.
pub fn is_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match Process::new(pid).and_then(|p| p.stat()) {
        Ok(st) => st.starttime == start && st.state != 'Z' && st.state != 'X',
        Err(_) => false,
    }
}

/// True while `pid` (started at `start`) is on a CPU or waiting for one: a
/// program fresh from its exec that has not yet blocked, slept or exited.
pub fn is_runnable(pid: i32, start: u64) -> bool {
    match Process::new(pid).and_then(|p| p.stat()) {
        Ok(st) => st.starttime == start && st.state == 'R',
        Err(_) => false,
    }
}
