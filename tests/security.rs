//! Regression tests for known runtime escapes: each one tries the attack.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::json;

fn sha256_of(path: &str) -> String {
    let o = std::process::Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// CVE-2019-5736: while the init is still the hull binary (created, waiting on
/// the exec fifo), a process in the container must not reach it through
/// /proc/1/exe, to read it or to reopen it for writing.
#[test]
fn the_hull_binary_is_out_of_reach_through_proc_exe() {
    let before = sha256_of(common::HULL);
    let b = Bundle::new(&["true"]);
    assert!(b.create("cve5736", &[]).status.success());
    let o = b.out(&[
        "exec",
        "cve5736",
        "sh",
        "-c",
        "cat /proc/1/exe > /dev/null 2>&1 && echo read-ok || echo read-denied; \
         (echo x >> /proc/1/exe) 2>/dev/null && echo write-ok || echo write-denied; \
         readlink /proc/1/exe >/dev/null 2>&1 && echo link-ok || echo link-denied",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("read-denied") && out.contains("write-denied") && out.contains("link-denied"),
        "{out}"
    );
    assert_eq!(sha256_of(common::HULL), before, "the hull binary changed");
}

/// The CVE-2019-5736 race, as an attacker plays it: a program in the
/// container (tests/fixtures/exe-thief.c) scans /proc for any executable that
/// is not its own or busybox, holds it with O_PATH, and keeps reopening it
/// for writing through /proc/self/fd, while the host runs `exec` (and, with
/// `runs`, containers that join the attacker's pid namespace) through a copy
/// of the hull binary. Returns the thief's counts; the copy must be intact.
fn exe_race(id: &str, caps: &[&str], runs: bool) -> (u64, u64) {
    let b = Bundle::new(&["/bin/thief", "4"]);
    let copy = b.tmp.path().join("hull-copy");
    std::fs::copy(common::HULL, &copy).unwrap();
    let runtime = copy.to_str().unwrap().to_string();
    b.build_fixture("exe-thief.c", "bin/thief", &["-O2"]);
    let add_caps = |c: &mut serde_json::Value| {
        for set in ["bounding", "effective", "permitted"] {
            for cap in caps {
                c["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(cap));
            }
        }
    };
    b.edit(add_caps);
    let mut b = b;
    b.runtime = runtime.clone();
    let before = sha256_of(&runtime);
    let report = b.tmp.path().join("thief.out");
    let dir = b.dir();
    let status = b
        .cmd(&["run", "-d", "--bundle", dir.to_str().unwrap(), id])
        .stdout(std::fs::File::create(&report).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let pid = b.state(id)["pid"].as_i64().unwrap();
    let mut other = Bundle::new(&["true"]);
    other.runtime = runtime.clone();
    other.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        for n in ns.iter_mut().filter(|n| n["type"] == "pid") {
            n["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    });
    for i in 0..12 {
        // Failures are allowed
        // (the thief may have broken the copy, or hold it open for writing:
        // ETXTBSY): the verdict is the copy's hash and the thief's count below.
        let _ = b.cmd(&["exec", id, "/bin/true"]).output();
        if runs {
            let dir = other.dir();
            let _ = other
                .cmd(&["run", "--bundle", dir.to_str().unwrap(), &format!("{id}-run{i}")])
                .output();
        }
    }
    // The copy may be broken now: cleaning up goes through the real binary.
    b.runtime = common::HULL.to_string();
    other.runtime = common::HULL.to_string();
    let st = b.wait_status(id, "stopped");
    assert_eq!(st["status"], "stopped", "the thief did not finish");
    let out = std::fs::read_to_string(&report).unwrap();
    eprintln!("{id}: {out}");
    let count = |k: &str| -> u64 {
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in the thief's report: {out:?}"))
    };
    assert_eq!(
        sha256_of(&runtime),
        before,
        "the hull binary was overwritten from the container"
    );
    (count("caught"), count("wrote"))
}

#[test]
fn the_exe_race_fails_with_default_capabilities() {
    let (_, wrote) = exe_race("thief-default", &[], true);
    assert_eq!(wrote, 0);
}

/// With CAP_SYS_PTRACE the thief does open hull's processes' exe links (the
/// race ran and reached them); what it holds is the read-only view.
#[test]
fn the_exe_race_fails_with_cap_sys_ptrace() {
    let (caught, wrote) = exe_race("thief-ptrace", &["CAP_SYS_PTRACE"], true);
    assert_eq!(wrote, 0);
    assert!(
        caught > 0,
        "the thief never reached a hull process: the race did not run"
    );
}

/// CVE-2022-29162: no inheritable or ambient capabilities unless the config
/// asks, even when the caller has some to pass on (setpriv gives hull
/// inheritable and ambient CAP_NET_RAW and CAP_SYS_ADMIN).
#[test]
fn no_inheritable_capabilities_by_default() {
    let b = Bundle::new(&["grep", "-E", "^Cap(Inh|Amb)", "/proc/self/status"]);
    let dir = b.dir();
    let o = std::process::Command::new("setpriv")
        .args([
            "--inh-caps",
            "+net_raw,+sys_admin",
            "--ambient-caps",
            "+net_raw,+sys_admin",
            "--",
        ])
        .arg(common::HULL)
        .arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle", dir.to_str().unwrap(), "inh"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "CapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n");
}

/// Every id field refuses (uid_t)-1, which setresuid and chown take as "no
/// change": uid 4294967295 would run as root. Each error names the field and
/// nothing is left.
#[test]
fn ids_the_kernel_takes_as_no_change_are_refused() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 7] = [
        ("process.user.uid", |c| {
            c["process"]["user"]["uid"] = json!(4294967295u32)
        }),
        ("process.user.gid", |c| {
            c["process"]["user"]["gid"] = json!(4294967295u32)
        }),
        ("process.user.additionalGids[1]", |c| {
            c["process"]["user"]["additionalGids"] = json!([5, 4294967295u32])
        }),
        (
            "linux.devices[0].uid",
            |c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 4294967295u32}])
            },
        ),
        ("linux.uidMappings[0]", |c| {
            common::add_user_namespace(c, 100000, 100000, 65536);
            c["linux"]["uidMappings"][0]["hostID"] = json!(4294967295u32 - 10);
        }),
        ("process.user.uid: 70000 is not mapped", |c| {
            common::add_user_namespace(c, 100000, 100000, 65536);
            c["process"]["user"]["uid"] = json!(70000);
        }),
        ("process.user.additionalGids[0]: 70000 is not mapped", |c| {
            common::add_user_namespace(c, 100000, 100000, 65536);
            c["process"]["user"]["additionalGids"] = json!([70000]);
        }),
    ];
    for (field, edit) in cases {
        let b = Bundle::new(&["id"]);
        b.edit(edit);
        let o = b.create("badid", &[]);
        assert!(!o.status.success(), "{field}: create succeeded");
        assert!(stderr(&o).contains(field), "{field}: {}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{field}: state left");
    }
}

