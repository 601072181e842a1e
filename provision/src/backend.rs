//! Rootfs backends that mount: overlayfs over cached layers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

fn cstr(p: &Path) -> Result<std::ffi::CString> {
    Ok(std::ffi::CString::new(p.as_os_str().as_encoded_bytes())?)
}

/// Mounts `lower` (bottom layer first) with DIR/upper and DIR/work onto DIR/rootfs.
pub fn overlay_mount(lower: &[PathBuf], dir: &Path) -> Result<()> {
    if lower.is_empty() {
        bail!("an image with no layers cannot be mounted");
    }
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(dir.join(d)).with_context(|| format!("{}: cannot create", dir.join(d).display()))?;
    }
    // overlayfs lists the top layer first.
    let lowers: Vec<String> = lower.iter().rev().map(|p| p.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    if data.len() >= 4096 {
        bail!(
            "overlay: {} layers make a mount option over one page; not supported yet",
            lower.len()
        );
    }
    let target = cstr(&dir.join("rootfs"))?;
    let opts = std::ffi::CString::new(data)?;
    // SAFETY: valid C strings for source, target, type and data.
    let rc = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            target.as_ptr(),
            c"overlay".as_ptr(),
            0,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mount overlay on {}", dir.join("rootfs").display()));
    }
    Ok(())
}

/// Unmounts `target` if something is mounted there.
pub fn unmount(target: &Path) -> Result<()> {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.to_string_lossy().as_ref()));
    if !mounted {
        return Ok(());
    }
    let t = cstr(target)?;
    // SAFETY: a valid C string.
    if unsafe { libc::umount2(t.as_ptr(), 0) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("unmount {}", target.display()));
    }
    Ok(())
}
