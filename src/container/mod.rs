//! A container's life: create, start, signal, delete. The commands are thin
//! wrappers over these.

pub mod foreground;
pub mod notify;
pub mod phrases;
mod signals;

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hull_sys::fault;
use nix::sys::signal::SigSet;

use crate::cgroups::{Cgroup, CgroupRef};
use crate::launcher::{self, Launch};
use crate::spec::Bundle;
use crate::state::{self, ContainerDir, State, Status};

pub use signals::parse_signal;

/// Removes a half-made container (its init and state dir) unless disarmed.
struct CreateGuard {
    dir: Option<ContainerDir>,
    pid: Option<i32>,
    /// A cgroup this create is making, and what of it (Cgroup::to_make).
    cgroup: Option<(String, Vec<crate::cgroups::Made>)>,
    /// A systemd unit this create may have started.
    unit: Option<String>,
}

impl Drop for CreateGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            launcher::reap(pid);
        }
        if let Some(unit) = self.unit.take() {
            let _ = crate::cgroups::systemd::stop(&unit);
        }
        if let Some((path, made)) = self.cgroup.take() {
            until_removed(|| Cgroup::remove_made(&path, &made, true));
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

fn owner() -> String {
    let uid = nix::unistd::getuid().as_raw();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    crate::passwd::by_uid(&passwd, uid).map_or_else(|| uid.to_string(), |e| e.name.to_string())
}

/// What `create` is given besides the id, in plain types (the command
/// line's flags convert to it; the engine builds it directly).
#[derive(Debug, Clone, Default)]
pub struct CreateOpts {
    pub bundle: std::path::PathBuf,
    pub pid_file: Option<std::path::PathBuf>,
    pub console_socket: Option<std::path::PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub pidfd_socket: Option<std::path::PathBuf>,
    /// Give the process a socket for systemd's READY (the caller has a
    /// NOTIFY_SOCKET; see notify.rs).
    pub notify: bool,
}

/// `create`: leaves the init waiting on the exec fifo; returns its pid.
pub fn create(
    root: &Path,
    id: &str,
    opts: &CreateOpts,
    sigmask: SigSet,
    for_run: bool,
) -> Result<(ContainerDir, State, Option<std::os::fd::OwnedFd>)> {
    state::check_id(id)?;
    let mut bundle = Bundle::load(&opts.bundle)?;
    if !crate::spec::has_new_namespace(&bundle.spec, oci_spec::runtime::LinuxNamespaceType::Pid) {
        // The init joins a pid namespace others are in already. First: the
        // command runs again from the start.
        launcher::sealed_exe::ensure(&sigmask)?;
    }
    let new_userns = crate::spec::has_new_namespace(&bundle.spec, oci_spec::runtime::LinuxNamespaceType::User);
    if let Some(p) = bundle.spec.process_mut() {
        crate::process::caps::leave_out_ungrantable(p, new_userns)?;
    }
    let preserve_fds = socket_activation(&mut bundle, opts.preserve_fds);
    // config.md: process is REQUIRED only when start is called; without one
    // the container is created and `start` fails.
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .is_some_and(|p| p.terminal().unwrap_or(false));
    // The init's end of the terminal hand-off, and ours when hull keeps the master itself.
    let (console, local) = match (&opts.console_socket, terminal) {
        (Some(sock), true) => (Some(crate::fdpass::connect(sock, "--console-socket")?), None),
        (Some(_), false) => bail!("--console-socket: config.json has process.terminal false; there is no pty to send"),
        (None, true) if !for_run => {
            bail!("config.json: process.terminal is true: create needs --console-socket to hand the pty to")
        }
        // run in the foreground: hull keeps the master and relays the caller's terminal.
        (None, true) => {
            let (theirs, ours) = crate::console::local_pair()?;
            (Some(theirs), Some(ours))
        }
        (None, false) => (None, None),
    };
    let seccomp = compile_seccomp(&bundle)?;
    let pidfd_socket = opts
        .pidfd_socket
        .as_deref()
        .map(|p| crate::fdpass::connect(p, "--pidfd-socket"))
        .transpose()?;
    let dir = ContainerDir::create(root, id)?;
    let mut guard = CreateGuard {
        dir: Some(dir),
        pid: None,
        cgroup: None,
        unit: None,
    };
    let dir = guard.dir.as_ref().context("state dir")?;
    fault::point("create:state-dir");
    make_fifo(&dir.fifo())?;
    fault::point("create:fifo");
    let state_binds = match opts.notify {
        true => vec![notify::prepare(&mut bundle.spec, &dir.notify_dir())?],
        false => vec![],
    };
    let req = Launch {
        id,
        bundle: &bundle,
        fifo: &dir.fifo(),
        preserve_fds,
        no_pivot: opts.no_pivot,
        new_keyring: !opts.no_new_keyring,
        own_fds: dir.lock_fd().into_iter().collect(),
        console: console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
        seccomp: seccomp.as_ref(),
        sigmask,
        state_binds,
    };
    let (mut cgroup, existed) = match open_cgroup(&bundle, id)? {
        Some((cg, existed)) => (Some(cg), existed),
        None => (None, false),
    };
    let cgroup_ref = cgroup.as_ref().map(|cg| CgroupRef {
        path: cg.path.clone(),
        created: !existed,
        systemd: cg.systemd.clone(),
        made: Cgroup::to_make(&cg.path),
        hybrid_made_from: None,
    });
    if let Some(r) = cgroup_ref.as_ref().filter(|r| !r.made.is_empty()) {
        guard.cgroup = Some((r.path.clone(), r.made.clone()));
        // What a delete --force of a create killed midway removes.
        state::save_creating(dir, &serde_json::json!({"cgroup": r.path, "made": r.made}))?;
    }
    let launched = launcher::launch(&req, cgroup.as_mut());
    // Only a unit this create started is its to stop (a unit of that name
    // could belong to someone else).
    guard.unit = cgroup
        .as_ref()
        .filter(|cg| cg.started_unit)
        .and_then(|cg| cg.systemd.clone());
    let pid = launched?;
    guard.pid = Some(pid);
    if let Some(sock) = &pidfd_socket {
        crate::fdpass::send_pidfd(sock, pid, "standard")?;
    }
    let st = State {
        id: id.to_string(),
        pid,
        pid_start: state::start_time(pid).context("the container init vanished during create")?,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        owner: owner(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        cgroup: cgroup_ref,
        own_pid_ns: crate::spec::has_new_namespace(&bundle.spec, oci_spec::runtime::LinuxNamespaceType::Pid),
        no_process: bundle.spec.process().is_none(),
        poststart: Some(crate::hooks::list(&bundle.spec, crate::hooks::Phase::Poststart)),
        poststop: Some(crate::hooks::list(&bundle.spec, crate::hooks::Phase::Poststop)),
    };
    state::write_atomic(&dir.path.join(state::KEPT_CONFIG), &bundle.config, 0o600)?;
    dir.save(&st)?;
    fault::point("create:state-written");
    if let Some(p) = &opts.pid_file {
        // containerd reads it with Atoi: digits only, no newline.
        state::write_atomic(p, pid.to_string().as_bytes(), 0o644)
            .with_context(|| format!("--pid-file {}", p.display()))?;
        fault::point("create:pid-file");
    }
    guard.pid = None;
    guard.cgroup = None;
    guard.unit = None;
    let dir = guard.dir.take().context("state dir")?;
    let master = local.map(|l| crate::console::recv_master(l.as_raw_fd())).transpose()?;
    Ok((dir, st, master))
}

/// Socket activation (sd_listen_fds): when hull itself was handed LISTEN_FDS
/// sockets, they go on to the container's process, which is told so with
/// LISTEN_FDS and LISTEN_PID=1, as runc does. Returns the fds to preserve.
fn socket_activation(bundle: &mut Bundle, preserve_fds: u32) -> u32 {
    let listen = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse::<u32>().ok());
    let for_us = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let (Some(n), true) = (listen, for_us) else {
        return preserve_fds;
    };
    if let Some(p) = bundle.spec.process_mut() {
        let mut env: Vec<String> = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".into());
        p.set_env(Some(env));
    }
    preserve_fds.max(n)
}

/// linux.seccomp compiled, so a bad profile fails before anything is made.
pub fn compile_seccomp(bundle: &Bundle) -> Result<Option<crate::process::seccomp::Seccomp>> {
    let file = bundle.dir.join("config.json");
    bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::process::seccomp::compile)
        .transpose()
        .with_context(|| file.display().to_string())
}

