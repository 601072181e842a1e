//! cgroup v2 device rules: a BPF_PROG_TYPE_CGROUP_DEVICE program made from
//! the allow/deny list (last matching rule wins, as the v1 list behaves) and
//! attached to the cgroup's directory.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

/// One rule: type ('a', 'b', 'c'), major/minor (None = any), access bits, allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
    pub allow: bool,
}

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61;
const AND_K: u8 = 0x57;
const RSH_K: u8 = 0x77;
const MOV_X: u8 = 0xbf;
const MOV_K: u8 = 0xb7;
const JNE_K: u8 = 0x55;
const EXIT: u8 = 0x95;

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |m, c| {
        m | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// The program: r2 = device type, r3 = requested access, r4 = major, r5 = minor;
/// one block per rule, the last rule first, each falling through on a mismatch.
fn program(rules: &[Rule], default_allow: bool) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let mut checks: Vec<(u8, i32)> = vec![];
        match r.typ {
            'b' => checks.push((2, DEV_BLOCK)),
            'c' => checks.push((2, DEV_CHAR)),
            _ => {}
        }
        if let Some(m) = r.major {
            checks.push((4, m as i32));
        }
        if let Some(m) = r.minor {
            checks.push((5, m as i32));
        }
        // Block: the checks, then "(r3 & !access) == 0" (requested access within
        // the rule's), then return the verdict. A mismatch jumps past the block.
        let len = checks.len() as i16 + 5;
        let mut block = vec![];
        for (i, (reg, val)) in checks.iter().enumerate() {
            block.push(insn(JNE_K, *reg, 0, len - 1 - i as i16, *val));
        }
        block.push(insn(MOV_X, 6, 3, 0, 0));
        block.push(insn(AND_K, 6, 0, 0, !access_bits(&r.access) & 0xffff));
        block.push(insn(JNE_K, 6, 0, 2, 0));
        block.push(insn(MOV_K, 0, 0, 0, r.allow as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        p.extend(block);
    }
    p.push(insn(MOV_K, 0, 0, 0, default_allow as i32));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

fn bpf(cmd: libc::c_long, attr: &mut [u8; 144]) -> std::io::Result<i64> {
    // SAFETY: bpf(2) with a zero-padded attribute buffer of the size passed.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup2 directory `dir`.
pub fn attach(dir: &Path, rules: &[Rule], default_allow: bool) -> Result<()> {
    const PROG_LOAD: libc::c_long = 5;
    const PROG_ATTACH: libc::c_long = 8;
    const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
    const ATTACH_CGROUP_DEVICE: u32 = 6;
    const F_ALLOW_MULTI: u32 = 2;
    let insns = program(rules, default_allow);
    let license = c"Apache-2.0";
    let mut attr = [0u8; 144];
    attr[0..4].copy_from_slice(&PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    let prog = bpf(PROG_LOAD, &mut attr).context("load the BPF device program")?;
    // SAFETY: the kernel returned a new fd.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cg = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let mut attr = [0u8; 144];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&ATTACH_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&F_ALLOW_MULTI.to_ne_bytes());
    bpf(PROG_ATTACH, &mut attr).with_context(|| format!("attach the device program to {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_inside_the_program() {
        let rules = vec![
            Rule {
                typ: 'a',
                major: None,
                minor: None,
                access: "rwm".into(),
                allow: false,
            },
            Rule {
                typ: 'c',
                major: Some(1),
                minor: Some(3),
                access: "rwm".into(),
                allow: true,
            },
            Rule {
                typ: 'c',
                major: Some(136),
                minor: None,
                access: "rw".into(),
                allow: true,
            },
        ];
        let p = program(&rules, false);
        for (i, ins) in p.iter().enumerate() {
            if ins.code == JNE_K {
                let target = i as i64 + 1 + ins.off as i64;
                assert!(
                    target > i as i64 && (target as usize) < p.len(),
                    "insn {i} jumps to {target}"
                );
                // Every jump lands at a block start or at the final default.
                let at = &p[target as usize];
                assert!(
                    at.code == JNE_K || at.code == MOV_X || at.code == MOV_K,
                    "insn {i} lands on {at:?}"
                );
            }
        }
        assert_eq!(p.last().unwrap().code, EXIT);
    }
}
