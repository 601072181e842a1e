//! Making the container process. The parent (hull create) forks stage 1,
//! which joins and unshares namespaces and forks the init (so a new pid
//! namespace gets its pid 1), then exits. The init sets up the rootfs and the
//! process, reports Ready and blocks on the exec fifo until `start`.
//!
//! ```text
//!   hull create ──fork──► stage 1 ──fork──► init ── exec fifo ──► exec(args)
//!        ▲  MapIds/Ack      │ InitPid  Placed │ Ready | Error
//!        └──────────────────┴─────────────────┘  (one SEQPACKET channel)
//! ```

pub mod exec;
pub(crate) mod idmap;
mod init;
pub mod kernel;
pub(crate) mod listener;
mod namespaces;
pub mod sealed_exe;
mod stage1;
mod sync;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

use crate::cgroups::Cgroup;
use crate::spec::Bundle;
use sync::Msg;

/// What the init needs beyond the bundle.
pub struct Launch<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    /// The exec fifo in the state directory.
    pub fifo: &'a Path,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    /// Give the container a session keyring of its own (runc's default).
    pub new_keyring: bool,
    /// hull's own fds that must not reach the container whatever their number
    /// (the state-dir lock could sit among the --preserve-fds range).
    pub own_fds: Vec<std::os::fd::RawFd>,
    /// linux.seccomp, compiled before anything was made.
    pub seccomp: Option<&'a crate::process::seccomp::Seccomp>,
    /// A connected --console-socket: the init sends its pty master there.
    pub console: Option<std::os::fd::RawFd>,
    /// The signal mask the container's process starts with.
    pub sigmask: SigSet,
}

/// Handles the init inherits across both forks.
struct Handles {
    proc_fd: OwnedFd,
    fifo: OwnedFd,
    ns: namespaces::Plan,
    /// Detached idmapped mounts, made here where the privileges are.
    idmapped: Vec<crate::rootfs::idmapped::Prepared>,
    /// The hybrid host's cgroup2 directory the init is born in.
    cgroup2: Option<OwnedFd>,
}

/// Starts the container's init; returns its pid once it waits on the fifo.
pub fn launch(req: &Launch, cgroup: Option<&mut Cgroup>) -> Result<i32> {
    let spec = &req.bundle.spec;
    let ns = namespaces::plan(spec)?;
    let fifo = crate::rootfs::inroot::open_dir(req.fifo.parent().unwrap_or(Path::new("/"))).and_then(|dir| {
        crate::rootfs::inroot::openat2(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            Path::new(crate::state::EXEC_FIFO),
            libc::O_PATH,
            crate::rootfs::inroot::Follow::NoSymlinks,
        )
        .context("open the exec fifo")
    })?;
    let handles = Handles {
        proc_fd: kernel::open_proc()?,
        fifo,
        ns,
        idmapped: crate::rootfs::idmapped::prepare(spec, &req.bundle.dir)?,
        cgroup2: match cgroup.as_deref() {
            Some(cg) if may_place_itself(req) => cg.hybrid_dir_fd()?,
            _ => None,
        },
    };
    let (parent, child) = sync::pair()?;
    // SAFETY: the create path is single-threaded, so the child may allocate.
    match unsafe { fork() }.context("fork stage 1")? {
        ForkResult::Child => {
            drop(parent);
            stage1::run(req, &handles, child)
        }
        ForkResult::Parent { child: stage1 } => {
            drop(child);
            drop(handles);
            hull_sys::fault::point("create:forked");
            supervise(req, parent, stage1, cgroup)
        }
    }
}

