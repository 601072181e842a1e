//! Namespaces that outlive their processes: a thread unshares one and its
//! /proc/thread-self/ns file is bind-mounted onto a file, as `ip netns add`
//! does. Containers join them by path; a pod's containers share them.

use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;

/// Makes the namespace of `kind` ("net", "ipc", "uts") bound at `file`;
/// a UTS namespace gets `hostname`.
pub fn create(file: &Path, kind: &'static str) -> Result<()> {
    create_named(file, kind, None)
}

pub fn create_named(file: &Path, kind: &'static str, hostname: Option<String>) -> Result<()> {
    let flag = match kind {
        "net" => CloneFlags::CLONE_NEWNET,
        "ipc" => CloneFlags::CLONE_NEWIPC,
        "uts" => CloneFlags::CLONE_NEWUTS,
        other => anyhow::bail!("no persistent {other} namespace"),
    };
    std::fs::File::create(file).with_context(|| format!("create {}", file.display()))?;
    let target = file.to_path_buf();
    let made = std::thread::spawn(move || -> Result<()> {
        nix::sched::unshare(flag).with_context(|| format!("unshare a {kind} namespace"))?;
        let src = format!("/proc/thread-self/ns/{kind}");
        mount(
            Some(src.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind {src} onto {}", target.display()))?;
        if kind == "net" {
            loopback_up()?;
        }
        if let Some(h) = &hostname {
            nix::unistd::sethostname(h).with_context(|| format!("set the hostname {h:?}"))?;
        }
        Ok(())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread making a {kind} namespace panicked"))?;
    if made.is_err() {
        let _ = std::fs::remove_file(file);
    }
    made
}

/// Unmounts and removes a namespace file; nothing there is fine.
pub fn remove(file: &Path) -> Result<()> {
    crate::record::unmount_and_remove(file)
}

/// `ip link set lo up` in this thread's network namespace.
fn loopback_up() -> Result<()> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket")?;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error()).context("read lo's flags");
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error()).context("set lo up");
        }
    }
    Ok(())
}
