//! The supervisor: one small process per container (the caller itself in
//! the foreground). It creates and starts the container through the
//! runtime library, waits for its init as its parent (a child subreaper),
//! ends it when an isolator reports a limitation, records how it ended and
//! cleans up. It holds no lock while it waits. A supervisor that was killed
//! is replaced by `hull recover` with one that polls the init instead, and
//! cannot learn its exit code.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hull::container::CreateOpts;

use crate::isolator::Isolator;
use crate::record::{Record, Sandbox};
use crate::request::Request;

pub type Isolators = Arc<Vec<Box<dyn Isolator>>>;

const WATCH_EVERY: Duration = Duration::from_millis(100);

/// This process as a supervisor: its pid and start time.
pub fn me() -> Option<(i32, u64)> {
    let pid = std::process::id() as i32;
    hull::state::start_time(pid).map(|s| (pid, s))
}

/// Creates the container, runs the isolators' `isolate` and starts it; the
/// init is our child (we are its subreaper).
fn create_and_start(
    root: &Path,
    req: &Request,
    sb: &Sandbox,
    rec: &mut Record,
    isolators: &Isolators,
) -> Result<Option<hull::console::relay::Relay>> {
    let mask = hull::container::foreground::mask_for(true)?;
    let opts = CreateOpts {
        bundle: sb.bundle(),
        ..Default::default()
    };
    let (dir, st, master) = hull::container::create(root, &req.id, &opts, mask, true)?;
    rec.pid = st.pid;
    rec.pid_start = st.pid_start;
    hull_sys::fault::point("launch:created");
    sb.locked(|| sb.save(rec))?;
    hull_sys::fault::point("launch:created-recorded");
    let relay = master.map(hull::console::relay::Relay::start).transpose()?;
    for i in isolators.iter() {
        i.isolate(rec, sb)?;
    }
    hull::container::start(&dir, &st)?;
    hull_sys::fault::point("launch:started");
    Ok(relay)
}

/// Polls the isolators' limitations until `stop`; the first one found
/// kills the init and is kept as the reason.
fn watch(rec: Record, sb: Sandbox, isolators: Isolators, stop: Arc<AtomicBool>) -> Arc<Mutex<Option<&'static str>>> {
    let found = Arc::new(Mutex::new(None));
    let out = found.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Some(r) = isolators.iter().find_map(|i| i.watch(&rec, &sb)) {
                if let Ok(mut f) = found.lock() {
                    *f = Some(r);
                }
                kill_init(&rec);
                return;
            }
            std::thread::sleep(WATCH_EVERY);
        }
    });
    out
}

/// Runs the container to its end; returns its exit code.
pub fn supervise(root: &Path, req: &Request, sb: &Sandbox, mut rec: Record, isolators: Isolators) -> Result<i32> {
    let relay = match create_and_start(root, req, sb, &mut rec, &isolators) {
        Ok(r) => r,
        Err(e) => {
            finish(sb, &isolators, None, None);
            return Err(e);
        }
    };
    announce_started();
    let stop = Arc::new(AtomicBool::new(false));
    let limitation = watch(rec.clone(), sb.clone(), isolators.clone(), stop.clone());
    let code = hull::container::foreground::wait(rec.pid, relay.as_ref());
    stop.store(true, Ordering::Relaxed);
    drop(relay);
    let code = code?;
    let found = limitation.lock().ok().and_then(|f| *f);
    finish(sb, &isolators, Some(code), found);
    Ok(code)
}

/// Records how the container ended and cleans up after it: the runtime's
/// container, then each isolator in reverse order.
pub fn finish(sb: &Sandbox, isolators: &Isolators, code: Option<i32>, limitation: Option<&'static str>) {
    let Ok(mut rec) = sb.load() else {
        return;
    };
    let oom = isolators.iter().any(|i| i.watch(&rec, sb) == Some("oom"));
    let reason = match (rec.reason.as_deref(), limitation) {
        (Some("destroyed"), _) => "destroyed",
        (_, Some(r)) => r,
        _ if oom => "oom",
        _ if code.is_some_and(|c| c > 128) => "signal",
        _ => "exited",
    };
    if let Err(e) = cleanup(&rec, sb, isolators) {
        tracing::warn!("container {}: cleanup: {e:#}", rec.id);
    }
    let _ = sb.locked(|| {
        let mut now = sb.load().unwrap_or_else(|_| rec.clone());
        now.status = "exited".into();
        now.exit_code = code;
        now.reason = Some(reason.into());
        now.finished = Some(crate::record::now());
        now.cleaned = true;
        now.supervisor = None;
        rec = now;
        sb.save(&rec)
    });
}

