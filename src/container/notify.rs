//! systemd's readiness protocol through the container, as runc does it:
//! when hull runs with NOTIFY_SOCKET set (a `Type=notify` unit), the
//! container's process gets a socket of its own at /run/notify/notify.sock,
//! and its first READY=1 goes on to systemd with MAINPID.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{self, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};

/// The socket's path in the container, runc's.
const IN_CONTAINER: &str = "/run/notify/notify.sock";
const SOCKET: &str = "notify.sock";

/// Whether the caller has a NOTIFY_SOCKET.
pub fn asked() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty())
}

/// systemd's socket, connected.
pub struct Host {
    fd: OwnedFd,
    name: String,
}

impl Host {
    /// Connects to the caller's NOTIFY_SOCKET (a path, or @ for the
    /// abstract namespace) before anything is made, so that a bad one fails
    /// first; None without one.
    pub fn connect() -> Result<Option<Host>> {
        let Some(name) = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let name = name
            .into_string()
            .map_err(|n| anyhow::anyhow!("NOTIFY_SOCKET {n:?}: not UTF-8"))?;
        let addr = match name.strip_prefix('@') {
            Some(abstract_name) => UnixAddr::new_abstract(abstract_name.as_bytes()),
            None => UnixAddr::new(name.as_str()),
        }
        .with_context(|| format!("NOTIFY_SOCKET {name:?}"))?;
        let fd = socket::socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
            .context("NOTIFY_SOCKET: socket")?;
        socket::connect(fd.as_raw_fd(), &addr).with_context(|| format!("NOTIFY_SOCKET {name:?}: connect"))?;
        Ok(Some(Host { fd, name }))
    }

    /// READY=1 and MAINPID, hull's own words (the container's message is
    /// never passed on: it could carry other fields), then BARRIER=1 with a
    /// pipe whose end systemd closes once it has read them.
    fn tell_ready(&self, main_pid: i32) -> Result<()> {
        let send = |data: &[u8], fds: &[std::os::fd::RawFd]| {
            let rights = [ControlMessage::ScmRights(fds)];
            let cmsg: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
            socket::sendmsg::<()>(
                self.fd.as_raw_fd(),
                &[std::io::IoSlice::new(data)],
                cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .with_context(|| format!("NOTIFY_SOCKET {:?}: send", self.name))
        };
        send(format!("READY=1\nMAINPID={main_pid}\n").as_bytes(), &[])?;
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("NOTIFY_SOCKET: pipe")?;
        send(b"BARRIER=1", &[write_end.as_raw_fd()])?;
        drop(write_end);
        self.barrier(read_end);
        Ok(())
    }

    /// Waits for systemd to close its copy of the pipe: 30 s at most, as
    /// runc, for a listener that does not know BARRIER.
    fn barrier(&self, read_end: OwnedFd) {
        let mut fds = [PollFd::new(read_end.as_fd(), PollFlags::POLLIN)];
        let limit = PollTimeout::try_from(Duration::from_secs(30)).unwrap_or(PollTimeout::MAX);
        if poll(&mut fds, limit) != Ok(1) {
            tracing::warn!("NOTIFY_SOCKET {:?}: no BARRIER answer in 30 s; going on", self.name);
            return;
        }
        let mut byte = [0u8; 1];
        if std::fs::File::from(read_end).read(&mut byte).is_ok_and(|n| n > 0) {
            tracing::warn!(
                "NOTIFY_SOCKET {:?}: the BARRIER pipe got data instead of its end",
                self.name
            );
        }
    }
}

/// create: `dir` (in the container's state directory) bound read-only at
/// /run/notify, and the process told NOTIFY_SOCKET is there. Without a
/// mount namespace of its own the bind would land in the caller's mounts
/// and outlive the container, and without it systemd would wait for a
/// READY that cannot come: refused.
pub fn prepare(spec: &mut Spec, dir: &Path) -> Result<()> {
    if !crate::spec::has_new_namespace(spec, LinuxNamespaceType::Mount) {
        anyhow::bail!(
            "NOTIFY_SOCKET is set, but linux.namespaces has no new mount namespace to give the container its notify socket in"
        );
    }
    std::fs::create_dir(dir).with_context(|| format!("NOTIFY_SOCKET: mkdir {}", dir.display()))?;
    // Not the umask's: every user in the container must reach the socket.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .with_context(|| format!("NOTIFY_SOCKET: chmod {}", dir.display()))?;
    let mount: Mount = serde_json::from_value(serde_json::json!({
        "destination": "/run/notify",
        "type": "bind",
        "source": dir,
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"],
    }))
    .context("NOTIFY_SOCKET: the /run/notify mount")?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={IN_CONTAINER}"));
        p.set_env(Some(env));
    }
    Ok(())
}

