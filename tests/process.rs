//! The container process: args through PATH, env, cwd, user, umask,
//! capabilities, rlimits, no_new_privs, oom_score_adj, and its fds.

mod common;

use std::os::fd::AsRawFd;

use common::{stderr, stdout, Bundle};
use serde_json::json;

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} missing"))
        .trim()
        .to_string()
}

#[test]
fn args_env_cwd() {
    let b = Bundle::new(&["sh", "-c", "echo $FOO; pwd; echo $PATH"]);
    b.edit(|c| {
        c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "FOO=bar baz"]);
        c["process"]["cwd"] = json!("/tmp");
    });
    assert_eq!(b.run_ok("env"), "bar baz\n/tmp\n/bin:/usr/bin\n");
}

#[test]
fn user_groups_and_umask() {
    let b = Bundle::new(&["sh", "-c", "id -u; id -g; id -G; umask"]);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63});
    });
    let out = b.run_ok("user");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    let groups: Vec<&str> = lines[2].split(' ').collect();
    assert!(groups.contains(&"5") && groups.contains(&"7"), "{out}");
    assert_eq!(lines[3], "0077");
}

#[test]
fn capabilities_sets() {
    let b = Bundle::new(&["cat", "/proc/self/status"]);
    b.edit(|c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        });
        c["process"]["noNewPrivileges"] = json!(false);
    });
    let st = b.run_ok("caps");
    // CHOWN = bit 0, KILL = bit 5, NET_BIND_SERVICE = bit 10. exec recomputes
    // effective from permitted for root, so check bounding, inheritable, ambient exactly.
    assert_eq!(status_field(&st, "CapBnd"), "0000000000000421");
    assert_eq!(status_field(&st, "CapInh"), "0000000000000020");
    assert_eq!(status_field(&st, "CapAmb"), "0000000000000020");
    assert_eq!(status_field(&st, "NoNewPrivs"), "0");
}

#[test]
fn non_root_user_keeps_only_ambient_caps() {
    let b = Bundle::new(&["cat", "/proc/self/status"]);
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
            "effective": ["CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        });
    });
    let st = b.run_ok("caps-user");
    assert_eq!(status_field(&st, "CapEff"), "0000000000000400");
    assert_eq!(status_field(&st, "CapPrm"), "0000000000000400");
    assert_eq!(status_field(&st, "Uid").split_whitespace().next(), Some("1000"));
}

#[test]
fn no_new_privileges_and_oom_score_adj() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj",
    ]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["oomScoreAdj"] = json!(123);
    });
    let out = b.run_ok("nnp");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.ends_with("123\n"), "{out}");
}

/// An exec'd process gets the container's oomScoreAdj (or its own from
/// --process), not the caller's: a shim's is often far below the
/// container's, which would make `kubectl exec` processes the last the OOM
/// killer picks.
#[test]
fn exec_gets_the_containers_oom_score_adj() {
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| c["process"]["oomScoreAdj"] = json!(300));
    let o = b.run_detached("oom-exec");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = b.out(&["exec", "oom-exec", "cat", "/proc/self/oom_score_adj"]);
    assert_eq!(stdout(&o), "300\n", "{}", stderr(&o));
    let f = b.tmp.path().join("process.json");
    let p = json!({"args": ["cat", "/proc/self/oom_score_adj"], "cwd": "/", "user": {"uid": 0, "gid": 0},
                   "oomScoreAdj": 500});
    std::fs::write(&f, serde_json::to_vec(&p).unwrap()).unwrap();
    let o = b.out(&["exec", "--process", f.to_str().unwrap(), "oom-exec"]);
    assert_eq!(stdout(&o), "500\n", "{}", stderr(&o));
}

#[test]
fn rlimits() {
    let b = Bundle::new(&["cat", "/proc/self/limits"]);
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}
        ]);
    });
    let out = b.run_ok("rl");
    let row = |name: &str| -> Vec<String> {
        out.lines().find(|l| l.starts_with(name)).unwrap()[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(row("Max open files"), ["512", "1024"]);
    assert_eq!(row("Max core file size"), ["0", "0"]);
    assert_eq!(row("Max processes"), ["300", "400"]);
}

#[test]
fn only_stdio_fds_reach_the_container() {
    // An fd the caller leaked without CLOEXEC must not reach the container.
    let leak = std::fs::File::open("/etc/hostname").unwrap();
    let fd = leak.as_raw_fd();
    // SAFETY: clearing FD_CLOEXEC on an fd this test owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let b = Bundle::new(&["sh", "-c", "ls /proc/self/fd"]);
    let out = b.run_ok("fds");
    let fds: Vec<&str> = out.split_whitespace().collect();
    // 0-2, plus the fd ls itself opens to read the directory.
    assert!(fds.len() <= 4 && fds[..3] == ["0", "1", "2"], "fds: {fds:?}");
    assert!(
        !fds.contains(&fd.to_string().as_str()) || fd <= 3,
        "leaked fd {fd}: {fds:?}"
    );
    drop(leak);
}

/// The child gets `raw` as its fd 3, inheritable.
fn pass_as_fd3(cmd: &mut std::process::Command, raw: std::os::fd::RawFd) {
    // SAFETY: dup2 and fcntl in the child between fork and exec, on fds it owns.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(cmd, move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2(3, 3) is a no-op that keeps close-on-exec: clear it either way.
            libc::fcntl(3, libc::F_SETFD, 0);
            Ok(())
        });
    }
}

