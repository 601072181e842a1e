//! The container's filesystem as seen from inside: mounts and their options,
//! devices, masked and read-only paths, read-only root, in-root resolution.

mod common;

use std::os::unix::fs::MetadataExt;

use common::{stderr, Bundle};
use serde_json::json;

/// The mountinfo line for a mount point inside the container.
fn mount_line<'a>(mountinfo: &'a str, point: &str) -> &'a str {
    mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("{point} not mounted:\n{mountinfo}"))
}

#[test]
fn readonly_root_and_writable_tmpfs() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo root-rw || echo root-ro; touch /dev/shm/y && echo shm-rw",
    ]);
    assert_eq!(b.run_ok("ro"), "root-ro\nshm-rw\n");
    b.edit(|c| c["root"]["readonly"] = json!(false));
    assert_eq!(b.run_ok("rw"), "root-rw\nshm-rw\n");
    assert!(b.rootfs().join("x").exists());
}

#[test]
fn mounts_with_options() {
    let b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let host = b.tmp.path().join("hostdir");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("file"), "from-host").unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                      "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}));
        m.push(json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid"]}));
        m.push(
            json!({"destination": "/etc/hostfile", "type": "bind", "source": host.join("file"), "options": ["bind"]}),
        );
        m.push(json!({"destination": "/deep/er/dir", "type": "tmpfs", "source": "tmpfs", "options": ["noatime"]}));
    });
    let mi = b.run_ok("mnt");
    let scratch = mount_line(&mi, "/scratch");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(scratch.contains(o), "{o}: {scratch}");
    }
    assert!(
        scratch.contains("size=1024k") && scratch.contains("mode=700"),
        "{scratch}"
    );
    let data = mount_line(&mi, "/data");
    assert!(data.contains(" ro,") && data.contains("nosuid"), "{data}");
    assert!(mount_line(&mi, "/deep/er/dir").contains("noatime"));
    mount_line(&mi, "/etc/hostfile");

    b.edit(|c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "cat /etc/hostfile; touch /data/new 2>/dev/null || echo data-ro"
        ])
    });
    assert_eq!(b.run_ok("mnt2"), "from-hostdata-ro\n");
}

#[test]
fn propagation_and_recursive_options() {
    let b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let host = b.tmp.path().join("prop");
    std::fs::create_dir_all(&host).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/p", "type": "bind", "source": host, "options": ["rbind", "rprivate", "rro"]
        }));
        c["linux"]["rootfsPropagation"] = json!("rslave");
    });
    let mi = b.run_ok("prop");
    let line = mount_line(&mi, "/p");
    assert!(line.contains(" ro,") || line.contains(" ro "), "rro: {line}");
    assert!(
        !line.contains("shared:") && !line.contains("master:"),
        "rprivate: {line}"
    );
}

#[test]
fn default_devices_and_links() {
    let b = Bundle::new(&["sh", "-c", "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done"]);
    let out = b.run_ok("dev");
    for (name, nums) in [
        ("null", "1,   3"),
        ("zero", "1,   5"),
        ("full", "1,   7"),
        ("random", "1,   8"),
        ("urandom", "1,   9"),
        ("tty", "5,   0"),
    ] {
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!("/dev/{name}")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(line.starts_with("crw-rw-rw-"), "{line}");
        assert!(line.contains(nums), "{name} {nums}: {line}");
    }
    assert!(
        out.contains("/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n"),
        "{out}"
    );
}

