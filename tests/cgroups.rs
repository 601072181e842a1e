//! cgroups: placement, limits enforced from inside, pause/resume, update,
//! ps, kill --all, and removal of exactly what create made.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{stderr, stdout, Bundle};
use serde_json::json;

/// A controller's directory for a cgroup path, on this v1/hybrid host or a v2 one.
fn cg_file(controller: &str, path: &str, file: &str) -> PathBuf {
    let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists();
    if v2 {
        PathBuf::from("/sys/fs/cgroup").join(path).join(file)
    } else {
        PathBuf::from("/sys/fs/cgroup").join(controller).join(path).join(file)
    }
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// A cgroups path unique to this test, under a parent of its own: a parent
/// shared by the tests, which run at once, could be removed by one while
/// another makes its cgroup in it.
fn unique(name: &str) -> String {
    format!("hull-test-{}-{name}/c", std::process::id())
}

/// Removes the parent `unique` made for `path` once the test is done with it.
fn remove_parent(path: &str) {
    let parent = path.split('/').next().unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let _ = std::fs::remove_dir(e.path().join(parent));
        }
    }
}

fn no_cgroup_left(path: &str) {
    for c in ["memory", "pids", "cpu", "freezer", "devices"] {
        let d = cg_file(c, path, "");
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn placement_and_limits_are_written() {
    let path = unique("limits");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864, "reservation": 33554432});
        c["linux"]["resources"]["pids"] = json!({"limit": 42});
        c["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000});
    });
    assert!(b.run_detached("lim").status.success());
    let pid = b.state("lim")["pid"].as_i64().unwrap().to_string();
    assert!(
        read(&cg_file("pids", &path, "cgroup.procs")).lines().any(|l| l == pid),
        "init not in its cgroup"
    );
    assert_eq!(read(&cg_file("memory", &path, "memory.limit_in_bytes")), "67108864");
    assert_eq!(
        read(&cg_file("memory", &path, "memory.soft_limit_in_bytes")),
        "33554432"
    );
    assert_eq!(read(&cg_file("pids", &path, "pids.max")), "42");
    assert_eq!(read(&cg_file("cpu", &path, "cpu.shares")), "512");
    assert_eq!(read(&cg_file("cpu", &path, "cpu.cfs_quota_us")), "50000");

    let o = b.out(&["ps", "--format", "json", "lim"]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(pids, vec![pid.parse::<i64>().unwrap()]);

    let o = b.out(&["update", "--memory", "128m", "--pids-limit", "50", "lim"]);
    assert!(o.status.success(), "update: {}", stderr(&o));
    assert_eq!(read(&cg_file("memory", &path, "memory.limit_in_bytes")), "134217728");
    assert_eq!(read(&cg_file("pids", &path, "pids.max")), "50");
    let res = b.tmp.path().join("res.json");
    std::fs::write(&res, r#"{"memory": {"limit": 50331648}, "cpu": {"shares": 256}}"#).unwrap();
    let o = b.out(&["update", "--resources", res.to_str().unwrap(), "lim"]);
    assert!(o.status.success(), "update --resources: {}", stderr(&o));
    assert_eq!(read(&cg_file("memory", &path, "memory.limit_in_bytes")), "50331648");
    assert_eq!(read(&cg_file("cpu", &path, "cpu.shares")), "256");
    // runc's own flag names; real-time groups only where the kernel has them.
    let rt = cg_file("cpu", &path, "cpu.rt_period_us").exists();
    let mut args = vec!["update", "--cpu-share", "300", "--kernel-memory-tcp", "8m", "lim"];
    if rt {
        args.splice(1..1, ["--cpu-rt-period", "500000"]);
    }
    let o = b.out(&args);
    assert!(o.status.success(), "update with runc's flags: {}", stderr(&o));
    assert_eq!(read(&cg_file("cpu", &path, "cpu.shares")), "300");
    if rt {
        assert_eq!(read(&cg_file("cpu", &path, "cpu.rt_period_us")), "500000");
    }
    assert_eq!(
        read(&cg_file("memory", &path, "memory.kmem.tcp.limit_in_bytes")),
        "8388608"
    );
    let o = b.out(&["update", "--l3-cache-schema", "L3:0=f", "lim"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--l3-cache-schema \"L3:0=f\""),
        "{}",
        stderr(&o)
    );
    // runtime-spec 1.3.0: a pids object without a limit changes nothing.
    std::fs::write(&res, r#"{"pids": {}}"#).unwrap();
    let o = b.out(&["update", "--resources", res.to_str().unwrap(), "lim"]);
    assert!(o.status.success(), "update --resources: {}", stderr(&o));
    assert_eq!(read(&cg_file("pids", &path, "pids.max")), "50");

    assert!(b.out(&["delete", "--force", "lim"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

/// `update` goes to the engine only for a container `hull launch` made. The
/// annotation the engine leaves proves nothing: whoever makes a container
/// can set it (`podman --annotation`; an image's labels could, before).
/// Before, `update` ran hull-engine on the directory the annotation named,
/// to act on whatever record was there, and the container's own limits
/// could not be changed.
#[test]
fn an_annotation_does_not_send_update_to_the_engine() {
    let path = unique("forged-engine");
    let b = Bundle::new(&["sleep", "60"]);
    let forged = b.tmp.path().join("forged");
    std::fs::create_dir_all(forged.join("upd")).unwrap();
    std::fs::write(forged.join("upd/record.json"), "{}").unwrap();
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["annotations"] = json!({"org.hull.engine.dir": forged});
    });
    assert!(b.run_detached("upd").status.success());
    // Without --engine-dir, the caller is asked which it is.
    let o = b.out(&["update", "--memory", "96m", "upd"]);
    assert!(
        !o.status.success() && stderr(&o).contains("give --engine-dir"),
        "{}",
        stderr(&o)
    );
    // Told that it is no engine's (the default dir's engine did not make
    // it), the runtime updates it.
    let o = b.out(&[
        "update",
        "--engine-dir",
        "/var/lib/hull/engine",
        "--memory",
        "96m",
        "upd",
    ]);
    assert!(o.status.success(), "update: {}", stderr(&o));
    assert_eq!(read(&cg_file("memory", &path, "memory.limit_in_bytes")), "100663296");
    let o = b.out(&[
        "update",
        "--engine-dir",
        forged.to_str().unwrap(),
        "--memory",
        "64m",
        "upd",
    ]);
    assert!(o.status.success(), "update: {}", stderr(&o));
    assert_eq!(read(&cg_file("memory", &path, "memory.limit_in_bytes")), "67108864");
    assert_eq!(std::fs::read_to_string(forged.join("upd/record.json")).unwrap(), "{}");
    assert!(b.out(&["delete", "--force", "upd"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

/// runc's `exec --cgroup`: PATH puts the process in that existing
/// sub-cgroup of every hierarchy, CONTROLLER:PATH (v1) in that one's only;
/// a path leaving the container's cgroup, or one that does not exist, is
/// refused and nothing is made.
#[test]
fn exec_runs_in_an_existing_sub_cgroup() {
    let path = unique("exec-sub");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    assert!(b.run_detached("sub").status.success());
    // Each hierarchy once (cpu may link to cpu,cpuacct).
    let mut roots: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path().join(&path))
        .chain(std::iter::once(PathBuf::from("/sys/fs/cgroup").join(&path)))
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    roots.sort();
    roots.dedup();
    for r in &roots {
        std::fs::create_dir(r.join("sub")).unwrap();
    }
    let cgroups_of = |flags: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(flags);
        args.extend(["sub", "cat", "/proc/self/cgroup"]);
        let o = b.out(&args);
        (o.status.success(), stdout(&o) + &stderr(&o))
    };
    let (ok, out) = cgroups_of(&["--cgroup", "sub"]);
    assert!(ok && out.lines().all(|l| l.ends_with("/sub")), "{out}");
    if !PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists() {
        let (ok, out) = cgroups_of(&["--cgroup", "memory:sub"]);
        let line = |c: &str| {
            out.lines()
                .find(|l| l.split(':').nth(1) == Some(c))
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            ok && line("memory").ends_with(":/sub") && line("pids").ends_with(":/"),
            "{out}"
        );
    }
    for (bad, why) in [("../sub", "must stay below"), ("nope", "no such sub-cgroup")] {
        let (ok, out) = cgroups_of(&["--cgroup", bad]);
        assert!(!ok && out.contains(why), "--cgroup {bad}: {out}");
    }
    // A process placed below is still the container's: ps lists it and
    // kill --all reaches it (TERM: the init, pid 1 of its namespace without
    // a handler, ignores it).
    let o = b.out_detached(&["exec", "-d", "--cgroup", "sub", "sub", "sleep", "60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let init = b.state("sub")["pid"].as_i64().unwrap() as i32;
    let ps: Vec<i32> = serde_json::from_slice(&b.out(&["ps", "-f", "json", "sub"]).stdout).unwrap_or_default();
    let below: Vec<i32> = ps.iter().copied().filter(|&p| p != init).collect();
    assert_eq!(below.len(), 1, "ps does not list the process in the sub-cgroup: {ps:?}");
    assert!(b.out(&["kill", "--all", "sub", "TERM"]).status.success());
    assert!(
        common::eventually(5, || !common::alive(below[0])),
        "kill --all missed the process in the sub-cgroup"
    );
    for r in &roots {
        assert!(!r.join("nope").exists(), "{} was made", r.join("nope").display());
        std::fs::remove_dir(r.join("sub")).unwrap();
    }
    assert!(b.out(&["delete", "--force", "sub"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

/// A pids limit of 0 is no limit in a config older than runtime-spec 1.3.0
/// (Debian's podman 4.3 writes `--pids-limit -1` so) and a limit from 1.3.0
/// on; a `pids` object without a limit asks for nothing.
#[test]
fn a_pids_limit_is_read_as_the_configs_version_meant_it() {
    for (version, pids, forks) in [
        ("1.0.2-dev", json!({"limit": 0}), true),
        ("1.3.0", json!({"limit": 0}), false),
        ("1.3.0", json!({}), true),
    ] {
        let path = unique("pids-version");
        let b = Bundle::new(&["sh", "-c", "sleep 0 & wait $! && echo forked"]);
        b.edit(|c| {
            c["ociVersion"] = json!(version);
            c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
            c["linux"]["resources"]["pids"] = pids.clone();
        });
        let o = b.run("pv");
        // Without the fork the shell ran and said why.
        let outcome = (stdout(&o).contains("forked"), stderr(&o).contains("can't fork"));
        assert_eq!(
            outcome,
            (forks, !forks),
            "ociVersion {version}, pids {pids}: {}",
            stderr(&o)
        );
        no_cgroup_left(&path);
        remove_parent(&path);
    }
}

#[test]
fn memory_hog_is_oom_killed() {
    let b = Bundle::new(&["tail", "/dev/zero"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432}));
    let o = b.run("oom");
    assert_eq!(
        o.status.code(),
        Some(128 + 9),
        "tail /dev/zero must be killed: {}",
        stderr(&o)
    );
}

#[test]
fn fork_loop_stops_at_the_pids_limit() {
    let path = unique("forks");
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 30 & done; wait",
    ]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["pids"] = json!({"limit": 10});
    });
    assert!(b.run_detached("forks").status.success());
    let events = cg_file("pids", &path, "pids.events");
    let deadline = Instant::now() + Duration::from_secs(10);
    while read(&events) == "max 0" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(read(&events), "max 0", "no fork was refused");
    let current: u32 = read(&cg_file("pids", &path, "pids.current")).parse().unwrap();
    assert!(current <= 10, "{current} processes under pids.max 10");
    assert!(b.out(&["delete", "--force", "forks"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

#[test]
fn devices_are_denied_unless_allowed() {
    let b = Bundle::new(&["sh", "-c", "(exec 3</dev/net/tun) 2>/dev/null && echo tun-open; (exec 3</dev/fuse) 2>/dev/null || echo fuse-denied; echo x > /dev/null && echo null-ok"]);
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}
        ]);
        c["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"}
        ]);
    });
    let out = b.run_ok("devs");
    assert!(out.contains("tun-open"), "{out}");
    assert!(out.contains("fuse-denied"), "{out}");
    assert!(out.contains("null-ok"), "{out}");
}

/// A deny of one device after an allow of its whole major (or the other
/// way round): v1's kernel changes only an exception with the same numbers,
/// so the device would stay open there. v1 refuses the config by field; v2's
/// program denies the device.
#[test]
fn a_deny_inside_a_wider_allow_is_kept_or_refused() {
    let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists();
    let tun = json!({"allow": false, "type": "c", "major": 10, "minor": 200, "access": "rwm"});
    let major = |allow: bool| json!({"allow": allow, "type": "c", "major": 10, "access": "rwm"});
    let one = |allow: bool| json!({"allow": allow, "type": "c", "major": 10, "minor": 200, "access": "rwm"});
    for (rules, hole, wide) in [
        (json!([{"allow": false}, major(true), tun]), "[2]", "[1]"),
        (json!([{"allow": false}, one(true), major(false)]), "[2]", "[1]"),
    ] {
        let b = Bundle::new(&["sh", "-c", "(exec 3</dev/net/tun) 2>&1 && echo tun-open; true"]);
        b.edit(|c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 438}]);
            c["linux"]["resources"]["devices"] = rules.clone();
        });
        if v2 {
            let out = b.run_ok("hole");
            assert!(out.contains("Operation not permitted"), "{rules}: {out}");
            continue;
        }
        let o = b.create("hole", &[]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{rules}: create should fail");
        for needle in [
            format!("linux.resources.devices{hole}"),
            format!("linux.resources.devices{wide}"),
        ] {
            assert!(err.contains(&needle), "{needle} in: {err}");
        }
        assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    }
}

#[test]
fn pause_freezes_and_resume_continues() {
    let b = Bundle::new(&["sh", "-c", "while :; do echo x >> /tmp/ticks; sleep 0.01; done"]);
    b.edit(|c| c["root"]["readonly"] = json!(false));
    assert!(b.run_detached("pz").status.success());
    let ticks = b.rootfs().join("tmp/ticks");
    let size = || std::fs::metadata(&ticks).map(|m| m.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    while size() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = b.out(&["pause", "pz"]);
    assert!(o.status.success(), "pause: {}", stderr(&o));
    assert_eq!(b.state("pz")["status"], "paused");
    let frozen_at = size();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(size(), frozen_at, "a paused container made progress");
    let o = b.out(&["resume", "pz"]);
    assert!(o.status.success(), "resume: {}", stderr(&o));
    assert_eq!(b.state("pz")["status"], "running");
    std::thread::sleep(Duration::from_millis(300));
    assert!(size() > frozen_at, "resume did not continue");
    assert!(
        !b.out(&["resume", "pz"]).status.success(),
        "resume of a running container must fail"
    );
    // A paused container goes with delete --force, and leaves no frozen cgroup.
    assert!(b.out(&["pause", "pz"]).status.success());
    let start = Instant::now();
    let o = b.out(&["delete", "--force", "pz"]);
    assert!(
        o.status.success(),
        "delete --force of a paused container: {}",
        stderr(&o)
    );
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    no_cgroup_left("hull/pz");
}

#[test]
fn kill_all_reaches_every_process_without_a_pid_namespace() {
    let b = Bundle::new(&["sh", "-c", "sleep 60 & sleep 60 & wait"]);
    b.edit(|c| c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]));
    assert!(b.run_detached("ka").status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pids = vec![];
    while pids.len() < 3 && Instant::now() < deadline {
        pids = serde_json::from_slice::<Vec<i32>>(&b.out(&["ps", "-f", "json", "ka"]).stdout).unwrap_or_default();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pids.len(), 3, "{pids:?}");
    let o = b.out(&["kill", "--all", "ka", "KILL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| common::alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(pids.iter().all(|p| !common::alive(*p)), "survivors of kill --all");
}

#[test]
fn failed_create_and_delete_leave_no_cgroup() {
    let path = unique("failed");
    let b = Bundle::new(&["no-such-binary"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["pids"] = json!({"limit": 5});
    });
    let o = b.create("fail", &[]);
    assert!(!o.status.success());
    no_cgroup_left(&path);

    let b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    let o = b.run("ok");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    no_cgroup_left(&path);
    remove_parent(&path);
}

#[test]
fn a_pre_existing_cgroup_is_kept() {
    let path = unique("kept");
    let hierarchies: Vec<String> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name() != "unified")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for c in &hierarchies {
        std::fs::create_dir_all(cg_file(c, &path, "")).unwrap();
    }
    // On a hybrid host hull mirrors the cgroup in the cgroup2 tree: that it
    // made, and a failed create removes it, parent too; delete removes it.
    let unified = std::path::Path::new("/sys/fs/cgroup/unified");
    let mirror = unified.join(&path);
    let parent = unified.join(path.split('/').next().unwrap());
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    });
    let o = b.create("kept-failed", &[]);
    assert!(!o.status.success() && stderr(&o).contains("prestart"), "{}", stderr(&o));
    let after_failure = mirror.exists() || parent.exists();
    b.edit(|c| c["hooks"] = json!({}));
    b.run_ok("kept");
    assert!(
        cg_file("pids", &path, "").exists(),
        "a cgroup hull did not make was removed"
    );
    let left = mirror.exists().then(|| mirror.display().to_string());
    let _ = std::fs::remove_dir(&mirror);
    for c in &hierarchies {
        let _ = std::fs::remove_dir(cg_file(c, &path, ""));
    }
    remove_parent(&path);
    assert_eq!(left, None, "left behind in the cgroup2 tree");
    assert!(
        !after_failure,
        "a failed create left {} or its parent",
        mirror.display()
    );
}

/// Every hierarchy's directory for `path` (v1 ones and the cgroup2 tree)
/// that exists; aliases (`cpu` -> `cpu,cpuacct`) once.
fn existing(path: &str) -> Vec<String> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|h| h.file_type().is_ok_and(|t| t.is_dir()))
        .map(|h| h.path().join(path))
        .filter(|d| d.is_dir())
        .map(|d| d.display().to_string())
        .collect()
}

