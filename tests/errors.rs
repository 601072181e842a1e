//! Bad input: a one-line error naming the file, field and value, a non-zero
//! exit, and nothing left behind (no state dir, no process).

mod common;

use common::{processes_naming, stderr, Bundle};
use serde_json::json;

/// Runs `create`, expects failure with every `needles` in the message, and
/// checks that nothing is left.
fn create_fails(b: &Bundle, needles: &[&str]) -> String {
    // An id of this test's own: the default cgroup path (hull/<id>) is shared
    // by every --root, and the tests run at once.
    let tmp = b.tmp.path().file_name().unwrap().to_string_lossy().into_owned();
    let o = b.create(&format!("bad-{}", tmp.trim_start_matches("hull-test-")), &[]);
    let err = stderr(&o);
    assert!(!o.status.success(), "create should fail");
    for n in needles {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(b.leftovers().is_empty(), "state left behind: {:?}", b.leftovers());
    assert!(processes_naming(&b.root).is_empty(), "processes left behind");
    err
}

#[test]
fn missing_bundle() {
    let b = Bundle::new(&["true"]);
    let o = b.out(&["create", "--bundle", "/nonexistent/bundle", "x"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent/bundle"));
    assert!(b.leftovers().is_empty());
}

#[test]
fn config_not_json() {
    let b = Bundle::new(&["true"]);
    std::fs::write(b.dir().join("config.json"), "{not json").unwrap();
    create_fails(&b, &["config.json", "not valid JSON"]);
}

#[test]
fn wrong_type_names_the_json_path() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["process"]["args"] = json!("true"));
    create_fails(&b, &["config.json", "process.args"]);
    b.edit(|c| c["process"]["args"] = json!(["true"]));
    b.edit(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]));
    create_fails(&b, &["process.rlimits[0].type", "RLIMIT_BOGUS"]);
}

#[test]
fn invalid_values() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["process"]["cwd"] = json!("relative/dir"));
    create_fails(&b, &["process.cwd", "relative/dir"]);
    b.edit(|c| c["process"]["cwd"] = json!("/"));

    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10},
            {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}
        ])
    });
    create_fails(&b, &["process.rlimits[1]", "duplicate"]);
    b.edit(|c| c["process"]["rlimits"] = json!([]));

    b.edit(|c| c["ociVersion"] = json!("0.9"));
    create_fails(&b, &["ociVersion", "0.9"]);
    b.edit(|c| c["ociVersion"] = json!("1.0.2"));

    b.edit(|c| c["root"]["path"] = json!("no-such-rootfs"));
    create_fails(&b, &["root.path", "no-such-rootfs"]);
    b.edit(|c| c["root"]["path"] = json!("rootfs"));

    // Not a device number: taken as "any" before, an allow of every device.
    b.edit(|c| c["linux"]["resources"]["devices"] = json!([{"allow": true, "type": "c", "major": 4294967296_u64}]));
    create_fails(&b, &["linux.resources.devices[0].major", "4294967296"]);
}

/// oci-spec checks execCPUAffinity with its one regular expression, which
/// hull links as regex-lite (shims/regex): ASCII digits only, as the
/// kernel's cpu lists are.
#[test]
fn exec_cpu_affinity_is_a_cpu_list() {
    let b = Bundle::new(&["true"]);
    for bad in ["0-1,x", "\u{663}", "1,,2", "-1", "3-1"] {
        b.edit(|c| c["process"]["execCPUAffinity"] = json!({"initial": bad}));
        create_fails(&b, &["process.execCPUAffinity.initial", bad]);
    }
}

/// What hull cannot do, or cannot do with these values, is refused by
/// field, not ignored.
#[test]
fn linux_fields_refused_by_name() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "2-1"}));
    create_fails(&b, &["linux.memoryPolicy.nodes", "2-1"]);
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("memoryPolicy");
        c["linux"]["netDevices"] = json!({"hullnodev0": {"name": "eth1"}});
    });
    create_fails(&b, &["linux.netDevices.hullnodev0", "no network device"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({"lo": {"name": "a/b"}}));
    create_fails(&b, &["linux.netDevices.lo.name", "a/b"]);
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("netDevices");
        c["linux"]["intelRdt"] = json!({"closID": "hull-test"});
    });
    create_fails(&b, &["linux.intelRdt"]);

    // Clock offsets without a time namespace of the container's own would
    // leave it the host's clocks.
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("intelRdt");
        c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 3600}});
    });
    create_fails(&b, &["linux.timeOffsets", "time namespace"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "time", "path": "/proc/self/ns/time"}));
    });
    create_fails(&b, &["linux.timeOffsets", "by path"]);
}

#[test]
fn bad_ids() {
    let b = Bundle::new(&["true"]);
    let dir = b.dir();
    for id in ["a/b", "..", "../escape", "x y"] {
        let o = b.out(&["create", "--bundle", dir.to_str().unwrap(), id]);
        assert!(!o.status.success(), "id {id:?} accepted");
        assert!(stderr(&o).contains("invalid container ID format"), "{}", stderr(&o));
    }
    assert!(b.leftovers().is_empty());
    assert!(!b.tmp.path().join("escape").exists());
}

#[test]
fn missing_program_fails_at_create() {
    let b = Bundle::new(&["no-such-program"]);
    create_fails(&b, &["process.args[0]", "no-such-program", "not found"]);
    b.edit(|c| c["process"]["args"] = json!(["/bin/missing"]));
    create_fails(&b, &["/bin/missing"]);
}

