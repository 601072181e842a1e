//! The container's init, from fork to exec: rootfs, kernel settings, process
//! settings, then Ready, the wait on the exec fifo, and exec.

use std::io::Write;

use anyhow::{Context, Result};
use nix::sys::signal::{sigprocmask, SigmaskHow};
use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{Channel, Msg};
use super::{kernel, Handles, Launch};
use crate::process;

pub fn run(req: &Launch, h: &Handles, ch: Channel) -> ! {
    let prog = match setup(req, h, &ch) {
        Ok(p) => p,
        Err(e) => {
            let _ = ch.send(&Msg::Error { msg: format!("{e:#}") });
            // SAFETY: leave without the parent's atexit handlers.
            unsafe { libc::_exit(1) }
        }
    };
    let _ = ch.send(&Msg::Ready);
    // The parent returns once every end of the channel is closed.
    drop(ch);
    let e = wait_and_exec(req, h, &prog);
    // Nobody listens on the channel any more; stderr is the container's.
    let _ = writeln!(std::io::stderr(), "hull: {e:#}");
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
}

fn setup(req: &Launch, h: &Handles, ch: &Channel) -> Result<process::Program> {
    let spec = &req.bundle.spec;
    match ch.recv()? {
        Some(Msg::Placed) => {}
        other => anyhow::bail!("create channel: expected Placed, got {other:?}"),
    }
    if h.ns.new_cgroup {
        // After placement, so the namespace's root is the container's cgroup.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).context("unshare the cgroup namespace")?;
    }
    nix::unistd::setsid().context("setsid")?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let in_userns = crate::spec::has_namespace(spec, LinuxNamespaceType::User);
    if req.new_keyring {
        kernel::join_new_session_keyring()?;
    }
    let root = crate::rootfs::prepare(req.bundle, in_userns)?;
    crate::rootfs::finalize(req.bundle, &root)?;
    kernel::apply(spec, &h.proc_fd)?;
    crate::rootfs::enter(&root, req.no_pivot)?;
    drop(root);
    let p = spec.process().as_ref().context("process: missing")?;
    process::setup(p)
}

fn wait_and_exec(req: &Launch, h: &Handles, prog: &process::Program) -> anyhow::Error {
    let go = || -> Result<()> {
        let fifo = kernel::open_fifo_for_write(&h.proc_fd, &h.fifo)?;
        std::fs::File::from(fifo)
            .write_all(b"0")
            .context("write the exec fifo")?;
        process::exec::reset_signal_handlers();
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&req.sigmask), None).context("restore the signal mask")?;
        process::exec::cloexec_from(3 + req.preserve_fds)?;
        Ok(())
    };
    if let Err(e) = go() {
        return e;
    }
    process::exec::exec(&prog.path, &prog.args, &prog.env)
}
