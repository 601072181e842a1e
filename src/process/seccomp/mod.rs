//! linux.seccomp through seccompiler. A profile mixes actions per rule and
//! seccompiler gives one action per filter, so the profile becomes a stack of
//! filters, which the kernel combines by precedence (kill > trap > errno >
//! trace > log > allow):
//!   - one filter: every rule's syscall (with its conditions) -> allow, anything else -> defaultAction;
//!   - one filter per other action: its rules -> that action, anything else -> allow;
//!   - those for each ABI `architectures` names (see abi), and a guard for the rest.

use std::collections::BTreeMap;
use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompArg, LinuxSeccompFilterFlag as F, LinuxSeccompOperator as Op,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

mod abi;

use abi::Abi;

const EPERM: u32 = libc::EPERM as u32;

/// A compiled profile, ready to install.
#[derive(Debug, Clone)]
pub struct Seccomp {
    programs: Vec<BpfProgram>,
    flags: libc::c_ulong,
    /// Which program returns SECCOMP_RET_USER_NOTIF: it is loaded with a new
    /// listener, which goes to linux.seccomp.listenerPath.
    notify: Option<usize>,
}

/// seccompiler has no notify action: SCMP_ACT_NOTIFY compiles as TRACE with
/// this data, and those returns are rewritten to SECCOMP_RET_USER_NOTIF.
const NOTIFY_MARK: u32 = 0xfff1;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 8;

fn to_notify(p: &mut BpfProgram) -> bool {
    let mut found = false;
    for i in p.iter_mut() {
        if i.code == 0x06 && i.k == libc::SECCOMP_RET_TRACE | NOTIFY_MARK {
            i.k = SECCOMP_RET_USER_NOTIF;
            found = true;
        }
    }
    found
}

/// seccompiler's action; errno values default as the spec says.
fn action(a: A, errno: Option<u32>, field: &str) -> Result<SeccompAction> {
    if let (Some(e), false) = (errno, matches!(a, A::ScmpActErrno | A::ScmpActTrace)) {
        // config-linux.md: errnoRet is only for actions that return one.
        let name = serde_json::to_value(a).unwrap_or_default();
        bail!("{field}: errnoRet {e} given with {name}, which returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one)");
    }
    if let (Some(e), A::ScmpActErrno) = (errno, a) {
        // The kernel caps the errno at MAX_ERRNO: a larger one would not be the one asked for.
        if e > 4095 {
            bail!("{field}: errnoRet {e} is above 4095, the highest errno");
        }
    }
    Ok(match a {
        A::ScmpActAllow => SeccompAction::Allow,
        A::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(EPERM)),
        A::ScmpActKill | A::ScmpActKillThread => SeccompAction::KillThread,
        A::ScmpActKillProcess => SeccompAction::KillProcess,
        A::ScmpActTrap => SeccompAction::Trap,
        // seccompiler keeps the low 16 bits of the data.
        A::ScmpActTrace if errno.map(|e| e & 0xffff) == Some(NOTIFY_MARK) => {
            bail!("{field}: SCMP_ACT_TRACE with errnoRet {NOTIFY_MARK} is reserved by hull")
        }
        A::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(EPERM)),
        A::ScmpActLog => SeccompAction::Log,
        A::ScmpActNotify => SeccompAction::Trace(NOTIFY_MARK),
    })
}