/// Removes the runtime's container and undoes each isolator's setup, in
/// reverse order; safe to run again.
pub fn cleanup(rec: &Record, sb: &Sandbox, isolators: &Isolators) -> Result<()> {
    let mut first_err = None;
    let state = hull::state::ContainerDir::open(&rec.root, &rec.id).and_then(|dir| dir.load().map(|st| (dir, st)));
    let deleted = match state {
        Ok((dir, st)) => hull::container::delete(dir, &st, true),
        // What a create killed midway left (a state dir without its state,
        // a cgroup in the making), as `hull delete --force` clears it.
        Err(_) => hull::container::clear_leftover(&rec.root, &rec.id),
    };
    if let Err(e) = deleted {
        first_err.get_or_insert(e);
    }
    for i in isolators.iter().rev() {
        if let Err(e) = i.cleanup(rec, sb) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// The write end of the pipe a detached launch waits on, when this process
/// is a freshly forked supervisor.
static STARTED: Mutex<Option<OwnedFd>> = Mutex::new(None);

fn announce_started() {
    if let Some(fd) = STARTED.lock().ok().and_then(|mut f| f.take()) {
        let _ = std::fs::File::from(fd).write_all(b"started\n");
    }
}

/// Forks the supervisor of a detached container; returns once the
/// container has started (or with the supervisor's error).
pub fn detach(run: impl FnOnce() -> Result<i32>, sb: &Sandbox) -> Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: the engine has no other thread here; the child only runs our code.
    match unsafe { nix::unistd::fork() }.context("fork the supervisor")? {
        nix::unistd::ForkResult::Child => {
            drop(r);
            let code = (|| -> Result<i32> {
                // First, so that every failure after reaches the caller.
                *STARTED.lock().map_err(|_| anyhow::anyhow!("lock"))? = Some(w);
                nix::unistd::setsid().context("setsid")?;
                redirect_stdio(sb)?;
                run()
            })();
            if let Err(e) = code {
                if let Some(fd) = STARTED.lock().ok().and_then(|mut f| f.take()) {
                    let _ = std::fs::File::from(fd).write_all(format!("{e:#}").as_bytes());
                }
            }
            std::process::exit(0);
        }
        nix::unistd::ForkResult::Parent { .. } => {
            drop(w);
            let mut said = String::new();
            std::fs::File::from(r)
                .read_to_string(&mut said)
                .context("read the supervisor's answer")?;
            match said.as_str() {
                "started\n" => Ok(()),
                "" => bail!("the supervisor exited before the container started"),
                e => bail!("{e}"),
            }
        }
    }
}

/// The container's stdout and stderr are files in its sandbox; stdin is empty.
fn redirect_stdio(sb: &Sandbox) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let null = std::fs::File::open("/dev/null").context("open /dev/null")?;
    // New files, never followed: the sandbox can be the container's user's
    // (filesystem.rs), who could leave a link to a file of root's there.
    let create = |name: &str| {
        let path = sb.sandbox().join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&path)
            .with_context(|| format!("create {}", path.display()))
    };
    let out = create("stdout")?;
    let err = create("stderr")?;
    for (f, to) in [(null.as_raw_fd(), 0), (out.as_raw_fd(), 1), (err.as_raw_fd(), 2)] {
        nix::unistd::dup2(f, to).context("dup2")?;
    }
    Ok(())
}

/// `supervise ID`: replaces a supervisor that is gone, for an init that
/// still runs: polls it, watches the isolators, and finishes as a
/// supervisor does (the exit code is lost with the old supervisor).
pub fn adopt(engine_dir: &Path, id: &str) -> Result<()> {
    let sb = Sandbox::new(engine_dir, id);
    let rec = sb.locked(|| {
        let mut rec = sb.load()?;
        rec.supervisor = me();
        sb.save(&rec)?;
        Ok(rec)
    })?;
    let isolators: Isolators = Arc::new(crate::isolator::build(&rec.isolators));
    let mut limitation = None;
    while hull::state::is_alive(rec.pid, rec.pid_start) {
        if let Some(r) = isolators.iter().find_map(|i| i.watch(&rec, &sb)) {
            limitation = Some(r);
            kill_init(&rec);
        }
        std::thread::sleep(WATCH_EVERY);
    }
    finish(&sb, &isolators, None, limitation);
    Ok(())
}

/// Starts `hull-engine supervise ID` in a session of its own, not waited for.
pub fn spawn_adopter(root: &Path, engine_dir: &Path, id: &str) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe().context("find hull-engine's own path")?;
    let mut c = std::process::Command::new(me);
    c.arg("--root").arg(root);
    c.arg("supervise").arg("--engine-dir").arg(engine_dir).arg(id);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        c.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    c.spawn().context("start a supervisor")?;
    Ok(())
}

/// SIGKILL to the container's init, if it is still that process.
pub fn kill_init(rec: &Record) {
    let _ = hull::pidfd::signal_if_same(rec.pid, rec.pid_start, libc::SIGKILL);
}
