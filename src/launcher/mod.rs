//! Making the container process. The parent (hull create) forks stage 1,
//! which joins and unshares namespaces and forks the init (so a new pid
//! namespace gets its pid 1), then exits. The init sets up the rootfs and the
//! process, reports Ready and blocks on the exec fifo until `start`. When
//! no namespace is joined and no user or time namespace is made, the parent
//! clones the init straight into its new pid namespace instead, and the init
//! makes the other namespaces itself (`clones_init`).
//!
//! ```text
//!   hull create ──fork──► stage 1 ──fork──► init ── exec fifo ──► exec(args)
//!        ▲  MapIds/Ack      │ InitPid  Placed │ Ready | Error
//!        └──────────────────┴─────────────────┘  (one SEQPACKET channel)
//!   hull create ──clone(CLONE_NEWPID)─────► init   (the same channel)
//! ```

pub mod exec;
pub(crate) mod idmap;
mod init;
pub mod kernel;
pub(crate) mod listener;
mod namespaces;
pub(crate) mod netdevices;
pub mod sealed_exe;
mod stage1;
mod sync;

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sched::CloneFlags;
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
    /// Indices in `mounts` of binds from the state directory, which is the
    /// caller's alone: cloned here, since the container's user cannot reach
    /// their sources by path.
    pub state_binds: Vec<usize>,
}

/// Handles the init inherits, through stage 1 or straight from the parent.
struct Handles {
    proc_fd: OwnedFd,
    fifo: OwnedFd,
    ns: namespaces::Plan,
    /// Bind mounts made here, where the privileges are (rootfs::detached).
    detached: Vec<crate::rootfs::detached::Prepared>,
    /// The hybrid host's cgroup2 directory the init is born in.
    cgroup2: Option<OwnedFd>,
}

/// The bind mounts the init attaches rather than makes: idmapped ones, and
/// those from the state directory.
fn detached_binds(req: &Launch) -> Result<Vec<crate::rootfs::detached::Prepared>> {
    use crate::rootfs::detached;
    let spec = &req.bundle.spec;
    let mut out = crate::rootfs::idmapped::prepare(spec, &req.bundle.dir)?;
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    // Where the init can reach the path it binds that instead: a
    // rootless one's root is the caller, the owner; a host root's init
    // without a user namespace passes. A user namespace's root cannot.
    let by_path = || {
        !crate::privilege::is_host_root()
            || !crate::spec::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User)
    };
    for &index in &req.state_binds {
        let m = mounts
            .get(index)
            .context("a state directory bind past the end of mounts")?;
        let src = m
            .source()
            .as_deref()
            .context("a state directory bind without a source")?;
        match detached::clone_tree(src, false) {
            Ok(fd) => out.push(detached::Prepared { index, fd }),
            // A rootless caller may not clone a mount (EPERM).
            Err(e) if by_path() && matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => {
                tracing::debug!("open_tree {}: {e}; the init binds it by path", src.display());
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "open_tree {} for {} (a user namespace's root cannot reach it by path)",
                        src.display(),
                        m.destination().display()
                    )
                })
            }
        }
    }
    Ok(out)
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
        detached: detached_binds(req)?,
        cgroup2: match cgroup.as_deref() {
            Some(cg) if may_place_itself(req) => cg.hybrid_dir_fd()?,
            _ => None,
        },
    };
    // Through stage 1 the init is placed (cgroup, start time, pidfd) by a
    // pid it is not our child under: should it die meanwhile, the pid must
    // stay a zombie of ours, not be reaped and reused by another.
    become_subreaper()?;
    let (parent, child) = sync::pair()?;
    let pidns = handles.ns.new_flags.intersection(CloneFlags::CLONE_NEWPID);
    let cloned = clones_init(&handles.ns)
        .then(|| kernel::clone_into(handles.cgroup2.as_ref(), pidns))
        .flatten();
    let direct = cloned.is_some();
    let forked = match cloned {
        Some(c) => c,
        // SAFETY: the create path is single-threaded, so the child may allocate.
        None => (unsafe { fork() }.context("fork stage 1")?, false),
    };
    match forked {
        (ForkResult::Child, _) => {
            drop(parent);
            match direct {
                true => stage1::run_as_init(req, &handles, child),
                false => stage1::run(req, &handles, child),
            }
        }
        (ForkResult::Parent { child: pid }, in_cgroup2) => {
            drop(child);
            drop(handles);
            hull_sys::fault::point("create:forked");
            let forked = match direct {
                true => Forked::Init { pid, in_cgroup2 },
                false => Forked::Stage1(pid),
            };
            supervise(req, parent, forked, cgroup)
        }
    }
}

