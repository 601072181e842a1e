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
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
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
    fn tell_ready(&self, main_pid: i32, signals: &mut Option<Signals>) -> Result<()> {
        let failed = || format!("NOTIFY_SOCKET {:?}: send", self.name);
        let ready = format!("READY=1\nMAINPID={main_pid}\n");
        socket::send(self.fd.as_raw_fd(), ready.as_bytes(), MsgFlags::MSG_NOSIGNAL).with_context(failed)?;
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("NOTIFY_SOCKET: pipe")?;
        crate::fdpass::send(self.fd.as_raw_fd(), b"BARRIER=1", write_end.as_raw_fd()).with_context(failed)?;
        drop(write_end);
        self.barrier(read_end, signals);
        Ok(())
    }

    /// Waits for systemd to close its copy of the pipe: 30 s at most, as
    /// runc, for a listener that does not know BARRIER.
    fn barrier(&self, read_end: OwnedFd, signals: &mut Option<Signals>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match readable(read_end.as_fd(), signals, left) {
                Ok(true) => break,
                Ok(false) if !left.is_zero() => continue,
                _ => {
                    tracing::warn!("NOTIFY_SOCKET {:?}: no BARRIER answer in 30 s; going on", self.name);
                    return;
                }
            }
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

/// The signals a foreground run passes on while it waits (blocked, so
/// they queue on the signalfd), and what passes them on.
pub struct Signals<'a> {
    fd: SignalFd,
    pass_on: &'a mut dyn FnMut(Signal),
}

impl<'a> Signals<'a> {
    pub fn new(set: &SigSet, pass_on: &'a mut dyn FnMut(Signal)) -> Result<Signals<'a>> {
        let fd = SignalFd::with_flags(set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).context("signalfd")?;
        Ok(Signals { fd, pass_on })
    }

    fn pass_on_pending(&mut self) {
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                (self.pass_on)(sig);
            }
        }
    }
}

/// Waits up to `timeout` for `fd` to be readable, passing on the signals
/// that come meanwhile; whether it is.
fn readable(fd: std::os::fd::BorrowedFd, signals: &mut Option<Signals>, timeout: Duration) -> Result<bool> {
    let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
    fds.extend(signals.as_ref().map(|s| PollFd::new(s.fd.as_fd(), PollFlags::POLLIN)));
    let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    match poll(&mut fds, timeout) {
        Ok(0) | Err(nix::Error::EINTR) => return Ok(false),
        Ok(_) => {}
        Err(e) => return Err(e).context("NOTIFY_SOCKET: poll"),
    }
    let ready = fds[0].revents().is_some_and(|r| !r.is_empty());
    if let Some(s) = signals.as_mut() {
        s.pass_on_pending();
    }
    Ok(ready)
}

/// create: `dir` (in the container's state directory) bound read-only at
/// /run/notify, and the process told NOTIFY_SOCKET is there; the bind's
/// index in `mounts`, for the parent to clone (the state directory is the
/// caller's alone, so that no one else can send READY=1). Without a
/// mount namespace of its own the bind would land in the caller's mounts
/// and outlive the container, and without it systemd would wait for a
/// READY that cannot come: refused.
pub fn prepare(spec: &mut Spec, dir: &Path) -> Result<usize> {
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
        // A slave whatever rootfsPropagation says: what the container
        // mounts there must not reach the state directory on the host.
        "options": ["bind", "nosuid", "noexec", "nodev", "ro", "rslave"],
    }))
    .context("NOTIFY_SOCKET: the /run/notify mount")?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    let index = mounts.len() - 1;
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={IN_CONTAINER}"));
        p.set_env(Some(env));
    }
    Ok(index)
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
/// `signals` (a foreground run), each one that comes meanwhile is passed
/// on, and the wait goes on.
pub fn wait_and_tell(
    sock: &OwnedFd,
    host: &Host,
    init: (i32, u64),
    main_pid: i32,
    mut signals: Option<Signals>,
) -> Result<()> {
    let mut buf = [0u8; 4096];
    while crate::state::is_alive(init.0, init.1) {
        // The init is not our child: its exit is seen by looking, each 100 ms.
        if !readable(sock.as_fd(), &mut signals, Duration::from_millis(100))? {
            continue;
        }
        match socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) if says_ready(&buf[..n]) => return host.tell_ready(main_pid, &mut signals),
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