#[test]
fn linux_devices_entries() {
    // fileMode 0660 owned by 7:8: root without CAP_DAC_OVERRIDE (the default set) may not write it.
    let b = Bundle::new(&["sh", "-c", "ls -ln /dev/mynull /dev/sub/myzero; echo hi > /dev/sub/myzero && echo wrote; echo hi > /dev/mynull || echo denied"]);
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 7, "gid": 8},
            {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5}
        ]);
    });
    let out = b.run_ok("devs");
    let l1 = out.lines().find(|l| l.ends_with("/dev/mynull")).unwrap();
    assert!(
        l1.starts_with("crw-rw----") && l1.contains(" 7 ") && l1.contains(" 8 ") && l1.contains("1,   3"),
        "{l1}"
    );
    assert!(
        out.lines()
            .any(|l| l.ends_with("/dev/sub/myzero") && l.contains("1,   5")),
        "{out}"
    );
    assert!(out.ends_with("wrote\ndenied\n"), "{out}");
}

#[test]
fn masked_and_readonly_paths() {
    let b = Bundle::new(&["sh", "-c", "wc -c < /proc/cmdline; ls /proc/tty | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-rw || echo sys-ro; cat /proc/self/mountinfo"]);
    b.edit(|c| {
        c["linux"]["maskedPaths"] = json!(["/proc/cmdline", "/proc/tty", "/does/not/exist"]);
        c["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    });
    let out = b.run_ok("masks");
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap().trim(), "0", "cmdline masked by /dev/null");
    assert_eq!(lines.next().unwrap().trim(), "0", "tty masked by an empty tmpfs");
    assert_eq!(lines.next().unwrap(), "sys-ro");
    assert!(mount_line(&out, "/proc/sys").contains(" ro,"));
}

#[test]
fn masked_device_nodes_and_fifos() {
    // A FIFO masked by /dev/null reads empty instead of blocking (the
    // timeout keeps a failure from hanging the test); a masked /dev/zero-like
    // node reads empty.
    let b = Bundle::new(&["true"]);
    let etc = b.rootfs().join("etc");
    for (name, kind, dev) in [("fifo", libc::S_IFIFO, 0), ("zero", libc::S_IFCHR, libc::makedev(1, 5))] {
        let path = std::ffi::CString::new(etc.join(name).into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a C path and plain integers.
        assert_eq!(
            unsafe { libc::mknod(path.as_ptr(), kind | 0o666, dev) },
            0,
            "mknod {name}"
        );
    }
    // Unmasked, the node reads (the filesystem is not nodev), so 0 below
    // means masked.
    b.edit(|c| c["process"]["args"] = json!(["sh", "-c", "head -c 4 /etc/zero | wc -c"]));
    assert_eq!(b.run_ok("nodes-plain").trim(), "4");
    b.edit(|c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "timeout 5 sh -c 'wc -c < /etc/fifo' || echo fifo-blocked; head -c 4 /etc/zero | wc -c"
        ]);
        c["linux"]["maskedPaths"] = json!(["/etc/fifo", "/etc/zero"]);
    });
    let out = b.run_ok("nodes");
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "0"], "{out}");
}

#[test]
fn symlinks_in_the_image_stay_inside_the_rootfs() {
    let b = Bundle::new(&["sh", "-c", "ls /escape/target"]);
    let outside = b.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // An absolute symlink to a host directory and a relative one climbing out.
    std::os::unix::fs::symlink(&outside, b.rootfs().join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../..", b.rootfs().join("climb")).unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/escape/target", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/climb/tmp/climbed", "type": "tmpfs", "source": "tmpfs"}));
        c["root"]["readonly"] = json!(false);
    });
    let o = b.run("sym");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!outside.join("target").exists(), "mkdir followed a symlink to the host");
    assert!(
        b.rootfs()
            .join(outside.strip_prefix("/").unwrap())
            .join("target")
            .is_dir(),
        "resolved inside the rootfs"
    );
    assert!(!std::path::Path::new("/tmp/climbed").exists());
    assert!(b.rootfs().join("tmp/climbed").is_dir());
}

