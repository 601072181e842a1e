//! `exec`: a new process in a running container. Stage 1 joins every
//! namespace of the container's init and forks (so the process lands in the
//! container's pid namespace); the parent puts the child in the container's
//! cgroup; the child applies the process settings and execs. The channel is
//! close-on-exec, so end-of-file after Placed means the exec happened.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{anyhow, Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType as T, Process};

use super::sync::{self, Channel, Msg};
use crate::cgroups::Cgroup;
use crate::process;

/// What the new process needs.
pub struct ExecRequest<'a> {
    pub init_pid: i32,
    /// The init's start time, to tell it from a process that reused its pid.
    pub init_start: u64,
    pub process: &'a Process,
    /// The container's linux section: personality and memoryPolicy apply
    /// to exec'd processes too.
    pub linux: Option<&'a oci_spec::runtime::Linux>,
    /// The process's oomScoreAdj, or the container's: not the caller's
    /// (a shim's is often far below the container's).
    pub oom_score_adj: Option<i32>,
    pub cgroup: Option<&'a str>,
    /// `exec --cgroup` in its per-controller form: moved there once placed.
    pub sub_cgroup: Option<&'a crate::cgroups::sub::SubCgroup>,
    pub preserve_fds: u32,
    pub sigmask: SigSet,
    /// The container's linux.seccomp, compiled.
    pub seccomp: Option<&'a crate::process::seccomp::Seccomp>,
    /// A connected --console-socket for a pty (exec --tty).
    pub console: Option<std::os::fd::RawFd>,
    /// Gives a seccomp notify listener (and the process's pid) to the agent.
    pub handover: &'a dyn Fn(i32, OwnedFd) -> Result<()>,
    /// Told the process's pid once it is placed, while it waits to go on
    /// (--pidfd-socket, the record of `state::execs`): it cannot have
    /// exited and been reaped yet.
    pub on_placed: &'a dyn Fn(i32) -> Result<()>,
}

/// Namespaces to join, by type.
type Namespaces = Vec<(T, OwnedFd)>;

/// The init's namespaces that differ from ours (joining our own user
/// namespace again is an error), user first, and its root where it has no
/// mount namespace of its own: all opened before the init is checked to be
/// alive still, so they are its.
fn container_namespaces(pid: i32, start: u64) -> Result<(Namespaces, Option<OwnedFd>)> {
    let kinds = [
        (T::User, "user"),
        (T::Ipc, "ipc"),
        (T::Uts, "uts"),
        (T::Network, "net"),
        (T::Pid, "pid"),
        (T::Cgroup, "cgroup"),
        (T::Time, "time"),
        (T::Mount, "mnt"),
    ];
    let mut out = vec![];
    for (t, name) in kinds {
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}"));
        if ours.is_err() {
            continue; // this kernel has no such namespace
        }
        let theirs = format!("/proc/{pid}/ns/{name}");
        // Opened first, compared after: what is compared is what will be joined.
        let f =
            std::fs::File::open(&theirs).with_context(|| format!("open {theirs}: is the container still running?"))?;
        let link = std::fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd()))?;
        if ours.ok() == Some(link) {
            continue;
        }
        out.push((t, f.into()));
    }
    let chroot = chroot_of(pid, &out)?;
    // The init could have exited (and its pid been reused) before the opens:
    // then these would be someone else's namespaces (or root), or the host's.
    if !crate::state::is_alive(pid, start) {
        anyhow::bail!("the container's init exited: nothing to exec into");
    }
    Ok((out, chroot))
}

/// What lets the process place itself (see `Cgroup::self_placement`): the
/// v1 `tasks` files and the hybrid host's cgroup2 directory. Host root
/// only, and not through a user namespace.
struct SelfPlacement {
    tasks: Vec<std::path::PathBuf>,
    cgroup2: Option<OwnedFd>,
}

fn self_placement(req: &ExecRequest, namespaces: &[(T, OwnedFd)]) -> Result<Option<SelfPlacement>> {
    let Some(path) = req.cgroup else { return Ok(None) };
    if namespaces.iter().any(|(t, _)| *t == T::User) || !crate::privilege::is_host_root() {
        return Ok(None);
    }
    let cg = Cgroup::open(path)?;
    let Some(tasks) = cg.self_placement()? else {
        return Ok(None);
    };
    Ok(Some(SelfPlacement {
        tasks,
        cgroup2: cg.hybrid_dir_fd()?,
    }))
}

