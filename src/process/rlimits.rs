//! process.rlimits through setrlimit(2).

use anyhow::{bail, Result};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType as T};

fn resource(t: T) -> libc::__rlimit_resource_t {
    match t {
        T::RlimitCpu => libc::RLIMIT_CPU,
        T::RlimitFsize => libc::RLIMIT_FSIZE,
        T::RlimitData => libc::RLIMIT_DATA,
        T::RlimitStack => libc::RLIMIT_STACK,
        T::RlimitCore => libc::RLIMIT_CORE,
        T::RlimitRss => libc::RLIMIT_RSS,
        T::RlimitNproc => libc::RLIMIT_NPROC,
        T::RlimitNofile => libc::RLIMIT_NOFILE,
        T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        T::RlimitAs => libc::RLIMIT_AS,
        T::RlimitLocks => libc::RLIMIT_LOCKS,
        T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        T::RlimitNice => libc::RLIMIT_NICE,
        T::RlimitRtprio => libc::RLIMIT_RTPRIO,
        T::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let rl = libc::rlimit {
            rlim_cur: l.soft(),
            rlim_max: l.hard(),
        };
        // SAFETY: a valid rlimit struct for a known resource.
        if unsafe { libc::setrlimit(resource(l.typ()), &rl) } != 0 {
            let err = std::io::Error::last_os_error();
            let hint = if err.raw_os_error() == Some(libc::EPERM) {
                " (raising a hard limit above the runtime's own needs CAP_SYS_RESOURCE, which this host does not grant)"
            } else {
                ""
            };
            bail!(
                "process.rlimits[{i}]: {} soft={} hard={}: {err}{hint}",
                l.typ(),
                l.soft(),
                l.hard()
            );
        }
    }
    Ok(())
}