#[test]
fn proc_must_not_be_covered() {
    let b = Bundle::new(&["true"]);
    let host = b.tmp.path().join("fakeproc");
    std::fs::create_dir_all(&host).unwrap();
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/proc", "type": "bind", "source": host, "options": ["bind"]}))
    });
    let o = b.create("p1", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/proc"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());

    // A symlinked /proc in the image is refused too (CVE-2019-16884 family).
    let b = Bundle::new(&["true"]);
    std::fs::remove_dir(b.rootfs().join("proc")).unwrap();
    std::os::unix::fs::symlink("/tmp", b.rootfs().join("proc")).unwrap();
    let o = b.create("p2", &[]);
    assert!(!o.status.success(), "symlinked /proc accepted");
    assert!(b.leftovers().is_empty());
}

#[test]
fn no_pivot_and_relative_and_absolute_root() {
    let b = Bundle::new(&["sh", "-c", "ls /bin/busybox && cat /proc/self/mountinfo | wc -l"]);
    let dir = b.dir();
    let o = b.out(&["run", "--no-pivot", "--bundle", dir.to_str().unwrap(), "np"]);
    assert!(o.status.success(), "--no-pivot: {}", stderr(&o));
    b.edit(|c| c["root"]["path"] = json!(b.rootfs()));
    b.run_ok("abs");
    // The bundle directory itself as the rootfs, as runtime-tools makes them.
    b.edit(|c| c["root"]["path"] = json!("."));
    std::fs::copy(dir.join("config.json"), b.rootfs().join("config.json")).unwrap();
    let o = b.out(&["run", "--bundle", b.rootfs().to_str().unwrap(), "dot"]);
    assert!(o.status.success(), "root \".\": {}", stderr(&o));
}

#[test]
fn sysctl_in_the_container_namespaces() {
    let b = Bundle::new(&["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni"]);
    b.edit(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}));
    assert_eq!(b.run_ok("sysctl"), "1\n1234\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(host.trim(), "1234");
}

#[test]
fn root_propagation_applies_to_the_containers_root() {
    let b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    // A host file bound in: with an unbindable host root forced recursive,
    // this bind failed.
    let host = b.tmp.path().join("host-file");
    std::fs::write(&host, "x").unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/host-file", "type": "bind", "source": host, "options": ["bind", "ro"]
        }))
    });
    let cases = [
        ("shared", Some("shared:")),
        ("rshared", Some("shared:")),
        ("unbindable", Some("unbindable")),
        ("runbindable", Some("unbindable")),
        ("private", None),
        ("rslave", None),
    ];
    for (i, (prop, field)) in cases.into_iter().enumerate() {
        b.edit(|c| c["linux"]["rootfsPropagation"] = json!(prop));
        for (j, flags) in [&[][..], &["--no-pivot"][..]].into_iter().enumerate() {
            let dir = b.dir();
            let mut args = vec!["run"];
            args.extend_from_slice(flags);
            let id = format!("prop{i}-{j}");
            args.extend(["--bundle", dir.to_str().unwrap(), &id]);
            let o = b.out(&args);
            assert!(o.status.success(), "{prop} {flags:?}: {}", stderr(&o));
            let mi = common::stdout(&o);
            let root = mount_line(&mi, "/");
            let optional: Vec<&str> = root.split(" - ").next().unwrap().split(' ').skip(6).collect();
            match field {
                Some(f) => assert!(optional.iter().any(|o| o.starts_with(f)), "{prop} {flags:?}: {root}"),
                None => assert!(optional.is_empty(), "{prop} {flags:?}: {root}"),
            }
        }
    }
}

/// The rootfs made a shared mount point of its own, as containerd's
/// snapshots are on a host whose mounts are shared; unmounted when dropped.
struct SharedMountPoint(std::path::PathBuf);

impl SharedMountPoint {
    fn new(path: &std::path::Path) -> SharedMountPoint {
        let mount = |args: &[&str]| {
            let o = std::process::Command::new("mount")
                .args(args)
                .arg(path)
                .output()
                .unwrap();
            assert!(o.status.success(), "mount {args:?}: {}", stderr(&o));
        };
        mount(&["--bind", path.to_str().unwrap()]);
        let made = SharedMountPoint(path.to_path_buf());
        mount(&["--make-shared"]);
        made
    }
}