/// Starts the process; returns its pid once it has exec'd.
pub fn launch(req: &ExecRequest) -> Result<i32> {
    let (namespaces, chroot) = container_namespaces(req.init_pid, req.init_start)?;
    let placement = self_placement(req, &namespaces)?;
    // The host's procfs, for the LSM attributes and oom_score_adj: the
    // container's /proc is theirs.
    let proc = (process::lsm::asked(req.process) || req.oom_score_adj.is_some())
        .then(super::kernel::open_proc)
        .transpose()?;
    let affinity = process::affinity::ExecAffinity::of(req.process)?;
    // The process is placed (cgroup, pidfd) by pid after stage 1 has exited:
    // should the container's pid namespace be torn down meanwhile, the pid
    // must stay a zombie of ours, not be reaped and reused by another.
    super::become_subreaper()?;
    let (parent, child) = sync::pair()?;
    // SAFETY: exec is single-threaded up to here.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(parent);
            let code = match join_and_fork(
                req,
                &namespaces,
                chroot.as_ref(),
                proc.as_ref(),
                placement.as_ref(),
                &affinity,
                child,
            ) {
                Ok(()) => 0,
                Err(_) => 1,
            };
            // SAFETY: leave without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child: stage1 } => {
            drop(child);
            drop(namespaces);
            let res = supervise(req, &parent);
            drop(parent);
            let _ = waitpid(stage1, None);
            res
        }
    }
}

/// A container without a mount namespace of its own is chrooted in the
/// caller's: the exec'd process goes into the init's root too.
fn chroot_of(pid: i32, namespaces: &[(T, OwnedFd)]) -> Result<Option<OwnedFd>> {
    if namespaces.iter().any(|(t, _)| *t == T::Mount) {
        return Ok(None);
    }
    let link = format!("/proc/{pid}/root");
    if std::fs::read_link(&link).is_ok_and(|p| p == std::path::Path::new("/")) {
        return Ok(None);
    }
    crate::rootfs::inroot::open_dir(std::path::Path::new(&link)).map(Some)
}

fn join_and_fork(
    req: &ExecRequest,
    namespaces: &[(T, OwnedFd)],
    chroot: Option<&OwnedFd>,
    proc: Option<&OwnedFd>,
    placement: Option<&SelfPlacement>,
    affinity: &process::affinity::ExecAffinity,
    ch: Channel,
) -> Result<()> {
    let result = (|| -> Result<bool> {
        let keep: Vec<i32> = namespaces
            .iter()
            .map(|(_, f)| f.as_raw_fd())
            .chain([ch.as_raw_fd()])
            .chain(req.console)
            .chain(proc.map(|p| p.as_raw_fd()))
            .chain(chroot.map(|c| c.as_raw_fd()))
            .chain(placement.and_then(|p| p.cgroup2.as_ref()).map(|c| c.as_raw_fd()))
            .collect();
        process::exec::close_fds_except(3 + req.preserve_fds as i32, &keep)?;
        // While still dumpable: a non-dumpable process's /proc files are
        // root's, out of an unprivileged caller's reach.
        if let Some(proc) = proc {
            super::kernel::oom_score_adj(proc, req.oom_score_adj)?;
        }
        affinity.apply_initial()?;
        process::exec::not_dumpable()?;
        // While the host's cgroupfs is in reach: the child inherits these.
        let joined_v1 = placement.is_some_and(|p| crate::cgroups::join_self(&p.tasks).is_ok());
        for (t, fd) in namespaces {
            nix::sched::setns(fd, CloneFlags::from_bits_retain(*t as i32))
                .with_context(|| format!("join the container's {} namespace", crate::spec::ns_name(*t)))?;
        }
        if let Some(root) = chroot {
            nix::unistd::fchdir(root.as_raw_fd()).context("chdir into the container's root")?;
            nix::unistd::chroot(".").context("chroot into the container's root")?;
        }
        // Single-threaded.
        let cgroup2 = placement.and_then(|p| p.cgroup2.as_ref());
        match super::kernel::fork_into(cgroup2).context("fork into the pid namespace")? {
            (ForkResult::Child, _) => Ok(true),
            (ForkResult::Parent { child }, in_cgroup2) => {
                ch.send(&Msg::InitPid {
                    pid: child.as_raw(),
                    in_cgroup2,
                    joined_v1,
                })?;
                Ok(false)
            }
        }
    })();
    match result {
        Ok(true) => run_process(req, proc, affinity, ch),
        Ok(false) => Ok(()),
        Err(e) => {
            let _ = ch.send(&Msg::Error { msg: format!("{e:#}") });
            Err(e)
        }
    }
}

