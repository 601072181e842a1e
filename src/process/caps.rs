//! The five capability sets: names to numbers, bounding drops, capset, ambient raises.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// Capability names in kernel order (index = capability number).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The number of a capability name as config.json spells it ("CAP_SYS_ADMIN").
pub fn number_of_name(name: &str) -> Option<u32> {
    let bare = name.strip_prefix("CAP_")?;
    NAMES.iter().position(|n| *n == bare).map(|i| i as u32)
}

/// The bare name ("SYS_ADMIN") of capability number `n`.
pub fn name_of(n: u32) -> Option<&'static str> {
    NAMES.get(n as usize).copied()
}

fn number(cap: &Capability) -> u32 {
    let name = format!("CAP_{cap}");
    number_of_name(&name).unwrap_or(u32::MAX)
}

/// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

fn mask(set: &Option<Capabilities>) -> u64 {
    let last = last_cap();
    set.iter()
        .flatten()
        .map(number)
        .filter(|n| *n <= last)
        .fold(0u64, |m, n| m | (1u64 << n))
}

/// Drops from the bounding set everything not listed. Needs CAP_SETPCAP, so it
/// runs before the user switch.
pub fn apply_bounding(caps: &LinuxCapabilities) -> Result<()> {
    let keep = mask(caps.bounding());
    for n in 0..=last_cap() {
        if keep & (1u64 << n) == 0 {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, n as libc::c_ulong, 0, 0, 0) };
            if rc != 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() != Some(libc::EINVAL) {
                    return Err(err).with_context(|| format!("dropping capability {n} from the bounding set"));
                }
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Makes every permitted capability effective: a switch away from uid 0
/// clears the effective set and (with KEEPCAPS) keeps the permitted one, and
/// what comes before apply_sets may need them (loading a seccomp filter
/// without no_new_privs needs CAP_SYS_ADMIN).
pub fn raise_effective() -> Result<()> {
    let mut data = capget()?;
    for d in &mut data {
        d.effective = d.permitted;
    }
    capset(&data).context("capset: raise the effective set")
}

/// Sets effective, permitted and inheritable, then raises the ambient set.
/// What this process does not hold cannot be granted: the parent left it out
/// with a warning (`leave_out_ungrantable`); this only guards against a
/// joined user namespace the parent could not judge.
pub fn apply_sets(caps: &LinuxCapabilities) -> Result<()> {
    let now = capget()?;
    let held = held(&now, |d| d.permitted);
    let inheritable_ok = held | self::held(&now, |d| d.inheritable);
    let (eff, perm, inh) = (
        mask(caps.effective()) & held,
        mask(caps.permitted()) & held,
        mask(caps.inheritable()) & inheritable_ok,
    );
    let data = [
        CapData {
            effective: eff as u32,
            permitted: perm as u32,
            inheritable: inh as u32,
        },
        CapData {
            effective: (eff >> 32) as u32,
            permitted: (perm >> 32) as u32,
            inheritable: (inh >> 32) as u32,
        },
    ];
    capset(&data).context("process.capabilities: capset")?;
    apply_ambient(mask(caps.ambient()))
}

/// One set of this thread's capabilities as a 64-bit mask.
fn held(now: &[CapData; 2], set: fn(&CapData) -> u32) -> u64 {
    u64::from(set(&now[0])) | (u64::from(set(&now[1])) << 32)
}

/// Leaves out of `p` the capabilities hull itself does not hold (this host's
/// bounding set lacks them), with a warning for each from the parent (never
/// in the container's own stderr): config.md says the container MUST start
/// with what can be granted. A new user namespace grants every capability
/// inside it, so there nothing is left out.
pub fn leave_out_ungrantable(p: &mut oci_spec::runtime::Process, new_userns: bool) -> Result<()> {
    let Some(caps) = p.capabilities().clone().filter(|_| !new_userns) else {
        return Ok(());
    };
    let held = held(&capget()?, |d| d.permitted);
    let keep = |set: &Option<Capabilities>, name: &str| -> Option<Capabilities> {
        let mut set = set.clone()?;
        set.retain(|c| {
            let ok = number(c) > 63 || held & (1u64 << number(c)) != 0;
            if !ok {
                tracing::warn!(
                    "process.capabilities.{name}: CAP_{c} cannot be granted (not in this host's bounding set); the container starts without it"
                );
            }
            ok
        });
        Some(set)
    };
    let mut out = caps.clone();
    out.set_effective(keep(caps.effective(), "effective"));
    out.set_permitted(keep(caps.permitted(), "permitted"));
    out.set_inheritable(keep(caps.inheritable(), "inheritable"));
    out.set_ambient(keep(caps.ambient(), "ambient"));
    p.set_capabilities(Some(out));
    Ok(())
}

fn header() -> CapHeader {
    CapHeader {
        version: CAP_V3,
        pid: 0,
    }
}

/// This thread's sets, low and high 32 bits.
fn capget() -> Result<[CapData; 2]> {
    let mut hdr = header();
    let mut data = [CapData::default(); 2];
    // SAFETY: header and a two-element data array in the v3 layout the kernel fills.
    if unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("capget");
    }
    Ok(data)
}

fn capset(data: &[CapData; 2]) -> std::io::Result<()> {
    let mut hdr = header();
    // SAFETY: header and a two-element data array in the v3 layout the kernel expects.
    if unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn apply_ambient(amb: u64) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    for n in 0..=last_cap() {
        if amb & (1u64 << n) != 0 {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    n as libc::c_ulong,
                    0,
                    0,
                )
            };
            if rc != 0 {
                // The spec lets an ambient capability outside permitted+inheritable
                // be ignored; runc says nothing (its own `runc spec` asks for three).
                tracing::debug!(
                    "process.capabilities.ambient: cannot raise CAP_{}: {}",
                    NAMES[n as usize],
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    Ok(())
}

/// Removes unknown capability names from config.json's capability sets, with a
/// warning for each, as the runtime spec asks (runc does the same).
pub fn strip_unknown(config: &mut serde_json::Value) -> Result<()> {
    let Some(sets) = config
        .pointer_mut("/process/capabilities")
        .and_then(|v| v.as_object_mut())
    else {
        return Ok(());
    };
    for (set, list) in sets.iter_mut() {
        let Some(items) = list.as_array_mut() else { continue };
        let mut kept = Vec::with_capacity(items.len());
        for (i, item) in items.drain(..).enumerate() {
            let Some(name) = item.as_str() else {
                bail!("process.capabilities.{set}[{i}]: expected a string, got {item}");
            };
            if number_of_name(name).is_some() {
                kept.push(item);
            } else {
                tracing::warn!("process.capabilities.{set}[{i}]: unknown capability {name:?} ignored");
            }
        }
        *items = kept;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kernel_numbers() {
        assert_eq!(number_of_name("CAP_CHOWN"), Some(0));
        assert_eq!(number_of_name("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(number_of_name("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(number_of_name("SYS_ADMIN"), None);
        assert_eq!(number_of_name("CAP_NOPE"), None);
    }

    #[test]
    fn oci_spec_names_round_trip() {
        for (i, n) in NAMES.iter().enumerate() {
            let cap: Capability = serde_json::from_value(serde_json::json!(format!("CAP_{n}"))).unwrap();
            assert_eq!(number(&cap), i as u32, "{n}");
        }
    }

    #[test]
    fn unknown_names_are_dropped() {
        let mut v = serde_json::json!({"process": {"capabilities": {"bounding": ["CAP_KILL", "CAP_FOO"]}}});
        strip_unknown(&mut v).unwrap();
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            serde_json::json!(["CAP_KILL"])
        );
    }
}