#[test]
fn preserve_fds_passes_extra_fds() {
    let b = Bundle::new(&["sh", "-c", "cat <&3"]);
    let path = b.tmp.path().join("passed");
    std::fs::write(&path, "through-fd-3").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let dir = b.dir();
    let mut cmd = b.cmd(&["run", "--preserve-fds", "1", "--bundle", dir.to_str().unwrap(), "pfd"]);
    pass_as_fd3(&mut cmd, file.as_raw_fd());
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "through-fd-3");
}

#[test]
fn cwd_through_a_leaked_fd_is_refused() {
    let b = Bundle::new(&["pwd"]);
    for n in 3..8 {
        b.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
        let o = b.run(&format!("cwd{n}"));
        // Whatever fd N was in hull, the container must never start there:
        // printing any directory at all would mean it did.
        let out = stdout(&o);
        assert!(!o.status.success() && out.is_empty(), "cwd fd {n}: {out}");
    }
    assert!(b.leftovers().is_empty());
}

#[test]
fn signals_start_at_their_defaults() {
    // Rust ignores SIGPIPE in hull itself; the container must not inherit that.
    let b = Bundle::new(&["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    let out = b.run_ok("sigs");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    assert!(out.contains("SigIgn:\t0000000000000000"), "{out}");
}

#[test]
fn missing_cwd_is_created() {
    let b = Bundle::new(&["pwd"]);
    b.edit(|c| c["process"]["cwd"] = json!("/not/there/yet"));
    assert_eq!(b.run_ok("cwd-new"), "/not/there/yet\n");
}

#[test]
fn socket_activation_passes_listen_fds() {
    let b = Bundle::new(&["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
    let path = b.tmp.path().join("activated");
    std::fs::write(&path, "from-the-activator").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let raw = file.as_raw_fd();
    let dir = b.dir();
    // sh execs hull, so $$ is hull's pid, as a service manager would set it.
    let script = format!(
        "LISTEN_FDS=1 LISTEN_PID=$$ exec {} --root {} run --bundle {} act",
        common::HULL,
        b.root.display(),
        dir.display()
    );
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", &script]).stdin(std::process::Stdio::null());
    pass_as_fd3(&mut cmd, raw);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "1 1\nfrom-the-activator");
}

/// linux.personality and linux.memoryPolicy reach the init and every exec'd
/// process (`podman run --personality LINUX32` sets the first).
#[test]
fn personality_and_memory_policy_reach_init_and_exec() {
    // The init records its own view: reading /proc/1 from an exec'd process
    // needs ptrace rights Yama may deny.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/personality > /dev/shm/init; cat /proc/self/numa_maps >> /dev/shm/init 2>&1; exec sleep 60",
    ]);
    b.edit(|c| {
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
        c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    });
    let o = b.run_detached("persona");
    assert!(o.status.success(), "{}", stderr(&o));
    let exec = |script: &str| {
        let o = b.out(&["exec", "persona", "sh", "-c", script]);
        assert!(o.status.success(), "{script}: {}", stderr(&o));
        stdout(&o)
    };
    let init = || exec("cat /dev/shm/init 2>/dev/null; true");
    assert!(common::eventually(10, || init().contains(" bind:0 ")), "{}", init());
    // PER_LINUX32, include/uapi/linux/personality.h
    assert!(init().starts_with("00000008\n"), "{}", init());
    assert_eq!(exec("cat /proc/self/personality"), "00000008\n");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(exec("uname -m"), "i686\n");
    }
    let maps = exec("cat /proc/self/numa_maps");
    assert!(maps.contains(" bind:0 "), "an exec'd process's numa_maps: {maps}");

    // A node this machine lacks: the kernel refuses it, and create says
    // which field and leaves nothing.
    let bad = Bundle::new(&["true"]);
    bad.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "1023"}));
    let o = bad.create("persona-bad", &[]);
    assert!(!o.status.success(), "a policy on node 1023 was accepted");
    assert!(
        stderr(&o).contains("linux.memoryPolicy") && stderr(&o).contains("EINVAL"),
        "{}",
        stderr(&o)
    );
    assert!(bad.leftovers().is_empty(), "{:?}", bad.leftovers());
}
