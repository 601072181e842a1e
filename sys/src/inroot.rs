//! openat2(2) with RESOLVE_IN_ROOT, for the runtime's rootfs work and the
//! provisioner's reads of an image's files: `..` and symlinks (absolute or
//! not) stay inside the root, so an image cannot point hull at the host.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// How strictly to resolve.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Symlinks are followed, but only inside the root.
    InRoot,
    /// Any symlink on the way is an error (for /proc and /sys destinations).
    NoSymlinks,
}

/// openat2(dirfd, path, flags, RESOLVE_IN_ROOT).
pub fn openat2(dirfd: RawFd, path: &Path, flags: i32, follow: Follow) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if follow == Follow::NoSymlinks {
        resolve |= RESOLVE_NO_SYMLINKS;
    }
    // SAFETY: open_how is plain integers; all-zero is its "nothing set" value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    loop {
        // SAFETY: valid C string and open_how struct of the size passed.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just gave us this fd.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let err = std::io::Error::last_os_error();
        // EAGAIN: a rename raced the lookup; the kernel asks us to retry.
        if err.raw_os_error() != Some(libc::EAGAIN) {
            return Err(err);
        }
    }
}

/// A small regular file inside `root`, as text (invalid UTF-8 replaced),
/// or None where there is none. Anything else at `path` is None too and is
/// never opened for reading (a FIFO would block, a device's open can act),
/// and a file past `max` bytes is an error: the image chose its contents.
pub fn read_small(root: &Path, path: &Path, max: u64) -> std::io::Result<Option<String>> {
    let dir = std::fs::File::open(root)?;
    let rel = path.strip_prefix("/").unwrap_or(path);
    let found = match openat2(dir.as_raw_fd(), rel, libc::O_PATH, Follow::InRoot) {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !found.metadata()?.is_file() {
        return Ok(None);
    }
    // The very file looked at, opened again through its handle: the path
    // could name another by now.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", found.as_raw_fd()))?;
    read_regular(f, path, max)
}

/// What `f` holds, if it is a regular file of at most `max` bytes (see
/// `read_small`); `path` names it in the error.
fn read_regular(f: std::fs::File, path: &Path, max: u64) -> std::io::Result<Option<String>> {
    if !f.metadata()?.is_file() {
        return Ok(None);
    }
    let mut bytes = vec![];
    f.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        let msg = format!("{}: larger than {max} bytes", path.display());
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, msg));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stay_in_the_root() {
        let t = std::env::temp_dir().join(format!("hull-sys-inroot-{}", std::process::id()));
        let root = t.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        let fifo = CString::new(root.join("etc/fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string and a mode.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::fs::write(t.join("outside"), "host\n").unwrap();
        std::fs::write(root.join("etc/own"), "image\n").unwrap();
        std::os::unix::fs::symlink(t.join("outside"), root.join("etc/abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("etc/zero")).unwrap();
        // /dev/zero's numbers, inside the root: never opened for reading.
        let zero = CString::new(root.join("dev/zero").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string, a mode and a device number.
        assert_eq!(
            unsafe { libc::mknod(zero.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 5)) },
            0
        );
        std::fs::write(root.join("big"), vec![b'x'; 100]).unwrap();
        let read = |p: &str| read_small(&root, Path::new(p), 64);
        assert_eq!(read("/etc/own").unwrap().as_deref(), Some("image\n"));
        assert_eq!(read("etc/abs").unwrap(), None, "an absolute link left the root");
        assert_eq!(read("/etc/rel").unwrap(), None, "a relative link left the root");
        assert_eq!(read("/etc/zero").unwrap(), None, "a device was read");
        assert_eq!(read("/dev/zero").unwrap(), None, "a device was read");
        assert_eq!(read("/dev").unwrap(), None);
        assert_eq!(read("/etc/fifo").unwrap(), None, "a FIFO was opened for reading");
        assert_eq!(read("/etc/none").unwrap(), None);
        assert!(read("/big").is_err());
        std::fs::remove_dir_all(&t).unwrap();
    }
}