/// A cgroup that exists in one hierarchy only (as `cgcreate -g cpu:/x`
/// leaves it) is made in the others, and a failed create (parents too), or
/// delete, removes what it made there, and keeps the one it found.
#[test]
fn a_cgroup_found_in_one_hierarchy_keeps_it_and_loses_the_rest() {
    // `cpu` may be an alias of `cpu,cpuacct`.
    let Ok(found) = std::fs::canonicalize("/sys/fs/cgroup/cpu") else {
        eprintln!("no v1 cpu hierarchy: nothing to check");
        return;
    };
    if !found.join("cgroup.procs").exists() {
        eprintln!("no v1 cpu hierarchy: nothing to check");
        return;
    }
    let path = unique("found-in-cpu");
    let parent = path.split('/').next().unwrap().to_string();
    std::fs::create_dir_all(found.join(&path)).unwrap();
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["pids"] = json!({"limit": 5});
        c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    });
    let o = b.create("found-failed", &[]);
    assert!(!o.status.success() && stderr(&o).contains("prestart"), "{}", stderr(&o));
    let after_failure = existing(&parent);
    b.edit(|c| c["hooks"] = json!({}));
    b.run_ok("found");
    let after_delete = existing(&path);
    let parent_kept = cg_file("pids", &parent, "").is_dir();
    let _ = std::fs::remove_dir(found.join(&path));
    remove_parent(&path);
    assert_eq!(
        after_failure,
        [found.join(&parent).display().to_string()],
        "a failed create left these"
    );
    // Delete leaves the parents, as runc does (a create may be on its way into them).
    assert_eq!(
        after_delete,
        [found.join(&path).display().to_string()],
        "delete left these"
    );
    assert!(parent_kept, "delete removed the parent create made");
}