/// The exec'd process itself: waits to be placed, sets itself up, execs.
fn run_process(
    req: &ExecRequest,
    proc: Option<&OwnedFd>,
    affinity: &process::affinity::ExecAffinity,
    ch: Channel,
) -> ! {
    let e = (|| -> Result<()> {
        // A session of its own, so a pty can become its controlling terminal.
        let _ = nix::unistd::setsid();
        match ch.recv()? {
            Some(Msg::Placed) => {}
            other => anyhow::bail!("exec channel: expected Placed, got {other:?}"),
        }
        affinity.apply_final()?;
        if let Some(sock) = req.console {
            let root = crate::rootfs::inroot::open_dir(std::path::Path::new("/"))?;
            let pty = crate::console::open_pty(&root)?;
            crate::console::set_size(&pty, req.process)?;
            crate::console::send_master(sock, &pty)?;
            crate::console::make_stdio(&pty)?;
        }
        // Before setup: without no_new_privs the seccomp filter goes in there,
        // and it may deny what these need.
        process::exec::reset_signal_handlers();
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&req.sigmask), None).context("restore the signal mask")?;
        process::exec::cloexec_from(3 + req.preserve_fds)?;
        // Before the user switch makes our /proc files root's and unwritable.
        if let Some(proc) = proc {
            process::lsm::apply(proc, req.process)?;
        }
        process::apply_linux(req.linux)?;
        let prog = process::setup(req.process, req.seccomp, &|fd| ch.hand_up_listener(fd))?;
        process::seccomp::load_last(req.seccomp, Some(req.process))?;
        Err(process::exec::exec(&prog.path, &prog.args, &prog.env))
    })()
    .err()
    .unwrap_or_else(|| anyhow!("exec returned"));
    let _ = ch.send(&Msg::Error { msg: format!("{e:#}") });
    // SAFETY: leave without the parent's atexit handlers.
    unsafe { libc::_exit(127) }
}

fn supervise(req: &ExecRequest, ch: &Channel) -> Result<i32> {
    let mut pid = None;
    loop {
        match ch.recv()? {
            None => break,
            Some(Msg::InitPid {
                pid: p,
                in_cgroup2,
                joined_v1,
            }) => {
                pid = Some(p);
                hull_sys::fault::point("exec:forked");
                if let Some(path) = req.cgroup {
                    let placed = Cgroup::open(path)
                        .and_then(|mut cg| match joined_v1 {
                            true => cg.placed_itself(p, in_cgroup2),
                            false => cg.add(p),
                        })
                        .and_then(|()| req.sub_cgroup.map_or(Ok(()), |s| s.move_into(path, p)));
                    if let Err(e) = placed {
                        super::reap(p);
                        return Err(e.context("join the container's cgroup"));
                    }
                }
                if let Err(e) = (req.on_placed)(p) {
                    super::reap(p);
                    return Err(e);
                }
                hull_sys::fault::point("exec:placed");
                ch.send(&Msg::Placed)?;
            }
            Some(Msg::SeccompListener) => {
                let handed = ch
                    .take_fd()
                    .context("the seccomp listener did not arrive")
                    .and_then(|fd| (req.handover)(pid.unwrap_or(0), fd));
                if let Err(e) = handed {
                    if let Some(p) = pid {
                        super::reap(p);
                    }
                    return Err(e);
                }
                ch.send(&Msg::Ack)?;
            }
            Some(Msg::Error { msg }) => {
                if let Some(p) = pid {
                    super::reap(p);
                }
                return Err(anyhow!(msg));
            }
            Some(other) => return Err(anyhow!("exec channel: unexpected {other:?}")),
        }
    }
    pid.ok_or_else(|| anyhow!("the exec'd process vanished before it started"))
}
