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
    // On threads, so neither a hook that never reads its stdin nor one that
    // writes a lot to stderr can hold us past the timeout.
    if let Some(mut stdin) = child.stdin.take() {
        let state = state.to_string();
        std::thread::spawn(move || {
            let _ = stdin.write_all(state.as_bytes());
        });
    }
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            s
        })
    });
    loop {
        if let Some(status) = child.try_wait().context("wait")? {
            if status.success() {
                return Ok(());
            }
            let err = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
            bail!("failed ({status}): {}", err.trim());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
