//! Terminals: a pty from the container's own devpts, its size, /dev/console,
//! and the hand-off of the master over --console-socket as runc does it (one
//! sendmsg, the pty's name as payload, one SCM_RIGHTS message with one fd).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sys::socket::{AddressFamily, SockFlag, SockType};
use oci_spec::runtime::Process;

pub mod relay;

use crate::rootfs::inroot::{self, Follow};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub name: String,
}

fn ioctl_int(fd: RawFd, req: libc::c_ulong, arg: libc::c_int) -> std::io::Result<libc::c_int> {
    // SAFETY: terminal ioctls that take or return an int through the pointer/value given.
    let rc = unsafe { libc::ioctl(fd, req, arg) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Opens a pty on the devpts mounted at `<root>/dev/pts`, resolved in-root and
/// checked to be a ptmx; the slave comes from the master itself (TIOCGPTPEER),
/// never from a path an image could swap (CVE-2025-52565).
pub fn open_pty(root: &OwnedFd) -> Result<Pty> {
    let master = inroot::openat2(
        root.as_raw_fd(),
        Path::new("dev/pts/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY,
        Follow::NoSymlinks,
    )
    .context("open /dev/pts/ptmx in the container")?;
    let st = nix::sys::stat::fstat(master.as_raw_fd()).context("stat ptmx")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || libc::major(st.st_rdev) != 5 {
        bail!("/dev/pts/ptmx in the container is not a pty multiplexer");
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(std::io::Error::last_os_error()).context("unlock the pty");
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes an int to the pointer.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } < 0 {
        return Err(std::io::Error::last_os_error()).context("pty number");
    }
    let slave = ioctl_int(
        master.as_raw_fd(),
        libc::TIOCGPTPEER,
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
    )
    .context("open the pty's peer")?;
    // SAFETY: the kernel returned a new fd.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok(Pty {
        master,
        slave,
        name: format!("/dev/pts/{n}"),
    })
}

/// process.consoleSize, if given.
pub fn set_size(pty: &Pty, p: &Process) -> Result<()> {
    let Some(b) = p.console_size() else { return Ok(()) };
    let ws = libc::winsize {
        ws_row: b.height() as u16,
        ws_col: b.width() as u16,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize from the pointer.
    if unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(std::io::Error::last_os_error()).context("process.consoleSize");
    }
    Ok(())
}

/// Binds the pty over the container's /dev/console.
pub fn bind_console(root: &OwnedFd, pty: &Pty) -> Result<()> {
    let target = inroot::create_file(root, Path::new("/dev/console"), Follow::NoSymlinks)?;
    nix::mount::mount(
        Some(&inroot::fd_path(&pty.slave)),
        &inroot::fd_path(&target),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind the pty over /dev/console")
}

/// Sends the master to the console socket: payload the pty name, one fd.
pub fn send_master(sock: RawFd, pty: &Pty) -> Result<()> {
    crate::fdpass::send(sock, pty.name.as_bytes(), pty.master.as_raw_fd())
        .context("send the pty master over --console-socket")
}

/// Makes the slave this process's controlling terminal and its stdio.
pub fn make_stdio(pty: &Pty) -> Result<()> {
    ioctl_int(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0).context("TIOCSCTTY")?;
    for target in 0..=2 {
        nix::unistd::dup2(pty.slave.as_raw_fd(), target).context("dup2 the pty")?;
    }
    Ok(())
}

/// For `run` with a terminal and no --console-socket: a socket pair; the init
/// sends its master to the first end as it would to a console socket, hull
/// receives it on the second.
pub fn local_pair() -> Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .context("socketpair for the terminal")
}

/// Receives a pty master sent with send_master.
pub fn recv_master(sock: RawFd) -> Result<OwnedFd> {
    Ok(crate::fdpass::recv_fd(sock, "pty master")?.1)
}
