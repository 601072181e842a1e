//! linux.seccomp through seccompiler. A profile mixes actions per rule and
//! seccompiler gives one action per filter, so the profile becomes a stack of
//! filters, which the kernel combines by precedence (kill > trap > errno >
//! trace > log > allow):
//!   - one filter: every rule's syscall (with its conditions) -> allow, anything else -> defaultAction;
//!   - one filter per other action: its rules -> that action, anything else -> allow.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};
use seccompiler::{BpfProgram, TargetArch};
use serde_json::{json, Value};

const EPERM: u32 = libc::EPERM as u32;

/// A compiled profile, ready to install.
#[derive(Debug, Clone)]
pub struct Seccomp {
    programs: Vec<BpfProgram>,
    flags: libc::c_ulong,
}

/// seccompiler's JSON spelling of an action; errno values default as the spec says.
fn action(a: A, errno: Option<u32>, field: &str) -> Result<Value> {
    Ok(match a {
        A::ScmpActAllow => json!("allow"),
        A::ScmpActErrno => json!({"errno": errno.unwrap_or(EPERM)}),
        A::ScmpActKill | A::ScmpActKillThread => json!("kill_thread"),
        A::ScmpActKillProcess => json!("kill_process"),
        A::ScmpActTrap => json!("trap"),
        A::ScmpActTrace => json!({"trace": errno.unwrap_or(EPERM)}),
        A::ScmpActLog => json!("log"),
        A::ScmpActNotify => bail!("{field}: SCMP_ACT_NOTIFY is not supported yet"),
    })
}

fn rule(name: &str, args: &[oci_spec::runtime::LinuxSeccompArg]) -> Value {
    let conds: Vec<Value> = args
        .iter()
        .map(|a| {
            let (op, val) = match a.op() {
                Op::ScmpCmpNe => (json!("ne"), a.value()),
                Op::ScmpCmpLt => (json!("lt"), a.value()),
                Op::ScmpCmpLe => (json!("le"), a.value()),
                Op::ScmpCmpEq => (json!("eq"), a.value()),
                Op::ScmpCmpGe => (json!("ge"), a.value()),
                Op::ScmpCmpGt => (json!("gt"), a.value()),
                // libseccomp: (arg & value) == valueTwo.
                Op::ScmpCmpMaskedEq => (json!({"masked_eq": a.value()}), a.value_two().unwrap_or(0)),
            };
            json!({"index": a.index(), "type": "qword", "op": op, "val": val})
        })
        .collect();
    if conds.is_empty() {
        json!({"syscall": name})
    } else {
        json!({"syscall": name, "args": conds})
    }
}

/// The filters as seccompiler JSON: name -> filter.
fn filters(s: &LinuxSeccomp, skip: &[String]) -> Result<serde_json::Map<String, Value>> {
    let default = action(s.default_action(), s.default_errno_ret(), "linux.seccomp.defaultAction")?;
    let mut all_rules = vec![];
    let mut by_action: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let act = action(
            sc.action(),
            sc.errno_ret().or(s.default_errno_ret()),
            &format!("linux.seccomp.syscalls[{i}]"),
        )?;
        for name in sc.names().iter().filter(|n| !skip.contains(n)) {
            let r = rule(name, sc.args().as_deref().unwrap_or(&[]));
            all_rules.push(r.clone());
            if act != json!("allow") {
                by_action
                    .entry(act.to_string())
                    .or_insert_with(|| (act.clone(), vec![]))
                    .1
                    .push(r);
            }
        }
    }
    let mut out = serde_json::Map::new();
    if default != json!("allow") {
        out.insert(
            "default".into(),
            json!({"mismatch_action": default, "match_action": "allow", "filter": all_rules}),
        );
    }
    for (i, (_, (act, rules))) in by_action.into_iter().enumerate() {
        if act != default {
            out.insert(
                format!("action{i}"),
                json!({"mismatch_action": "allow", "match_action": act, "filter": rules}),
            );
        }
    }
    Ok(out)
}

fn flags(s: &LinuxSeccomp) -> libc::c_ulong {
    s.flags().iter().flatten().fold(0, |f, flag| {
        f | match flag {
            F::SeccompFilterFlagTsync => 1,
            F::SeccompFilterFlagLog => 2,
            F::SeccompFilterFlagSpecAllow => 4,
            F::SeccompFilterFlagWaitKillableRecv => 32,
        }
    })
}

/// Compiles linux.seccomp; syscall names this architecture does not know are
/// skipped with a warning, as runc does.
pub fn compile(s: &LinuxSeccomp) -> Result<Seccomp> {
    if s.listener_path().is_some() {
        bail!("linux.seccomp.listenerPath: seccomp notification is not supported yet");
    }
    let mut skip: Vec<String> = vec![];
    loop {
        let map = filters(s, &skip)?;
        let text = serde_json::to_vec(&map)?;
        match seccompiler::compile_from_json(text.as_slice(), TargetArch::x86_64) {
            Ok(progs) => {
                let mut keys: Vec<&String> = progs.keys().collect();
                keys.sort();
                let programs = keys.into_iter().map(|k| progs[k].clone()).collect();
                return Ok(Seccomp {
                    programs,
                    flags: flags(s),
                });
            }
            Err(e) => {
                let msg = e.to_string();
                let Some(name) = msg
                    .split_once("Invalid syscall name: ")
                    .and_then(|(_, r)| r.split(" for given arch").next())
                    .filter(|n| !skip.iter().any(|s| s == n))
                else {
                    return Err(anyhow!("linux.seccomp: {msg}"));
                };
                tracing::warn!("linux.seccomp: unknown syscall {name:?} skipped");
                skip.push(name.to_string());
            }
        }
    }
}

impl Seccomp {
    /// Installs every filter. Needs no_new_privs or CAP_SYS_ADMIN.
    pub fn install(&self) -> Result<()> {
        for p in &self.programs {
            let prog = libc::sock_fprog {
                len: p.len() as u16,
                filter: p.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: a BPF program that lives across the call, in the layout the kernel reads.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    self.flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error()).context("linux.seccomp: load the filter");
            }
        }
        Ok(())
    }
}

/// With no_new_privs the filter goes in last, right before exec, so a profile
/// that blocks what hull itself still needs cannot break the setup.
pub fn load_last(s: Option<&Seccomp>, p: Option<&oci_spec::runtime::Process>) -> Result<()> {
    match s {
        Some(s) if p.and_then(|p| p.no_new_privileges()).unwrap_or(false) => s.install(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn unknown_names_are_skipped_and_actions_grouped() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}
            ]
        }));
        let s = compile(&p).unwrap();
        assert_eq!(s.programs.len(), 2, "default filter + one errno(38) filter");
    }

    #[test]
    fn notify_is_refused_with_the_entry() {
        let p = profile(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        let e = compile(&p).unwrap_err().to_string();
        assert!(e.contains("linux.seccomp.syscalls[0]"), "{e}");
    }
}
