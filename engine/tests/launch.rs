//! `hull launch` end to end: real images (hack/images.sh's busybox), real
//! cgroups, the supervisor and recovery, through `hull` as users call it.
//! Each test has its own --root, --engine-dir and --store, and destroys
//! what it launched, also when it fails.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{image, kill9, nothing_left, ok, stderr, stdout, Engine};
use serde_json::Value;

#[test]
fn foreground_launch_gives_the_exit_code_and_leaves_nothing() {
    let e = Engine::new();
    let o = e.launch(&[
        "--name",
        "fg",
        "--cpus",
        "0.5",
        "--",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us; echo $HULL_SANDBOX; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).split_whitespace().collect::<Vec<_>>(),
        ["50000", "100000", "/mnt/sandbox"]
    );
    assert!(!e.dir().join("fg").exists(), "{}", stderr(&o));
    nothing_left(&e, "fg");
}

#[test]
fn a_memory_hog_ends_with_reason_oom() {
    let e = Engine::new();
    ok(e.launch(&[
        "-d",
        "--name",
        "hog",
        "--memory",
        "32m",
        "--",
        "sh",
        "-c",
        "x=a; while true; do x=$x$x; done",
    ]));
    let r = e.wait_exited("hog");
    assert_eq!(r["reason"], "oom", "{r}");
    assert_eq!(r["limits"]["memory"], 32 << 20);
    ok(e.out("destroy", &["hog"]));
    nothing_left(&e, "hog");
}

