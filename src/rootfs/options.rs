//! Mount options as config.json spells them, turned into mount(2) flags,
//! propagation changes, recursive mount_setattr attributes and fs data.

use hull_sys::mount_attr;
use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub propagation: Vec<MsFlags>,
    pub attr_set: u64,
    pub attr_clr: u64,
    pub data: Vec<String>,
    /// runc's tmpcopyup: the image's files under the mount point are copied in.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: vec![],
            attr_set: 0,
            attr_clr: 0,
            data: vec![],
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// Flags that a bind mount only gets through a second, remounting call.
    pub fn remount_flags(&self) -> MsFlags {
        self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }
}

fn flag(opt: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    let f = match opt {
        "async" => (false, F::MS_SYNCHRONOUS),
        "atime" => (false, F::MS_NOATIME),
        "bind" => (true, F::MS_BIND),
        "defaults" => (true, F::empty()),
        "dev" => (false, F::MS_NODEV),
        "diratime" => (false, F::MS_NODIRATIME),
        "dirsync" => (true, F::MS_DIRSYNC),
        "exec" => (false, F::MS_NOEXEC),
        "iversion" => (true, F::MS_I_VERSION),
        "lazytime" => (true, F::MS_LAZYTIME),
        "loud" => (false, F::MS_SILENT),
        "mand" => (true, F::MS_MANDLOCK),
        "noatime" => (true, F::MS_NOATIME),
        "nodev" => (true, F::MS_NODEV),
        "nodiratime" => (true, F::MS_NODIRATIME),
        "noexec" => (true, F::MS_NOEXEC),
        "noiversion" => (false, F::MS_I_VERSION),
        "nolazytime" => (false, F::MS_LAZYTIME),
        "nomand" => (false, F::MS_MANDLOCK),
        "norelatime" => (false, F::MS_RELATIME),
        "nostrictatime" => (false, F::MS_STRICTATIME),
        "nosuid" => (true, F::MS_NOSUID),
        "nosymfollow" => (true, F::from_bits_retain(256)),
        "rbind" => (true, F::MS_BIND | F::MS_REC),
        "relatime" => (true, F::MS_RELATIME),
        "remount" => (true, F::MS_REMOUNT),
        "ro" => (true, F::MS_RDONLY),
        "rw" => (false, F::MS_RDONLY),
        "silent" => (true, F::MS_SILENT),
        "strictatime" => (true, F::MS_STRICTATIME),
        "suid" => (false, F::MS_NOSUID),
        "sync" => (true, F::MS_SYNCHRONOUS),
        _ => return None,
    };
    Some(f)
}

