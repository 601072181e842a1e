//! Stage 1: joins the requested namespaces, makes the new ones, and forks the
//! init into them. Its own pid is in the caller's pid namespace, so the pid
//! fork() returns is the one the caller can signal.

use std::os::fd::AsRawFd;

use anyhow::{Context, Result};
use nix::unistd::{setresgid, setresuid, ForkResult, Gid, Uid};

use super::sync::{Channel, Msg};
use super::{init, namespaces, Handles, Launch};

enum Side {
    Init,
    Stage1,
}

pub fn run(req: &Launch, h: &Handles, ch: Channel) -> ! {
    let code = match namespaces_and_fork(req, h, &ch) {
        Ok(Side::Init) => init::run(req, h, ch),
        Ok(Side::Stage1) => 0,
        Err(e) => {
            let _ = ch.send(&Msg::Error { msg: format!("{e:#}") });
            1
        }
    };
    // SAFETY: leave without running the parent's atexit handlers or destructors.
    unsafe { libc::_exit(code) }
}

/// The init when the parent cloned it straight into its new pid namespace
/// (see `super::clones_init`): what stage 1 would have done for it, then
/// the init. The other namespaces are made here, while the parent makes the
/// cgroup directories.
pub fn run_as_init(req: &Launch, h: &Handles, ch: Channel) -> ! {
    let made = closed_fds(req, h, &ch)
        .and_then(|()| namespaces::unshare_new(h.ns.new_flags.difference(nix::sched::CloneFlags::CLONE_NEWPID)));
    match made {
        Ok(()) => init::run(req, h, ch),
        Err(e) => {
            let _ = ch.send(&Msg::Error { msg: format!("{e:#}") });
            // SAFETY: leave without running the parent's atexit handlers or destructors.
            unsafe { libc::_exit(1) }
        }
    }
}

fn namespaces_and_fork(req: &Launch, h: &Handles, ch: &Channel) -> Result<Side> {
    closed_fds(req, h, ch)?;
    for j in &h.ns.joins {
        namespaces::join(j)?;
    }
    if h.ns.new_user {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare the user namespace")?;
        ch.send(&Msg::MapIds {
            pid: nix::unistd::getpid().as_raw(),
        })?;
        ch.expect_ack()?;
    }
    if is_rootless() {
        crate::process::exec::not_dumpable()?;
    }
    if h.ns.new_user || h.ns.join_user {
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context("become gid 0 in the user namespace")?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context("become uid 0 in the user namespace")?;
    }
    namespaces::unshare_new(h.ns.new_flags)?;
    if h.ns
        .new_flags
        .contains(nix::sched::CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
    {
        super::kernel::time_offsets(&req.bundle.spec, &h.proc_fd)?;
    }
    // Stage 1 is single-threaded.
    match super::kernel::fork_into(h.cgroup2.as_ref()).context("fork the init")? {
        (ForkResult::Child, _) => Ok(Side::Init),
        (ForkResult::Parent { child }, in_cgroup2) => {
            ch.send(&Msg::InitPid {
                pid: child.as_raw(),
                in_cgroup2,
                joined_v1: false,
            })?;
            Ok(Side::Stage1)
        }
    }
}

pub(super) fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Not dumpable (as root), and only the fds the init needs still open.
fn closed_fds(req: &Launch, h: &Handles, ch: &Channel) -> Result<()> {
    // An unprivileged parent can open this process's uid_map only while it
    // is dumpable (its /proc files are root's otherwise): that waits until
    // the maps are written. root's parent can write them regardless.
    if !is_rootless() {
        crate::process::exec::not_dumpable()?;
    }
    for fd in &req.own_fds {
        // SAFETY: closing hull's own fd in this child; nothing here uses it again.
        unsafe { libc::close(*fd) };
    }
    let mut keep = vec![ch.as_raw_fd(), h.proc_fd.as_raw_fd(), h.fifo.as_raw_fd()];
    keep.extend(h.ns.joins.iter().map(|j| j.fd.as_raw_fd()));
    keep.extend(h.detached.iter().map(|p| p.fd.as_raw_fd()));
    keep.extend(h.cgroup2.as_ref().map(|fd| fd.as_raw_fd()));
    // Warnings from the setup still go to --log; a closed log fd could be
    // reused by a later open and a warning written into the wrong file.
    keep.extend(crate::logging::log_fd());
    keep.extend(req.console);
    crate::process::exec::close_fds_except(3 + req.preserve_fds as i32, &keep)
}
