//! Rootfs backends that mount: overlayfs over cached layers, and a
//! read-only bind of a single cached layer; and the checks `auto` makes
//! before it picks overlay, as Mesos does.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use hull_sys::mount_attr::{self, mount_setattr};

/// overlayfs's own mount data: the options must fit in one page.
const PAGE: usize = 4096;

fn cstr(p: &Path) -> Result<std::ffi::CString> {
    Ok(std::ffi::CString::new(p.as_os_str().as_encoded_bytes())?)
}

fn mount(src: &str, target: &Path, fstype: Option<&str>, flags: libc::c_ulong, data: Option<&str>) -> Result<()> {
    let s = std::ffi::CString::new(src)?;
    let t = cstr(target)?;
    let f = fstype.map(std::ffi::CString::new).transpose()?;
    let d = data.map(std::ffi::CString::new).transpose()?;
    // SAFETY: valid C strings (or null) for source, target, type and data.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            t.as_ptr(),
            f.as_ref().map_or(std::ptr::null(), |x| x.as_ptr()),
            flags,
            d.as_ref().map_or(std::ptr::null(), |x| x.as_ptr().cast()),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("mount {src} on {}", target.display()));
    }
    Ok(())
}

fn lowerdir(lower: &[PathBuf]) -> String {
    // overlayfs lists the top layer first.
    lower
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Mounts `lower` (bottom layer first) with DIR/upper and DIR/work onto
/// DIR/rootfs. When the layer paths make the options longer than a page,
/// they go through short symlinks in a scratch directory of the system's
/// temp dir (as Mesos does): overlayfs resolves them at mount time, so they
/// are removed right after.
pub fn overlay_mount(lower: &[PathBuf], dir: &Path) -> Result<()> {
    if lower.is_empty() {
        bail!("an image with no layers cannot be mounted");
    }
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(dir.join(d)).with_context(|| format!("{}: cannot create", dir.join(d).display()))?;
    }
    let rest = format!(
        ",upperdir={},workdir={}",
        dir.join("upper").display(),
        dir.join("work").display()
    );
    let mut data = format!("lowerdir={}{rest}", lowerdir(lower));
    let mut links_dir = None;
    if data.len() >= PAGE {
        let links = std::env::temp_dir().join(format!("hull-l{}-{}", std::process::id(), nanos()));
        // A new directory of ours alone: in a temp dir anyone writes, one
        // found there could hold links of someone else's choosing.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&links)
            .with_context(|| format!("{}: cannot create", links.display()))?;
        let links = &links_dir.insert(Removed(links)).0;
        let short: Vec<PathBuf> = lower
            .iter()
            .enumerate()
            .map(|(i, _)| links.join(i.to_string()))
            .collect();
        for (l, target) in short.iter().zip(lower) {
            std::os::unix::fs::symlink(target, l).with_context(|| format!("symlink {}", l.display()))?;
        }
        data = format!("lowerdir={}{rest}", lowerdir(&short));
        if data.len() >= PAGE {
            bail!(
                "overlay: {} layers are too many for one mount, even with short links",
                lower.len()
            );
        }
    }
    // overlayfs resolved the links at mount time: they go, however it went.
    mount("overlay", &dir.join("rootfs"), Some("overlay"), 0, Some(&data))
}

/// A directory removed when dropped.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// Binds `layer` read-only onto `target`.
pub fn bind_mount(layer: &Path, target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("{}: cannot create", target.display()))?;
    mount(&layer.display().to_string(), target, None, libc::MS_BIND, None)?;
    let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
    if let Err(e) = mount("none", target, None, ro, None) {
        let _ = unmount(target);
        return Err(e).context("make the bind read-only");
    }
    Ok(())
}