/// The container's cgroup. In rootless mode (an unprivileged caller, root of
/// a user namespace as under rootless podman, or `--rootless true`) there is none, as in runc, unless the config asks for
/// limits: then only a cgroup delegated to the caller (its directories
/// writable by it) will do. The bool: whether any of its directories existed.
fn open_cgroup(bundle: &Bundle, id: &str) -> Result<Option<(Cgroup, bool)>> {
    let rootless = crate::privilege::rootless();
    // Under --systemd-cgroup on cgroup v2 the caller's own systemd makes
    // the scope (on v1 it has no hierarchy to delegate).
    if rootless && !(crate::cgroups::systemd::enabled() && crate::cgroups::is_v2()) {
        let limits = bundle.spec.linux().as_ref().and_then(|l| l.resources().clone());
        if !limits.as_ref().is_some_and(crate::cgroups::asks_for_limits) {
            tracing::debug!("rootless: no limits asked for, no cgroup");
            return Ok(None);
        }
    }
    let path = crate::cgroups::path_for(&bundle.spec, id)
        .with_context(|| bundle.dir.join("config.json").display().to_string())?;
    if rootless && !crate::cgroups::writable_by_caller(&path) {
        bail!(
            "linux.resources: a rootless container's limits need a cgroup delegated to uid {}; {path} is not",
            nix::unistd::geteuid()
        );
    }
    let (mut cg, existed) = own_cgroup(&path)?;
    cg.systemd = crate::cgroups::systemd_spec(&bundle.spec, id);
    if cg.systemd.is_some() {
        cg.unit_properties = crate::cgroups::systemd::annotation_properties(bundle.spec.annotations().as_ref())?;
    }
    cg.rootless = rootless;
    Ok(Some((cg, existed)))
}