/// A capability hull itself lacks (this host has no CAP_SYS_RESOURCE in its
/// bounding set; the test drops CAP_SYSLOG from hull's to be sure of one)
/// is left out with a warning naming it, and the container starts with the
/// rest (config.md).
#[test]
fn capabilities_the_host_cannot_grant_are_warned_about_and_left_out() {
    let b = Bundle::new(&["grep", "^CapEff", "/proc/self/status"]);
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set] = json!(["CAP_KILL", "CAP_SYSLOG"]);
        }
    });
    let dir = b.dir();
    let o = std::process::Command::new("setpriv")
        .args(["--bounding-set", "-syslog", "--inh-caps", "-syslog", "--"])
        .arg(common::HULL)
        .arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle", dir.to_str().unwrap(), "nocap"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // CAP_KILL (5) alone.
    assert_eq!(stdout(&o), "CapEff:\t0000000000000020\n");
    assert!(
        stderr(&o).contains("process.capabilities.permitted: CAP_SYSLOG cannot be granted"),
        "{}",
        stderr(&o)
    );
}

/// errnoRet with an action that returns no errno is an error (config-linux.md).
#[test]
fn errno_ret_on_an_action_without_one_is_refused() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]
        })
    });
    let o = b.create("errnoret", &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("linux.seccomp.syscalls[0]") && stderr(&o).contains("SCMP_ACT_ALLOW"),
        "{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty());
}