#[test]
fn a_cgroup_in_use_is_refused() {
    let path = unique("in-use");
    let first = Bundle::new(&["sleep", "60"]);
    first.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    assert!(first.run_detached("in-use-1").status.success());
    let second = Bundle::new(&["true"]);
    second.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    let o = second.create("in-use-2", &[]);
    assert!(!o.status.success(), "a second container joined a cgroup in use");
    assert!(
        stderr(&o).contains(&path) && stderr(&o).contains("1 process"),
        "{}",
        stderr(&o)
    );
    assert!(second.leftovers().is_empty());
    // The first container and its cgroup are as they were.
    assert_eq!(first.state("in-use-1")["status"], "running");
    assert!(cg_file("pids", &path, "").exists());
    assert!(first.out(&["delete", "--force", "in-use-1"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);

    // Processes in a cgroup below count too (systemd in a container keeps
    // none at its top).
    let nested = unique("in-use-below");
    let below = cg_file("pids", &nested, "sub");
    std::fs::create_dir_all(&below).unwrap();
    let mut sleeper = std::process::Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(below.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    second.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{nested}")));
    let o = second.create("in-use-3", &[]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir(&below);
    for c in [
        "pids",
        "memory",
        "cpu",
        "freezer",
        "devices",
        "blkio",
        "cpuset",
        "hugetlb",
        "net_cls",
        "perf_event",
        "rdma",
        "misc",
    ] {
        let _ = std::fs::remove_dir(cg_file(c, &nested, ""));
    }
    remove_parent(&nested);
    assert!(!o.status.success(), "a cgroup with processes below it was taken");
    assert!(stderr(&o).contains("1 process"), "{}", stderr(&o));
    assert!(second.leftovers().is_empty());
}

#[test]
fn hugetlb_and_unified_use_the_cgroup2_side_of_a_hybrid_host() {
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    let has_hugetlb = std::fs::read_to_string(unified.join("cgroup.controllers")).is_ok_and(|c| c.contains("hugetlb"));
    if !has_hugetlb || PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!("not a hybrid host with hugetlb on its cgroup2 side; nothing to check");
        return;
    }
    let path = unique("huge");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4194304}]);
        c["linux"]["resources"]["unified"] = json!({"hugetlb.1GB.max": "0"});
    });
    let o = b.run_detached("huge");
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = unified.join(&path);
    assert_eq!(read(&dir.join("hugetlb.2MB.max")), "4194304");
    assert_eq!(read(&dir.join("hugetlb.1GB.max")), "0");
    let pid = b.state("huge")["pid"].as_i64().unwrap().to_string();
    assert!(read(&dir.join("cgroup.procs")).lines().any(|l| l == pid));
    assert!(b.out(&["delete", "--force", "huge"]).status.success());
    assert!(!dir.exists(), "cgroup2 side left behind");
    let _ = std::fs::remove_dir(unified.join(format!("hull-test-{}", std::process::id())));
    remove_parent(&path);
}

