//! Device nodes in the container's /dev: the runtime spec's defaults plus
//! `linux.devices`, made with mknod, or bound from the host inside a user
//! namespace where mknod is not allowed; and the /dev/fd, /dev/std* links.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::inroot::{self, fd_path, Follow};

pub struct Node {
    pub path: PathBuf,
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

fn default_nodes() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Node {
        path: PathBuf::from("/dev").join(name),
        kind: libc::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

fn node_of(d: &LinuxDevice) -> Node {
    let kind = match d.typ() {
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        _ => libc::S_IFCHR,
    };
    Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    }
}

/// Makes the default devices (when /dev is the container's own) and every
/// `linux.devices` entry.
pub fn create_all(root: &OwnedFd, extra: &[LinuxDevice], own_dev: bool, in_userns: bool) -> Result<()> {
    let mut nodes = if own_dev { default_nodes() } else { vec![] };
    for d in extra {
        nodes.retain(|n| n.path != *d.path());
        nodes.push(node_of(d));
    }
    let mut last_dir = None;
    for n in &nodes {
        let asked = extra.iter().position(|d| *d.path() == n.path);
        let origin = asked.map_or_else(|| "default device".to_string(), |i| format!("linux.devices[{i}]"));
        parent_dir(root, &n.path, &mut last_dir)
            .and_then(|dir| make(root, dir, n, in_userns, asked.is_some()))
            .with_context(|| format!("{origin} {}", n.path.display()))?;
    }
    if own_dev {
        links(root)?;
    }
    Ok(())
}

/// The parent directory of `path`, opened for *at() calls. The last one is
/// kept in `last` for the next node: most share /dev.
fn parent_dir<'a>(root: &OwnedFd, path: &Path, last: &'a mut Option<(PathBuf, OwnedFd)>) -> Result<&'a OwnedFd> {
    let rel = inroot::relative(path);
    let dir = rel.parent().unwrap_or(Path::new("."));
    if last.as_ref().is_none_or(|(p, _)| p != dir) {
        let fd = inroot::reopen_dir(&inroot::mkdir_all(root, dir, Follow::InRoot)?)?;
        *last = Some((dir.to_path_buf(), fd));
    }
    last.as_ref().map(|(_, fd)| fd).context("no parent directory")
}

/// `exact`: a linux.devices entry, which must not meet a different file at
/// its path (config-linux.md: the runtime MUST error); a default device
/// replaces whatever the image left.
/// `dir`: the node's parent directory, opened for *at() calls.
fn make(root: &OwnedFd, dir: &OwnedFd, n: &Node, in_userns: bool, exact: bool) -> Result<()> {
    let rel = inroot::relative(&n.path);
    let name = rel.file_name().context("no file name")?.to_owned();
    let cname = CString::new(name.as_bytes())?;
    if exact {
        check_existing(dir, &cname, n)?;
    }
    if in_userns && n.kind != libc::S_IFIFO {
        let target = inroot::create_file(root, &n.path, Follow::InRoot)?;
        return mount(
            Some(&n.path),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context("bind the host's device");
    }
    // A file the image left here is replaced; unlinkat never follows a symlink.
    // SAFETY: directory fd we hold, valid C string.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cname.as_ptr(), 0) };
    let dev = libc::makedev(n.major as u32, n.minor as u32);
    // SAFETY: as above; mknodat creates without following links.
    if unsafe { libc::mknodat(dir.as_raw_fd(), cname.as_ptr(), n.kind | n.mode, dev) } != 0 {
        return Err(std::io::Error::last_os_error()).context("mknod");
    }
    // SAFETY: as above; AT_SYMLINK_NOFOLLOW keeps chown on the node itself.
    if unsafe { libc::fchownat(dir.as_raw_fd(), cname.as_ptr(), n.uid, n.gid, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        return Err(std::io::Error::last_os_error()).context("chown");
    }
    // mknod honours the umask; the spec's fileMode is exact.
    // SAFETY: as above.
    if unsafe { libc::fchmodat(dir.as_raw_fd(), cname.as_ptr(), n.mode, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("chmod");
    }
    Ok(())
}

/// Errors when something other than the device `n` is at `name` in `dir`.
fn check_existing(dir: &OwnedFd, name: &CString, n: &Node) -> Result<()> {
    let st = match nix::sys::stat::fstatat(
        Some(dir.as_raw_fd()),
        name.as_c_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => st,
        Err(nix::Error::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("stat the existing file"),
    };
    let kind = st.st_mode & libc::S_IFMT;
    let same_node = n.kind == libc::S_IFIFO || st.st_rdev == libc::makedev(n.major as u32, n.minor as u32);
    if kind == n.kind && same_node {
        return Ok(());
    }
    let found = match kind {
        libc::S_IFCHR | libc::S_IFBLK => {
            let what = if kind == libc::S_IFCHR { "character" } else { "block" };
            format!("{what} device {}:{}", libc::major(st.st_rdev), libc::minor(st.st_rdev))
        }
        libc::S_IFREG => "a regular file".into(),
        libc::S_IFDIR => "a directory".into(),
        libc::S_IFLNK => "a symlink".into(),
        libc::S_IFIFO => "a fifo".into(),
        _ => "a socket".into(),
    };
    bail!(
        "the rootfs already has {found} there, not the device {}:{} asked for",
        n.major,
        n.minor
    )
}

fn links(root: &OwnedFd) -> Result<()> {
    let dev = inroot::reopen_dir(&inroot::mkdir_all(root, Path::new("/dev"), Follow::InRoot)?)?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let cname = CString::new(name)?;
        let ctarget = CString::new(target)?;
        if name == "ptmx" {
            // The devpts instance's own ptmx, as runc makes it, even over a
            // /dev/ptmx node from linux.devices (podman --privileged lists it).
            // SAFETY: directory fd we hold, valid C string; unlinkat never follows.
            unsafe { libc::unlinkat(dev.as_raw_fd(), cname.as_ptr(), 0) };
        }
        // SAFETY: directory fd we hold, valid C strings.
        if unsafe { libc::symlinkat(ctarget.as_ptr(), dev.as_raw_fd(), cname.as_ptr()) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(err).with_context(|| format!("symlink /dev/{name}"));
            }
        }
    }
    Ok(())
}
