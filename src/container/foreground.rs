//! `run` without --detach: hull stays as the container's parent (a child
//! subreaper), forwards signals to it, and returns its exit status.
//! Signals are blocked before the container exists, so one that exits at
//! once can never be missed.

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

const FORWARDED: [Signal; 9] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGALRM,
];

/// The signals `run` passes on to the container.
pub fn forwarded() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// Blocks SIGCHLD and the forwarded signals; returns the mask to restore in
/// the container.
pub fn block_signals() -> Result<SigSet> {
    let mut set = forwarded();
    set.add(Signal::SIGCHLD);
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).context("block signals")?;
    crate::launcher::become_subreaper()?;
    Ok(old)
}

/// The mask the container's process starts with: hull's own when hull does
/// not stay (create, -d), else the one before run blocked its signals.
pub fn mask_for(foreground: bool) -> Result<SigSet> {
    if foreground {
        return block_signals();
    }
    let mut m = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, None, Some(&mut m)).context("read the signal mask")?;
    Ok(m)
}

/// Waits for the init to exit; returns the exit code run should give. With a
/// relayed terminal, window size changes go to the pty instead of the init.
pub fn wait(init: i32, relay: Option<&crate::console::relay::Relay>) -> Result<i32> {
    let mut set = forwarded();
    set.add(Signal::SIGCHLD);
    loop {
        if let Some(code) = reap(init)? {
            return Ok(code);
        }
        let sig = set.wait().context("sigwait")?;
        if sig != Signal::SIGCHLD {
            pass_on(sig, init, relay);
        }
    }
}

/// A signal for the container: to the init, or a window size change to the
/// relayed terminal.
pub fn pass_on(sig: Signal, init: i32, relay: Option<&crate::console::relay::Relay>) {
    match (sig, relay) {
        (Signal::SIGWINCH, Some(r)) => r.resize(),
        _ => {
            let _ = nix::sys::signal::kill(Pid::from_raw(init), sig);
        }
    }
}

/// Reaps every exited child (orphans reparented to us included).
fn reap(init: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => return Ok(Some(128 + sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::Error::ECHILD) => return Ok(Some(255)),
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
