//! A small rtnetlink client: the link and address requests that moving a
//! network device into a container takes (linux.netDevices). Written here
//! rather than taken from netlink-packet-route, whose full message model
//! would cost the runtime binary more than its 3 MB budget leaves, for four
//! request types.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const HEADER: usize = 16;

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Socket> {
        // SAFETY: socket(2) with constant arguments.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("open a netlink socket");
        }
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends one request; returns the payloads answering it (a dump's, up
    /// to its end), or the kernel's error.
    pub fn request(&mut self, ty: u16, flags: u16, body: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        self.seq += 1;
        let len = (HEADER + body.len()) as u32;
        let mut msg = Vec::with_capacity(len as usize);
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        send(self.fd.as_raw_fd(), &msg, MsgFlags::empty())?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut at = 0;
            while at + HEADER <= n {
                let word = |o: usize| u32::from_ne_bytes(buf[at + o..at + o + 4].try_into().unwrap_or_default());
                let mlen = word(0) as usize;
                if mlen < HEADER || at + mlen > n {
                    return Err(Errno::EBADMSG);
                }
                let mty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                let body = &buf[at + HEADER..at + mlen];
                // Answers to an earlier request (a dump's late ack) are skipped.
                if word(8) == self.seq {
                    match mty {
                        // A dump's end carries its error too (EMSGSIZE, ...).
                        NLMSG_DONE | NLMSG_ERROR => {
                            let code = body
                                .get(..4)
                                .map_or(if mty == NLMSG_DONE { 0 } else { -libc::EBADMSG }, |c| {
                                    i32::from_ne_bytes(c.try_into().unwrap_or_default())
                                });
                            return if code >= 0 {
                                Ok(out)
                            } else {
                                Err(Errno::from_raw(-code))
                            };
                        }
                        _ => out.push(body.to_vec()),
                    }
                }
                at += align(mlen);
            }
        }
    }
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends attribute `ty` holding `data`.
pub fn attr(buf: &mut Vec<u8>, ty: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(data);
    buf.resize(align(buf.len()), 0);
}

/// The attributes in `data`: (type, payload).
pub fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        if len < 4 || len > data.len() {
            break;
        }
        // The top bits are NLA_F_NESTED and NLA_F_NET_BYTEORDER.
        out.push((u16::from_ne_bytes([data[2], data[3]]) & 0x3fff, &data[4..len]));
        data = &data[align(len).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding() {
        let mut buf = Vec::new();
        attr(&mut buf, 3, b"eth7\0");
        attr(&mut buf, 28, &7u32.to_ne_bytes());
        assert_eq!(buf.len(), 12 + 8);
        let got = attrs(&buf);
        assert_eq!(got, vec![(3, &b"eth7\0"[..]), (28, &7u32.to_ne_bytes()[..])]);
        // A truncated attribute ends the list instead of reading past it.
        assert_eq!(attrs(&buf[..6]).len(), 0);
    }
}
