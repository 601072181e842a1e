//! The OCI hooks: each one a program run with the container's state JSON on
//! its stdin, its own args and env, and an optional timeout.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Hook, Spec};

/// The hook lists of the runtime spec, by the names config.json uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Phase {
    /// Every phase, in the order the lifecycle runs them.
    pub const ALL: [Phase; 6] = [
        Phase::Prestart,
        Phase::CreateRuntime,
        Phase::CreateContainer,
        Phase::StartContainer,
        Phase::Poststart,
        Phase::Poststop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Prestart => "prestart",
            Phase::CreateRuntime => "createRuntime",
            Phase::CreateContainer => "createContainer",
            Phase::StartContainer => "startContainer",
            Phase::Poststart => "poststart",
            Phase::Poststop => "poststop",
        }
    }
}

pub fn list(spec: &Spec, phase: Phase) -> Vec<Hook> {
    let Some(h) = spec.hooks() else { return vec![] };
    #[allow(deprecated)]
    let hooks = match phase {
        Phase::Prestart => h.prestart(),
        Phase::CreateRuntime => h.create_runtime(),
        Phase::CreateContainer => h.create_container(),
        Phase::StartContainer => h.start_container(),
        Phase::Poststart => h.poststart(),
        Phase::Poststop => h.poststop(),
    };
    hooks.clone().unwrap_or_default()
}

/// The state document a hook reads on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: Option<&HashMap<String, String>>,
) -> String {
    state_value(id, status, pid, bundle, annotations).to_string()
}

/// The same state as a JSON value, for a document that carries it.
pub fn state_value(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: Option<&HashMap<String, String>>,
) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": crate::SPEC_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations.cloned().unwrap_or_default(),
    })
}

/// Runs every hook of `phase` and warns about each failure: for poststop,
/// where a failure must not stop the others (runtime-spec).
pub fn run_all_warn(hooks: &[Hook], phase: Phase, state: &str) {
    for (i, h) in hooks.iter().enumerate() {
        if let Err(e) = run_one(h, state) {
            tracing::warn!("hooks.{}[{i}]: {}: {e:#}", phase.name(), h.path().display());
        }
    }
}

/// Runs every hook of `phase` in config.json in order; the first failure
/// stops the rest.
pub fn run(spec: &Spec, phase: Phase, state: &str) -> Result<()> {
    run_list(&list(spec, phase), phase, state)
}

/// Runs `hooks` (those of `phase`) in order; the first failure stops the rest.
pub fn run_list(hooks: &[Hook], phase: Phase, state: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state).with_context(|| format!("hooks.{}[{i}]: {}", phase.name(), h.path().display()))?;
    }
    Ok(())
}

/// The most of a failing hook's stderr its error quotes (it goes up the
/// create channel in one message).
const STDERR_MAX: usize = 8 * 1024;

fn nonblocking<F: std::os::fd::AsRawFd>(f: F) -> Result<F> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(f.as_raw_fd(), FcntlArg::F_GETFL).context("the hook's pipe: F_GETFL")?;
    fcntl(
        f.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .context("the hook's pipe: O_NONBLOCK")?;
    Ok(f)
}

/// Reads what `e` has now into `out` (up to STDERR_MAX), a few pipefuls at
/// most, so that a hook that never stops writing still meets its timeout;
/// false at its end.
fn drain(e: &mut std::process::ChildStderr, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match std::io::Read::read(e, &mut buf) {
            Ok(0) => return false,
            Ok(n) => out.extend_from_slice(&buf[..n.min(STDERR_MAX.saturating_sub(out.len()))]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

fn run_one(h: &Hook, state: &str) -> Result<()> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some(arg0) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run")?;
    // Non-blocking, in the wait loop, with no thread: a hook that never
    // reads its stdin, writes a lot to stderr or leaves it open to a child
    // of its own holds us no longer than it runs (or its timeout); and the
    // init, which runs createContainer hooks, switches user next, which
    // glibc does thread by thread (a helper thread still exiting then
    // deadlocked it).
    let pipes = (|| -> Result<_> {
        let stdin = child.stdin.take().map(nonblocking).transpose()?;
        Ok((stdin, child.stderr.take().map(nonblocking).transpose()?))
    })();
    let (mut stdin, mut stderr) = match pipes {
        Ok(p) => p,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let mut written = 0;
    let mut said = Vec::new();
    loop {
        if let Some(s) = stdin.as_mut() {
            match s.write(&state.as_bytes()[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // EPIPE: the hook does not read it.
                Err(_) => written = state.len(),
            }
            if written == state.len() {
                stdin = None;
            }
        }
        if stderr.as_mut().is_some_and(|e| !drain(e, &mut said)) {
            stderr = None;
        }
        if let Some(status) = child.try_wait().context("wait")? {
            if status.success() {
                return Ok(());
            }
            if let Some(e) = stderr.as_mut() {
                drain(e, &mut said);
            }
            bail!("failed ({status}): {}", String::from_utf8_lossy(&said).trim());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