/// A linux.devices path the rootfs already holds as something else (a file, a
/// different device) is an error; the same device there is fine.
#[test]
fn a_device_path_holding_something_else_is_refused() {
    for (what, make) in [
        (
            "a regular file",
            (|p: &std::path::Path| std::fs::write(p, "x").unwrap()) as fn(&std::path::Path),
        ),
        ("character device 1:3", |p| {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid C path; makes /dev/null's node.
            assert_eq!(
                unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
                0
            );
        }),
    ] {
        let b = Bundle::new(&["true"]);
        b.edit(|c| {
            // /dev from the image, so what is there is seen.
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["destination"] != "/dev");
            c["linux"]["devices"] =
                json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]);
        });
        make(&b.rootfs().join("dev/fuse"));
        let o = b.create("devexists", &[]);
        assert!(!o.status.success(), "{what}: create succeeded");
        assert!(
            stderr(&o).contains("linux.devices[0]") && stderr(&o).contains(what),
            "{what}: {}",
            stderr(&o)
        );
        assert!(b.leftovers().is_empty());
    }
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
        c["linux"]["devices"] = json!([{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
    });
    let c = std::ffi::CString::new(b.rootfs().join("dev/null").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C path.
    assert_eq!(
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
        0
    );
    let o = b.run("devsame");
    assert!(o.status.success(), "{}", stderr(&o));
}

/// CVE-2023-27561 / CVE-2019-16884: a symlink at /proc or /sys in the image
/// must not redirect the proc or sysfs mount.
#[test]
fn symlinked_proc_and_sys_are_refused() {
    for dir in ["proc", "sys"] {
        let b = Bundle::new(&["true"]);
        let target = b.tmp.path().join("elsewhere");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::remove_dir(b.rootfs().join(dir)).unwrap();
        std::os::unix::fs::symlink(&target, b.rootfs().join(dir)).unwrap();
        let o = b.create("symproc", &[]);
        assert!(!o.status.success(), "symlinked /{dir} accepted");
        assert!(
            std::fs::read_dir(&target).unwrap().next().is_none(),
            "something was made through the /{dir} link"
        );
        assert!(b.leftovers().is_empty());
    }
}

/// CVE-2025-31133: a /dev/null that is not the 1:3 device (here a plain file)
/// must not be bound over masked paths.
#[test]
fn a_fake_dev_null_is_not_used_for_masking() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        // /dev from the image (a bind of its own dir), with a regular file at dev/null.
        c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"},
                             {"destination": "/dev", "type": "bind", "source": b.rootfs().join("dev"), "options": ["rbind"]}]);
        c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/cmdline"]);
    });
    std::fs::write(b.rootfs().join("dev/null"), "not a device").unwrap();
    let o = b.create("fakenull", &[]);
    assert!(!o.status.success(), "masking through a fake /dev/null");
    assert!(stderr(&o).contains("/dev/null"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

/// CVE-2021-30465 / CVE-2024-45310: a mount destination in a volume the
/// container shares with an attacker, swapped between a directory and a
/// symlink to a host path while hull creates containers over and over. A
/// runtime that follows the symlink mounts (and makes directories) on the
/// host; hull resolves in the rootfs, so the mount always lands inside and
/// nothing appears on the host.
#[test]
fn a_mount_destination_swapped_for_a_symlink_mid_create_stays_inside() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "cat /vol/dst/marker /vol/alt/marker /target/marker 2>/dev/null | head -1",
    ]);
    let t = b.tmp.path();
    let volume = t.join("volume");
    let source = t.join("source");
    let host_target = t.join("host-target");
    for d in [&volume.join("dst"), &source, &host_target] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(source.join("marker"), "mounted\n").unwrap();
    // The swap partner: a symlink to a host path that does not exist yet.
    std::os::unix::fs::symlink(host_target.join("made"), volume.join("alt")).unwrap();
    let in_root_target = host_target.join("made");
    b.edit(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/vol", "type": "bind", "source": volume, "options": ["rbind"]}));
        mounts.push(json!({"destination": "/vol/dst", "type": "bind", "source": source, "options": ["bind"]}));
        mounts.push(json!({"destination": "/target", "type": "bind", "source": source, "options": ["bind"]}));
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (a, z) = (cstring(&volume.join("dst")), cstring(&volume.join("alt")));
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: two valid C paths; RENAME_EXCHANGE swaps them atomically.
                unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        z.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                swaps += 1;
            }
            swaps
        })
    };
    let mut seen = 0;
    for i in 0..40 {
        let o = b.run(&format!("race{i}"));
        if o.status.success() && common::stdout(&o) == "mounted\n" {
            seen += 1;
        }
        assert!(
            !in_root_target.exists(),
            "round {i}: a directory was made on the host through the symlink"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 1000, "the race barely ran ({swaps} swaps)");
    eprintln!("seen {seen}/40, {swaps} swaps");
    assert!(seen > 0, "no run saw its own mount");
    assert_eq!(std::fs::read_dir(&host_target).unwrap().count(), 0);
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

fn cstring(p: &std::path::Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap()
}

/// CVE-2025-31133 again, with /dev/null a symlink: into the container's own
/// procfs (whose files the mask would then make writable targets of) and to
/// a host file. Neither is followed.
#[test]
fn a_symlinked_dev_null_is_not_followed_for_masking() {
    for (n, target) in ["../proc/sys/kernel/core_pattern", "/etc/hostname"].iter().enumerate() {
        let b = Bundle::new(&["true"]);
        b.edit(|c| {
            c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"},
                                 {"destination": "/dev", "type": "bind", "source": b.rootfs().join("dev"), "options": ["rbind"]}]);
            c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        });
        std::os::unix::fs::symlink(target, b.rootfs().join("dev/null")).unwrap();
        let o = b.create(&format!("linknull{n}"), &[]);
        assert!(!o.status.success(), "masking through /dev/null -> {target}");
        assert!(stderr(&o).contains("/dev/null"), "{}", stderr(&o));
        assert!(b.leftovers().is_empty());
    }
}

