//! linux.personality: the execution domain (personality(2)) of the
//! container's processes, the init's and every exec'd one's, as runc 1.2
//! sets it; `podman run --personality LINUX32` makes `uname -m` say i686.

use anyhow::Result;
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

/// include/uapi/linux/personality.h
const PER_LINUX: libc::c_ulong = 0x0000;
const PER_LINUX32: libc::c_ulong = 0x0008;

pub fn apply(p: Option<&LinuxPersonality>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    let domain = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    // SAFETY: personality takes one integer.
    if unsafe { libc::personality(domain) } == -1 {
        let e = nix::errno::Errno::last();
        anyhow::bail!("linux.personality.domain: {}: {e}", p.domain());
    }
    Ok(())
}

/// runtime-spec defines no flag yet: they are left out with a warning, as
/// runc leaves them.
pub fn warn_flags(p: Option<&LinuxPersonality>) {
    if let Some(flags) = p.and_then(|p| p.flags().as_ref()).filter(|f| !f.is_empty()) {
        tracing::warn!("linux.personality.flags: {flags:?} ignored: runtime-spec defines no flag");
    }
}
