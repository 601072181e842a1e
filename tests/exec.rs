//! exec: a new process joins every namespace and the cgroup of a running
//! container, with its own process settings.

mod common;

use common::{stderr, stdout, Bundle};
use serde_json::json;

/// A running container `id`. Each test has its own id: the default cgroup
/// (hull/<id>) is shared by every --root, and one test pauses its container.
fn running(id: &str, args: &[&str]) -> Bundle {
    let b = Bundle::new(args);
    let o = b.run_detached(id);
    assert!(o.status.success(), "{}", stderr(&o));
    b
}

#[test]
fn exec_joins_the_container_and_passes_the_exit_code() {
    let b = running("ex-join", &["sleep", "60"]);
    let o = b.out(&[
        "exec",
        "ex-join",
        "sh",
        "-c",
        "hostname; echo $$; ls -d /proc/[0-9]* | wc -l; exit 5",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "hull");
    assert_ne!(lines[1], "1", "exec'd process is not the init");
    assert!(
        lines[2].trim().parse::<u32>().unwrap() <= 4,
        "sees host processes: {out}"
    );
    let host_ns = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let init = b.state("ex-join")["pid"].as_i64().unwrap();
    assert_ne!(std::fs::read_link(format!("/proc/{init}/ns/mnt")).unwrap(), host_ns);
}

#[test]
fn exec_flags_set_the_process() {
    let b = running("ex-flags", &["sleep", "60"]);
    let o = b.out(&[
        "exec",
        "--cwd",
        "/tmp",
        "-e",
        "FOO=bar",
        "-u",
        "1000:1001",
        "--additional-gids",
        "7",
        "--cap",
        "CAP_NET_RAW",
        "ex-flags",
        "sh",
        "-c",
        "pwd; echo $FOO; id -u; id -g; id -G; grep -E '^Cap(Inh|Bnd)' /proc/self/status",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("/tmp\nbar\n1000\n1001\n"), "{out}");
    assert!(
        out.contains("CapInh:\t0000000000000000"),
        "--cap must not add inheritable: {out}"
    );
    let bnd = out.lines().find(|l| l.starts_with("CapBnd")).unwrap();
    let mask = u64::from_str_radix(bnd.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(mask & (1 << 13) != 0, "CAP_NET_RAW added to bounding: {out}");
}

#[test]
fn exec_with_a_process_file_and_detach() {
    let b = running("ex-detach", &["sleep", "60"]);
    let proc_file = b.tmp.path().join("process.json");
    std::fs::write(
        &proc_file,
        serde_json::to_vec(&json!({
            "args": ["sh", "-c", "echo from-process-file > /dev/shm/marker; sleep 30"],
            "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]
        }))
        .unwrap(),
    )
    .unwrap();
    let pidfile = b.tmp.path().join("exec.pid");
    let o = b.out_detached(&[
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "ex-detach",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    assert!(common::alive(pid));
    let procs = serde_json::from_slice::<Vec<i32>>(&b.out(&["ps", "-f", "json", "ex-detach"]).stdout).unwrap();
    assert!(
        procs.contains(&pid),
        "exec'd process not in the container's cgroup: {procs:?}"
    );
    let marker = || stdout(&b.out(&["exec", "ex-detach", "cat", "/dev/shm/marker"]));
    assert!(
        common::eventually(10, || marker() == "from-process-file\n"),
        "{}",
        marker()
    );
}

/// A process file that leaves out capabilities, rlimits and no_new_privs
/// gets the container's, as in runc; one that names them gets its own.
/// Before, such a file's process ran with no capabilities at all and every
/// rlimit the caller had (unconfined where the container named an AppArmor
/// profile or SELinux label, on a host with the LSM).
#[test]
fn a_process_file_falls_back_to_the_containers_confinement() {
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "soft": 4096, "hard": 8192}]);
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["capabilities"] = json!({"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                              "permitted": ["CAP_KILL", "CAP_CHOWN"]});
    });
    assert!(b.run_detached("ex-fallback").status.success());
    let show = "ulimit -c; grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status";
    let exec_file = |extra: serde_json::Value| {
        let mut p = json!({"args": ["sh", "-c", show], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        let f = b.tmp.path().join("p.json");
        std::fs::write(&f, serde_json::to_vec(&p).unwrap()).unwrap();
        let o = b.out(&["exec", "--process", f.to_str().unwrap(), "ex-fallback"]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // CAP_KILL is 5, CAP_CHOWN 0; busybox's ulimit counts 512-byte blocks.
    let out = exec_file(json!({}));
    assert!(
        out.starts_with("8\n"),
        "the container's RLIMIT_CORE (4096 bytes): {out}"
    );
    assert!(out.contains("CapPrm:\t0000000000000021"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    let out = exec_file(json!({
        "rlimits": [{"type": "RLIMIT_CORE", "soft": 2048, "hard": 8192}],
        "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]},
    }));
    assert!(out.starts_with("4\n"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000001"), "{out}");
}

/// What exec'd processes get is what config.json said at create, as in runc:
/// a config.json edited afterwards (its seccomp profile dropped, its env
/// changed) changes nothing for them. Before, exec read it anew, and the
/// edit let exec'd processes run unfiltered.
#[test]
fn exec_takes_the_config_create_read() {
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["process"]["env"] = json!(["PATH=/bin", "MARK=at-create"]);
        c["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
    });
    assert!(b.run_detached("ex-kept").status.success());
    b.edit(|c| {
        c["process"]["env"] = json!(["PATH=/bin", "MARK=edited"]);
        c["linux"].as_object_mut().unwrap().remove("seccomp");
    });
    let o = b.out(&[
        "exec",
        "ex-kept",
        "sh",
        "-c",
        "echo $MARK; mkdir /dev/shm/made && echo made",
    ]);
    let out = stdout(&o);
    assert!(out.starts_with("at-create\n"), "{out}");
    assert!(
        !out.contains("made"),
        "the edited config dropped the seccomp profile: {out}"
    );
}

#[test]
fn exec_errors() {
    let b = running("ex-errors", &["sleep", "60"]);
    let o = b.out(&["exec", "ex-errors", "no-such-program"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-program"), "{}", stderr(&o));
    let bad = b.tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"args": "not-a-list", "cwd": "/", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let o = b.out(&["exec", "--process", bad.to_str().unwrap(), "ex-errors"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("args"), "{}", stderr(&o));
    // Checked as config.json's process is (runc: cwd must be absolute).
    std::fs::write(
        &bad,
        r#"{"args": ["true"], "cwd": "tmp", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let o = b.out(&["exec", "--process", bad.to_str().unwrap(), "ex-errors"]);
    assert!(
        !o.status.success() && stderr(&o).contains("process.cwd: \"tmp\" is not an absolute path"),
        "{}",
        stderr(&o)
    );
    let o = b.out(&["exec", "--cwd", "tmp", "ex-errors", "true"]);
    assert!(
        !o.status.success() && stderr(&o).contains("process.cwd"),
        "{}",
        stderr(&o)
    );

    assert!(b.out(&["pause", "ex-errors"]).status.success());
    let o = b.out(&["exec", "ex-errors", "true"]);
    assert!(
        !o.status.success(),
        "exec into a paused container needs --ignore-paused"
    );
    assert!(b.out(&["resume", "ex-errors"]).status.success());

    assert!(b.out(&["kill", "ex-errors", "KILL"]).status.success());
    assert_eq!(b.wait_status("ex-errors", "stopped")["status"], "stopped");
    let o = b.out(&["exec", "ex-errors", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
}

#[test]
fn exec_sees_only_stdio_fds() {
    let b = running("ex-fds", &["sleep", "60"]);
    let out = stdout(&b.out(&["exec", "ex-fds", "ls", "/proc/self/fd"]));
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert!(fds.len() <= 4 && fds[..3] == ["0", "1", "2"], "{fds:?}");
}