/// CVE-2025-52565: /dev/console in the image a symlink into /proc. The pty
/// must be bound on a /dev/console of hull's making, never through the
/// link onto the procfs file (which a container could then reach).
#[test]
fn a_symlinked_dev_console_does_not_redirect_the_pty() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "grep -c core_pattern /proc/self/mountinfo; stat -c %t /dev/console",
    ]);
    let sock = b.tmp.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let keep = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        // Hold the master until the container is done so its output has a reader.
        let mut out = String::new();
        // A refused create connects and hangs up without sending anything.
        if let Ok((_, master)) = hull::fdpass::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&conn), "pty") {
            let _ = std::io::Read::read_to_string(&mut std::fs::File::from(master), &mut out);
        }
        out
    });
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["mounts"] = json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "bind", "source": b.rootfs().join("dev"), "options": ["rbind"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}
        ]);
    });
    std::os::unix::fs::symlink("../proc/sys/kernel/core_pattern", b.rootfs().join("dev/console")).unwrap();
    let dir = b.dir();
    let o = b.out(&[
        "run",
        "--bundle",
        dir.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        "console-link",
    ]);
    if o.status.success() {
        let out = keep.join().unwrap();
        let lines: Vec<&str> = out.lines().map(str::trim).collect();
        assert_eq!(lines.first(), Some(&"0"), "the pty went over core_pattern: {out}");
        assert_eq!(lines.get(1), Some(&"88"), "/dev/console is a pty (major 136): {out}");
    } else {
        assert!(stderr(&o).contains("/dev/console"), "{}", stderr(&o));
    }
    assert!(b.leftovers().is_empty());
}

