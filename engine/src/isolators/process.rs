//! What the process holds: posix/rlimits, linux/capabilities, linux/nnp and
//! linux/seccomp (a default profile that denies what containers have no use
//! for, as podman's and docker's do).

use anyhow::Result;
use serde_json::json;

use super::{array, object};
use crate::isolator::{Isolator, Spec};
use crate::record::Sandbox;
use crate::request::Request;

pub struct Rlimits;

impl Isolator for Rlimits {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let list = array(spec, &["process", "rlimits"])?;
        for (name, soft, hard) in &req.rlimits {
            list.retain(|r| r["type"] != name.as_str());
            list.push(json!({"type": name, "soft": soft, "hard": hard}));
        }
        Ok(())
    }
}

pub struct Capabilities;

impl Isolator for Capabilities {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let caps = req.capabilities.clone().unwrap_or_default();
        let c = object(spec, &["process", "capabilities"])?;
        for set in ["bounding", "effective", "permitted"] {
            c.insert(set.into(), json!(caps));
        }
        c.remove("inheritable");
        c.remove("ambient");
        Ok(())
    }
}

pub struct NoNewPrivs;

impl Isolator for NoNewPrivs {
    fn prepare(&self, _req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        object(spec, &["process"])?.insert("noNewPrivileges".into(), json!(true));
        Ok(())
    }
}

/// Calls that reach the host's kernel state, modules, clock, keyrings or
/// other namespaces: denied with EPERM, everything else allowed.
const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "vhangup",
];

pub fn default_profile() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM}]
    })
}

pub struct Seccomp;

impl Isolator for Seccomp {
    fn prepare(&self, _req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        object(spec, &["linux"])?.insert("seccomp".into(), default_profile());
        Ok(())
    }
}
