//! The container's init, from fork to exec: rootfs, kernel settings, process
//! settings, then Ready, the wait on the exec fifo, and exec.

use std::io::Write;

use anyhow::{Context, Result};
use nix::sys::signal::{sigprocmask, SigmaskHow};
use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{Channel, Msg};
use super::{kernel, Handles, Launch};
use crate::hooks::Phase;
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
    let Some(prog) = prog else {
        // No process: `start` refuses; wait to be killed by delete.
        loop {
            nix::unistd::pause();
        }
    };
    let e = wait_and_exec(req, h, &prog);
    // Nobody listens on the channel any more; stderr is the container's.
    let _ = writeln!(std::io::stderr(), "hull: {e:#}");
    // SAFETY: as above.
    unsafe { libc::_exit(127) }
}

fn setup(req: &Launch, h: &Handles, ch: &Channel) -> Result<Option<process::Program>> {
    let spec = &req.bundle.spec;
    loop {
        match ch.recv()? {
            Some(Msg::JoinCgroups { tasks }) => ch.send(&match crate::cgroups::join_self(&tasks) {
                Ok(()) => Msg::Ack,
                Err(e) => Msg::NotJoined { why: format!("{e:#}") },
            })?,
            Some(Msg::Placed) => break,
            other => anyhow::bail!("create channel: expected Placed, got {other:?}"),
        }
    }
    process::affinity::reset();
    // Read once for both: mounts are only made after both have looked.
    let host_mounts = hull_sys::mountinfo::entries().context("read /proc/self/mountinfo")?;
    // Before the cgroup namespace hides where they are on the host.
    let cgroups = crate::rootfs::OwnCgroups::read(&host_mounts)?;
    if h.ns.new_cgroup {
        // After placement, so the namespace's root is the container's cgroup.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP).context("unshare the cgroup namespace")?;
    }
    nix::unistd::setsid().context("setsid")?;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    // A user namespace of the container's own, or the one hull itself runs
    // in (rootless podman's): either way no mknod, and locked mount flags.
    let in_userns =
        crate::spec::has_namespace(spec, LinuxNamespaceType::User) || !crate::privilege::in_initial_user_namespace();
    if req.new_keyring {
        kernel::join_new_session_keyring()?;
    }
    let root = crate::rootfs::prepare(req.bundle, in_userns, &h.detached, &cgroups, &host_mounts)?;
    if let Some(sock) = req.console {
        terminal(req, &root, sock)?;
    }
    crate::rootfs::finalize(req.bundle, &root)?;
    container_hooks(req, h, ch)?;
    kernel::apply(spec, &h.proc_fd)?;
    crate::rootfs::enter(req.bundle, &root, req.no_pivot)?;
    drop(root);
    let Some(p) = spec.process().as_ref() else {
        return Ok(None);
    };
    // Before setup: without no_new_privs the seccomp filter goes in there, and
    // it may deny what these need.
    process::exec::reset_signal_handlers();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&req.sigmask), None).context("restore the signal mask")?;
    process::exec::cloexec_from(3 + req.preserve_fds)?;
    // Before the user switch makes our /proc files root's and unwritable;
    // it takes effect at the exec (startContainer hooks too, as in runc).
    if process::lsm::asked(p) {
        process::lsm::apply(&h.proc_fd, p)?;
    }
    process::apply_linux(spec.linux().as_ref())?;
    process::setup(p, req.seccomp, &|fd| ch.hand_up_listener(fd)).map(Some)
}

fn wait_and_exec(req: &Launch, h: &Handles, prog: &process::Program) -> anyhow::Error {
    let released = || -> Result<std::fs::File> {
        let mut fifo = std::fs::File::from(kernel::open_fifo_for_write(&h.proc_fd, &h.fifo)?);
        fifo.write_all(b"0").context("write the exec fifo")?;
        Ok(fifo)
    };
    let mut fifo = match released() {
        Ok(fifo) => fifo,
        Err(e) => return e,
    };
    let last_steps = || -> Result<()> {
        run_hooks_here(req, h, Phase::StartContainer, "created")?;
        process::seccomp::load_last(req.seccomp, req.bundle.spec.process().as_ref())
    };
    // The fifo stays open (CLOEXEC) until the exec: `start` reads to its end,
    // so poststart hooks run once the user's program has replaced the init,
    // and what stopped it from getting there is what `start` reports.
    let e = match last_steps() {
        Ok(()) => process::exec::exec(&prog.path, &prog.args, &prog.env),
        Err(e) => e,
    };
    let why: String = format!("{e:#}").chars().take(START_ERROR_MAX).collect();
    let _ = fifo.write_all(why.as_bytes());
    e
}

/// Within PIPE_BUF, so the reason reaches `start` in one write.
const START_ERROR_MAX: usize = 3000;

fn has_hooks(spec: &oci_spec::runtime::Spec, phases: &[Phase]) -> bool {
    phases.iter().any(|p| !crate::hooks::list(spec, *p).is_empty())
}

/// Our pid as the host sees it (getpid() answers in the container's pid namespace).
fn host_pid(h: &Handles) -> i32 {
    nix::fcntl::readlinkat(Some(std::os::fd::AsRawFd::as_raw_fd(&h.proc_fd)), "self")
        .ok()
        .and_then(|s| s.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// prestart and createRuntime (run by the parent), then createContainer here,
/// in the container's namespaces, all before pivot_root.
fn container_hooks(req: &Launch, h: &Handles, ch: &Channel) -> Result<()> {
    let spec = &req.bundle.spec;
    if has_hooks(spec, &[Phase::Prestart, Phase::CreateRuntime]) || super::netdevices::asked(spec) {
        ch.send(&Msg::CreateHooks)?;
        ch.expect_ack()
            .context("linux.netDevices, prestart/createRuntime hooks")?;
    }
    run_hooks_here(req, h, Phase::CreateContainer, "creating")
}

/// The hooks of `phase` that run in the init itself, with the state saying `status`.
fn run_hooks_here(req: &Launch, h: &Handles, phase: Phase, status: &str) -> Result<()> {
    let spec = &req.bundle.spec;
    if !has_hooks(spec, &[phase]) {
        return Ok(());
    }
    let state = crate::hooks::state_json(
        req.id,
        status,
        host_pid(h),
        &req.bundle.dir,
        spec.annotations().as_ref(),
    );
    crate::hooks::run(spec, phase, &state)
}

/// process.terminal: a pty from the container's devpts, bound over
/// /dev/console, made our stdio; the master goes to the console socket.
fn terminal(req: &Launch, root: &std::os::fd::OwnedFd, sock: std::os::fd::RawFd) -> Result<()> {
    let pty = crate::console::open_pty(root)?;
    if let Some(p) = req.bundle.spec.process() {
        crate::console::set_size(&pty, p)?;
    }
    crate::console::bind_console(root, &pty)?;
    crate::console::send_master(sock, &pty)?;
    crate::console::make_stdio(&pty)
}