/// Whether the parent clones the init itself, straight into its new pid
/// namespace, instead of through stage 1: one process fewer to fork, wait
/// for and hear from. Stage 1 stays for what must happen between the fork
/// and the init: joining namespaces (a joined pid namespace takes only the
/// children of who joined it), a user namespace's id maps, a time
/// namespace's offsets, and the rootless order of dumpability.
/// A raw clone also needs this process to be single-threaded (see
/// `kernel::clone_into`): a library caller's may not be.
fn clones_init(ns: &namespaces::Plan) -> bool {
    !ns.new_user
        && ns.joins.is_empty()
        && !ns.new_flags.contains(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
        && !stage1::is_rootless()
        && kernel::single_threaded()
}

/// Who the parent forked: stage 1, which reports the init's pid, or the init.
enum Forked {
    Stage1(Pid),
    Init { pid: Pid, in_cgroup2: bool },
}

/// The parent's side of the channel: maps ids, learns the init's pid, and on
/// any failure leaves no process behind.
fn supervise(req: &Launch, ch: sync::Channel, forked: Forked, mut cgroup: Option<&mut Cgroup>) -> Result<i32> {
    // The cgroup directories are made while stage 1 or the init makes the
    // namespaces: on another CPU, that is time the init does not wait for.
    let placement = match cgroup.as_deref() {
        Some(cg) if may_place_itself(req) => cg.self_placement(),
        _ => Ok(None),
    };
    let mut talk = Talk {
        init: None,
        ready: false,
        placement,
    };
    let failure = match forked {
        Forked::Init { pid, in_cgroup2 } => talk.init_forked(req, &ch, pid.as_raw(), in_cgroup2, cgroup.as_deref_mut()),
        Forked::Stage1(_) => Ok(()),
    };
    let failure = match failure {
        Ok(()) => talk.listen(req, &ch, cgroup),
        Err(e) => Some(e),
    };
    drop(ch);
    if let Forked::Stage1(stage1) = forked {
        let _ = waitpid(stage1, None);
    }
    match (failure, talk.init, talk.ready) {
        (None, Some(pid), true) => Ok(pid),
        (failure, init, _) => {
            if let Some(pid) = init {
                reap(pid);
            }
            Err(failure.unwrap_or_else(|| anyhow!("container init exited before it was ready")))
        }
    }
}

/// What the parent has heard from the init so far.
struct Talk {
    init: Option<i32>,
    ready: bool,
    /// The `tasks` files the init joins itself, until it is placed.
    placement: Result<Option<Vec<std::path::PathBuf>>>,
}

impl Talk {
    /// The init exists: it goes into its cgroup before anything else.
    fn init_forked(
        &mut self,
        req: &Launch,
        ch: &sync::Channel,
        pid: i32,
        in_cgroup2: bool,
        cgroup: Option<&mut Cgroup>,
    ) -> Result<()> {
        self.init = Some(pid);
        hull_sys::fault::point("create:init-pid");
        let tasks = std::mem::replace(&mut self.placement, Ok(None));
        // An init that failed on its own (cloned, it makes its namespaces
        // meanwhile) may be why placing it failed: its reason comes first.
        place(req, ch, pid, in_cgroup2, cgroup, tasks).map_err(|e| ch.sent_error().map_or(e, |m| anyhow!(m)))?;
        hull_sys::fault::point("create:placed");
        ch.send(&Msg::Placed)
    }

    /// Answers the children until every end of the channel is closed; the
    /// first failure, if any.
    fn listen(&mut self, req: &Launch, ch: &sync::Channel, mut cgroup: Option<&mut Cgroup>) -> Option<anyhow::Error> {
        let mut failure: Option<anyhow::Error> = None;
        loop {
            let msg = match ch.recv() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => return Some(failure.unwrap_or(e)),
            };
            let answered = match msg {
                Msg::MapIds { pid } => idmap::write(pid, &req.bundle.spec).and_then(|()| ch.send(&Msg::Ack)),
                Msg::InitPid { pid, in_cgroup2, .. } => {
                    self.init_forked(req, ch, pid, in_cgroup2, cgroup.as_deref_mut())
                }
                Msg::Ready => {
                    hull_sys::fault::point("create:ready");
                    self.ready = true;
                    Ok(())
                }
                Msg::Error { msg } => {
                    failure.get_or_insert(anyhow!(msg));
                    Ok(())
                }
                Msg::SeccompListener => self.hand_over_listener(req, ch).and_then(|()| ch.send(&Msg::Ack)),
                Msg::CreateHooks => self
                    .net_devices(req)
                    .and_then(|()| runtime_hooks(req, self.init))
                    .and_then(|()| {
                        hull_sys::fault::point("create:hooks");
                        ch.send(&Msg::Ack)
                    }),
                Msg::Ack | Msg::Placed | Msg::JoinCgroups { .. } | Msg::NotJoined { .. } => Ok(()),
            };
            if let Err(e) = answered {
                return Some(failure.unwrap_or(e));
            }
        }
        failure
    }

    fn net_devices(&self, req: &Launch) -> Result<()> {
        match self.init {
            Some(pid) => netdevices::move_all(&req.bundle.spec, pid),
            None => bail!("create channel: CreateHooks before the init's pid"),
        }
    }

    fn hand_over_listener(&self, req: &Launch, ch: &sync::Channel) -> Result<()> {
        let fd = ch.take_fd().context("the seccomp listener did not arrive")?;
        listener::hand_over(
            &req.bundle.spec,
            req.id,
            "creating",
            self.init.unwrap_or(0),
            &req.bundle.dir,
            fd,
        )
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
                // A cloned init may have failed before it read JoinCgroups.
                Some(Msg::Error { msg }) => bail!("{msg}"),
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
    if let Some(start) = crate::state::start_time(pid) {
        wait_gone(pid, start, Duration::from_secs(10));
    }
}

/// Makes the orphans of this process's children its own, so a pid it was
/// told stays taken (at worst by a zombie) until this process reaps it.
pub fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("become a child subreaper");
    }
    // An ignored SIGCHLD (inherited from whoever started hull) would have
    // the kernel reap those orphans at once.
    // SAFETY: the default action, no handler.
    unsafe { nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl) }
        .context("reset SIGCHLD to its default")?;
    Ok(())
}

/// Waits for the process on `pid` that started at `start`, which may not be
/// our child, to exit (or be a zombie); one that has taken the pid since is
/// not waited for.
pub fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let _ = waitpid(Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        if !crate::state::is_alive(pid, start) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}
