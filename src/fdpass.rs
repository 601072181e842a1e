//! Passing one fd over a unix socket (SCM_RIGHTS) with a payload: the pty
//! master to a console socket, a pidfd to a pidfd socket, the seccomp
//! listener to its agent and up the create channel.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sys::socket::{
    connect as connect_to, recvmsg, sendmsg, socket, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType, UnixAddr,
};

/// Connects to a socket the caller named by `flag` (--console-socket,
/// --pidfd-socket), before any namespace is joined, while its path is the
/// caller's.
pub fn connect(path: &Path, flag: &str) -> Result<OwnedFd> {
    let fd = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .with_context(|| format!("{flag}: socket"))?;
    let addr = UnixAddr::new(path).with_context(|| format!("{flag} {}", path.display()))?;
    connect_to(fd.as_raw_fd(), &addr).with_context(|| format!("{flag} {}: connect", path.display()))?;
    Ok(fd)
}

/// A pidfd of `pid` to a --pidfd-socket, with runc's payload: "standard"
/// for a container's init, "setns" for an exec'd process.
pub fn send_pidfd(sock: &OwnedFd, pid: i32, payload: &str) -> Result<()> {
    let pidfd = crate::pidfd::open(pid).with_context(|| format!("--pidfd-socket: pidfd_open({pid})"))?;
    send(sock.as_raw_fd(), payload.as_bytes(), pidfd.as_raw_fd()).context("--pidfd-socket: send the pidfd")
}

pub fn send(sock: RawFd, payload: &[u8], fd: RawFd) -> Result<()> {
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload)];
    sendmsg::<()>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).context("sendmsg with an fd")?;
    Ok(())
}

/// The payload (up to `max` bytes) and the fd that came with it, if any.
pub fn recv(sock: RawFd, max: usize) -> Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; max];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let (n, fds) = past_reset(|| {
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(more) = c {
                fds.extend(more);
            }
        }
        Ok((msg.bytes, fds))
    })
    .context("recvmsg")?;
    // SAFETY: the fds just arrived over SCM_RIGHTS and are ours; the extra
    // ones are closed here.
    let owned: Vec<OwnedFd> = fds.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }).collect();
    let fd = owned.into_iter().next();
    buf.truncate(n);
    Ok((buf, fd))
}

/// Runs a receive again on EINTR, and once on ECONNRESET: a peer that closed
/// with our message unread resets the connection; that is reported once, and
/// what it sent before closing (often why it closed) is still there to read.
pub fn past_reset<T>(mut receive: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    let mut reset = false;
    loop {
        match receive() {
            Err(nix::Error::EINTR) => {}
            Err(nix::Error::ECONNRESET) if !reset => reset = true,
            r => return r,
        }
    }
}

/// Like recv, but an fd must come.
pub fn recv_fd(sock: RawFd, what: &str) -> Result<(Vec<u8>, OwnedFd)> {
    match recv(sock, 4096)? {
        (payload, Some(fd)) => Ok((payload, fd)),
        _ => bail!("no {what} arrived"),
    }
}