/// The container's cgroup, which must be its own, as runc 1.2 requires: one
/// that already holds processes would share its limits, pause and kill --all
/// with them, and a frozen one would hold the init forever.
fn own_cgroup(path: &str) -> Result<(Cgroup, bool)> {
    let cg = Cgroup::open(path)?;
    let existed = cg.exists();
    if existed {
        let procs = cg.procs().len();
        if procs > 0 {
            bail!(
                "cgroup {path} (linux.cgroupsPath, or hull/<id> by default) already has {procs} process(es), another container's? Each container needs a cgroup of its own"
            );
        }
        if cg.is_frozen() {
            bail!("cgroup {path} (linux.cgroupsPath, or hull/<id> by default) is frozen");
        }
    }
    Ok((cg, existed))
}

/// The exec fifo, writable by whatever user the init ends up as (runc's 0622):
/// the init opens it after it dropped its privileges.
fn make_fifo(path: &Path) -> Result<()> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o622)).context("make the exec fifo")?;
    // mkfifo honours the umask; the mode must be exact.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o622)).context("chmod the exec fifo")
}

/// `start`: releases the init from the exec fifo.
pub fn start(dir: &ContainerDir, st: &State) -> Result<()> {
    match dir.status(st) {
        Status::Created if st.no_process => {
            bail!(
                "container {:?}: config.json has no process: there is nothing to start",
                st.id
            )
        }
        Status::Created => {}
        Status::Stopped => bail!("{}: {:?}", phrases::START_STOPPED, st.id),
        Status::Paused => bail!("{}: {:?}", phrases::START_PAUSED, st.id),
        Status::Running | Status::Creating => bail!("{}: {:?}", phrases::START_RUNNING, st.id),
    }
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(dir.fifo())
        .context("open the exec fifo")?;
    // A byte when the init is released, then the end of the fifo when the
    // user's program has replaced it (the init holds it CLOEXEC); anything
    // between is why the init could not get there.
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&fifo), &mut buf) {
            Ok(0) if !got.is_empty() => break,
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            Ok(_) | Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => {
                // A fifo no writer has opened yet polls as not readable
                // (no hang-up): this wakes at the init's byte, not later.
                let readable = wait_readable(&fifo);
                if !got.is_empty() || readable == Readable::Data {
                    continue;
                }
                if !state::is_alive(st.pid, st.pid_start) {
                    bail!("container {:?}: the init exited before it was started", st.id);
                }
                if readable == Readable::HungUp {
                    // The init wrote its byte and went on to its program,
                    // and someone else read the byte (hull's own starts
                    // take turns under the container's lock).
                    bail!("{}: {:?}", phrases::START_RUNNING, st.id);
                }
                if std::time::Instant::now() > deadline {
                    bail!("container {:?}: the init is not waiting on the exec fifo", st.id);
                }
            }
            Err(e) => return Err(e).context("read the exec fifo"),
        }
    }
    fault::point("start:released");
    if got.len() > 1 {
        let _ = std::fs::remove_file(dir.fifo());
        bail!("container {:?}: {}", st.id, String::from_utf8_lossy(&got[1..]));
    }
    std::fs::remove_file(dir.fifo()).context("remove the exec fifo")?;
    poststart(dir, st)
}

