//! namespaces/pid and namespaces/ipc: the container's own pid namespace; its
//! own IPC namespace with a private /dev/shm of the size asked for.

use anyhow::Result;
use serde_json::json;

use super::array;
use crate::isolator::{Isolator, Spec};
use crate::record::Sandbox;
use crate::request::Request;

const DEFAULT_SHM: u64 = 64 << 20;

fn ensure_namespace(spec: &mut Spec, kind: &str) -> Result<()> {
    let ns = array(spec, &["linux", "namespaces"])?;
    if !ns.iter().any(|n| n["type"] == kind) {
        ns.push(json!({"type": kind}));
    }
    Ok(())
}

pub struct Pid;

impl Isolator for Pid {
    fn prepare(&self, _req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        ensure_namespace(spec, "pid")
    }
}

pub struct Ipc;

impl Isolator for Ipc {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        ensure_namespace(spec, "ipc")?;
        let size = req.shm_size.unwrap_or(DEFAULT_SHM);
        let mounts = array(spec, &["mounts"])?;
        mounts.retain(|m| m["destination"] != "/dev/shm");
        mounts.push(json!({
            "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={size}")]
        }));
        Ok(())
    }
}