/// CVE-2019-5736 before start: a created container's init is still the hull
/// binary it was forked from, so an exec'd process with CAP_SYS_PTRACE (over
/// the host: no user namespace) is refused until the container is started;
/// one without it runs.
#[test]
fn exec_with_cap_sys_ptrace_into_a_created_container_is_refused() {
    let b = Bundle::new(&["sleep", "30"]);
    assert!(b.create("created-ptrace", &[]).status.success());
    let o = b.out(&["exec", "--cap", "CAP_SYS_PTRACE", "created-ptrace", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("CVE-2019-5736"), "{}", stderr(&o));
    assert!(b.out(&["exec", "created-ptrace", "true"]).status.success());
    assert!(b.out(&["start", "created-ptrace"]).status.success());
    let o = b.out(&["exec", "--cap", "CAP_SYS_PTRACE", "created-ptrace", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// CVE-2025-52881: runc wrote sysctls, oom_score_adj and LSM labels through
/// the container's own /proc, which mounts the container can make (racing
/// through a shared mount) redirect to another file. hull writes them
/// through the host's procfs, opened before the container's mounts exist.
/// A createRuntime hook stands in for the racing container: in the window
/// after the container's /proc is mounted and before those writes, it binds
/// decoys over the container's ip_forward and oom_score_adj.
#[test]
fn writes_to_proc_go_where_they_are_meant_whatever_the_container_mounts() {
    let b = Bundle::new(&["sleep", "60"]);
    let rootfs = b.rootfs();
    let (decoy_sysctl, decoy_oom) = (b.tmp.path().join("decoy-sysctl"), b.tmp.path().join("decoy-oom"));
    for d in [&decoy_sysctl, &decoy_oom] {
        std::fs::write(d, "decoy\n").unwrap();
    }
    // What the container's /proc shows once the mounts are made: the decoys.
    let seen = b.tmp.path().join("seen");
    let (forward, oom) = (
        format!("{}/proc/sys/net/ipv4/ip_forward", rootfs.display()),
        format!("{}/proc/1/oom_score_adj", rootfs.display()),
    );
    // The hook reads the container's state (one line of JSON) on stdin; sh
    // finds tr, sed and nsenter on its default PATH.
    let attack = format!(
        "pid=$(tr -d ' \\n' | sed -n 's/.*\"pid\":\\([0-9][0-9]*\\).*/\\1/p'); \
         nsenter -t \"$pid\" -m sh -c 'mount --bind {} {forward} && mount --bind {} {oom} && cat {forward} {oom}' > {}",
        decoy_sysctl.display(),
        decoy_oom.display(),
        seen.display()
    );
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", attack]}]});
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["process"]["oomScoreAdj"] = json!(500);
    });
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let o = b.run_detached("proc-redirect");
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = b.state("proc-redirect")["pid"].as_i64().unwrap();

    assert_eq!(
        std::fs::read_to_string(&seen).unwrap_or_default(),
        "decoy\ndecoy\n",
        "the hook's mounts were not in place"
    );
    // Nothing was written to them, and the writes reached their own files.
    for d in [&decoy_sysctl, &decoy_oom] {
        assert_eq!(
            std::fs::read_to_string(d).unwrap(),
            "decoy\n",
            "a write went to {}",
            d.display()
        );
    }
    let o = std::process::Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "cat", "/proc/sys/net/ipv4/ip_forward"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "1\n", "the container's ip_forward: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap(),
        "500\n"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_forward
    );
    assert!(b.out(&["delete", "--force", "proc-redirect"]).status.success());
}
