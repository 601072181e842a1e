//! systemd's readiness protocol through the container, as runc does it:
//! when hull runs with NOTIFY_SOCKET set (a `Type=notify` unit), the
//! container's process gets a socket of its own at /run/notify/notify.sock,
//! and the first READY= it sends goes on to systemd with MAINPID.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::socket::{self, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr};
use oci_spec::runtime::{MountBuilder, Spec};

/// The socket's path in the container, runc's.
const IN_CONTAINER: &str = "/run/notify/notify.sock";
const SOCKET: &str = "notify.sock";

/// The caller's NOTIFY_SOCKET, when there is one.
pub fn host_socket() -> Option<String> {
    std::env::var("NOTIFY_SOCKET").ok().filter(|s| !s.is_empty())
}

/// create: `dir` (in the container's state directory) bound read-only at
/// /run/notify, and the process told NOTIFY_SOCKET is there.
pub fn prepare(spec: &mut Spec, dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).with_context(|| format!("NOTIFY_SOCKET: mkdir {}", dir.display()))?;
    let mount = MountBuilder::default()
        .destination("/run/notify")
        .typ("bind")
        .source(dir)
        .options(["bind", "nosuid", "noexec", "nodev", "ro"].map(String::from).to_vec())
        .build()
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

/// start: the container's socket, bound before its process runs so that no
/// message is lost; None when create made no notify directory.
pub fn bind(dir: &Path) -> Result<Option<OwnedFd>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let path = dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let fd = socket::socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .context("NOTIFY_SOCKET: socket")?;
    let addr = UnixAddr::new(&path).with_context(|| format!("NOTIFY_SOCKET: {}", path.display()))?;
    socket::bind(fd.as_raw_fd(), &addr).with_context(|| format!("NOTIFY_SOCKET: bind {}", path.display()))?;
    // Whatever user the container's process runs as may send.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .with_context(|| format!("NOTIFY_SOCKET: chmod {}", path.display()))?;
    Ok(Some(fd))
}

/// Why the wait for READY ended without one.
#[derive(Debug, PartialEq, Eq)]
pub enum Gave {
    Forwarded,
    InitGone,
    Signalled,
}

/// Waits for the container's READY= and passes it to `host` with
/// MAINPID=`main_pid`, then waits (30 s at most) for systemd to have read
/// both (BARRIER=1). Stops waiting when the init is gone, or, with
/// `signals`, when one of them is pending for the caller to handle.
pub fn forward(
    sock: &OwnedFd,
    host: &str,
    init: (i32, u64),
    main_pid: i32,
    signals: Option<&nix::sys::signal::SigSet>,
) -> Result<Gave> {
    let mut buf = [0u8; 4096];
    let ready = loop {
        if !crate::state::is_alive(init.0, init.1) {
            return Ok(Gave::InitGone);
        }
        if signals.is_some_and(pending) {
            return Ok(Gave::Signalled);
        }
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(sock),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u8)).unwrap_or(0) == 0 {
            continue;
        }
        let n = match socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) => n,
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => continue,
            Err(e) => return Err(e).context("NOTIFY_SOCKET: read the container's socket"),
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if let Some(line) = text.lines().find(|l| l.starts_with("READY=")) {
            break line.to_string();
        }
    };
    tell_host(host, &format!("{ready}\nMAINPID={main_pid}\n"))?;
    Ok(Gave::Forwarded)
}

fn pending(set: &nix::sys::signal::SigSet) -> bool {
    let mut p = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set it is given.
    if unsafe { libc::sigpending(p.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: initialised by the successful sigpending.
    let p = unsafe { p.assume_init() };
    // SAFETY: sigismember reads the set it is given.
    set.iter()
        .any(|s| unsafe { libc::sigismember(&p, s as libc::c_int) } == 1)
}

/// Sends `message` to systemd's socket (a path, or @ for the abstract
/// namespace), then BARRIER=1 with a pipe whose end systemd closes once it
/// has read what came before.
fn tell_host(host: &str, message: &str) -> Result<()> {
    let addr = match host.strip_prefix('@') {
        Some(name) => UnixAddr::new_abstract(name.as_bytes()),
        None => UnixAddr::new(host),
    }
    .with_context(|| format!("NOTIFY_SOCKET {host:?}"))?;
    let fd = socket::socket(AddressFamily::Unix, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .context("NOTIFY_SOCKET: socket")?;
    let send = |data: &[u8], fds: &[std::os::fd::RawFd]| {
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsg: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        socket::sendmsg(
            fd.as_raw_fd(),
            &[std::io::IoSlice::new(data)],
            cmsg,
            MsgFlags::MSG_NOSIGNAL,
            Some(&addr),
        )
        .with_context(|| format!("NOTIFY_SOCKET {host:?}: send"))
    };
    send(message.as_bytes(), &[])?;
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("NOTIFY_SOCKET: pipe")?;
    send(b"BARRIER=1", &[write_end.as_raw_fd()])?;
    drop(write_end);
    barrier(read_end, host);
    Ok(())
}

/// Waits for systemd to close its copy of the pipe: 30 s at most, as runc,
/// for a listener that does not know BARRIER.
fn barrier(read_end: OwnedFd, host: &str) {
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&read_end),
        nix::poll::PollFlags::POLLIN,
    )];
    let waited = nix::poll::poll(
        &mut fds,
        nix::poll::PollTimeout::try_from(Duration::from_secs(30)).unwrap_or(nix::poll::PollTimeout::MAX),
    );
    if waited == Ok(0) {
        tracing::warn!("NOTIFY_SOCKET {host:?}: no BARRIER answer in 30 s; going on");
        return;
    }
    let mut byte = [0u8; 1];
    if std::fs::File::from(read_end).read(&mut byte).is_ok_and(|n| n > 0) {
        tracing::warn!("NOTIFY_SOCKET {host:?}: the BARRIER pipe got data instead of its end");
    }
}