/// The parent's side of the channel: maps ids, learns the init's pid, and on
/// any failure leaves no process behind.
fn supervise(req: &Launch, ch: sync::Channel, stage1: Pid, mut cgroup: Option<&mut Cgroup>) -> Result<i32> {
    // The cgroup directories are made while stage 1 makes the namespaces:
    // on another CPU, that is time the init does not wait for.
    let mut placement = match cgroup.as_deref() {
        Some(cg) if may_place_itself(req) => cg.self_placement(),
        _ => Ok(None),
    };
    let mut init = None;
    let mut ready = false;
    let mut failure: Option<anyhow::Error> = None;
    loop {
        let msg = match ch.recv() {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                failure.get_or_insert(e);
                break;
            }
        };
        match msg {
            Msg::MapIds { pid } => match idmap::write(pid, &req.bundle.spec) {
                Ok(()) => ch.send(&Msg::Ack)?,
                Err(e) => {
                    failure.get_or_insert(e);
                    break;
                }
            },
            Msg::InitPid { pid, in_cgroup2, .. } => {
                init = Some(pid);
                hull_sys::fault::point("create:init-pid");
                let tasks = std::mem::replace(&mut placement, Ok(None));
                match place(req, &ch, pid, in_cgroup2, cgroup.as_deref_mut(), tasks) {
                    Ok(()) => {
                        hull_sys::fault::point("create:placed");
                        ch.send(&Msg::Placed)?
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                        break;
                    }
                }
            }
            Msg::Ready => {
                hull_sys::fault::point("create:ready");
                ready = true
            }
            Msg::Error { msg } => {
                failure.get_or_insert(anyhow!(msg));
            }
            Msg::SeccompListener => {
                let handed = ch
                    .take_fd()
                    .context("the seccomp listener did not arrive")
                    .and_then(|fd| {
                        listener::hand_over(
                            &req.bundle.spec,
                            req.id,
                            "creating",
                            init.unwrap_or(0),
                            &req.bundle.dir,
                            fd,
                        )
                    });
                match handed {
                    Ok(()) => ch.send(&Msg::Ack)?,
                    Err(e) => {
                        failure.get_or_insert(e);
                        break;
                    }
                }
            }
            Msg::CreateHooks => match runtime_hooks(req, init) {
                Ok(()) => {
                    hull_sys::fault::point("create:hooks");
                    ch.send(&Msg::Ack)?
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    break;
                }
            },
            Msg::Ack | Msg::Placed | Msg::JoinCgroups { .. } | Msg::NotJoined { .. } => {}
        }
    }
    drop(ch);
    let _ = waitpid(stage1, None);
    match (failure, init, ready) {
        (None, Some(pid), true) => Ok(pid),
        (failure, init, _) => {
            if let Some(pid) = init {
                reap(pid);
            }
            Err(failure.unwrap_or_else(|| anyhow!("container init exited before it was ready")))
        }
    }
}

/// prestart and createRuntime: in hull's own namespaces, before pivot_root.
/// runtime.md's lifecycle has create done (step 2) when prestart runs (step
/// 3), so its state says `created`, as crun's does; createRuntime's says
/// `creating`.
fn runtime_hooks(req: &Launch, init: Option<i32>) -> Result<()> {
    let spec = &req.bundle.spec;
    let state = |status| {
        crate::hooks::state_json(
            req.id,
            status,
            init.unwrap_or(0),
            &req.bundle.dir,
            spec.annotations().as_ref(),
        )
    };
    crate::hooks::run(spec, crate::hooks::Phase::Prestart, &state("created"))?;
    crate::hooks::run(spec, crate::hooks::Phase::CreateRuntime, &state("creating"))
}

/// Puts the init in its cgroup with its limits, before any of its setup runs.
/// `tasks`: the `tasks` files the init joins itself (`self_placement`'s).
fn place(
    req: &Launch,
    ch: &sync::Channel,
    pid: i32,
    in_cgroup2: bool,
    cgroup: Option<&mut Cgroup>,
    tasks: Result<Option<Vec<std::path::PathBuf>>>,
) -> Result<()> {
    let Some(cg) = cgroup else { return Ok(()) };
    match tasks? {
        Some(tasks) => {
            ch.send(&Msg::JoinCgroups { tasks })?;
            match ch.recv()? {
                Some(Msg::Ack) => cg.placed_itself(pid, in_cgroup2)?,
                Some(Msg::NotJoined { why }) => {
                    tracing::debug!("the init could not place itself ({why}); placing it");
                    cg.add(pid)?;
                }
                other => bail!("create channel: expected the init's answer to JoinCgroups, got {other:?}"),
            }
        }
        None => cg.add(pid)?,
    }
    let linux = req.bundle.spec.linux().as_ref();
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    cg.apply(linux.and_then(|l| l.resources().as_ref()), devices)
}

/// Whether the init can write its cgroups' files itself: host root, and
/// no user namespace between it and them.
fn may_place_itself(req: &Launch) -> bool {
    !crate::spec::has_namespace(&req.bundle.spec, oci_spec::runtime::LinuxNamespaceType::User)
        && crate::privilege::is_host_root()
}

/// Kills a failed init and waits for it to be gone.
pub fn reap(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    wait_gone(pid, Duration::from_secs(10));
}

/// Waits for a process that may not be our child to exit (or be a zombie).
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    let start = crate::state::start_time(pid);
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let _ = waitpid(Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        match start {
            Some(s) if crate::state::is_alive(pid, s) => std::thread::sleep(Duration::from_millis(1)),
            _ => return true,
        }
    }
    false
}
