//! The x86 ABIs a profile's `architectures` may name: x86_64 (native), x86
//! (i386, its own audit arch) and x32 (x86_64's audit arch with bit 30 set in
//! the syscall number). seccompiler builds filters for x86_64 only, killing
//! every other arch in its first three instructions; each filter here gets
//! that prologue replaced by one that lets whatever is not its ABI through
//! (the stack's other filters decide), and a last filter kills the ABIs the
//! profile does not name, as libseccomp's bad-arch action does.

use oci_spec::runtime::Arch;
use seccompiler::{sock_filter, BpfProgram};

mod table {
    include!(concat!(env!("OUT_DIR"), "/syscalls.rs"));
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_BIT: u32 = 0x4000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    X86_64,
    I386,
    X32,
}

impl Abi {
    pub fn number(self, name: &str) -> Option<i64> {
        let t = match self {
            Abi::X86_64 => table::X86_64,
            Abi::I386 => table::I386,
            Abi::X32 => table::X32,
        };
        t.binary_search_by(|(n, _)| (*n).cmp(name)).ok().map(|i| t[i].1)
    }

    fn audit_arch(self) -> u32 {
        match self {
            Abi::I386 => AUDIT_ARCH_I386,
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
        }
    }
}

/// The ABIs to build filters for: always the native one, then those of
/// `architectures` this machine runs; others are skipped with a warning.
pub fn listed(archs: Option<&[Arch]>) -> Vec<Abi> {
    let mut out = vec![Abi::X86_64];
    let mut skipped = vec![];
    for a in archs.unwrap_or(&[]) {
        match a {
            Arch::ScmpArchX86_64 | Arch::ScmpArchNative => {}
            Arch::ScmpArchX86 => out.push(Abi::I386),
            Arch::ScmpArchX32 => out.push(Abi::X32),
            other => skipped.push(format!("{other:?}")),
        }
    }
    out.dedup();
    if !skipped.is_empty() {
        // Normal in multi-architecture profiles; runc logs it at debug too.
        tracing::debug!(
            "linux.seccomp.architectures: not on this machine, skipped: {}",
            skipped.join(" ")
        );
    }
    out
}

/// Whether `architectures` names `abi` itself (not just implies it, as the
/// native ABI always is).
pub fn named(archs: Option<&[Arch]>, abi: Abi) -> bool {
    archs.unwrap_or(&[]).iter().any(|a| match a {
        Arch::ScmpArchX86_64 | Arch::ScmpArchNative => abi == Abi::X86_64,
        Arch::ScmpArchX86 => abi == Abi::I386,
        Arch::ScmpArchX32 => abi == Abi::X32,
        _ => false,
    })
}

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

const LD_ARCH: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const RET: u16 = 0x06; // BPF_RET | BPF_K

/// `p` (built by seccompiler for x86_64 with `abi`'s numbers) made to judge
/// only `abi`'s syscalls and allow everything else. With `enosys_above`,
/// syscall numbers above it get ENOSYS before `p` judges them.
pub fn retarget(p: BpfProgram, abi: Abi, enosys_above: Option<u32>) -> BpfProgram {
    let allow = libc::SECCOMP_RET_ALLOW;
    let mut out = vec![
        ins(LD_ARCH, 0, 0, 4), // A = arch
        ins(JEQ, 1, 0, abi.audit_arch()),
        ins(RET, 0, 0, allow),
    ];
    match abi {
        // x32 numbers have bit 30: not this filter's.
        Abi::X86_64 => out.extend([ins(LD_ARCH, 0, 0, 0), ins(JSET, 0, 1, X32_BIT), ins(RET, 0, 0, allow)]),
        // Only numbers with bit 30 are x32's.
        Abi::X32 => out.extend([ins(LD_ARCH, 0, 0, 0), ins(JSET, 1, 0, X32_BIT), ins(RET, 0, 0, allow)]),
        Abi::I386 => {}
    }
    if let Some(max) = enosys_above {
        out.extend([
            ins(LD_ARCH, 0, 0, 0), // A = nr
            ins(JGT, 0, 1, max),
            ins(RET, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        ]);
    }
    // seccompiler's own prologue is the arch check: load, compare, kill.
    out.extend_from_slice(&p[3..]);
    out
}

/// The last filter: kills any arch not named (i386, or anything else), and
/// answers ENOSYS to x32 syscalls when x32 is not named, as a kernel
/// without x32 would.
pub fn guard(abis: &[Abi]) -> BpfProgram {
    let allow = libc::SECCOMP_RET_ALLOW;
    let x32 = if abis.contains(&Abi::X32) {
        allow
    } else {
        libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
    };
    let i386 = if abis.contains(&Abi::I386) {
        allow
    } else {
        libc::SECCOMP_RET_KILL_PROCESS
    };
    vec![
        ins(LD_ARCH, 0, 0, 4),
        ins(JEQ, 0, 4, AUDIT_ARCH_X86_64),
        ins(LD_ARCH, 0, 0, 0), // x86_64: A = nr
        ins(JSET, 0, 1, X32_BIT),
        ins(RET, 0, 0, x32),
        ins(RET, 0, 0, allow),
        ins(JEQ, 0, 1, AUDIT_ARCH_I386),
        ins(RET, 0, 0, i386),
        ins(RET, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_for_every_abi() {
        assert_eq!(Abi::X86_64.number("mkdir"), Some(83));
        assert_eq!(Abi::I386.number("mkdir"), Some(39));
        assert_eq!(Abi::X32.number("mkdir"), Some(0x4000_0000 + 83));
        assert_eq!(Abi::I386.number("no_such_call"), None);
    }

    #[test]
    fn the_guard_jumps_land_where_meant() {
        let g = guard(&[Abi::X86_64]);
        // arch != x86_64 jumps over the four x86_64 instructions to the i386 check.
        assert_eq!(g[1].jf, 4);
        assert_eq!(g[6].k, AUDIT_ARCH_I386);
        assert_eq!(g[4].k, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(g[7].k, libc::SECCOMP_RET_KILL_PROCESS);
    }
}