/// The host's whole mount tree, read-only all through, onto `target`, as
/// a slave (host mounts show up in it, nothing goes back).
pub fn bind_host_root(target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("{}: cannot create", target.display()))?;
    mount("/", target, None, libc::MS_BIND | libc::MS_REC, None)?;
    let made = mount("none", target, None, libc::MS_REC | libc::MS_SLAVE, None).and_then(|()| {
        let t = cstr(target)?;
        mount_setattr(libc::AT_FDCWD, &t, libc::AT_RECURSIVE, mount_attr::RDONLY, 0, None)
            .with_context(|| format!("make {} read-only", target.display()))
    });
    if made.is_err() {
        let _ = unmount(target);
    }
    made
}

fn is_mountpoint(target: &Path) -> bool {
    hull_sys::mountinfo::mount_points()
        .unwrap_or_default()
        .iter()
        .any(|m| m == target)
}

/// Whether anything is mounted at `target` or below it.
pub fn mounts_under(target: &Path) -> bool {
    hull_sys::mountinfo::mount_points()
        .unwrap_or_default()
        .iter()
        .any(|m| m.starts_with(target))
}

/// Unmounts `target` (and what is mounted under it) if something is mounted there.
pub fn unmount(target: &Path) -> Result<()> {
    if !is_mountpoint(target) {
        return Ok(());
    }
    let t = cstr(target)?;
    // SAFETY: a valid C string.
    if unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("unmount {}", target.display()));
    }
    Ok(())
}

pub fn kernel_has(fs: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(fs))
}

/// Filesystems overlayfs cannot take an upper dir on (statfs magic numbers).
const NO_OVERLAY_UPPER: [(i64, &str); 4] = [
    (0x794c_7630, "overlayfs"),
    (0x6175_6673, "aufs"),
    (0x6969, "nfs"),
    (0xf15f, "ecryptfs"),
];

/// Why the aufs backend cannot be used: this kernel has no aufs (Debian's
/// never does), or, where it has, hull has no aufs mount code, which it
/// could not test on a kernel without it.
pub fn aufs_unusable() -> String {
    if kernel_has("aufs") {
        "this kernel has aufs, but hull has no aufs backend: use overlay or copy".into()
    } else {
        "aufs is not supported by this kernel (no aufs in /proc/filesystems)".into()
    }
}

/// Why overlay cannot be used for a store in `dir`, or None if it can:
/// the kernel must have it, and the store's filesystem must report d_type
/// (overlayfs needs it for whiteouts) and be one overlayfs can stack on.
pub fn overlay_unusable(dir: &Path) -> Option<String> {
    if !kernel_has("overlay") {
        return Some("overlayfs is not supported by this kernel".into());
    }
    let Ok(c) = cstr(dir) else {
        return Some("bad path".into());
    };
    // SAFETY: a zeroed statfs is a valid out-parameter for statfs(2).
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C path and a valid out-pointer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0 {
        if let Some((_, name)) = NO_OVERLAY_UPPER.iter().find(|(m, _)| *m == st.f_type as i64) {
            return Some(format!(
                "{} is on {name}, which overlayfs cannot stack on",
                dir.display()
            ));
        }
    }
    match dtype_supported(dir) {
        Ok(true) => None,
        Ok(false) => Some(format!("{}'s filesystem does not report d_type", dir.display())),
        Err(e) => Some(format!("{e:#}")),
    }
}

fn tempfile_in(dir: &Path) -> Result<PathBuf> {
    let p = dir.join(format!(".dtype-probe.{}", std::process::id()));
    std::fs::write(&p, b"").with_context(|| format!("{}: cannot write", p.display()))?;
    Ok(p)
}

/// Makes a file in `dir` and reads the raw directory entry back: DT_UNKNOWN
/// means the filesystem (XFS made with ftype=0, say) has no d_type.
fn dtype_supported(dir: &Path) -> Result<bool> {
    let probe = tempfile_in(dir)?;
    let name = probe.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let d = nix::dir::Dir::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    );
    let res = (|| {
        let mut d = d.with_context(|| format!("{}: cannot open", dir.display()))?;
        for e in d.iter().flatten() {
            if e.file_name().to_bytes() == name.as_encoded_bytes() {
                return Ok(e.file_type().is_some());
            }
        }
        bail!("{}: the probe file is not listed", dir.display())
    })();
    let _ = std::fs::remove_file(&probe);
    res
}