#[derive(PartialEq)]
enum Readable {
    Data,
    HungUp,
    NotYet,
}

/// Blocks until the fifo has data or lost its last writer, at most 10 ms.
fn wait_readable(fifo: &std::fs::File) -> Readable {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(fifo), PollFlags::POLLIN)];
    let _ = poll(&mut fds, PollTimeout::from(10u8));
    match fds[0].revents() {
        Some(r) if r.contains(PollFlags::POLLIN) => Readable::Data,
        Some(r) if r.contains(PollFlags::POLLHUP) => Readable::HungUp,
        _ => Readable::NotYet,
    }
}

/// The hooks of `phase` kept at create; a state from an older hull has none
/// kept, and then config.json is all there is.
fn kept_hooks(st: &State, phase: crate::hooks::Phase) -> Vec<oci_spec::runtime::Hook> {
    let kept = match phase {
        crate::hooks::Phase::Poststart => &st.poststart,
        crate::hooks::Phase::Poststop => &st.poststop,
        _ => return vec![],
    };
    kept.clone().unwrap_or_else(|| {
        crate::spec::load_config(&st.bundle.join("config.json"))
            .map(|spec| crate::hooks::list(&spec, phase))
            .unwrap_or_default()
    })
}

/// poststart: a failure fails `start` and stops the container (runtime-spec 1.3).
fn poststart(dir: &ContainerDir, st: &State) -> Result<()> {
    let state = crate::hooks::state_json(&st.id, "running", st.pid, &st.bundle, Some(&st.annotations));
    let hooks = kept_hooks(st, crate::hooks::Phase::Poststart);
    if !hooks.is_empty() {
        let_the_program_run(st);
    }
    if let Err(e) = crate::hooks::run_list(&hooks, crate::hooks::Phase::Poststart, &state) {
        let _ = kill_and_wait(dir, st);
        return Err(e);
    }
    Ok(())
}