/// Propagation option names and their flags.
pub fn propagation(opt: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match opt {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// Recursive attributes (runtime-spec 1.1 "rro", "rnosuid", ...): (clear, set).
fn rec_attr(opt: &str) -> Option<(u64, u64)> {
    Some(match opt {
        "rro" => (0, mount_attr::RDONLY),
        "rrw" => (mount_attr::RDONLY, 0),
        "rnosuid" => (0, mount_attr::NOSUID),
        "rsuid" => (mount_attr::NOSUID, 0),
        "rnodev" => (0, mount_attr::NODEV),
        "rdev" => (mount_attr::NODEV, 0),
        "rnoexec" => (0, mount_attr::NOEXEC),
        "rexec" => (mount_attr::NOEXEC, 0),
        "rnodiratime" => (0, mount_attr::NODIRATIME),
        "rdiratime" => (mount_attr::NODIRATIME, 0),
        "rrelatime" => (mount_attr::ATIME_MASK, mount_attr::RELATIME),
        "rnorelatime" => (mount_attr::ATIME_MASK, 0),
        "rnoatime" => (mount_attr::ATIME_MASK, mount_attr::NOATIME),
        "ratime" => (mount_attr::ATIME_MASK, 0),
        "rstrictatime" => (mount_attr::ATIME_MASK, mount_attr::STRICTATIME),
        "rnostrictatime" => (mount_attr::ATIME_MASK, 0),
        "rnosymfollow" => (0, mount_attr::NOSYMFOLLOW),
        "rsymfollow" => (mount_attr::NOSYMFOLLOW, 0),
        _ => return None,
    })
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    for opt in options {
        if let Some((set, f)) = flag(opt) {
            if set {
                o.flags |= f;
            } else {
                o.flags &= !f;
            }
        } else if let Some(p) = propagation(opt) {
            o.propagation.push(p);
        } else if opt == "tmpcopyup" || opt == "notmpcopyup" {
            o.tmpcopyup = opt == "tmpcopyup";
        } else if opt == "idmap" || opt == "ridmap" {
            // Made by rootfs::idmapped before the mount step; nothing for mount(2).
        } else if let Some((clr, set)) = rec_attr(opt) {
            o.attr_clr |= clr;
            o.attr_set = (o.attr_set & !clr) | set;
        } else {
            // Unknown to mount(2): the filesystem's own option (mode=755, size=...).
            o.data.push(opt.clone());
        }
    }
    o
}

/// The data options of the filesystems runtimes mount, by type; None for a
/// type whose options hull does not know (ext4, nfs, fuse...): its options go
/// to the kernel as given.
fn known_data(typ: &str) -> Option<&'static [&'static str]> {
    Some(match typ {
        "tmpfs" => &[
            "size",
            "nr_blocks",
            "nr_inodes",
            "mode",
            "uid",
            "gid",
            "huge",
            "mpol",
            "inode32",
            "inode64",
            "noswap",
            "quota",
            "usrquota",
            "grpquota",
            "usrquota_block_hardlimit",
            "usrquota_inode_hardlimit",
            "grpquota_block_hardlimit",
            "grpquota_inode_hardlimit",
            "casefold",
            "strict_encoding",
        ],
        "devpts" => &["mode", "ptmxmode", "gid", "uid", "newinstance", "max"],
        "proc" => &["hidepid", "gid", "subset"],
        "mqueue" | "sysfs" => &[],
        "overlay" => &[
            "lowerdir",
            "lowerdir+",
            "upperdir",
            "workdir",
            "datadir+",
            "redirect_dir",
            "index",
            "uuid",
            "nfs_export",
            "xino",
            "metacopy",
            "volatile",
            "userxattr",
            "verity",
            "default_permissions",
        ],
        _ => return None,
    })
}

/// Every option is either one hull handles or one the filesystem takes:
/// an error names the first that is neither, never a bare EINVAL later.
pub fn check(typ: &str, options: &[String]) -> Result<(), String> {
    let o = parse(options);
    let kind = if o.is_bind() { "bind" } else { typ };
    if o.tmpcopyup && kind != "tmpfs" {
        return Err(format!("\"tmpcopyup\" is for tmpfs mounts, not {kind}"));
    }
    // A bind mount gives mount(2) no data: clients still pass the options of
    // the filesystems they know (runtime-tools puts mode= and size= on binds),
    // and those are ignored; anything else is refused.
    let known = |d: &str| {
        let key = d.split('=').next().unwrap_or_default();
        // The LSM's own options, which every filesystem takes.
        if ["context", "fscontext", "defcontext", "rootcontext", "seclabel"].contains(&key) {
            return true;
        }
        match kind {
            "bind" => ["tmpfs", "devpts", "proc", "overlay"]
                .iter()
                .any(|t| known_data(t).is_some_and(|k| k.contains(&key))),
            _ => known_data(kind).is_none_or(|k| k.contains(&key)),
        }
    };
    match o.data.iter().find(|d| !known(d)) {
        Some(d) => Err(format!("unknown option {d:?} for a {kind} mount")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k", "rslave"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data_string().as_deref(), Some("mode=755,size=65536k"));
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw", "rbind"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.is_bind() && o.flags.contains(MsFlags::MS_REC));
        assert!(o.remount_flags().is_empty());
    }

    #[test]
    fn options_are_checked_by_type() {
        let v = |opts: &[&str]| opts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check(
            "tmpfs",
            &v(&["nosuid", "tmpcopyup", "size=1m", "mode=1777", "rprivate"])
        )
        .is_ok());
        assert_eq!(
            check("tmpfs", &v(&["x"])).unwrap_err(),
            "unknown option \"x\" for a tmpfs mount"
        );
        assert!(check("none", &v(&["rbind", "bogus"]))
            .unwrap_err()
            .contains("for a bind mount"));
        assert!(check("none", &v(&["rbind", "mode=755", "size=1k"])).is_ok());
        assert!(check("bind", &v(&["tmpcopyup"])).unwrap_err().contains("tmpcopyup"));
        assert!(check("ext4", &v(&["errors=remount-ro"])).is_ok());
        assert!(check("proc", &v(&["hidepid=2"])).is_ok());
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&["rro", "rnoatime"]);
        assert_eq!(o.attr_set, mount_attr::RDONLY | mount_attr::NOATIME);
        assert_eq!(o.attr_clr, mount_attr::ATIME_MASK);
    }
}
