//! The parent/child channel of create: a SOCK_SEQPACKET pair carrying one
//! JSON message per packet, so a message is never split or merged.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// stage 1 unshared a user namespace: the parent writes its id maps.
    MapIds {
        pid: i32,
    },
    /// The parent wrote the maps.
    Ack,
    /// stage 1 forked the init; its pid as the parent sees it, and whether
    /// it was born in its cgroup2 directory (a hybrid host's).
    InitPid {
        pid: i32,
        #[serde(default)]
        in_cgroup2: bool,
        /// exec: the process moved itself into the v1 hierarchies already.
        #[serde(default)]
        joined_v1: bool,
    },
    /// The init's environment is ready: the parent moves linux.netDevices
    /// in and runs the prestart and createRuntime hooks, then answers Ack.
    CreateHooks,
    /// The init moves itself into these v1 `tasks` files and answers Ack, or
    /// NotJoined (then the parent places it as before).
    JoinCgroups {
        tasks: Vec<std::path::PathBuf>,
    },
    NotJoined {
        why: String,
    },
    /// The parent put the init in its cgroup: it may go on.
    Placed,
    /// The init finished setup and waits on the exec fifo.
    Ready,
    /// The seccomp notify listener comes with this message: the parent
    /// hands it to the agent, then answers Ack.
    SeccompListener,
    /// A step failed; the message says which and why.
    Error {
        msg: String,
    },
}

/// The socket, and an fd that came with the last message, if one did.
pub struct Channel(OwnedFd, std::cell::RefCell<Option<OwnedFd>>);

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
        .context("socketpair for the create channel")?;
    Ok((Channel(a, Default::default()), Channel(b, Default::default())))
}

impl Channel {
    /// The child's side of the listener hand-over: the fd goes up with
    /// SeccompListener, and the parent's Ack says the agent has it.
    pub fn hand_up_listener(&self, fd: OwnedFd) -> Result<()> {
        self.send_with_fd(&Msg::SeccompListener, &fd)?;
        self.expect_ack()
    }

    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }

    pub fn send(&self, m: &Msg) -> Result<()> {
        let bytes = serde_json::to_vec(m)?;
        match send(self.0.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => Ok(()),
            // Every other end is closed, so recv cannot block: an Error the
            // other side sent before it went is why, and the error to report.
            Err(nix::Error::EPIPE) => match self.recv() {
                Ok(Some(Msg::Error { msg })) => bail!("{msg}"),
                _ => Err(nix::Error::EPIPE).context("send on the create channel: the process at its other end died"),
            },
            Err(e) => Err(e).context("send on the create channel"),
        }
    }

    /// Sends `m` with `fd` attached.
    pub fn send_with_fd(&self, m: &Msg, fd: &OwnedFd) -> Result<()> {
        let bytes = serde_json::to_vec(m)?;
        crate::fdpass::send(self.0.as_raw_fd(), &bytes, fd.as_raw_fd()).context("send on the create channel")
    }

    /// The next message, or None once every other end is closed; an fd that
    /// came with it waits in take_fd.
    pub fn recv(&self) -> Result<Option<Msg>> {
        let (bytes, fd) =
            crate::fdpass::recv(self.0.as_raw_fd(), self.next_len()?.max(1)).context("recv on the create channel")?;
        *self.1.borrow_mut() = fd;
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::from_slice(&bytes).context("bad message on the create channel")?,
        ))
    }

    /// The length of the next packet, without taking it (0 once every other
    /// end is closed): a buffer of that size, not a zeroed 64 KiB one per
    /// message, whose page faults were a measurable part of a create.
    fn next_len(&self) -> Result<usize> {
        let peek = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC;
        crate::fdpass::past_reset(|| recv(self.0.as_raw_fd(), &mut [], peek)).context("recv on the create channel")
    }

    /// An Error the other side has already sent, without waiting for one.
    pub fn sent_error(&self) -> Option<String> {
        let fd = self.0.as_raw_fd();
        let peek = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT;
        let mut buf = vec![0u8; recv(fd, &mut [], peek).ok()?];
        let n = recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT).ok()?;
        match serde_json::from_slice(&buf[..n]).ok()? {
            Msg::Error { msg } => Some(msg),
            _ => None,
        }
    }

    pub fn take_fd(&self) -> Option<OwnedFd> {
        self.1.borrow_mut().take()
    }

    pub fn expect_ack(&self) -> Result<()> {
        match self.recv()? {
            Some(Msg::Ack) => Ok(()),
            other => bail!("create channel: expected Ack, got {other:?}"),
        }
    }
}