#[test]
fn a_missing_controller_is_an_error_naming_it() {
    let path = unique("missing");
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["network"] = json!({"classID": 1048577});
    });
    let have_net_cls = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().split(',').any(|c| c == "net_cls"));
    let o = b.create("nocls", &[]);
    if have_net_cls {
        assert!(o.status.success(), "{}", stderr(&o));
    } else {
        assert!(!o.status.success());
        assert!(stderr(&o).contains("net_cls"), "{}", stderr(&o));
        assert!(stderr(&o).contains("linux.resources.network.classID"), "{}", stderr(&o));
        assert!(b.leftovers().is_empty());
        no_cgroup_left(&path);
    }
    remove_parent(&path);
}

#[test]
fn kernel_memory_is_ignored_with_a_warning_and_kernel_tcp_is_set() {
    let path = unique("kmem");
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864, "kernel": 1048576, "kernelTCP": 2097152});
    });
    let o = b.create("kmem", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("memory.kernel: ignored"), "{}", stderr(&o));
    let tcp = cg_file("memory", &path, "memory.kmem.tcp.limit_in_bytes");
    if tcp.exists() {
        assert_eq!(read(&tcp), "2097152");
    }
    assert!(b.out(&["delete", "--force", "kmem"]).status.success());
    remove_parent(&path);
}

