//! process.scheduler (sched_setattr(2)) and process.ioPriority
//! (ioprio_set(2)), set on the init before its exec so the program inherits
//! them, while it still has the privileges a real-time class needs.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{IOPriorityClass, LinuxSchedulerFlag as F, LinuxSchedulerPolicy as P, Process};

/// The kernel's struct sched_attr (include/uapi/linux/sched/types.h), up to
/// the deadline fields (SCHED_ATTR_SIZE_VER0).
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

fn policy(p: P) -> Result<u32> {
    Ok(match p {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => bail!("process.scheduler.policy: SCHED_ISO is not in the Linux kernel"),
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    })
}

fn flag(f: F) -> u64 {
    match f {
        F::SchedResetOnFork => 0x01,
        F::SchedFlagReclaim => 0x02,
        F::SchedFlagDLOverrun => 0x04,
        F::SchedFlagKeepPolicy => 0x08,
        F::SchedFlagKeepParams => 0x10,
        F::SchedFlagUtilClampMin => 0x20,
        F::SchedFlagUtilClampMax => 0x40,
    }
}

/// The ranges sched(7) and ioprio_set(2) give, so a bad value is refused at
/// create with its field rather than by the init.
pub fn validate(p: &Process) -> Result<()> {
    if let Some(s) = p.scheduler() {
        let pol = policy(*s.policy())?;
        if let Some(n) = *s.nice() {
            if !(-20..=19).contains(&n) {
                bail!("process.scheduler.nice: {n} is outside -20..19");
            }
        }
        let prio = (*s.priority()).unwrap_or(0);
        let realtime = pol == 1 || pol == 2;
        if realtime && !(1..=99).contains(&prio) {
            bail!(
                "process.scheduler.priority: {prio} is outside 1..99, the range of {}",
                s.policy()
            );
        }
        if !realtime && prio != 0 {
            bail!("process.scheduler.priority: {prio}: only SCHED_FIFO and SCHED_RR take a priority");
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            bail!("process.ioPriority.priority: {} is outside 0..7", io.priority());
        }
    }
    Ok(())
}

pub fn apply(p: &Process) -> Result<()> {
    if let Some(s) = p.scheduler() {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: policy(*s.policy())?,
            flags: s.flags().iter().flatten().map(|f| flag(*f)).fold(0, |a, b| a | b),
            nice: (*s.nice()).unwrap_or(0),
            priority: (*s.priority()).unwrap_or(0) as u32,
            runtime: (*s.runtime()).unwrap_or(0),
            deadline: (*s.deadline()).unwrap_or(0),
            period: (*s.period()).unwrap_or(0),
        };
        // SAFETY: sched_setattr on ourselves with a fully initialised attr of the size it names.
        let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
        if r != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("process.scheduler: {}", s.policy()));
        }
    }
    if let Some(io) = p.io_priority() {
        let class: i64 = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        const IOPRIO_WHO_PROCESS: i64 = 1;
        // SAFETY: ioprio_set with integer arguments only.
        let r = unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                0,
                (class << 13) | io.priority(),
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("process.ioPriority: {}", io.class()));
        }
    }
    Ok(())
}