impl Drop for SharedMountPoint {
    /// Every mount stacked there, also those a failing runtime leaked.
    fn drop(&mut self) {
        for _ in 0..16 {
            let o = std::process::Command::new("umount").arg("-l").arg(&self.0).output();
            if !o.is_ok_and(|o| o.status.success()) {
                break;
            }
        }
    }
}

#[test]
fn a_shared_rootfs_mount_point_carries_nothing_to_the_host() {
    let b = Bundle::new(&["true"]);
    let rootfs = b.rootfs();
    let _shared = SharedMountPoint::new(&rootfs);
    let props = [
        json!(null),
        json!("private"),
        json!("slave"),
        json!("shared"),
        json!("rshared"),
        json!("unbindable"),
    ];
    for (i, prop) in props.iter().enumerate() {
        b.edit(|c| c["linux"]["rootfsPropagation"] = prop.clone());
        let o = b.run(&format!("sharedmp{i}"));
        assert!(o.status.success(), "{prop}: {}", stderr(&o));
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = rootfs.to_str().unwrap();
        let under: Vec<&str> = info
            .lines()
            .filter(|l| l.split(' ').nth(4).is_some_and(|mp| mp.starts_with(root) && mp != root))
            .collect();
        assert!(
            under.is_empty(),
            "{prop}: container mounts reached the host: {under:#?}"
        );
    }
}

#[test]
fn idmapped_bind_mounts_show_the_mapped_owner_both_ways() {
    // On disk root's; through the mount (containerID 0 -> hostID 1234) uid
    // 1234's, and what uid 1234 makes there lands as root's on disk.
    let b = Bundle::new(&["sh", "-c", "stat -c %u:%g /mapped/f; touch /mapped/new && echo touched"]);
    let src = b.tmp.path().join("idsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "x").unwrap();
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1234, "gid": 1234});
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mapped", "type": "bind", "source": src, "options": ["bind"],
            "uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}]
        }));
    });
    let out = b.run_ok("idmapped");
    assert_eq!(out, "1234:1234\ntouched\n");
    let m = std::fs::metadata(src.join("new")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0), "uid 1234's file lands as root's on disk");
    assert_eq!(
        std::fs::metadata(src.join("f")).unwrap().uid(),
        0,
        "the source is unchanged"
    );

    // In a container with its own user namespace, `idmap` alone takes the
    // container's mappings: the host's root-owned files are root's inside,
    // and root's new files are the host's root's.
    let u = Bundle::new(&[
        "sh",
        "-c",
        "stat -c %u:%g /mapped/f; touch /mapped/by-userns && echo touched",
    ]);
    let chown = std::process::Command::new("chown")
        .args(["-R", "100000:100000"])
        .arg(u.rootfs())
        .status()
        .unwrap();
    assert!(chown.success());
    u.edit(|c| {
        common::add_user_namespace(c, 100000, 100000, 65536);
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mapped", "type": "bind", "source": src, "options": ["bind", "idmap"]
        }));
    });
    assert_eq!(u.run_ok("idmapped-userns"), "0:0\ntouched\n");
    assert_eq!(std::fs::metadata(src.join("by-userns")).unwrap().uid(), 0);

    // Only bind mounts can be idmapped.
    b.edit(|c| {
        let last = c["mounts"].as_array_mut().unwrap().last_mut().unwrap();
        last["type"] = json!("tmpfs");
        last["options"] = json!(["idmap"]);
    });
    let o = b.run("idmapped-tmpfs");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("only bind mounts can be idmapped"),
        "{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty());
}