#[test]
fn blkio_weight_lands_in_the_file_this_kernel_has() {
    let path = unique("blkio");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["blockIO"] = json!({"weight": 300});
    });
    let o = b.run_detached("bw");
    assert!(o.status.success(), "{}", stderr(&o));
    let files = [
        cg_file("blkio", &path, "blkio.weight"),
        cg_file("blkio", &path, "blkio.bfq.weight"),
    ];
    match files.iter().find(|f| f.exists()) {
        Some(f) => assert!(read(f).contains("300"), "{}: {}", f.display(), read(f)),
        None => assert!(
            stderr(&o).contains("skipped"),
            "no weight file and no warning: {}",
            stderr(&o)
        ),
    }
    assert!(b.out(&["delete", "--force", "bw"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

#[test]
fn events_stats_show_cpu_throttling() {
    let b = Bundle::new(&["sh", "-c", "while :; do :; done"]);
    b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"quota": 10000, "period": 100000}));
    assert!(b.run_detached("thr").status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = b.out(&["events", "--stats", "thr"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let ev: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(ev["type"], "stats");
        assert_eq!(ev["id"], "thr");
        assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1);
        assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
        if ev["data"]["cpu"]["throttling"]["throttledPeriods"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no throttling under a 10% quota: {ev}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_report_the_oom_killer() {
    let b = Bundle::new(&["sh", "-c", "sleep 0.5; tail /dev/zero; sleep 60"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432}));
    assert!(b.run_detached("oomev").status.success());
    let mut child = b
        .cmd(&["events", "--interval", "200ms", "oomev"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = vec![];
    let found = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                let v: serde_json::Value = serde_json::from_str(&l).unwrap();
                if v["type"] == "oom" {
                    break true;
                }
                seen.push(v["type"].to_string());
            }
            Err(_) if Instant::now() > deadline => break false,
            Err(_) => {}
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "no oom event; saw {seen:?}");
}

/// The init itself OOM-killed: events ends with the container and still
/// reports the kill (it stopped at the death it saw first, before).
#[test]
fn events_report_an_oom_kill_of_the_init() {
    let b = Bundle::new(&["tail", "/dev/zero"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432}));
    assert!(b.create("oominit", &[]).status.success());
    let mut child = b
        .cmd(&["events", "--interval", "30s", "oominit"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its first line (stats) comes once it has read the counter.
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let started = b.out(&["start", "oominit"]);
    assert!(started.status.success(), "{}", stderr(&started));
    let types: Vec<String> = std::iter::once(first)
        .chain(lines.map_while(Result::ok))
        .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap()["type"].to_string())
        .collect();
    let _ = child.wait();
    assert!(types.iter().any(|t| t == "\"oom\""), "no oom event: {types:?}");
    assert!(b.out(&["delete", "--force", "oominit"]).status.success());
}

#[test]
fn memory_cpu_pids_and_blkio_details_are_written() {
    let path = unique("details");
    let b = Bundle::new(&["sleep", "60"]);
    let root_dev = std::fs::metadata("/").unwrap();
    let (major, minor) = (
        libc::major(std::os::unix::fs::MetadataExt::dev(&root_dev)),
        libc::minor(std::os::unix::fs::MetadataExt::dev(&root_dev)),
    );
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["memory"] =
            json!({"limit": 67108864, "swap": 134217728, "swappiness": 10, "disableOOMKiller": true});
        c["linux"]["resources"]["cpu"] =
            json!({"quota": 30000, "period": 100000, "burst": 5000, "cpus": "0", "mems": "0"});
        c["linux"]["resources"]["pids"] = json!({"limit": 0});
        c["linux"]["resources"]["blockIO"] = json!({
            "throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]
        });
    });
    let o = b.run_detached("details");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(&cg_file("memory", &path, "memory.swappiness")), "10");
    assert_eq!(
        read(&cg_file("memory", &path, "memory.memsw.limit_in_bytes")),
        "134217728"
    );
    assert!(read(&cg_file("memory", &path, "memory.oom_control")).contains("oom_kill_disable 1"));
    if cg_file("cpu", &path, "cpu.cfs_burst_us").exists() {
        assert_eq!(read(&cg_file("cpu", &path, "cpu.cfs_burst_us")), "5000");
    }
    assert_eq!(read(&cg_file("cpuset", &path, "cpuset.cpus")), "0");
    assert_eq!(
        read(&cg_file("pids", &path, "pids.max")),
        "0",
        "a pids limit of 0 is a limit"
    );
    let dev = format!("{major}:{minor}");
    assert_eq!(
        read(&cg_file("blkio", &path, "blkio.throttle.read_bps_device")),
        format!("{dev} 1048576")
    );
    assert_eq!(
        read(&cg_file("blkio", &path, "blkio.throttle.write_iops_device")),
        format!("{dev} 100")
    );
    assert!(b.out(&["delete", "--force", "details"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

#[test]
fn update_moves_the_cpu_quota_and_burst_past_each_other() {
    let path = unique("burst");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000, "burst": 20000});
    });
    assert!(b.run_detached("burst").status.success());
    let burst = cg_file("cpu", &path, "cpu.cfs_burst_us");
    if !burst.exists() {
        eprintln!("skipped: no CFS burst in this kernel");
        assert!(b.out(&["delete", "--force", "burst"]).status.success());
        return remove_parent(&path);
    }
    // The kernel refuses a quota below the burst, and a burst above the quota.
    for (quota, new_burst) in [(10000, 5000), (100000, 80000)] {
        let res = b.tmp.path().join("cpu.json");
        std::fs::write(&res, json!({"cpu": {"quota": quota, "burst": new_burst}}).to_string()).unwrap();
        let o = b.out(&["update", "--resources", res.to_str().unwrap(), "burst"]);
        assert!(o.status.success(), "quota {quota} burst {new_burst}: {}", stderr(&o));
        assert_eq!(read(&cg_file("cpu", &path, "cpu.cfs_quota_us")), quota.to_string());
        assert_eq!(read(&burst), new_burst.to_string());
    }
    assert!(b.out(&["delete", "--force", "burst"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

/// The kernel takes no shares (v2: weight) for an idle cgroup: with idle
/// they go unwritten, and leaving idle, the shares come after.
#[test]
fn an_idle_cgroup_is_given_shares_only_once_it_leaves_idle() {
    let path = unique("idle");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
        c["linux"]["resources"]["cpu"] = json!({"idle": 1, "shares": 512});
    });
    assert!(b.run_detached("idle").status.success());
    let idle = cg_file("cpu", &path, "cpu.idle");
    if !idle.exists() {
        eprintln!("skipped: no cpu.idle in this kernel");
        assert!(b.out(&["delete", "--force", "idle"]).status.success());
        return remove_parent(&path);
    }
    assert_eq!(read(&idle), "1");
    let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists();
    let weight = cg_file("cpu", &path, if v2 { "cpu.weight" } else { "cpu.shares" });
    for (cpu, want_idle) in [
        (json!({"idle": 1, "shares": 4096}), "1"),
        (json!({"idle": 0, "shares": 2048}), "0"),
    ] {
        let res = b.tmp.path().join("cpu.json");
        std::fs::write(&res, json!({ "cpu": cpu }).to_string()).unwrap();
        let o = b.out(&["update", "--resources", res.to_str().unwrap(), "idle"]);
        assert!(o.status.success(), "{cpu}: {}", stderr(&o));
        assert_eq!(read(&idle), want_idle, "{cpu}");
    }
    assert_eq!(read(&weight), if v2 { "79" } else { "2048" });
    assert!(b.out(&["delete", "--force", "idle"]).status.success());
    no_cgroup_left(&path);
    remove_parent(&path);
}

#[test]
fn update_checks_usage_before_lowering_and_ps_prints_a_table() {
    let b = Bundle::new(&["sh", "-c", "x=$(head -c 4000000 /dev/zero | tr '\\0' a); sleep 60"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 134217728}));
    assert!(b.run_detached("cbu").status.success());
    std::thread::sleep(Duration::from_millis(500));
    let res = b.tmp.path().join("low.json");
    std::fs::write(&res, r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#).unwrap();
    let o = b.out(&["update", "--resources", res.to_str().unwrap(), "cbu"]);
    assert!(!o.status.success(), "a limit below usage must be refused");
    assert!(stderr(&o).contains("checkBeforeUpdate"), "{}", stderr(&o));

    let o = b.out(&["ps", "cbu"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"), "{table}");
    let pid = b.state("cbu")["pid"].to_string();
    assert!(
        lines.any(|l| l.split_whitespace().nth(1) == Some(pid.as_str())),
        "{table}"
    );
}

#[test]
fn without_device_rules_only_default_and_own_devices_open() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "(exec 3</nodes/full) 2>/dev/null && echo full-ok; (exec 3</nodes/tun) 2>/dev/null || echo tun-denied; \
         (exec 3</dev/fuse) 2>/dev/null && echo own-fuse-ok",
    ]);
    // Nodes the image brings (not in linux.devices): a default one, and one no rule allows.
    std::fs::create_dir_all(b.rootfs().join("nodes")).unwrap();
    for (name, major, minor) in [("full", 1, 7), ("tun", 10, 200)] {
        let path = std::ffi::CString::new(b.rootfs().join("nodes").join(name).to_str().unwrap()).unwrap();
        // SAFETY: mknod with a valid C path.
        assert_eq!(
            unsafe { libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(major, minor)) },
            0
        );
    }
    b.edit(|c| {
        c["linux"].as_object_mut().unwrap().remove("resources");
        c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]);
    });
    assert_eq!(b.run_ok("nodevrules"), "full-ok\ntun-denied\nown-fuse-ok\n");
}

