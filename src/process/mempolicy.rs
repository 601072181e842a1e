//! linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy
//! (set_mempolicy(2)) of the container's processes, the init's and every
//! exec'd one's.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType as F, MemoryPolicyModeType as M};

/// MAX_NUMNODES on the largest configurations (CONFIG_NODES_SHIFT 10).
const MAX_NODES: usize = 1024;
const WORD: usize = libc::c_ulong::BITS as usize;

/// include/uapi/linux/mempolicy.h
fn mode(m: M) -> libc::c_int {
    match m {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    }
}

fn flag(f: F) -> libc::c_int {
    match f {
        F::MpolFStaticNodes => 1 << 15,
        F::MpolFRelativeNodes => 1 << 14,
        F::MpolFNumaBalancing => 1 << 13,
    }
}

/// The policy as set_mempolicy takes it: mode with flags, and a node mask.
struct Policy {
    mode: libc::c_int,
    mask: Vec<libc::c_ulong>,
}

fn policy(p: &LinuxMemoryPolicy) -> Result<Policy> {
    let flags = p.flags().iter().flatten().fold(0, |acc, f| acc | flag(*f));
    let mut mask = vec![0 as libc::c_ulong; MAX_NODES / WORD];
    if let Some(nodes) = p.nodes().as_deref().filter(|n| !n.is_empty()) {
        let list = super::bitlist::parse(nodes, MAX_NODES, "node")
            .with_context(|| format!("linux.memoryPolicy.nodes: {nodes:?}"))?;
        for n in list {
            mask[n / WORD] |= 1 << (n % WORD);
        }
    }
    Ok(Policy {
        mode: mode(p.mode()) | flags,
        mask,
    })
}

/// Checks what can be checked before the kernel sees it.
pub fn validate(p: Option<&LinuxMemoryPolicy>) -> Result<()> {
    p.map(policy).transpose().map(drop)
}

pub fn apply(p: Option<&LinuxMemoryPolicy>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    let pol = policy(p)?;
    // SAFETY: the mask lives across the call and holds MAX_NODES bits; the
    // kernel reads maxnode - 1 of them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_set_mempolicy,
            pol.mode,
            pol.mask.as_ptr(),
            (MAX_NODES + 1) as libc::c_ulong,
        )
    };
    if rc != 0 {
        let e = nix::errno::Errno::last();
        let flags: Vec<String> = p.flags().iter().flatten().map(|f| f.to_string()).collect();
        bail!(
            "linux.memoryPolicy: mode {}, nodes {:?}, flags [{}]: {e}",
            p.mode(),
            p.nodes().as_deref().unwrap_or(""),
            flags.join(", ")
        );
    }
    Ok(())
}
