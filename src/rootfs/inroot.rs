//! Paths inside the rootfs resolved by handle, never by string: openat2 with
//! RESOLVE_IN_ROOT keeps `..` and symlinks (absolute or not) inside the root,
//! so an image cannot point a mount or a mkdir at the host.

use std::collections::VecDeque;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

pub use hull_sys::inroot::{openat2, Follow};

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).with_context(|| format!("{:?}: contains a NUL byte", p))
}

/// The path relative to the root, without leading `/` (and `.` for the root itself).
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// An O_PATH handle on an existing path inside the root.
pub fn open_path(root: &OwnedFd, path: &Path, follow: Follow) -> std::io::Result<OwnedFd> {
    openat2(root.as_raw_fd(), &relative(path), libc::O_PATH, follow)
}

/// mkdir -p inside the root; returns an O_PATH handle on the final directory.
/// Each prefix is resolved from the root, and a symlink met on the way (even a
/// dangling one) is expanded in-root: an absolute link means the container's
/// `/`, as it will once the container runs.
pub fn mkdir_all(root: &OwnedFd, path: &Path, follow: Follow) -> Result<OwnedFd> {
    if let Some(fd) = existing_or_last_made(root, path, follow) {
        return Ok(fd);
    }
    walk_making(root, path, follow)
}

/// mkdir_all's usual cases in one or three calls instead of a walk: the
/// directory exists, or only its last component is missing. Without `..`,
/// resolving the whole path from the root in-root is what the walk does one
/// component at a time. None sends the caller on the walk, which also
/// words the errors.
fn existing_or_last_made(root: &OwnedFd, path: &Path, follow: Follow) -> Option<OwnedFd> {
    let rel = relative(path);
    if rel.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    let open = |p: &Path| openat2(root.as_raw_fd(), p, libc::O_PATH | libc::O_DIRECTORY, follow).ok();
    if let Some(fd) = open(&rel) {
        return Some(fd);
    }
    let (parent, name) = (rel.parent()?, rel.file_name()?);
    let dir = open(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    })?;
    let c = CString::new(name.as_bytes()).ok()?;
    // SAFETY: directory fd we hold, valid C string.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) } != 0 {
        return None;
    }
    open(&rel)
}

fn walk_making(root: &OwnedFd, path: &Path, follow: Follow) -> Result<OwnedFd> {
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY;
    let open = |p: &Path| openat2(root.as_raw_fd(), p, dir_flags, follow);
    let mut todo: VecDeque<OsString> = relative(path).components().map(|c| c.as_os_str().to_owned()).collect();
    let mut prefix = PathBuf::from(".");
    let mut cur = open(&prefix)?;
    let mut links = 0;
    while let Some(comp) = todo.pop_front() {
        if comp == "." {
            continue;
        }
        if comp == ".." {
            prefix.pop();
            if prefix.as_os_str().is_empty() {
                prefix.push(".");
            }
            cur = open(&prefix)?;
            continue;
        }
        let next = prefix.join(&comp);
        match open(&next) {
            Ok(fd) => {
                cur = fd;
                prefix = next;
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e).with_context(|| format!("open {} in the rootfs", path.display())),
        }
        let c = cstr(Path::new(&comp))?;
        // SAFETY: directory fd we hold, valid C string.
        if unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) } == 0 {
            cur = open(&next).with_context(|| format!("open {}", path.display()))?;
            prefix = next;
            continue;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(err).with_context(|| format!("mkdir {}", path.display()));
        }
        // Something is there but does not open as a directory: a dangling symlink?
        let target = nix::fcntl::readlinkat(Some(cur.as_raw_fd()), Path::new(&comp))
            .with_context(|| format!("{}: {:?} exists and is not a directory", path.display(), comp))?;
        if follow == Follow::NoSymlinks {
            bail!("{}: {:?} is a symlink", path.display(), comp);
        }
        links += 1;
        if links > 40 {
            bail!("{}: too many levels of symbolic links", path.display());
        }
        let target = PathBuf::from(target);
        if target.is_absolute() {
            prefix = PathBuf::from(".");
            cur = open(&prefix)?;
        }
        for (k, t) in relative(&target).components().enumerate() {
            todo.insert(k, t.as_os_str().to_owned());
        }
    }
    Ok(cur)
}

/// Makes sure a regular file (a bind-mount target) exists inside the root;
/// returns an O_PATH handle on it.
pub fn create_file(root: &OwnedFd, path: &Path, follow: Follow) -> Result<OwnedFd> {
    let rel = relative(path);
    if let Ok(fd) = openat2(root.as_raw_fd(), &rel, libc::O_PATH, follow) {
        return Ok(fd);
    }
    let Some(name) = rel.file_name() else {
        bail!("{}: not a file path", path.display())
    };
    let parent = mkdir_all(root, rel.parent().unwrap_or(Path::new(".")), follow)?;
    let dir = reopen_dir(&parent)?;
    let c = cstr(Path::new(name))?;
    // SAFETY: directory fd we hold, valid C string; O_NOFOLLOW refuses a symlink at the last step.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EEXIST) {
            return Err(err).with_context(|| format!("create {}", path.display()));
        }
    } else {
        // SAFETY: fresh fd from openat.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(openat2(dir.as_raw_fd(), Path::new(name), libc::O_PATH, follow)?)
}

/// Turns an O_PATH directory handle into one that *at() calls can create in.
pub fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    openat2(
        fd.as_raw_fd(),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        Follow::InRoot,
    )
    .context("reopen directory handle")
}

/// The magic-link path through which mount(2) and friends act on a handle.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens a directory on the host (not in-root): the rootfs itself.
pub fn open_dir(path: &Path) -> Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("open {}", path.display()));
    }
    // SAFETY: fresh fd from open.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::os::unix::fs::symlink("/", root.join("a/up")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("dots")).unwrap();
        let rfd = open_dir(&root).unwrap();
        let made = mkdir_all(&rfd, Path::new("/a/up/escaped"), Follow::InRoot).unwrap();
        drop(made);
        assert!(
            root.join("escaped").is_dir(),
            "mkdir through an absolute symlink lands in the root"
        );
        assert!(!Path::new("/escaped").exists());
        mkdir_all(&rfd, Path::new("dots/x"), Follow::InRoot).unwrap();
        assert!(root.join("x").is_dir());
        // A dangling absolute symlink is created inside the root, not on the host.
        std::os::unix::fs::symlink("/nowhere/deep", root.join("dangling")).unwrap();
        mkdir_all(&rfd, Path::new("/dangling/sub"), Follow::InRoot).unwrap();
        assert!(root.join("nowhere/deep/sub").is_dir());
        assert!(!Path::new("/nowhere").exists());
        assert!(mkdir_all(&rfd, Path::new("/a/up/y"), Follow::NoSymlinks).is_err());
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/a/./b/")), PathBuf::from("a/b"));
    }
}
