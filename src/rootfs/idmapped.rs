//! Idmapped bind mounts (mount `uidMappings`/`gidMappings`, options `idmap`
//! and `ridmap`). They are made by the parent, which is privileged in the
//! host's user namespace: the source is cloned with open_tree, given the
//! mapping of a user namespace made for it with mount_setattr, and the
//! detached mount goes to the init as an fd (rootfs::detached).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use super::detached::{self, Prepared};

/// Whether `m` asks for an idmapped mount, and if so whether recursively.
fn wanted(m: &Mount) -> Option<bool> {
    let opts = m.options().clone().unwrap_or_default();
    let mapped = m.uid_mappings().is_some() || m.gid_mappings().is_some();
    if opts.iter().any(|o| o == "ridmap") {
        Some(true)
    } else if opts.iter().any(|o| o == "idmap") || mapped {
        Some(false)
    } else {
        None
    }
}

/// The detached, idmapped mounts config.json asks for.
pub fn prepare(spec: &Spec, bundle: &Path) -> Result<Vec<Prepared>> {
    let mut out = vec![];
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let Some(recursive) = wanted(m) else { continue };
        let field = format!("mounts[{i}]");
        let fd = one(spec, m, bundle, recursive).with_context(|| format!("{field}: idmapped mount"))?;
        out.push(Prepared { index: i, fd });
    }
    Ok(out)
}

fn one(spec: &Spec, m: &Mount, bundle: &Path, recursive: bool) -> Result<OwnedFd> {
    let opts = super::options::parse(m.options().as_deref().unwrap_or(&[]));
    let rbind = opts.flags.contains(nix::mount::MsFlags::MS_REC);
    if m.typ().as_deref() != Some("bind") && !opts.is_bind() {
        bail!("only bind mounts can be idmapped");
    }
    // Without mappings of its own the mount takes the container's, as the spec says.
    let linux = spec.linux().as_ref();
    let uids = m
        .uid_mappings()
        .clone()
        .or_else(|| linux.and_then(|l| l.uid_mappings().clone()));
    let gids = m
        .gid_mappings()
        .clone()
        .or_else(|| linux.and_then(|l| l.gid_mappings().clone()));
    let (Some(uids), Some(gids)) = (uids, gids) else {
        bail!("uidMappings and gidMappings are needed (on the mount or in linux)");
    };
    let src = super::mounts::bind_source(m, bundle)?;
    let userns = user_namespace(&uids, &gids)?;
    // rbind clones the whole tree; only ridmap maps all of it (idmap maps the top).
    let tree =
        detached::clone_tree(&src, rbind || recursive).with_context(|| format!("open_tree {}", src.display()))?;
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    hull_sys::mount_attr::mount_setattr(
        tree.as_raw_fd(),
        c"",
        flags,
        hull_sys::mount_attr::IDMAP,
        0,
        Some(userns.as_raw_fd()),
    )
    .context("give the mount its id mapping (does this filesystem support idmapped mounts?)")?;
    Ok(tree)
}

/// A user namespace with these maps, held by an fd: a child unshares it and
/// waits while its maps are written and its namespace opened, then exits.
fn user_namespace(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let (done_r, done_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: the child only makes async-signal-safe calls, then _exits.
    match unsafe { nix::unistd::fork() }.context("fork for the mount's user namespace")? {
        nix::unistd::ForkResult::Child => {
            let mut b = [0u8; 1];
            // SAFETY: raw syscalls on fds this child owns; no allocation.
            unsafe {
                // Its copy of the write end would keep its own read from ending.
                libc::close(done_w.as_raw_fd());
                let ok = libc::unshare(libc::CLONE_NEWUSER) == 0;
                libc::write(ready_w.as_raw_fd(), [ok as u8].as_ptr().cast(), 1);
                libc::read(done_r.as_raw_fd(), b.as_mut_ptr().cast(), 1);
                libc::_exit(0)
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop((ready_w, done_r));
            let opened = (|| -> Result<OwnedFd> {
                let mut b = [0u8; 1];
                nix::unistd::read(ready_r.as_raw_fd(), &mut b).context("wait for the child")?;
                if b[0] != 1 {
                    bail!("unshare a user namespace for the mount");
                }
                let pid = child.as_raw();
                crate::launcher::idmap::write_one(pid, uids, None, "uid", "uidMappings")?;
                crate::launcher::idmap::write_one(pid, gids, None, "gid", "gidMappings")?;
                Ok(std::fs::File::open(format!("/proc/{pid}/ns/user"))
                    .context("open the user namespace")?
                    .into())
            })();
            drop(done_w);
            let _ = nix::sys::wait::waitpid(child, None);
            opened
        }
    }
}