/// The container reads its own limits at the standard paths, and sees no
/// other container's cgroup: runc's view, with and without a cgroup
/// namespace, read-only unless the cgroup mount says rw.
#[test]
fn the_container_sees_its_own_cgroups_only() {
    let v2 = PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists();
    let (mem, pids, quota, dir) = if v2 {
        ("memory.max", "pids.max", "cpu.max", "")
    } else {
        (
            "memory/memory.limit_in_bytes",
            "pids/pids.max",
            "cpu/cpu.cfs_quota_us",
            "pids/",
        )
    };
    let neighbour_path = unique("view-neighbour");
    let neighbour = Bundle::new(&["sleep", "60"]);
    neighbour.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{neighbour_path}")));
    assert!(neighbour.run_detached("view-neighbour").status.success());
    let neighbour_pid = neighbour.state("view-neighbour")["pid"].as_i64().unwrap();
    // Without a cgroup namespace read-only; with one, and the mount rw.
    for (cgroupns, rw) in [(false, false), (true, true)] {
        let path = unique(&format!("view-{cgroupns}"));
        let script = format!(
            "cat /sys/fs/cgroup/{mem} /sys/fs/cgroup/{pids} /sys/fs/cgroup/{quota}; \
             cat /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/cgroup.procs 2>/dev/null | sort -u | tr '\\n' ' '; echo; \
             find /sys/fs/cgroup -name 'hull-test-*' | head -3; \
             mkdir /sys/fs/cgroup/{dir}probe 2>/dev/null && rmdir /sys/fs/cgroup/{dir}probe && echo writable || echo read-only"
        );
        let b = Bundle::new(&["sh", "-c", &script]);
        b.edit(|c| {
            c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
            c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
            c["linux"]["resources"]["pids"] = json!({"limit": 42});
            c["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000});
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "cgroup");
            if cgroupns {
                ns.push(json!({"type": "cgroup"}));
            }
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["type"] == "cgroup" && rw {
                    m["options"] = json!(["nosuid", "noexec", "nodev", "relatime", "rw"]);
                }
            }
        });
        let out = b.run_ok(&format!("view-{cgroupns}"));
        let lines: Vec<&str> = out.lines().collect();
        let want_quota = if v2 { "50000 100000" } else { "50000" };
        assert_eq!(lines[..3], ["67108864", "42", want_quota], "cgroupns {cgroupns}: {out}");
        // Only the container's own processes (sh and the commands it runs).
        assert!(
            !lines[3].split(' ').any(|p| p == neighbour_pid.to_string()),
            "cgroupns {cgroupns}: another container's pid is visible: {out}"
        );
        assert!(lines[3].split_whitespace().count() <= 6, "cgroupns {cgroupns}: {out}");
        let want = if rw { "writable" } else { "read-only" };
        assert_eq!(lines[4], want, "cgroupns {cgroupns}: {out}");
        remove_parent(&path);
    }
    let _ = neighbour.out(&["delete", "--force", "view-neighbour"]);
    remove_parent(&neighbour_path);
}

