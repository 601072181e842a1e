//! The container process's own settings: rlimits, credentials, capabilities,
//! umask, cwd, no_new_privs, and finally exec.

pub mod affinity;
mod bitlist;
pub mod caps;
pub mod env;
pub mod exec;
pub mod lsm;
pub mod mempolicy;
pub mod personality;
mod rlimits;
pub mod sched;
pub mod seccomp;
mod user;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxCapabilities, Process};

/// Applies everything about the process that must happen before exec, in the
/// order the privileges allow; returns the program to exec.
pub fn setup(p: &Process, seccomp: Option<&seccomp::Seccomp>, handover: seccomp::Handover) -> Result<Program> {
    rlimits::apply(p.rlimits().as_deref().unwrap_or(&[]))?;
    sched::apply(p)?;
    // chdir and getcwd all happen before the filter: a profile may block them.
    let in_cwd = enter_cwd_as_root(p)?;
    let none = LinuxCapabilities::default_empty();
    let caps = p.capabilities().as_ref().unwrap_or(&none);
    caps::apply_bounding(caps)?;
    user::switch(p.user())?;
    if !in_cwd {
        nix::unistd::chdir(p.cwd()).with_context(|| format!("process.cwd: {:?}", p.cwd().display().to_string()))?;
        check_cwd_inside(p)?;
    }
    if let Some(s) = seccomp.filter(|s| seccomp::loads_early(s, p)) {
        // As late as it can be without no_new_privs: loading needs
        // CAP_SYS_ADMIN, which apply_sets may drop. After it, hull still
        // makes capset, prctl, umask, the listener hand-over, the
        // startContainer hooks, reads /etc/passwd for HOME, looks up the
        // program in PATH and execs it.
        caps::raise_effective().context("linux.seccomp without process.noNewPrivileges needs CAP_SYS_ADMIN")?;
        seccomp::install(s, handover)?;
    }
    caps::apply_sets(caps)?;
    let mask = p.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    if p.no_new_privileges().unwrap_or(false) {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error()).context("process.noNewPrivileges");
        }
    }
    let Some(arg0) = p.args().as_deref().and_then(|a| a.first()) else {
        bail!("process.args: must name a program, got none");
    };
    let env = env::with_home(p.env().as_deref().unwrap_or(&[]), p.user().uid());
    let path = exec::find_program(arg0, &env)?;
    Ok(Program {
        path,
        args: p.args().clone().unwrap_or_default(),
        env,
    })
}

/// What the linux section sets on each of the container's processes, the
/// init and every exec'd one: before the seccomp filter, which may deny it.
pub fn apply_linux(linux: Option<&oci_spec::runtime::Linux>) -> Result<()> {
    personality::apply(linux.and_then(|l| l.personality().as_ref()))?;
    mempolicy::apply(linux.and_then(|l| l.memory_policy().as_ref()))
}

/// chdir to process.cwd as root, as runc does: whether it got there. A
/// permission error is for the user to retry once it is switched to (a volume
/// only the container user may enter); any other error is the config's.
fn enter_cwd_as_root(p: &Process) -> Result<bool> {
    match nix::unistd::chdir(p.cwd()) {
        Ok(()) => check_cwd_inside(p).map(|()| true),
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("process.cwd: {:?}", p.cwd().display().to_string())),
    }
}

/// A cwd reached through a leaked fd (CVE-2024-21626) is outside the root:
/// getcwd fails (ENOENT for "(unreachable)", ERANGE for a path made too deep
/// to print) or gives a path that is not absolute. Runs before any seccomp
/// filter, so every failure means the cwd cannot be vouched for.
fn check_cwd_inside(p: &Process) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(cwd) if cwd.is_absolute() => Ok(()),
        r => bail!(
            "process.cwd: {:?} is outside the container ({})",
            p.cwd().display().to_string(),
            r.map_or_else(|e| e.to_string(), |c| format!("getcwd gave {}", c.display()))
        ),
    }
}

/// What the init finally execs.
pub struct Program {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
}

trait EmptyCaps {
    fn default_empty() -> Self;
}

impl EmptyCaps for LinuxCapabilities {
    /// No capabilities at all: what a process gets when config.json lists none.
    fn default_empty() -> Self {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(Some(Default::default()));
        c.set_effective(Some(Default::default()));
        c.set_inheritable(Some(Default::default()));
        c.set_permitted(Some(Default::default()));
        c.set_ambient(Some(Default::default()));
        c
    }
}
