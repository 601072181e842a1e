//! CPU affinity: what a process inherits from whoever ran hull is not the
//! container's to keep. Once a process is in the container's cgroup its
//! affinity is reset to every CPU, which the kernel narrows to the cgroup's
//! cpuset (since 6.2 the kernel keeps an affinity asked for before a cpuset
//! move, so a caller pinned by `taskset` would otherwise pin the container).
//! An exec'd process may instead ask for process.execCPUAffinity: `initial`
//! before it joins the cgroup, `final` after (runtime-spec 1.2).

use anyhow::{Context, Result};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::Process;

/// process.execCPUAffinity, parsed.
#[derive(Default)]
pub struct ExecAffinity {
    /// The list as written, for errors, and the set.
    initial: Option<(String, CpuSet)>,
    last: Option<(String, CpuSet)>,
}

impl ExecAffinity {
    pub fn of(p: &Process) -> Result<Self> {
        let Some(a) = p.exec_cpu_affinity() else {
            return Ok(Self::default());
        };
        let field = |name: &str, v: &Option<String>| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let set = cpu_list(s).with_context(|| format!("process.execCPUAffinity.{name}: {s:?}"))?;
                    Ok::<_, anyhow::Error>((s.to_string(), set))
                })
                .transpose()
        };
        Ok(Self {
            initial: field("initial", a.initial())?,
            last: field("final", a.cpu_affinity_final())?,
        })
    }

    /// Before the cgroup move: the transient affinity, if one is asked for.
    pub fn apply_initial(&self) -> Result<()> {
        match &self.initial {
            Some((list, set)) => set_own(set).with_context(|| format!("process.execCPUAffinity.initial: {list:?}")),
            None => Ok(()),
        }
    }

    /// After the cgroup move: the final affinity, or the cgroup's own.
    pub fn apply_final(&self) -> Result<()> {
        match &self.last {
            Some((list, set)) => set_own(set).with_context(|| format!("process.execCPUAffinity.final: {list:?}")),
            None => {
                reset();
                Ok(())
            }
        }
    }
}

/// Every CPU, as far as the cgroup's cpuset allows. Best effort: a failure
/// leaves the affinity the process had, as it was before this existed.
pub fn reset() {
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        let _ = all.set(cpu);
    }
    if let Err(e) = set_own(&all) {
        tracing::debug!("reset the CPU affinity: {e}");
    }
}

fn set_own(set: &CpuSet) -> nix::Result<()> {
    sched_setaffinity(Pid::from_raw(0), set)
}

/// A kernel cpu list: `0-3,7`.
fn cpu_list(s: &str) -> Result<CpuSet> {
    let mut set = CpuSet::new();
    for cpu in super::bitlist::parse(s, CpuSet::count(), "CPU")? {
        set.set(cpu)?;
    }
    Ok(set)
}