/// Every way create can fail once the cgroup is made leaves no directory of
/// it, nor of the parents it made, in any hierarchy (the hybrid host's
/// cgroup2 side included).
#[test]
fn every_failure_after_the_cgroup_is_made_leaves_no_directory() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 6] = [
        ("program", |c| c["process"]["args"] = json!(["/no/such/program"])),
        ("hook", |c| {
            c["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
        }),
        ("sysctl", |c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "not-a-number"})
        }),
        (
            "rlimit",
            |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1099511627776u64}]),
        ),
        ("cwd-file", |c| c["process"]["cwd"] = json!("/etc/passwd")),
        ("hugetlb", |c| {
            c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "3MB", "limit": 1}])
        }),
    ];
    for (name, edit) in cases {
        let path = unique(&format!("fails-{name}"));
        let parent = path.split('/').next().unwrap().to_string();
        let b = Bundle::new(&["true"]);
        b.edit(|c| {
            c["linux"]["cgroupsPath"] = json!(format!("/{path}"));
            c["linux"]["resources"]["pids"] = json!({"limit": 5});
            edit(c);
        });
        let o = b.create(&format!("fails-{name}"), &[]);
        assert!(!o.status.success(), "{name}: create succeeded");
        let left = existing(&parent);
        remove_parent(&path);
        assert!(left.is_empty(), "{name}: {left:?} left behind ({})", stderr(&o));
        assert!(b.leftovers().is_empty(), "{name}: state left");
    }
}

