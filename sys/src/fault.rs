//! Fault points for the crash tests (tests/faults.rs). Built with the
//! `fault-injection` feature, a process whose HULL_FAULT names a point
//! SIGKILLs itself on reaching it, as a crash or an OOM kill would stop it
//! there; HULL_FAULT_LOG names a file each point reached is appended to, so
//! a test can list the points of a command before crashing it at each.
//! HULL_FAULT_STOP names a point where the process SIGSTOPs itself instead,
//! so a race test can do its part in the window that follows and SIGCONT
//! it. In the binaries that ship (no feature), a point is nothing.

/// Marks a step: after it, what the command made so far is on the host.
#[inline(always)]
pub fn point(name: &str) {
    #[cfg(feature = "fault-injection")]
    reached(name);
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}

#[cfg(feature = "fault-injection")]
fn reached(name: &str) {
    use std::io::Write;
    if let Some(log) = std::env::var_os("HULL_FAULT_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(log) {
            let _ = writeln!(f, "{name}");
        }
    }
    if std::env::var("HULL_FAULT").is_ok_and(|f| f == name) {
        // SAFETY: kill(2) of this very process.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    if std::env::var("HULL_FAULT_STOP").is_ok_and(|f| f == name) {
        // SAFETY: kill(2) of this very process.
        unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
    }
}