/// runc's tmpcopyup, as podman puts it on every tmpfs (`--read-only`,
/// `--tmpfs`): the image's files under the mount point are in the tmpfs with
/// their modes, owners and symlinks, the tmpfs root takes the directory's
/// mode and owner, and what the container writes stays in the tmpfs.
#[test]
fn tmpcopyup_copies_the_image_files_into_the_tmpfs() {
    let script = "stat -c '%n %a %u:%g %F' /data /data/conf /data/sub /data/sub/deep /data/link /data/fifo; \
                  cat /data/sub/deep; readlink /data/link; grep -c tmpfs /proc/self/mounts; \
                  echo new > /data/written && echo wrote";
    let b = Bundle::new(&["sh", "-c", script]);
    let data = b.rootfs().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("conf"), "c").unwrap();
    std::fs::write(data.join("sub/deep"), "deep-content\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("link")).unwrap();
    let fifo = std::ffi::CString::new(data.join("fifo").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o620) }, 0);
    std::os::unix::fs::chown(&data, Some(70), Some(71)).unwrap();
    std::os::unix::fs::chown(data.join("conf"), Some(1000), Some(1001)).unwrap();
    std::os::unix::fs::lchown(data.join("link"), Some(5), Some(6)).unwrap();
    // After the chowns, which clear set-id bits.
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [
        (data.clone(), 0o1757),
        (data.join("conf"), 0o4640),
        (data.join("fifo"), 0o620),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup", "size=1m"]
        }));
    });
    let out = b.run_ok("copyup");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "/data 1757 70:71 directory",
            "/data/conf 4640 1000:1001 regular file",
            "/data/sub 755 0:0 directory",
            "/data/sub/deep 644 0:0 regular file",
            "/data/link 777 5:6 symbolic link",
            "/data/fifo 620 0:0 fifo",
        ],
        "{out}"
    );
    assert_eq!(lines[6..8], ["deep-content", "/etc/passwd"], "{out}");
    assert_eq!(lines.last(), Some(&"wrote"), "{out}");
    assert!(!data.join("written").exists(), "the write reached the image");
}

/// `podman run --read-only`: a read-only root with tmpfs (tmpcopyup) on
/// /run, /tmp and /var/tmp, exactly as podman writes them.
#[test]
fn a_read_only_root_with_podmans_tmpfs_mounts_runs() {
    let b = Bundle::new(&["sh", "-c", "touch /run/a /tmp/b /var/tmp/c && ls /run/keep && echo ok"]);
    std::fs::create_dir_all(b.rootfs().join("run")).unwrap();
    std::fs::write(b.rootfs().join("run/keep"), "").unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(true);
        for (dest, extra) in [
            ("/run", "size=65536k"),
            ("/tmp", "mode=1777"),
            ("/var/tmp", "mode=1777"),
        ] {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": dest, "type": "tmpfs", "source": "tmpfs",
                "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup", extra]
            }));
        }
    });
    assert_eq!(b.run_ok("podman-ro"), "/run/keep\nok\n");
}

/// An option neither hull nor the filesystem knows is refused by name before
/// anything is made, never handed to mount(2) for a bare EINVAL.
#[test]
fn unknown_mount_options_are_refused_by_name() {
    for (m, needle) in [
        (
            json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "bogus"]}),
            "mounts[7].options: unknown option \"bogus\" for a tmpfs mount",
        ),
        (
            json!({"destination": "/x", "type": "bind", "source": "/etc", "options": ["rbind", "bogus"]}),
            "mounts[7].options: unknown option \"bogus\" for a bind mount",
        ),
        (
            json!({"destination": "/x", "type": "bind", "source": "/etc", "options": ["rbind", "tmpcopyup"]}),
            "mounts[7].options: \"tmpcopyup\" is for tmpfs mounts",
        ),
    ] {
        let b = Bundle::new(&["true"]);
        b.edit(|c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            assert_eq!(mounts.len(), 7, "hull spec's mount count changed: fix the index above");
            mounts.push(m.clone());
        });
        let o = b.create("badopt", &[]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(b.leftovers().is_empty());
    }
}
