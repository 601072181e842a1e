//! /proc/self/mountinfo, read by both crates.

use std::path::PathBuf;

/// One line of mountinfo.
pub struct Entry {
    /// The path within the filesystem that is mounted (field 4).
    pub root: PathBuf,
    pub point: PathBuf,
    pub fstype: String,
    /// The superblock's options (the last field): a v1 cgroup's controllers.
    pub super_opts: String,
}

/// The mounts of this namespace, paths with mountinfo's octal escapes of
/// space, tab, newline and backslash undone.
pub fn entries() -> std::io::Result<Vec<Entry>> {
    let unescape = |f: &str| {
        let b = f.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let code = b
                .get(i + 1..i + 4)
                .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
            match (b[i], code) {
                (b'\\', Some(c)) => {
                    out.push(c);
                    i += 4;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
    };
    Ok(std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter_map(|l| {
            let (mount, fs) = l.split_once(" - ")?;
            let mut m = mount.split(' ');
            let mut f = fs.split(' ');
            Some(Entry {
                root: unescape(m.nth(3)?),
                point: unescape(m.next()?),
                fstype: f.next()?.to_string(),
                super_opts: f.nth(1).unwrap_or_default().to_string(),
            })
        })
        .collect())
}

/// The mount points of this namespace.
pub fn mount_points() -> std::io::Result<Vec<PathBuf>> {
    Ok(entries()?.into_iter().map(|e| e.point).collect())
}