/// start: the container's socket in `dir`, bound before its process runs
/// so that no message is lost. Bound through /proc/self/fd, so that a long
/// --root cannot pass sun_path's 108 bytes.
pub fn bind(dir: &Path) -> Result<OwnedFd> {
    let dir_fd = crate::rootfs::inroot::open_dir(dir).with_context(|| format!("NOTIFY_SOCKET: {}", dir.display()))?;
    let _ = nix::unistd::unlinkat(
        Some(dir_fd.as_raw_fd()),
        SOCKET,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    let path = format!("/proc/self/fd/{}/{SOCKET}", dir_fd.as_raw_fd());
    let fd = socket::socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .context("NOTIFY_SOCKET: socket")?;
    let addr = UnixAddr::new(path.as_str()).context("NOTIFY_SOCKET: the socket's address")?;
    socket::bind(fd.as_raw_fd(), &addr).with_context(|| format!("NOTIFY_SOCKET: bind {}/{SOCKET}", dir.display()))?;
    // Whatever user the container's process runs as may send.
    nix::sys::stat::fchmodat(
        Some(dir_fd.as_raw_fd()),
        SOCKET,
        nix::sys::stat::Mode::from_bits_truncate(0o777),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .with_context(|| format!("NOTIFY_SOCKET: chmod {}/{SOCKET}", dir.display()))?;
    Ok(fd)
}

/// Waits for the container's READY=1 on `sock` and tells `host` with
/// MAINPID=`main_pid`. Ends without a word when the init is gone. With
/// `signals` (a foreground run, the set blocked), each one that comes
/// meanwhile goes to `pass_on`, and the wait goes on.
pub fn wait_and_tell(
    sock: &OwnedFd,
    host: &Host,
    init: (i32, u64),
    main_pid: i32,
    signals: Option<(&SigSet, &mut dyn FnMut(Signal))>,
) -> Result<()> {
    let (sigfd, mut pass_on) = match signals {
        Some((set, f)) => (
            Some(SignalFd::with_flags(set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).context("signalfd")?),
            Some(f),
        ),
        None => (None, None),
    };
    let mut buf = [0u8; 4096];
    while crate::state::is_alive(init.0, init.1) {
        let mut fds = vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
        fds.extend(sigfd.as_ref().map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)));
        // The init is not our child: its exit is seen by looking, each 100 ms.
        match poll(&mut fds, PollTimeout::from(100u8)) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e).context("NOTIFY_SOCKET: poll"),
        }
        if let (Some(sfd), Some(f)) = (&sigfd, pass_on.as_mut()) {
            while let Ok(Some(info)) = sfd.read_signal() {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    f(sig);
                }
            }
        }
        match socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if says_ready(&buf[..n]) => return host.tell_ready(main_pid),
            Ok(_) | Err(nix::Error::EAGAIN | nix::Error::EINTR) => {}
            Err(e) => return Err(e).context("NOTIFY_SOCKET: read the container's socket"),
        }
    }
    Ok(())
}

/// A line READY=1, lines ending at \n or \r as systemd splits them.
fn says_ready(msg: &[u8]) -> bool {
    msg.split(|b| *b == b'\n' || *b == b'\r').any(|l| l == b"READY=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_line_ready_1_is_ready() {
        assert!(says_ready(b"READY=1"));
        assert!(says_ready(b"STATUS=up\nREADY=1\n"));
        assert!(says_ready(b"READY=1\rMAINPID=1"));
        for no in [&b"READY=0"[..], b"READY=1x", b"STATUS=READY=1", b""] {
            assert!(!says_ready(no), "{}", String::from_utf8_lossy(no));
        }
    }
}