/// On a hybrid host the container's processes are also in the cgroup2 tree at
/// the same path, as runc places them, and delete removes that directory.
#[test]
fn a_hybrid_host_places_the_container_in_the_cgroup2_tree_too() {
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    if !unified.join("cgroup.procs").exists() {
        eprintln!("not a hybrid host: nothing to check");
        return;
    }
    let path = unique("hybrid-placement");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    assert!(b.run_detached("hyb").status.success());
    let pid = b.state("hyb")["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l == format!("0::/{path}")), "{own}");
    assert!(read(&unified.join(&path).join("cgroup.procs"))
        .lines()
        .any(|l| l == pid.to_string()));
    assert!(b.out(&["delete", "--force", "hyb"]).status.success());
    assert!(!unified.join(&path).exists(), "the cgroup2 directory was left");
    remove_parent(&path);
}

/// `--rootless true`, as in runc, even for root: no cgroup unless the config
/// asks for limits; without the flag root's container gets its cgroup.
#[test]
fn rootless_true_makes_no_cgroup_without_limits() {
    let b = Bundle::new(&["sleep", "60"]);
    let dir = b.dir();
    let id = format!("rootless-flag-{}", std::process::id());
    let o = b.out_detached(&[
        "--rootless",
        "true",
        "run",
        "-d",
        "--bundle",
        dir.to_str().unwrap(),
        &id,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let made = cg_file("pids", &format!("hull/{id}"), "");
    assert!(!made.exists(), "{} made under --rootless true", made.display());
    assert!(b.out(&["delete", "--force", &id]).status.success());
    let o = b.out_detached(&["run", "-d", "--bundle", dir.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(made.exists(), "no cgroup for root without the flag");
    assert!(b.out(&["delete", "--force", &id]).status.success());
}