#[test]
fn a_fork_loop_stops_at_the_pids_limit() {
    let e = Engine::new();
    let o = e.launch(&["--pids", "20", "--", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max; for i in $(seq 40); do sleep 5 & done; echo forked; kill $(jobs -p) 2>/dev/null"]);
    let out = stdout(&o);
    assert!(out.starts_with("20\n"), "{out}");
    assert!(
        stderr(&o).contains("can't fork") || stderr(&o).contains("Resource temporarily unavailable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn read_only_volumes_and_image_volumes_are_read_only_inside() {
    let e = Engine::new();
    let host = e.tmp.path().join("vol");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("f"), "from the host\n").unwrap();
    let ro = format!("{}:/data:ro", host.display());
    let rw = format!("{}:/rw", host.display());
    let img = format!("{}:/img", image());
    let script = "cat /data/f; touch /data/x; echo written > /rw/y; cat /img/data/marker; touch /img/z";
    let o = e.launch(&[
        "--name",
        "vols",
        "-v",
        &ro,
        "-v",
        &rw,
        "--image-volume",
        &img,
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(stdout(&o), "from the host\nhull-image\n");
    assert_eq!(stderr(&o).matches("Read-only file system").count(), 2, "{}", stderr(&o));
    nothing_left(&e, "vols");
    assert!(!host.join("x").exists());
    assert_eq!(std::fs::read_to_string(host.join("y")).unwrap(), "written\n");
}

#[test]
fn a_secret_is_readable_inside_and_on_no_disk_outside() {
    let e = Engine::new();
    let secret = e.tmp.path().join("token");
    let value = format!("s3cr3t-{}", std::process::id());
    std::fs::write(&secret, &value).unwrap();
    let arg = format!("{}:/run/token", secret.display());
    let o = e.launch(&["--secret", &arg, "--", "cat", "/run/token"]);
    assert_eq!(ok(o), value);
    // While one runs, its bytes are on the secrets tmpfs and nowhere else
    // under the engine's directory (the bundle, the rootfs, the sandbox).
    ok(e.launch(&["-d", "--name", "sec", "--secret", &arg, "--", "sleep", "30"]));
    let secrets = e.dir().join("sec/secrets");
    let fs = nix::sys::statfs::statfs(&secrets).unwrap();
    assert_eq!(fs.filesystem_type(), nix::sys::statfs::TMPFS_MAGIC);
    let o = Command::new("grep")
        .args([
            "-rlx",
            "--no-messages",
            "--exclude-dir=secrets",
            "--exclude-dir=rootfs",
            &value,
        ])
        .arg(e.dir())
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "", "the secret is on disk");
    ok(e.out("destroy", &["sec"]));
    nothing_left(&e, "sec");
}

#[test]
fn a_writer_past_the_disk_quota_ends_with_reason_disk() {
    let e = Engine::new();
    ok(e.launch(&[
        "-d",
        "--name",
        "du",
        "--disk",
        "10m",
        "--",
        "sh",
        "-c",
        "dd if=/dev/zero of=/mnt/sandbox/big bs=1M count=40; sleep 30",
    ]));
    let r = e.wait_exited("du");
    assert_eq!(r["reason"], "disk", "{r}");
    ok(e.out("destroy", &["du"]));
    nothing_left(&e, "du");
}

#[test]
fn without_an_image_the_hosts_usr_is_read_only_and_tmp_is_its_own() {
    let e = Engine::new();
    let mark = format!("hull-engine-{}", std::process::id());
    let host_only = e.tmp.path().join("host-only");
    std::fs::write(&host_only, "").unwrap();
    let script = format!(
        "ls /usr/bin/env && touch /usr/{mark}; touch /tmp/{mark} && ls /tmp/{mark}; ls {} || echo no-host-file; pwd",
        host_only.display()
    );
    let o = e.launch_no_image(&["--name", "noimg", "--", "sh", "-c", &script]);
    let out = stdout(&o);
    assert!(stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        ["/usr/bin/env", &format!("/tmp/{mark}"), "no-host-file"],
        "{out}"
    );
    assert!(lines[3].ends_with("/noimg/sandbox"), "its cwd is its sandbox: {out}");
    assert!(!Path::new("/tmp").join(&mark).exists() && !Path::new("/usr").join(&mark).exists());
    nothing_left(&e, "noimg");
}

#[test]
fn the_posix_launcher_runs_in_the_hosts_namespaces_inside_its_cgroup() {
    let e = Engine::new();
    let o = e.launch_no_image(&[
        "--launcher",
        "posix",
        "--name",
        "px",
        "--memory",
        "64m",
        "--",
        "sh",
        "-c",
        "readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/net; grep memory /proc/self/cgroup; pwd",
    ]);
    let out = ok(o);
    let lines: Vec<&str> = out.lines().collect();
    for (i, ns) in ["pid", "mnt", "net"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_eq!(lines[i], host.to_str().unwrap(), "{ns}");
    }
    assert!(lines[3].ends_with(":/hull/px"), "{out}");
    assert!(lines[4].ends_with("/px/sandbox"), "its cwd is its sandbox: {out}");
}

#[test]
fn update_changes_the_limit_seen_inside_and_usage_reports_it() {
    let e = Engine::new();
    ok(e.launch(&[
        "-d", "--name", "up", "--memory", "32m", "--cpus", "1", "--", "sleep", "30",
    ]));
    ok(e.out("update", &["up", "--memory", "64m", "--cpus", "0.25"]));
    let inside = ok(e.out(
        "exec",
        &[
            "up",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        ],
    ));
    assert_eq!(inside.split_whitespace().collect::<Vec<_>>(), ["67108864", "25000"]);
    let usage: Value = serde_json::from_slice(&ok(e.out("usage", &["up"])).into_bytes()).unwrap();
    assert_eq!(usage["mem_limit_bytes"], 64 << 20, "{usage}");
    assert!(usage["mem_total_bytes"].as_u64().unwrap() > 0, "{usage}");
    assert_eq!(e.inspect("up")["limits"]["cpus"], 0.25);
    let o = e.out("update", &["up", "--pids", "10"]);
    assert!(
        !o.status.success() && stderr(&o).contains("cgroups/pids"),
        "{}",
        stderr(&o)
    );
    ok(e.out("destroy", &["up"]));
    nothing_left(&e, "up");
}

#[test]
fn recover_adopts_a_running_container_and_cleans_up_a_dead_one() {
    let e = Engine::new();
    ok(e.launch(&["-d", "--name", "live", "--memory", "32m", "--", "sleep", "60"]));
    ok(e.launch(&["-d", "--name", "dead", "--memory", "32m", "--", "sleep", "60"]));
    // Read before any kill: every engine verb (inspect too) recovers the id it touches.
    let (live, dead) = (e.inspect("live"), e.inspect("dead"));
    for (r, which) in [(&live, "supervisor"), (&dead, "supervisor"), (&dead, "pid")] {
        kill9(r, which);
    }
    std::thread::sleep(Duration::from_millis(200));
    let said = ok(e.out("recover", &[]));
    assert!(
        said.contains("live: adopted") && said.contains("dead: cleaned up"),
        "{said}"
    );
    let live = e.inspect("live");
    assert_eq!(live["status"], "running");
    let sup = live["supervisor"][0].as_i64().unwrap() as i32;
    assert!(Path::new(&format!("/proc/{sup}")).exists(), "no new supervisor: {live}");
    let dead = e.inspect("dead");
    assert_eq!(dead["status"], "exited");
    assert_eq!(dead["cleaned"], true);
    assert!(!e.root().join("dead").exists() && !Path::new("/sys/fs/cgroup/memory/hull/dead").exists());
    // The new supervisor still sees the container to its end.
    ok(e.out("destroy", &["live"]));
    ok(e.out("destroy", &["dead"]));
    nothing_left(&e, "live");
    nothing_left(&e, "dead");
}

#[test]
fn bad_requests_name_the_flag_and_leave_nothing() {
    let e = Engine::new();
    for (args, want) in [
        (vec!["--memory", "lots", "--", "true"], "--memory"),
        (vec!["--cpus", "0", "--", "true"], "--cpus"),
        (vec!["-v", "/no/such/dir:/x", "--", "true"], "/no/such/dir"),
        (vec!["--isolation", "cgroups/gpu", "--", "true"], "cgroups/gpu"),
        (
            vec!["--isolation", "filesystem/linux", "--memory", "8m", "--", "true"],
            "cgroups/mem",
        ),
        (vec!["--launcher", "posix", "--", "true"], "--launcher posix"),
        (vec!["--name", "a/b", "--", "true"], "--name"),
    ] {
        let o = e.launch(&args);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert!(
        std::fs::read_dir(e.dir()).map_or(true, |mut d| d.next().is_none()),
        "something was left"
    );
}

#[test]
fn process_isolators_and_sandbox_volumes_reach_the_container() {
    let e = Engine::new();
    let token = e.tmp.path().join("token");
    std::fs::write(&token, "t0k3n\n").unwrap();
    let env_secret = format!("TOKEN={}", token.display());
    let isolation = "posix/rlimits,linux/capabilities,environment_secret,namespaces/ipc,\
                     volume/sandbox_path,linux/nnp,linux/seccomp";
    let script = "ulimit -n; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t' ' '; \
                  echo $TOKEN; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; \
                  echo shared > /shared/x; unshare -U true 2>&1 | grep -c 'not permitted'";
    let out = ok(e.launch(&[
        "--isolation",
        isolation,
        "--rlimit",
        "nofile=100:200",
        "--capabilities",
        "CHOWN",
        "--env-secret",
        &env_secret,
        "--shm-size",
        "8m",
        "-v",
        "sandbox:shared:/shared",
        "--",
        "sh",
        "-c",
        script,
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "100",
            "CapEff: 0000000000000001",
            "NoNewPrivs: 1",
            "Seccomp: 2",
            "t0k3n",
            "8192",
            "1"
        ],
        "{out}"
    );
    // The named sandbox volume outlives the container, for the next that names it.
    let x = e.dir().join(".volumes/shared/x");
    assert_eq!(std::fs::read_to_string(x).unwrap(), "shared\n");
}

/// A container's root can leave a setuid-root program in its sandbox or its
/// rootfs (the overlay's upper directory), and an image can carry one in
/// its layers: none may be within a host user's reach, or any of them runs
/// it as root. The engine's container directories, the bundles the
/// provisioner makes and its store are their owner's alone.
#[test]
fn a_host_user_cannot_run_what_a_container_or_an_image_left_setuid() {
    use std::os::unix::process::CommandExt;
    let e = Engine::new();
    // As /var/lib is: the test's own directory is no barrier.
    std::fs::set_permissions(e.tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let tools = e.tmp.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    let source = tools.join("euid.c");
    std::fs::write(&source, "#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf(\"euid=%d\\n\", (int)geteuid()); return 0; }\n").unwrap();
    let o = Command::new("cc")
        .arg("-static")
        .arg("-o")
        .arg(tools.join("euid"))
        .arg(&source)
        .output()
        .unwrap();
    assert!(o.status.success(), "cc: {}", stderr(&o));
    let tools_volume = format!("{}:/tools:ro", tools.display());
    ok(e.launch(&[
        "-d",
        "--name",
        "planter",
        // Its upper directory is what is checked (auto could copy).
        "--backend",
        "overlay",
        "-v",
        &tools_volume,
        "-v",
        "sandbox:shared:/shared",
        "--pod",
        "planters",
        "--",
        "sh",
        "-c",
        "for d in $HULL_SANDBOX /bin /shared /mnt/pod; do cp /tools/euid $d/euid && chmod 4755 $d/euid; done; \
         touch $HULL_SANDBOX/planted; sleep 100",
    ]));
    let dir = e.dir().join("planter");
    common::eventually(10, || dir.join("sandbox/planted").exists());
    let planted = [
        dir.join("sandbox/euid"),
        dir.join("bundle/upper/bin/euid"),
        e.dir().join(".volumes/shared/euid"),
        e.dir().join(".pods/planters/shared/euid"),
    ];
    for p in &planted {
        assert!(p.exists(), "{} was not planted", p.display());
    }
    let store_layers = e.tmp.path().join("store/layers");
    let store_blobs = e.tmp.path().join("store/blobs/sha256");
    for p in planted.iter().chain([&store_layers, &store_blobs]) {
        let o = Command::new("/bin/ls")
            .arg("-l")
            .arg(p)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "a host user reaches {}: {}",
            p.display(),
            stdout(&o)
        );
    }
    for p in &planted {
        let o = Command::new(p).uid(65534).gid(65534).output();
        assert!(
            o.as_ref().map_or(true, |o| !o.status.success()),
            "a host user ran {}: {}",
            p.display(),
            o.map(|o| stdout(&o)).unwrap_or_default()
        );
    }
    ok(e.out("destroy", &["planter"]));
    nothing_left(&e, "planter");
}

/// Without an image (the linux or the posix launcher) the sandbox is
/// reached by its host path, so its container's directory lets the
/// container's user through: the sandbox is that user's, writable, and no
/// other host user's.
#[test]
fn a_sandbox_reached_by_its_host_path_is_its_users_alone() {
    use std::os::unix::process::CommandExt;
    let e = Engine::new();
    std::fs::set_permissions(e.tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for (name, launcher) in [("own-linux", "linux"), ("own-posix", "posix")] {
        // The linux launcher's container has a network of its own, and its
        // /etc/hosts, hostname and resolv.conf from the engine.
        let network: &[&str] = if launcher == "linux" {
            &["--network", "none"]
        } else {
            &[]
        };
        let script = "cd $HULL_SANDBOX && cat /etc/hostname > host && echo mine > f && sleep 100";
        let mut args = vec!["-d", "--name", name, "--launcher", launcher, "-u", "nobody"];
        args.extend_from_slice(network);
        args.extend_from_slice(&["--", "sh", "-c", script]);
        ok(e.launch_no_image(&args));
        let f = e.dir().join(name).join("sandbox/f");
        common::eventually(10, || f.exists());
        assert_eq!(
            std::fs::read_to_string(&f).unwrap_or_default(),
            "mine\n",
            "{launcher}: the sandbox is not its user's"
        );
        // Nothing its container's directory holds, open to its user to pass,
        // is another host user's to reach: not the sandbox, nor the bundle,
        // record or /etc files (which name the container's addresses). The
        // network namespace's file may be opened, which gives nothing
        // without CAP_SYS_ADMIN over the namespace.
        for entry in std::fs::read_dir(e.dir().join(name)).unwrap().flatten() {
            let p = entry.path();
            if entry.file_name() == "netns" {
                continue;
            }
            let o = Command::new("/bin/sh")
                .args(["-c", "test -r \"$1\" || test -x \"$1\"", "sh"])
                .arg(&p)
                .uid(65533)
                .gid(65533)
                .output()
                .unwrap();
            assert!(
                !o.status.success(),
                "{launcher}: another host user reaches {}",
                p.display()
            );
        }
        if launcher == "linux" {
            let seen = std::fs::read_to_string(e.dir().join(name).join("sandbox/host")).unwrap_or_default();
            assert_eq!(seen, format!("{name}\n"), "the container's /etc/hostname");
        }
        ok(e.out("destroy", &[name]));
        nothing_left(&e, name);
    }
}