/// The fifo's end comes while the kernel is still inside the program's
/// exec; a hook started at once would often run before the program's first
/// instruction. Up to 20 ms for it to block, sleep or exit first: what a
/// user reading "poststart runs after the process started" expects.
fn let_the_program_run(st: &State) {
    let deadline = std::time::Instant::now() + Duration::from_millis(20);
    while state::is_runnable(st.pid, st.pid_start) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// `kill`: a signal to the init, or with `all` to every process of the
/// container. As in runc, `--all` of a stopped container succeeds (containerd
/// sends it after every exit), and SIGKILL thaws a paused container so that
/// it takes effect.
pub fn signal(dir: &ContainerDir, st: &State, sig: i32, all: bool) -> Result<()> {
    let status = dir.status(st);
    if status == Status::Stopped {
        if all {
            // What exec put into it outlives its init (containerd's kill
            // --all after the init's exit is for those).
            if shares_a_pid_namespace_without_a_cgroup(st) {
                signals::signal_execs(&dir.path, sig);
            }
            return Ok(());
        }
        bail!("{}: {:?} is stopped", phrases::NOT_RUNNING, st.id);
    }
    fault::point("kill:checked");
    // As runc 1.2: without a pid namespace of its own, the init's death
    // takes nothing else with it, and a SIGKILL meant to end the container
    // must not leave its other processes running.
    if all || (sig == libc::SIGKILL && !st.own_pid_ns) {
        match &st.cgroup {
            Some(c) => Cgroup::open(&c.path)?.signal_all(sig)?,
            None => signals::signal_all(st, &dir.path, sig)?,
        }
    } else {
        signals::send_to_init(st, sig).with_context(|| format!("container {:?}: signal {sig}", st.id))?;
    }
    if sig == libc::SIGKILL && status == Status::Paused {
        cgroup_of(st)?.thaw()?;
    }
    Ok(())
}

/// No cgroup and no pid namespace of its own: nothing but the records of
/// `state::execs` tells its exec'd processes from their neighbours'.
fn shares_a_pid_namespace_without_a_cgroup(st: &State) -> bool {
    st.cgroup.is_none() && !st.own_pid_ns
}

/// `delete`: removes a stopped (or created) container; `force` kills a running one first.
pub fn delete(dir: ContainerDir, st: &State, force: bool) -> Result<()> {
    match dir.status(st) {
        Status::Stopped => {}
        Status::Created => kill_and_wait(&dir, st)?,
        _ if force => kill_and_wait(&dir, st)?,
        s => bail!("{} {} that is not stopped: {s}", phrases::DELETE_NOT_STOPPED, st.id),
    }
    fault::point("delete:killed");
    if shares_a_pid_namespace_without_a_cgroup(st) {
        // state.json goes first: an exec that records its process after
        // this finds the container gone and gives up (state::execs), and
        // any recorded before is read below.
        dir.withdraw_state()?;
        signals::signal_execs(&dir.path, libc::SIGKILL);
    }
    if let Some(c) = &st.cgroup {
        // Without a pid namespace of its own, processes the init left behind
        // live on in the cgroup; with one, they died with the init.
        if !st.own_pid_ns {
            let _ = Cgroup::open(&c.path).and_then(|cg| cg.signal_all(libc::SIGKILL));
        }
        if let Some(unit) = &c.systemd {
            // As runc: a unit systemd cannot stop now must not keep the
            // container from being deleted.
            if let Err(e) = crate::cgroups::systemd::stop(unit) {
                tracing::warn!("{e:#}");
            }
        }
        // The parents stay, as in runc: a create under them may be on its
        // way, having found them there.
        until_removed(|| Cgroup::remove_made(&c.path, &c.made_by_create(), false));
        fault::point("delete:cgroup-removed");
    }
    dir.remove()?;
    fault::point("delete:state-removed");
    // poststop: after the delete, and a failure is only a warning.
    let state = crate::hooks::state_json(&st.id, "stopped", 0, &st.bundle, Some(&st.annotations));
    let hooks = kept_hooks(st, crate::hooks::Phase::Poststop);
    crate::hooks::run_all_warn(&hooks, crate::hooks::Phase::Poststop, &state);
    Ok(())
}

/// `delete --force` of a container whose create was killed midway: the
/// processes in the cgroup it was making die, and the cgroup goes.
pub fn clear_leftover(root: &Path, id: &str) -> Result<()> {
    // A delete that withdrew state.json and stopped: what exec put into a
    // container without a cgroup may still run.
    signals::signal_execs(&root.join(id), libc::SIGKILL);
    state::remove_leftover(root, id, |creating| {
        let c = creating.unwrap_or_default();
        let Some(path) = c["cgroup"].as_str() else {
            return;
        };
        let made = serde_json::from_value(c["made"].clone()).unwrap_or_else(|_| {
            // An older hull's creating.json.
            crate::cgroups::legacy_made(c["made_from"].as_str(), c["hybrid_made_from"].as_str())
        });
        // Whoever is in a cgroup it found is not its to kill; one it made
        // where the processes are counted (found empty, or made) holds
        // only the half-made container's.
        if Cgroup::made_where_procs_are(&made) {
            let _ = Cgroup::open(path).and_then(|cg| cg.signal_all(libc::SIGKILL));
        }
        until_removed(|| Cgroup::remove_made(path, &made, true));
    })
}

/// Removes a cgroup once its last process is gone (a killed process leaves it
/// a moment later); one still in use by someone else stays. `remove`
/// answers whether it is gone.
fn until_removed(remove: impl Fn() -> bool) {
    for _ in 0..200 {
        if remove() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill_and_wait(dir: &ContainerDir, st: &State) -> Result<()> {
    let _ = match &st.cgroup {
        Some(c) if !st.own_pid_ns => Cgroup::open(&c.path).and_then(|cg| cg.signal_all(libc::SIGKILL)),
        _ => signals::signal_all(st, &dir.path, libc::SIGKILL),
    };
    // A paused container's processes take the SIGKILL only once thawed, and
    // its cgroup must not stay frozen for the next container.
    if let Some(c) = st.cgroup.as_ref().filter(|c| crate::cgroups::frozen(&c.path)) {
        let _ = Cgroup::open(&c.path).and_then(|cg| cg.thaw());
    }
    if !launcher::wait_gone(st.pid, st.pid_start, Duration::from_secs(10)) {
        bail!("container {:?}: init {} did not die after SIGKILL", st.id, st.pid);
    }
    Ok(())
}

fn cgroup_of(st: &State) -> Result<Cgroup> {
    let c = st
        .cgroup
        .as_ref()
        .with_context(|| format!("container {:?} has no cgroup (created without root)", st.id))?;
    Cgroup::open(&c.path)
}

/// `pause`: freezes every process of a running (or created, as in runc) container.
pub fn pause(dir: &ContainerDir, st: &State) -> Result<()> {
    match dir.status(st) {
        Status::Running | Status::Created => cgroup_of(st)?.freeze(),
        s => bail!("{}: {:?} is {s}", phrases::NOT_RUNNING, st.id),
    }
}

/// `resume`: thaws a paused container.
pub fn resume(dir: &ContainerDir, st: &State) -> Result<()> {
    match dir.status(st) {
        Status::Paused => cgroup_of(st)?.thaw(),
        s => bail!("{}: {:?} is {s}", phrases::NOT_PAUSED, st.id),
    }
}

/// The pids of the container's processes.
pub fn processes(st: &State) -> Result<Vec<i32>> {
    Ok(cgroup_of(st)?.procs())
}

/// `update`: new limits for a container that is not stopped.
pub fn update(dir: &ContainerDir, st: &State, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    if dir.status(st) == Status::Stopped {
        bail!("{}: {:?} is stopped", phrases::NOT_RUNNING, st.id);
    }
    let mut cg = cgroup_of(st)?;
    if let Some(m) = r.memory() {
        if m.check_before_update().unwrap_or(false) {
            let limit = m.limit().unwrap_or(-1);
            let usage = cg.memory_usage();
            if limit >= 0 && (limit as u64) < usage {
                bail!("linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)");
            }
        }
    }
    // systemd writes its properties, and defaults for the rest: first, once
    // the resources are known to be good.
    if let Some(unit) = st.cgroup.as_ref().and_then(|c| c.systemd.as_deref()) {
        crate::cgroups::check(r)?;
        crate::cgroups::systemd::set(unit, Some(&cg.with_cfs(r)), crate::cgroups::is_v2(), vec![])?;
    }
    cg.update(r)
}

/// How `exec` runs its process.
pub struct ExecOptions<'a> {
    /// The container's state directory, where the process is recorded when
    /// nothing else marks it as the container's (see `state::execs`).
    pub state_dir: &'a Path,
    pub detach: bool,
    pub preserve_fds: u32,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    pub sub_cgroup: Option<crate::cgroups::sub::SubCgroup>,
    pub pidfd_socket: Option<&'a Path>,
}

/// `exec`: a new process in the container; without `detach`, waits for it and
/// returns its exit code.
pub fn exec(st: &State, process: &oci_spec::runtime::Process, bundle: &Bundle, o: &ExecOptions) -> Result<i32> {
    // The container's own profile applies to exec'd processes too.
    let seccomp = compile_seccomp(bundle)?;
    let handover = |pid: i32, fd: std::os::fd::OwnedFd| {
        launcher::listener::hand_over(&bundle.spec, &st.id, "running", pid, &bundle.dir, fd)
    };
    let terminal = process.terminal().unwrap_or(false);
    // The pty master goes to --console-socket, or in the foreground to hull
    // itself, which relays the caller's terminal as `run` does.
    let (console, local) = match (o.console_socket, terminal) {
        (Some(sock), true) => (Some(crate::fdpass::connect(sock, "--console-socket")?), None),
        (Some(_), false) => bail!("--console-socket needs --tty (or process.terminal)"),
        (None, true) if o.detach => bail!("--tty with --detach needs --console-socket to hand the pty to"),
        (None, true) => {
            let (theirs, ours) = crate::console::local_pair()?;
            (Some(theirs), Some(ours))
        }
        (None, false) => (None, None),
    };
    let cgroup = match (&st.cgroup, &o.sub_cgroup) {
        (None, Some(_)) => bail!("--cgroup: container {:?} has no cgroup of its own", st.id),
        (Some(c), Some(sub)) => Some(sub.placement(&c.path)?),
        (c, None) => c.as_ref().map(|c| c.path.clone()),
    };
    let pidfd_socket = o
        .pidfd_socket
        .map(|p| crate::fdpass::connect(p, "--pidfd-socket"))
        .transpose()?;
    let record = shares_a_pid_namespace_without_a_cgroup(st);
    let on_placed = |pid: i32| -> Result<()> {
        if record {
            state::execs::record(o.state_dir, pid)?;
        }
        match &pidfd_socket {
            Some(sock) => crate::fdpass::send_pidfd(sock, pid, "setns"),
            None => Ok(()),
        }
    };
    let sigmask = foreground::mask_for(!o.detach)?;
    let req = launcher::exec::ExecRequest {
        init_pid: st.pid,
        init_start: st.pid_start,
        process,
        linux: bundle.spec.linux().as_ref(),
        oom_score_adj: process
            .oom_score_adj()
            .or_else(|| bundle.spec.process().as_ref().and_then(|p| p.oom_score_adj())),
        cgroup: cgroup.as_deref(),
        sub_cgroup: o.sub_cgroup.as_ref(),
        preserve_fds: o.preserve_fds,
        sigmask,
        console: console.as_ref().map(std::os::fd::AsRawFd::as_raw_fd),
        seccomp: seccomp.as_ref(),
        handover: &handover,
        on_placed: &on_placed,
    };
    let pid = launcher::exec::launch(&req)?;
    drop(console);
    let relay = local
        .map(|l| crate::console::recv_master(l.as_raw_fd()).and_then(crate::console::relay::Relay::start))
        .transpose();
    let relay = match relay {
        Ok(relay) => relay,
        Err(e) => {
            launcher::reap(pid);
            return Err(e.context("exec --tty: relay the terminal"));
        }
    };
    if let Some(p) = o.pid_file {
        state::write_atomic(p, pid.to_string().as_bytes(), 0o644)
            .with_context(|| format!("--pid-file {}", p.display()))?;
    }
    if o.detach {
        return Ok(0);
    }
    foreground::wait(pid, relay.as_ref())
}
