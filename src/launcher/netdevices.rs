//! linux.netDevices (runtime-spec 1.3): host network devices moved into the
//! container's network namespace by the parent during create, before the
//! prestart hooks; each keeps its permanent global addresses (which a move
//! drops) and comes up there. Their way back is the kernel's, when the
//! namespace goes: physical devices return to the host, virtual ones die.

use std::collections::HashMap;
use std::os::fd::AsRawFd;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNetDevice, Spec};

use crate::netlink::{self, attr, attrs, Socket};

const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;

pub fn asked(spec: &Spec) -> bool {
    devices(spec).is_some_and(|d| !d.is_empty())
}

fn devices(spec: &Spec) -> Option<&HashMap<String, LinuxNetDevice>> {
    spec.linux().as_ref().and_then(|l| l.net_devices().as_ref())
}

/// Moves every device, in name order, into the network namespace of `init`.
/// Everything that can be checked is checked before the first move, so a
/// refused create leaves every device on the host.
pub fn move_all(spec: &Spec, init: i32) -> Result<()> {
    let Some(devs) = devices(spec).filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    let mut host = Socket::open().context("linux.netDevices")?;
    let on_host = links(&mut host).context("linux.netDevices")?;
    let mut names: Vec<&String> = devs.keys().collect();
    names.sort();
    let mut moves = Vec::new();
    for from in names {
        let to = devs[from].name().as_deref().filter(|n| !n.is_empty()).unwrap_or(from);
        let link = on_host
            .iter()
            .find(|l| &l.name == from)
            .ok_or_else(|| anyhow!("linux.netDevices.{from}: no network device {from:?} on the host"))?;
        moves.push((from, to, link.index));
    }
    let path = format!("/proc/{init}/ns/net");
    let netns = std::fs::File::open(&path).with_context(|| format!("linux.netDevices: open {path}"))?;
    let mut inside = socket_in(&netns).context("linux.netDevices: a netlink socket in the container's namespace")?;
    let taken = links(&mut inside).context("linux.netDevices")?;
    for (from, to, _) in &moves {
        if !to.contains('%') && taken.iter().any(|l| l.name == *to) {
            bail!("linux.netDevices.{from}: name: {to:?} is taken in the container's network namespace");
        }
    }
    for (from, to, index) in moves {
        move_one(&mut host, &mut inside, &netns, index, to).with_context(|| format!("linux.netDevices.{from}"))?;
    }
    Ok(())
}

/// A network namespace is a thread's: one joins it, opens the socket (which
/// stays in it) and ends.
fn socket_in(netns: &std::fs::File) -> Result<Socket> {
    std::thread::scope(|s| {
        let joined = s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).context("join it")?;
            Socket::open()
        });
        joined.join().map_err(|_| anyhow!("the thread joining it failed"))?
    })
}

fn move_one(host: &mut Socket, inside: &mut Socket, netns: &std::fs::File, index: i32, to: &str) -> Result<()> {
    let addresses = addresses(host, index)?;
    let before: Vec<i32> = links(inside)?.iter().map(|l| l.index).collect();
    let mut body = link_message(index, 0);
    attr(&mut body, IFLA_NET_NS_FD, &(netns.as_raw_fd() as u32).to_ne_bytes());
    // validate() refused a NUL in any name.
    let name = std::ffi::CString::new(to).context("name")?;
    attr(&mut body, IFLA_IFNAME, name.as_bytes_with_nul());
    host.request(netlink::RTM_NEWLINK, 0, &body)
        .map_err(|e| anyhow!("move it into the container's network namespace as {to:?}: {e}"))?;
    // The kernel may give it another index there: it is the one that is new.
    let moved = links(inside)?
        .into_iter()
        .find(|l| !before.contains(&l.index))
        .ok_or_else(|| anyhow!("moved as {to:?}, but not found in the container's network namespace"))?;
    for (text, a) in &addresses {
        inside
            .request(
                netlink::RTM_NEWADDR,
                netlink::NLM_F_CREATE | netlink::NLM_F_EXCL,
                &a.for_link(moved.index),
            )
            .map_err(|e| anyhow!("give {:?} its address {text} back: {e}", moved.name))?;
    }
    inside
        .request(netlink::RTM_NEWLINK, 0, &link_message(moved.index, libc::IFF_UP as u32))
        .map_err(|e| anyhow!("bring {:?} up: {e}", moved.name))?;
    Ok(())
}

/// struct ifinfomsg: family, type, index, flags and the flags to change.
fn link_message(index: i32, up: u32) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&up.to_ne_bytes());
    m[12..16].copy_from_slice(&(up & libc::IFF_UP as u32).to_ne_bytes());
    m
}