/// One OCI rule's argument conditions; None = unconditional. They must all
/// hold, unless one argument is tested more than once: then every condition
/// of the entry is a rule of its own and any one matches, as runc builds them
/// (libseccomp cannot AND two tests of one argument).
fn conditions(args: &[LinuxSeccompArg], field: &str) -> Result<Option<Vec<SeccompRule>>> {
    if args.is_empty() {
        return Ok(None);
    }
    let conds = args.iter().map(|a| condition(a, field)).collect::<Result<Vec<_>>>()?;
    let mut indexes: Vec<u32> = args.iter().map(|a| a.index() as u32).collect();
    indexes.sort_unstable();
    let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
    let groups = if repeated {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    };
    let rules = groups
        .into_iter()
        .map(|g| SeccompRule::new(g).map_err(|e| anyhow!("{field}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(rules))
}

fn condition(a: &LinuxSeccompArg, field: &str) -> Result<SeccompCondition> {
    let (op, val) = match a.op() {
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
        // libseccomp: (arg & value) == valueTwo.
        Op::ScmpCmpMaskedEq => (SeccompCmpOp::MaskedEq(a.value()), a.value_two().unwrap_or(0)),
    };
    let index = u8::try_from(a.index()).map_err(|_| anyhow!("{field}: args index {} out of range", a.index()))?;
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, val).map_err(|e| anyhow!("{field}: {e}"))
}

/// syscall -> its rules; an unconditional rule makes the whole entry unconditional (empty list).
type Rules = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn add(rules: &mut Rules, nr: i64, rule: Option<Vec<SeccompRule>>) {
    let entry = rules.entry(nr).or_insert_with(|| Some(vec![]));
    match (entry.as_mut(), rule) {
        (Some(list), Some(r)) => list.extend(r),
        (_, None) => *entry = None,
        (None, Some(_)) => {}
    }
}

fn filter(rules: Rules, mismatch: SeccompAction, on_match: SeccompAction) -> Result<BpfProgram> {
    let rules = rules.into_iter().map(|(nr, r)| (nr, r.unwrap_or_default())).collect();
    let f = SeccompFilter::new(rules, mismatch, on_match, TargetArch::x86_64).map_err(|e| anyhow!("{e}"))?;
    f.try_into().map_err(|e: seccompiler::BackendError| anyhow!("{e}"))
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

/// Compiles linux.seccomp, for the native ABI and the compat ones
/// `architectures` names; syscall names an ABI does not have are skipped
/// (with one warning, for the native ABI), as runc skips them.
pub fn compile(s: &LinuxSeccomp) -> Result<Seccomp> {
    if s.default_action() == A::ScmpActNotify {
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default (hull itself would wait on it)");
    }
    let default = action(s.default_action(), s.default_errno_ret(), "linux.seccomp.defaultAction")?;
    let abis = abi::listed(s.architectures().as_deref());
    let mut programs = vec![];
    for a in &abis {
        programs.extend(for_abi(s, *a, &default)?);
    }
    programs.push(abi::guard(&abis));
    let notifying: Vec<usize> = programs
        .iter_mut()
        .map(to_notify)
        .enumerate()
        .filter_map(|(i, n)| n.then_some(i))
        .collect();
    if notifying.len() > 1 {
        bail!("linux.seccomp: SCMP_ACT_NOTIFY with more than one architecture is not supported (one listener per process)");
    }
    let notify = notifying.first().copied();
    match (notify.is_some(), s.listener_path().is_some()) {
        (true, false) => bail!("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath, the agent's socket"),
        (false, true) => tracing::warn!("linux.seccomp.listenerPath: no rule uses SCMP_ACT_NOTIFY"),
        _ => {}
    }
    Ok(Seccomp {
        programs,
        flags: flags(s),
        notify,
    })
}

/// The profile's filters for one ABI: every rule's syscall -> allow, else
/// the default; then one filter per other action.
fn for_abi(s: &LinuxSeccomp, abi: Abi, default: &SeccompAction) -> Result<Vec<BpfProgram>> {
    let mut all: Rules = BTreeMap::new();
    let mut by_action: Vec<(SeccompAction, Rules)> = vec![];
    let mut unknown = vec![];
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        // A rule's errno defaults to EPERM; defaultErrnoRet is the default action's alone.
        let act = action(sc.action(), sc.errno_ret(), &field)?;
        if act == *default {
            // Same as the default: nothing to add (and it must not become "allow" below).
            continue;
        }
        let rule = conditions(sc.args().as_deref().unwrap_or(&[]), &field)?;
        for name in sc.names() {
            let Some(nr) = abi.number(name) else {
                unknown.push(name.as_str());
                continue;
            };
            add(&mut all, nr, rule.clone());
            if act != SeccompAction::Allow {
                let pos = by_action.iter().position(|(a, _)| *a == act).unwrap_or_else(|| {
                    by_action.push((act.clone(), BTreeMap::new()));
                    by_action.len() - 1
                });
                add(&mut by_action[pos].1, nr, rule.clone());
            }
        }
    }
    if !unknown.is_empty() && abi == Abi::X86_64 {
        unknown.sort_unstable();
        unknown.dedup();
        // Normal in multi-architecture profiles (podman's default has 84 here); runc logs them at debug.
        tracing::debug!(
            "linux.seccomp: {} syscall names unknown on x86_64 skipped: {}",
            unknown.len(),
            unknown.join(" ")
        );
    }
    let mut programs = vec![];
    if *default != SeccompAction::Allow {
        let p = filter(all, default.clone(), SeccompAction::Allow).context("linux.seccomp")?;
        programs.push(abi::retarget(p, abi, enosys_above(s, abi)));
    }
    for (act, rules) in by_action {
        let p = filter(rules, SeccompAction::Allow, act).context("linux.seccomp")?;
        programs.push(abi::retarget(p, abi, None));
    }
    Ok(programs)
}

/// The largest syscall number the profile names for `abi`, when syscalls
/// above it must get ENOSYS rather than a restrictive default, as runc's
/// stub does: a syscall newer than the profile is one the kernel might not
/// have, and libc falls back on ENOSYS (clone3 to clone, for one) but fails
/// on EPERM. For the native ABI and those `architectures` names (runc
/// implies the native one too), and not for permissive defaults.
fn enosys_above(s: &LinuxSeccomp, abi: Abi) -> Option<u32> {
    if matches!(s.default_action(), A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace) {
        return None;
    }
    if abi != Abi::X86_64 && !abi::named(s.architectures().as_deref(), abi) {
        return None;
    }
    let names = s.syscalls().iter().flatten().flat_map(|sc| sc.names());
    names.filter_map(|n| abi.number(n)).max().map(|nr| nr as u32)
}

impl Seccomp {
    fn has_listener(&self) -> bool {
        self.notify.is_some()
    }

    /// Installs every filter; returns the notify listener if the profile has
    /// one. Needs no_new_privs or CAP_SYS_ADMIN.
    pub fn install(&self) -> Result<Option<OwnedFd>> {
        let mut listener = None;
        for (i, p) in self.programs.iter().enumerate() {
            let prog = libc::sock_fprog {
                len: p.len() as u16,
                filter: p.as_ptr() as *mut libc::sock_filter,
            };
            let mut flags = self.flags;
            if self.notify == Some(i) {
                // The kernel refuses TSYNC with a new listener; the process
                // loading it is single-threaded, so TSYNC has nothing to do here.
                flags = (flags & !libc::SECCOMP_FILTER_FLAG_TSYNC) | SECCOMP_FILTER_FLAG_NEW_LISTENER;
            }
            // SAFETY: a BPF program that lives across the call, in the layout the kernel reads.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            if rc < 0 {
                let err = std::io::Error::last_os_error();
                let hint = if err.raw_os_error() == Some(libc::EACCES) {
                    " (without process.noNewPrivileges this needs CAP_SYS_ADMIN)"
                } else {
                    ""
                };
                return Err(err).with_context(|| format!("linux.seccomp: load the filter{hint}"));
            }
            if self.notify == Some(i) {
                // SAFETY: with NEW_LISTENER the kernel returned a new fd, now ours.
                listener = Some(unsafe { OwnedFd::from_raw_fd(rc as i32) });
            }
        }
        Ok(listener)
    }
}

/// Where the notify listener goes once the filter is in: up to the parent,
/// which hands it to the agent at linux.seccomp.listenerPath.
pub type Handover<'a> = &'a dyn Fn(OwnedFd) -> Result<()>;

/// Installs the filter, handing over its listener if it has one.
pub fn install(s: &Seccomp, handover: Handover) -> Result<()> {
    match s.install()? {
        Some(fd) => handover(fd).context("linux.seccomp.listenerPath: hand the notify fd over"),
        None => Ok(()),
    }
}

/// Whether the filter goes in early (in process::setup, before the
/// capabilities are set): without no_new_privs loading needs CAP_SYS_ADMIN,
/// which the container's sets may not have; and a listener must reach the
/// agent while the parent is there.
pub fn loads_early(s: &Seccomp, p: &oci_spec::runtime::Process) -> bool {
    !p.no_new_privileges().unwrap_or(false) || s.has_listener()
}

/// With no_new_privs the filter goes in last, right before exec, so a profile
/// that blocks what hull itself still needs cannot break the setup.
pub fn load_last(s: Option<&Seccomp>, p: Option<&oci_spec::runtime::Process>) -> Result<()> {
    match (s, p) {
        (Some(s), Some(p)) if !loads_early(s, p) => s.install().map(|_| ()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{json, Value};

    fn profile(v: Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn table_has_the_usual_calls() {
        assert_eq!(Abi::X86_64.number("read"), Some(0));
        assert_eq!(Abi::X86_64.number("close"), Some(3));
        assert_eq!(Abi::X86_64.number("sigreturn"), None);
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
        assert_eq!(
            s.programs.len(),
            3,
            "default filter + one errno(38) filter + the x32 guard"
        );
    }

    #[test]
    fn a_rule_with_the_default_action_is_not_allowed() {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}, {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let s = compile(&p).unwrap();
        // Only "read" is in the base filter's allow list: kexec_load gets the default.
        assert_eq!(s.programs.len(), 2);
    }

    #[test]
    fn notify_needs_a_listener_and_compiles_to_user_notif() {
        let rule = json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]);
        let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rule}));
        assert!(compile(&p).unwrap_err().to_string().contains("listenerPath"));
        let p =
            profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": rule}));
        let c = compile(&p).unwrap();
        let n = c.notify.unwrap();
        assert!(c.programs[n]
            .iter()
            .any(|i| i.code == 0x06 && i.k == SECCOMP_RET_USER_NOTIF));
        let p = profile(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}));
        assert!(compile(&p).unwrap_err().to_string().contains("defaultAction"));
    }
}
