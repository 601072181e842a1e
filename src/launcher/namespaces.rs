//! Which namespaces to make and which to join; joined ones are opened and
//! checked (a namespace file, of the right type) before anything is forked.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::spec::namespaces;

// _IO(0xb7, 0x3)
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

pub struct Join {
    pub typ: LinuxNamespaceType,
    pub fd: OwnedFd,
    pub path: PathBuf,
}

pub struct Plan {
    pub new_user: bool,
    pub join_user: bool,
    /// New namespaces other than user and cgroup, for one unshare.
    pub new_flags: CloneFlags,
    /// A new cgroup namespace, made by the init once it is in its cgroup.
    pub new_cgroup: bool,
    pub joins: Vec<Join>,
}

pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

pub fn plan(spec: &Spec) -> Result<Plan> {
    let mut p = Plan {
        new_user: false,
        join_user: false,
        new_flags: CloneFlags::empty(),
        new_cgroup: false,
        joins: vec![],
    };
    for (i, ns) in namespaces(spec).iter().enumerate() {
        let t = ns.typ();
        match ns.path() {
            None if t == LinuxNamespaceType::User => p.new_user = true,
            None if t == LinuxNamespaceType::Cgroup => p.new_cgroup = true,
            None => p.new_flags |= flag(t),
            Some(path) => {
                let fd = open_ns(path, t)
                    .with_context(|| format!("linux.namespaces[{i}].path: {:?}", path.display().to_string()))?;
                p.join_user |= t == LinuxNamespaceType::User;
                p.joins.push(Join {
                    typ: t,
                    fd,
                    path: path.clone(),
                });
            }
        }
    }
    // The user namespace goes first: joining it grants the rights the others need.
    p.joins.sort_by_key(|j| j.typ != LinuxNamespaceType::User);
    Ok(p)
}

fn open_ns(path: &std::path::Path, t: LinuxNamespaceType) -> Result<OwnedFd> {
    let f = std::fs::File::open(path).context("cannot open")?;
    let fs = nix::sys::statfs::fstatfs(&f).context("statfs")?;
    if fs.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
        bail!("not a namespace file");
    }
    // SAFETY: an ioctl without arguments on an nsfs fd we own.
    let kind = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE) };
    if kind < 0 {
        return Err(std::io::Error::last_os_error()).context("NS_GET_NSTYPE");
    }
    if kind != t as i32 {
        bail!("is a namespace of another type, not {}", crate::spec::ns_name(t));
    }
    Ok(f.into())
}

pub fn join(j: &Join) -> Result<()> {
    setns(&j.fd, flag(j.typ))
        .with_context(|| format!("join {} namespace {}", crate::spec::ns_name(j.typ), j.path.display()))
}

pub fn unshare_new(flags: CloneFlags) -> Result<()> {
    if !flags.is_empty() {
        unshare(flags).with_context(|| format!("linux.namespaces: make the {} namespaces", names(flags)))?;
    }
    Ok(())
}

fn names(flags: CloneFlags) -> String {
    use LinuxNamespaceType as T;
    [
        T::Mount,
        T::Uts,
        T::Ipc,
        T::Network,
        T::Pid,
        T::Time,
        T::Cgroup,
        T::User,
    ]
    .into_iter()
    .filter(|t| flags.contains(flag(*t)))
    .map(crate::spec::ns_name)
    .collect::<Vec<_>>()
    .join(", ")
}
