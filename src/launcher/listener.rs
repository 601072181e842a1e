//! The seccomp agent's side of SCMP_ACT_NOTIFY: the runtime connects to
//! linux.seccomp.listenerPath and sends the container process state (JSON)
//! with the notify fd, as the runtime spec describes.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::runtime::Spec;
use serde_json::json;

pub fn hand_over(spec: &Spec, id: &str, status: &str, pid: i32, bundle: &Path, fd: OwnedFd) -> Result<()> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let path = seccomp
        .and_then(|s| s.listener_path().clone())
        .context("linux.seccomp.listenerPath: missing")?;
    let metadata = seccomp.and_then(|s| s.listener_metadata().clone()).unwrap_or_default();
    let state = crate::hooks::state_value(id, status, pid, bundle, spec.annotations().as_ref());
    let msg = json!({
        "ociVersion": crate::SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    });
    let sock = UnixStream::connect(&path)
        .with_context(|| format!("linux.seccomp.listenerPath: connect to {}", path.display()))?;
    crate::fdpass::send(sock.as_raw_fd(), &serde_json::to_vec(&msg)?, fd.as_raw_fd())
        .with_context(|| format!("linux.seccomp.listenerPath: send to {}", path.display()))
}