#[test]
fn namespace_errors() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "pid"}))
    });
    create_fails(&b, &["linux.namespaces", "duplicate", "pid"]);

    b.edit(|c| {
        c["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "uts"}, {"type": "network", "path": "/etc/passwd"}])
    });
    create_fails(&b, &["linux.namespaces[2].path", "/etc/passwd", "not a namespace"]);

    b.edit(|c| {
        c["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "uts"}, {"type": "network", "path": "/proc/self/ns/uts"}])
    });
    create_fails(&b, &["linux.namespaces[2].path", "another type"]);

    b.edit(|c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "bogus"}]));
    create_fails(&b, &["linux.namespaces[1].type", "bogus"]);
}

#[test]
fn uts_and_sysctl_rules() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}]));
    create_fails(&b, &["hostname", "uts namespace"]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
        c["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    });
    create_fails(&b, &["linux.sysctl", "kernel.panic", "not namespaced"]);
    b.edit(|c| c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"}));
    create_fails(&b, &["linux.sysctl", "network namespace"]);
}

#[test]
fn rlimit_above_hard_limit_reports_eperm() {
    let b = Bundle::new(&["true"]);
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap()
        .1;
    if hard == u64::MAX {
        return; // nothing to exceed on this host
    }
    b.edit(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}]));
    let err = create_fails(&b, &["process.rlimits[0]", "RLIMIT_NOFILE", "CAP_SYS_RESOURCE"]);
    assert!(err.to_lowercase().contains("operation not permitted"), "{err}");
}

#[test]
fn failure_inside_the_init_leaves_nothing() {
    let b = Bundle::new(&["true"]);
    // The mount fails inside the init, after namespaces and mounts were made.
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind", "source": "/nonexistent-source", "options": ["bind"]
        }))
    });
    create_fails(&b, &["mounts[7]", "/nonexistent-source"]);
}

#[test]
fn unknown_capability_warns_and_runs() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NOT_A_CAP"))
    });
    let o = b.run("w1");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("CAP_NOT_A_CAP"),
        "a warning names it: {}",
        stderr(&o)
    );
}

/// On a host without the LSM (this kernel has neither), a profile or label
/// is refused by field (a mount label alone only warns); where the host has
/// it, it is applied (src/process/lsm.rs).
#[test]
fn apparmor_and_selinux_are_refused_where_the_host_lacks_them() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.trim() == "Y");
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if !apparmor {
        let b = Bundle::new(&["true"]);
        b.edit(|c| c["process"]["apparmorProfile"] = json!("docker-default"));
        create_fails(
            &b,
            &[
                "process.apparmorProfile",
                "\"docker-default\"",
                "AppArmor is not enabled",
            ],
        );
    }
    if !selinux {
        let b = Bundle::new(&["true"]);
        b.edit(|c| c["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"));
        create_fails(&b, &["process.selinuxLabel", "SELinux is not enabled"]);
        // A mount label alone confines nothing: the mounts stay unlabelled
        // and the warning names the field, as crun runs it.
        let b = Bundle::new(&["true"]);
        b.edit(|c| c["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0"));
        let o = b.run("mount-label");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("linux.mountLabel"), "{}", stderr(&o));
    }
    // runc's exec flags, and a --process file, the same.
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.run_detached("lsm-exec").status.success());
    let process = b.tmp.path().join("process.json");
    let mut p = b.config()["process"].clone();
    p["args"] = json!(["true"]);
    p["apparmorProfile"] = json!("docker-default");
    std::fs::write(&process, p.to_string()).unwrap();
    let cases: [(&[&str], bool, &str); 3] = [
        (
            &["--apparmor", "docker-default"],
            apparmor,
            "--apparmor/--process-label: process.apparmorProfile: \"docker-default\": AppArmor is not enabled",
        ),
        (
            &["--process-label", "system_u:system_r:container_t:s0"],
            selinux,
            "--process-label",
        ),
        (
            &["--process", process.to_str().unwrap()],
            apparmor,
            "process.apparmorProfile",
        ),
    ];
    for (flags, host_has_it, want) in cases {
        if host_has_it {
            continue;
        }
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend(["lsm-exec", "true"]);
        if flags[0] == "--process" {
            args.pop();
        }
        let o = b.out(&args);
        assert!(
            !o.status.success() && stderr(&o).contains(want),
            "{flags:?}: {}",
            stderr(&o)
        );
    }
    assert!(b.out(&["delete", "--force", "lsm-exec"]).status.success());
}

/// The kernel refusing the new namespaces (here a seccomp filter that denies
/// unshare, as a confining parent could) fails create with the reason, and
/// leaves no state, process or cgroup. The init that makes them is cloned
/// straight into its pid namespace and reports while the parent places it.
#[test]
fn namespaces_the_kernel_refuses_fail_create_and_leave_nothing() {
    let b = Bundle::new(&["true"]);
    let id = format!("nons-{}", std::process::id());
    let dir = b.dir();
    let mut cmd = b.cmd(&["create", "--bundle", dir.to_str().unwrap(), &id]);
    common::refuse_syscall(&mut cmd, libc::SYS_unshare, libc::EPERM);
    let o = b.detached(cmd);
    let err = stderr(&o);
    assert!(!o.status.success(), "create should fail");
    for n in ["linux.namespaces", "network", "Operation not permitted"] {
        assert!(err.contains(n), "error should mention {n:?}: {err}");
    }
    assert!(b.leftovers().is_empty(), "state left behind: {:?}", b.leftovers());
    assert!(processes_naming(&b.root).is_empty(), "processes left behind");
    // v1 hierarchies, the hybrid host's cgroup2 tree, a unified host's.
    for h in ["memory", "pids", "devices", "unified", ""] {
        let cg = std::path::Path::new("/sys/fs/cgroup").join(h).join("hull").join(&id);
        assert!(!cg.exists(), "{} left behind", cg.display());
    }
}
