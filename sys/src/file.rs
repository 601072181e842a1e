//! Advisory locks and all-or-nothing writes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// An flock held until dropped (the file is closed with it).
pub struct Lock(File);

impl Lock {
    /// For those that must keep it out of a child's fd cleanup.
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// Locks `path` (a directory or a file, made if missing), waiting for it.
/// Locks a directory that must exist: unlike `lock`, it never makes a file
/// in its place when the directory went away meanwhile (a container deleted
/// while another command was about to lock it), and the lock is on the
/// directory at `path` once it is held: one removed and made again while
/// we waited (another container of that id) is locked afresh.
pub fn lock_dir(path: &Path, exclusive: bool) -> Result<Lock> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        let lock = flock(f, path, exclusive)?;
        let held = lock.0.metadata().with_context(|| format!("{}: stat", path.display()))?;
        match std::fs::metadata(path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(lock),
            Ok(_) => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("{}: removed while we waited for its lock", path.display()))
            }
        }
    }
}

fn flock(f: std::fs::File, path: &Path, exclusive: bool) -> Result<Lock> {
    let op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(f.as_raw_fd(), op) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("{}: lock", path.display()));
    }
    Ok(Lock(f))
}

pub fn lock(path: &Path, exclusive: bool) -> Result<Lock> {
    let f = if path.is_dir() {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
    } else {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    }
    .with_context(|| format!("{}: cannot open", path.display()))?;
    flock(f, path, exclusive)
}

/// Writes a file so that readers see either nothing or all of it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // No fsync: rename already gives readers all or nothing, and hull's
        // state lives on tmpfs (/run) in practice.
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("{}: cannot write", path.display()))
}

/// Runs `f` again while it fails with EBUSY, for up to two seconds: a mount
/// point (or an overlay's work dir) that another mount namespace still
/// holds a copy of is busy until that namespace drops it, which a container
/// being created at that moment does once it has pivoted into its rootfs.
pub fn retry_busy<T>(mut f: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r,
        }
    }
}

/// `dir`, one of hull's own, made if missing, its owner's alone: what is
/// under it (an image's setuid programs, a container's writes) must be out
/// of other users' reach, or any of them could run a setuid-root program a
/// container or an image left there. Also one an older hull made 0755.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // A trailing slash would make the kernel follow a last link after all.
    let dir = dir.components().as_path();
    // The parents as anything else makes them; only `dir` is private.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("create {}", dir.display()))
        }
        _ => {}
    }
    // Held, not followed: what is checked is what is changed.
    let held = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .with_context(|| format!("open {} (a directory, not a link)", dir.display()))?;
    let meta = held.metadata().with_context(|| format!("stat {}", dir.display()))?;
    // SAFETY: geteuid(2) cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        anyhow::bail!(
            "{}: owned by uid {}, mode {:o}; hull needs one of uid {me}'s own, mode 0700 (remove it or choose another path)",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        );
    }
    if meta.mode() & 0o077 == 0 {
        return Ok(());
    }
    held.set_permissions(std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 0700 {}", dir.display()))
}