struct Link {
    index: i32,
    name: String,
}

fn links(sock: &mut Socket) -> Result<Vec<Link>> {
    let replies = sock
        .request(netlink::RTM_GETLINK, netlink::NLM_F_DUMP, &link_message(0, 0))
        .map_err(|e| anyhow!("list the network devices: {e}"))?;
    Ok(replies
        .iter()
        .filter(|m| m.len() >= 16)
        .map(|m| {
            let mut link = Link {
                index: i32::from_ne_bytes(m[4..8].try_into().unwrap_or_default()),
                name: String::new(),
            };
            if let Some((_, data)) = attrs(&m[16..]).into_iter().find(|(ty, _)| *ty == IFLA_IFNAME) {
                link.name = String::from_utf8_lossy(data).trim_end_matches('\0').to_string();
            }
            link
        })
        .collect())
}

/// An address as RTM_NEWADDR takes it: struct ifaddrmsg and the attributes
/// that say what it is (not its label, which names the host's device).
struct Address {
    header: Vec<u8>,
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Address {
    fn for_link(&self, index: i32) -> Vec<u8> {
        let mut m = self.header.clone();
        m[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        for (ty, data) in &self.attrs {
            attr(&mut m, *ty, data);
        }
        m
    }
}

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

/// The device's permanent addresses of global scope, each with how it
/// reads (`10.0.0.1/24`) for errors.
fn addresses(sock: &mut Socket, index: i32) -> Result<Vec<(String, Address)>> {
    let replies = sock
        .request(netlink::RTM_GETADDR, netlink::NLM_F_DUMP, &[0u8; 8])
        .map_err(|e| anyhow!("list its addresses: {e}"))?;
    Ok(replies
        .iter()
        .filter(|m| m.len() >= 8 && i32::from_ne_bytes([m[4], m[5], m[6], m[7]]) == index)
        .filter_map(|m| {
            let all = attrs(&m[8..]);
            let flags = all
                .iter()
                .find(|(ty, _)| *ty == IFA_FLAGS)
                .and_then(|(_, d)| Some(u32::from_ne_bytes(d.get(..4)?.try_into().ok()?)))
                .unwrap_or(m[2] as u32);
            if flags & IFA_F_PERMANENT == 0 || m[3] != RT_SCOPE_UNIVERSE {
                return None;
            }
            let kept: Vec<(u16, Vec<u8>)> = all
                .iter()
                .filter(|(ty, _)| [IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS].contains(ty))
                .map(|(ty, d)| (*ty, d.to_vec()))
                .collect();
            let text = kept
                .iter()
                .find(|(ty, _)| *ty == IFA_ADDRESS)
                .map_or_else(|| "?".to_string(), |(_, d)| ip_text(d));
            let header = m[..8].to_vec();
            Some((format!("{text}/{}", m[1]), Address { header, attrs: kept }))
        })
        .collect())
}

fn ip_text(d: &[u8]) -> String {
    match d.len() {
        4 => std::net::Ipv4Addr::from([d[0], d[1], d[2], d[3]]).to_string(),
        16 => <[u8; 16]>::try_from(d).map_or_else(|_| "?".into(), |b| std::net::Ipv6Addr::from(b).to_string()),
        _ => "?".to_string(),
    }
}

/// What create checks before it makes anything.
pub fn validate(spec: &Spec) -> Result<()> {
    let Some(devs) = devices(spec).filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    if !crate::spec::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::Network) {
        bail!("linux.netDevices: needs a network namespace in linux.namespaces (the devices would stay on the host)");
    }
    let mut targets = std::collections::HashSet::new();
    for (from, d) in devs {
        check_name(&format!("linux.netDevices.{from}"), from)?;
        let to = d.name().as_deref().filter(|n| !n.is_empty()).unwrap_or(from);
        check_name(&format!("linux.netDevices.{from}.name"), to)?;
        if to.contains('%') && (to.matches('%').count() > 1 || !to.contains("%d")) {
            bail!("linux.netDevices.{from}.name: {to:?}: a template has one %d and no other %");
        }
        if !to.contains('%') && !targets.insert(to) {
            bail!("linux.netDevices.{from}.name: {to:?} is the name of another device too");
        }
    }
    Ok(())
}

/// The kernel's dev_valid_name: at most 15 bytes, no '/', ':' or space, not
/// "." or "..".
fn check_name(field: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    if bad {
        bail!("{field}: {name:?} is not a network device name (1-15 bytes, no '/', ':' or space)");
    }
    Ok(())
}
