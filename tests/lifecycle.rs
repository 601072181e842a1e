//! create / start / state / kill / delete / run / list, against real containers.

mod common;

use std::io::{BufRead, Read};
use std::os::unix::process::CommandExt;

use common::{alive, processes_naming, stderr, stdout, Bundle};

#[test]
fn create_start_kill_delete() {
    let b = Bundle::new(&["sleep", "60"]);
    let pidfile = b.tmp.path().join("pid");
    let o = b.create("c1", &["--pid-file", pidfile.to_str().unwrap()]);
    assert!(o.status.success(), "create: {}", stderr(&o));

    let raw = std::fs::read_to_string(&pidfile).unwrap();
    assert!(
        raw.chars().all(|c| c.is_ascii_digit()),
        "pid file must be digits only: {raw:?}"
    );
    let pid: i32 = raw.parse().unwrap();
    assert!(alive(pid));

    let st = b.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], "c1");
    assert_eq!(st["bundle"], b.dir().to_str().unwrap());
    assert_eq!(st["owner"], "root");
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."));
    assert!(st["created"].as_str().unwrap().ends_with('Z'));
    // Only the waiting init is left of create: no hull command still runs.
    assert_eq!(processes_naming(&b.root), vec![pid], "create left processes behind");

    let o = b.out(&["start", "c1"]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    assert_eq!(b.state("c1")["status"], "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");

    let o = b.out(&["start", "c1"]);
    assert!(!o.status.success(), "a second start must fail");

    let o = b.out(&["delete", "c1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not stopped"), "{}", stderr(&o));

    let o = b.out(&["kill", "c1", "KILL"]);
    assert!(o.status.success(), "kill: {}", stderr(&o));
    let st = b.wait_status("c1", "stopped");
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["pid"], 0);

    let o = b.out(&["kill", "c1"]);
    assert!(!o.status.success(), "kill of a stopped container must fail");

    let o = b.out(&["delete", "c1"]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    assert!(b.leftovers().is_empty());
    let o = b.out(&["state", "c1"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn delete_of_created_container_kills_its_init() {
    let b = Bundle::new(&["true"]);
    assert!(b.create("c2", &[]).status.success());
    let pid = b.state("c2")["pid"].as_i64().unwrap() as i32;
    let o = b.out(&["delete", "c2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!alive(pid));
    assert!(b.leftovers().is_empty());
}

#[test]
fn delete_force_of_running_container() {
    let b = Bundle::new(&["sleep", "60"]);
    let o = b.run_detached("c3");
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = b.state("c3")["pid"].as_i64().unwrap() as i32;
    assert!(b.out(&["delete", "-f", "c3"]).status.success());
    assert!(!alive(pid));
    assert!(b.leftovers().is_empty());
    // --force on a missing container is not an error, as in runc.
    assert!(b.out(&["delete", "--force", "c3"]).status.success());
}

#[test]
fn run_returns_the_exit_code_and_cleans_up() {
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let o = b.run("c4");
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "out\n");
    assert!(stderr(&o).contains("err"));
    assert!(b.leftovers().is_empty(), "run must delete the container after it exits");

    // pid 1 of a pid namespace ignores signals it has no handler for, so the
    // self-kill needs the host pid namespace.
    let b = Bundle::new(&["sh", "-c", "kill -TERM $$"]);
    b.edit(|c| c["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "uts"}]));
    assert_eq!(b.run("c5").status.code(), Some(128 + 15));
}

/// hull clones the init straight into its pid namespace with clone3; where
/// that is refused (kernels before 5.3, or a seccomp profile: docker's and
/// containers-common's answer clone3 with ENOSYS so that libc falls back)
/// it forks stage 1 as before, and the container runs the same: pid 1 in
/// its own pid namespace. There the init is hull's grandchild, so runc's
/// `--no-subreaper` is taken and hull stays the subreaper that waits for it.
#[test]
fn run_works_where_clone3_is_refused() {
    let b = Bundle::new(&["sh", "-c", "echo $$; readlink /proc/self/ns/pid"]);
    let dir = b.dir();
    let mut cmd = b.cmd(&["run", "--no-subreaper", "--bundle", dir.to_str().unwrap(), "c3r"]);
    common::refuse_syscall(&mut cmd, libc::SYS_clone3, libc::ENOSYS);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "run under a filter refusing clone3: {}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    let host = std::fs::read_link("/proc/self/ns/pid").unwrap();
    assert_ne!(
        lines.next(),
        host.to_str(),
        "the container shares the host's pid namespace"
    );
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

#[test]
fn run_forwards_signals() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 0.05; done",
    ]);
    let dir = b.dir();
    let mut child = b
        .cmd(&["run", "--bundle", dir.to_str().unwrap(), "c6"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // "ready" comes once the trap is set, so the signal cannot beat it.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(9), "{rest}");
    assert!(rest.contains("got-usr1"), "{rest}");
}

#[test]
fn kill_accepts_names_and_numbers() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap 'touch /tmp/usr1' USR1; trap 'touch /tmp/usr2' USR2; touch /tmp/ready; while :; do sleep 0.05; done",
    ]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    assert!(b.run_detached("c7").status.success());
    assert!(
        common::eventually(10, || b.rootfs().join("tmp/ready").exists()),
        "traps never set"
    );
    for (sig, file) in [("USR1", "usr1"), ("SIGUSR2", "usr2")] {
        let o = b.out(&["kill", "c7", sig]);
        assert!(o.status.success(), "kill {sig}: {}", stderr(&o));
        let path = b.rootfs().join("tmp").join(file);
        assert!(common::eventually(5, || path.exists()), "signal {sig} not delivered");
    }
    let o = b.out(&["kill", "c7", "NOSUCHSIG"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("NOSUCHSIG"));
    // 0, as in runc: is it there?
    assert!(b.out(&["kill", "c7", "0"]).status.success());
    assert!(b.out(&["kill", "--all", "c7", "9"]).status.success());
    assert_eq!(b.wait_status("c7", "stopped")["status"], "stopped");
    assert!(!b.out(&["kill", "c7", "0"]).status.success());
}

/// `kill ID KILL` of a container that shares the host's pid namespace ends
/// all of it, as in runc 1.2: its init's death takes nothing with it there,
/// and before, the init's child ran on.
#[test]
fn kill_of_a_container_without_its_own_pid_namespace_ends_all_of_it() {
    let b = Bundle::new(&["sh", "-c", "sleep 1004 & wait"]);
    b.edit(|c| common::without_namespace(c, "pid"));
    assert!(b.run_detached("sharedpid").status.success());
    let init = b.state("sharedpid")["pid"].as_i64().unwrap() as i32;
    let child = || {
        std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            (common::ppid_of(pid) == Some(init) && common::alive(pid)).then_some(pid)
        })
    };
    let mut sleep = None;
    assert!(
        common::eventually(5, || {
            sleep = child();
            sleep.is_some()
        }),
        "the init's child never ran"
    );
    let o = b.out(&["kill", "sharedpid", "KILL"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(b.wait_status("sharedpid", "stopped")["status"], "stopped");
    let sleep = sleep.unwrap();
    assert!(
        common::eventually(5, || !common::alive(sleep)),
        "kill KILL left the init's child running"
    );
}

/// A create killed between its mkdir and its rename leaves a
/// `.creating-PID-NANOS` directory; a later create removes it once its
/// creator is gone. The kill cannot be timed into that window for real, so
/// the test makes such directories itself.
#[test]
fn directories_of_killed_creates_are_removed_by_the_next() {
    let b = Bundle::new(&["true"]);
    std::fs::create_dir_all(&b.root).unwrap();
    // 999999999 is above any pid_max; this test's own pid is alive.
    let gone = b.root.join(".creating-999999999-1");
    let alive = b.root.join(format!(".creating-{}-1", std::process::id()));
    let fresh = b.root.join(".creating-999999998-1");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for (dir, age) in [(&gone, Some(hour_ago)), (&alive, Some(hour_ago)), (&fresh, None)] {
        std::fs::create_dir(dir).unwrap();
        if let Some(t) = age {
            std::fs::File::open(dir).unwrap().set_modified(t).unwrap();
        }
    }
    assert!(b.create("after", &[]).status.success());
    assert!(!gone.exists(), "an abandoned directory stays");
    assert!(
        alive.exists() && fresh.exists(),
        "a directory a create may still hold was removed"
    );
    assert!(b.out(&["delete", "--force", "after"]).status.success());
    for dir in [&alive, &fresh] {
        std::fs::remove_dir(dir).unwrap();
    }
}

#[test]
fn second_create_of_an_id_fails_and_changes_nothing() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("dup", &[]).status.success());
    let before = b.state("dup");
    let o = b.create("dup", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(b.state("dup"), before);
}

#[test]
fn list_formats() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("l1", &[]).status.success());
    assert!(b.create("l2", &[]).status.success());
    assert_eq!(stdout(&b.out(&["list", "-q"])), "l1\nl2\n");
    let v: serde_json::Value = serde_json::from_slice(&b.out(&["list", "--format", "json"]).stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["status"], "created");
    let table = stdout(&b.out(&["list"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.lines().nth(1).unwrap().starts_with("l1 "));
}

#[test]
fn reused_pid_is_not_taken_for_the_init() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.create("r1", &[]).status.success());
    let path = b.root.join("r1/state.json");
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Same pid, another start time: a different process as far as hull can tell.
    st["pid_start"] = (st["pid_start"].as_u64().unwrap() + 1).into();
    let pid = st["pid"].as_i64().unwrap() as i32;
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    assert_eq!(b.state("r1")["status"], "stopped");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn version_lines() {
    let o = std::process::Command::new(common::HULL)
        .arg("--version")
        .output()
        .unwrap();
    let s = stdout(&o);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("hull version "), "{s}");
    assert!(lines[1].starts_with("commit: "), "{s}");
    assert!(lines[2].starts_with("spec: 1."), "{s}");
}

#[test]
fn json_log_has_the_error_line() {
    let b = Bundle::new(&["true"]);
    let log = b.tmp.path().join("log.json");
    let o = b.out(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "nope"]);
    assert!(!o.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"]
        .as_str()
        .unwrap()
        .contains("container does not exist: \"nope\""));
    assert!(last["time"].as_str().unwrap().contains('T'));
}

#[test]
fn host_flags_are_checked() {
    let b = Bundle::new(&["true"]);
    let dir = b.dir();
    // Without systemd the driver cannot work: refused, never a silent cgroupfs
    // tree (conformance/systemd.sh runs the driver against a real systemd).
    let o = b.out(&["--systemd-cgroup", "run", "--bundle", dir.to_str().unwrap(), "s1"]);
    if !std::path::Path::new("/run/systemd/system").exists() {
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("--systemd-cgroup: systemd is not running"),
            "{}",
            stderr(&o)
        );
    }
    assert!(b.leftovers().is_empty());
    let o = b.out(&["--rootless", "maybe", "run", "--bundle", dir.to_str().unwrap(), "s2"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--rootless"));
}

#[test]
fn concurrent_creates_of_one_id_make_one_container() {
    let b = Bundle::new(&["sleep", "60"]);
    let results: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| b.create("same", &[]).status.success()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    assert_eq!(b.state("same")["status"], "created");
    assert_eq!(b.leftovers(), vec!["same".to_string()]);
}

/// Starts at once: one releases the init, every other says it is running
/// already, at once (the container's lock puts them in turn; none is left
/// waiting on an exec fifo whose byte another start took).
#[test]
fn concurrent_starts_start_it_once_and_the_rest_say_it_runs() {
    let b = Bundle::new(&["sleep", "60"]);
    // The init gives its byte, then runs this hook before its exec: the
    // other starts have opened the fifo by then.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "0.3"]}]});
    });
    for round in 0..3 {
        let id = format!("starts{round}");
        assert!(b.create(&id, &[]).status.success());
        let outs: Vec<(std::process::Output, std::time::Duration)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        let t = std::time::Instant::now();
                        (b.out_detached(&["start", &id]), t.elapsed())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outs.iter().filter(|(o, _)| o.status.success()).count(),
            1,
            "round {round}"
        );
        for (o, took) in outs.iter().filter(|(o, _)| !o.status.success()) {
            assert!(stderr(o).contains("already running"), "round {round}: {}", stderr(o));
            assert!(
                *took < std::time::Duration::from_secs(5),
                "round {round}: a start took {took:?}"
            );
        }
        assert_eq!(b.state(&id)["status"], "running");
        assert!(b.out(&["delete", "--force", &id]).status.success());
    }
    assert!(b.leftovers().is_empty());
}

#[test]
fn force_delete_clears_a_half_made_container() {
    let b = Bundle::new(&["true"]);
    // What a create killed before it wrote state.json leaves.
    std::fs::create_dir_all(b.root.join("half")).unwrap();
    let o = b.out(&["delete", "--force", "half"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

#[test]
fn features_document() {
    let o = std::process::Command::new(common::HULL)
        .arg("features")
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert!(v["hooks"].as_array().unwrap().len() == 6);
    assert!(v["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "time"));
    assert_eq!(v["linux"]["apparmor"]["enabled"], true);
    assert_eq!(v["linux"]["selinux"]["enabled"], true);
    assert_eq!(v["linux"]["cgroup"]["systemd"], true);
    // The user manager's driver (conformance/systemd-v2-checks.sh) and rdma.max (cgroup-v2-checks.sh).
    assert_eq!(v["linux"]["cgroup"]["systemdUser"], true);
    assert_eq!(v["linux"]["cgroup"]["rdma"], true);
    assert_eq!(v["linux"]["memoryPolicy"]["modes"].as_array().unwrap().len(), 7);
    assert_eq!(v["linux"]["netDevices"]["enabled"], true);
}

/// config.md: process is REQUIRED only when start is called. Without it
/// create succeeds, start fails saying so, and delete leaves nothing.
#[test]
fn a_config_without_process_creates_but_does_not_start() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("process");
    });
    let o = b.create("noproc", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(b.state("noproc")["status"], "created");
    let o = b.out(&["start", "noproc"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("has no process"), "{}", stderr(&o));
    assert!(b.out(&["delete", "noproc"]).status.success());
    assert!(b.leftovers().is_empty());
}

/// 20 commands at once on one id, ten rounds: whatever wins, every failure
/// says why, and the id is never left unusable (a lock taken just as
/// another delete removed the directory used to leave a file in its place,
/// which no delete could remove and no create could get past).
#[test]
fn concurrent_commands_on_one_id_leave_it_usable() {
    let b = Bundle::new(&["sleep", "100"]);
    let dir = b.dir().to_string_lossy().into_owned();
    let ops: [&[&str]; 6] = [
        &["create", "--bundle", dir.as_str(), "race"],
        &["start", "race"],
        &["delete", "race"],
        &["delete", "--force", "race"],
        &["kill", "race", "KILL"],
        &["state", "race"],
    ];
    for round in 0..10 {
        std::thread::scope(|s| {
            for i in 0..20 {
                let (b, op) = (&b, ops[(i * 7 + round) % ops.len()]);
                s.spawn(move || {
                    let o = b.out_detached(op);
                    let err = stderr(&o);
                    assert!(o.status.success() || !err.trim().is_empty(), "{op:?} failed silently");
                    assert!(!err.contains("panicked"), "{op:?}: {err}");
                });
            }
        });
        let o = b.out(&["delete", "--force", "race"]);
        assert!(o.status.success(), "round {round}: delete --force: {}", stderr(&o));
        let o = b.create("race", &[]);
        assert!(
            o.status.success(),
            "round {round}: create after the race: {}",
            stderr(&o)
        );
        let o = b.out(&["delete", "--force", "race"]);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
    }
}

/// The pid in a pidfd's fdinfo.
/// runc's --pidfd-socket: create and run hand over a pidfd of the init
/// ("standard"), exec one of the new process ("setns"); a socket nobody
/// listens on fails create and leaves nothing.
#[test]
fn pidfd_socket_gets_the_process() {
    let b = Bundle::new(&["sleep", "60"]);
    let sock = b.tmp.path().join("pidfd.sock");
    let rx = common::fd_receiver(&sock);
    let o = b.create("pfd", &["--pidfd-socket", sock.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (payload, fd) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(payload, "standard");
    assert_eq!(common::pidfd_pid(&fd), b.state("pfd")["pid"].as_i64().unwrap());
    assert!(b.out(&["start", "pfd"]).status.success());

    std::fs::remove_file(&sock).unwrap();
    let rx = common::fd_receiver(&sock);
    let pid_file = b.tmp.path().join("exec.pid");
    let o = b.out_detached(&[
        "exec",
        "-d",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "pfd",
        "sleep",
        "60",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (payload, fd) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(payload, "setns");
    let exec_pid: i64 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(common::pidfd_pid(&fd), exec_pid);
    assert!(b.out(&["delete", "--force", "pfd"]).status.success());

    let nobody = b.tmp.path().join("nobody.sock");
    let o = b.create("pfd2", &["--pidfd-socket", nobody.to_str().unwrap()]);
    assert!(
        !o.status.success() && stderr(&o).contains("--pidfd-socket"),
        "{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}

/// systemd's side of its notify socket: a datagram socket the test reads.
struct Systemd {
    sock: std::os::unix::net::UnixDatagram,
    path: std::path::PathBuf,
}

impl Systemd {
    fn new(b: &Bundle) -> Systemd {
        let path = b.tmp.path().join("systemd-notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        Systemd { sock, path }
    }

    /// READY and MAINPID, then BARRIER=1 with a pipe, returned for the
    /// caller to answer by closing it.
    fn expect_ready(&self, main_pid: u32) -> std::os::fd::OwnedFd {
        let (ready, _) = common::recv_with_fd(&self.sock);
        assert_eq!(
            String::from_utf8_lossy(&ready),
            format!("READY=1\nMAINPID={main_pid}\n")
        );
        let (barrier, fd) = common::recv_with_fd(&self.sock);
        assert_eq!(barrier, b"BARRIER=1");
        fd.expect("BARRIER=1 without its pipe")
    }

    /// `create` and then `start` of `id` under this systemd; `start`
    /// waits for READY=1, so it is returned running.
    fn create_and_start(&self, b: &Bundle, id: &str) -> std::process::Child {
        let dir = b.dir();
        let mut create = b.cmd(&["create", "--bundle", dir.to_str().unwrap(), id]);
        create.env("NOTIFY_SOCKET", &self.path);
        let o = b.detached(create);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut start = b.cmd(&["start", id]);
        start.env("NOTIFY_SOCKET", &self.path);
        start.spawn().unwrap()
    }

    fn nothing_came(&self) -> bool {
        self.sock.set_nonblocking(true).unwrap();
        let empty = loop {
            match self.sock.recv(&mut [0u8; 64]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.is_err(),
            }
        };
        self.sock.set_nonblocking(false).unwrap();
        empty
    }
}

/// A bundle running `script`, with the compiled tests/fixtures/sd-notify.c
/// at /sd-notify (busybox has no systemd-notify).
fn notify_bundle(script: &str) -> Bundle {
    let b = Bundle::new(&["sh", "-c", script]);
    b.build_fixture("sd-notify.c", "sd-notify", &["-O2"]);
    b
}

/// runc's NOTIFY_SOCKET: under a Type=notify unit, the container's process
/// gets /run/notify/notify.sock; `start` returns once READY=1 has gone to
/// systemd with MAINPID=the init, and BARRIER was answered. Only hull's own
/// READY=1 and MAINPID go on: not STATUS=, not fields the container slips
/// in after a \r (systemd splits lines there too).
#[test]
fn notify_socket_passes_ready_to_systemd() {
    let b = notify_bundle(
        "echo $NOTIFY_SOCKET; sleep 0.2; /sd-notify STATUS=starting \"$(printf 'READY=1\\rMAINPID=1')\"; exec sleep 60",
    );
    let systemd = Systemd::new(&b);
    let mut start = systemd.create_and_start(&b, "nt");
    let init = b.state("nt")["pid"].as_u64().unwrap() as u32;
    let barrier = systemd.expect_ready(init);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        start.try_wait().unwrap().is_none(),
        "start returned before BARRIER was answered"
    );
    drop(barrier);
    assert!(start.wait().unwrap().success());
    assert!(systemd.nothing_came());
    assert!(b.out(&["delete", "--force", "nt"]).status.success());
}

/// The notify socket is the container's alone: a host user who knows the
/// container's id cannot send READY=1 through it (its state directory is
/// the caller's only, as runc's), while a process of the container, here a
/// user other than root in a user namespace, still can.
#[test]
fn only_the_container_reaches_its_notify_socket() {
    let b = notify_bundle("while [ ! -e /go ]; do sleep 0.05; done; /sd-notify READY=1; exec sleep 60");
    b.edit(|c| {
        common::add_user_namespace(c, 100000, 100000, 65536);
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    });
    // The rootfs is host root's: the mapped root could not make the mount point.
    std::fs::create_dir_all(b.rootfs().join("run/notify")).unwrap();
    // The state directory as a host user finds it under /run: reachable,
    // and --root as an older hull left it, 0711, so that what keeps that
    // user out is the container's own directory.
    std::fs::set_permissions(b.tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir(&b.root).unwrap();
    std::fs::set_permissions(&b.root, std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    let systemd = Systemd::new(&b);
    let mut start = systemd.create_and_start(&b, "nu");

    let socket = b.root.join("nu/notify/notify.sock");
    assert!(common::eventually(10, || socket.exists()), "start bound no socket");
    let attack = std::process::Command::new(b.rootfs().join("sd-notify"))
        .arg("READY=1")
        .env("NOTIFY_SOCKET", &socket)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // On failure Bundle's drop deletes the container, which ends `start` too.
    assert!(systemd.nothing_came(), "a host user's READY=1 went on to systemd");
    assert!(
        !attack.status.success(),
        "a host user reached the notify socket: {}",
        stderr(&attack)
    );
    assert!(start.try_wait().unwrap().is_none(), "start returned without READY");

    std::fs::write(b.rootfs().join("go"), "").unwrap();
    let init = b.state("nu")["pid"].as_u64().unwrap() as u32;
    drop(systemd.expect_ready(init));
    assert!(start.wait().unwrap().success());
    assert!(b.out(&["delete", "--force", "nu"]).status.success());
}

/// The notify socket's directory is hull's, cloned from the host's mount of
/// the state directory: where that mount is shared (systemd makes /run so)
/// the container's mount of it must still be a slave, or what the container
/// mounts there (with CAP_SYS_ADMIN) would appear on the host and outlive it.
/// So must an idmapped bind, also a clone (before, it was the host's peer).
#[test]
fn a_mount_over_a_cloned_bind_stays_in_the_container() {
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let shared = tempfile::tempdir().unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        shared.path(),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let _unmount = Unmount(shared.path().to_path_buf());
    nix::mount::mount(
        None::<&str>,
        shared.path(),
        None::<&str>,
        nix::mount::MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();

    let mut b = notify_bundle(
        "/sd-notify READY=1; mount -t tmpfs over /run/notify; mount -t tmpfs over /idmapped; exec sleep 60",
    );
    b.root = shared.path().join("state");
    let volume = shared.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    b.edit(|c| {
        let map = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/idmapped", "type": "bind", "source": volume, "options": ["bind", "idmap"],
            "uidMappings": map, "gidMappings": map,
        }));
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_SYS_ADMIN".into());
        }
    });
    let systemd = Systemd::new(&b);
    let mut start = systemd.create_and_start(&b, "nm");
    let init = b.state("nm")["pid"].as_u64().unwrap() as u32;
    drop(systemd.expect_ready(init));
    assert!(start.wait().unwrap().success());
    let mounted = || {
        std::fs::read_to_string(format!("/proc/{init}/mountinfo")).is_ok_and(|m| {
            ["/run/notify", "/idmapped"].iter().all(|d| {
                m.lines()
                    .any(|l| l.contains(&format!(" {d} ")) && l.contains(" - tmpfs over "))
            })
        })
    };
    assert!(
        common::eventually(10, mounted),
        "the container could not mount over /run/notify and /idmapped"
    );
    let under = shared.path().to_string_lossy().into_owned();
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = host_mounts
        .lines()
        .filter(|l| l.contains(&format!("{under}/")))
        .collect();
    assert!(leaked.is_empty(), "the container's mount reached the host: {leaked:?}");
    assert!(b.out(&["delete", "--force", "nm"]).status.success());
}

/// A foreground `run` is the unit's main process; once READY went on, the
/// container's socket is closed, so a process that keeps sending (more than
/// a socket queue holds) is refused instead of blocked. An unreachable
/// NOTIFY_SOCKET fails run before anything is made, and an init that exits
/// without READY ends the wait.
#[test]
fn notify_socket_with_run() {
    // More sends than the host's datagram queue holds.
    let queue: u32 =
        std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen").map_or(512, |q| q.trim().parse().unwrap_or(512));
    let b = notify_bundle(&format!(
        "echo $NOTIFY_SOCKET; /sd-notify READY=1; i=0; while [ $i -lt {} ]; do /sd-notify STATUS=up 2>/dev/null; i=$((i+1)); done; echo sent",
        queue + 100
    ));
    let systemd = Systemd::new(&b);
    let dir = b.dir();
    let mut run = b.cmd(&["run", "--bundle", dir.to_str().unwrap(), "nr"]);
    run.env("NOTIFY_SOCKET", &systemd.path)
        .stdout(std::process::Stdio::piped());
    let mut run = run.spawn().unwrap();
    drop(systemd.expect_ready(run.id()));
    let done = common::eventually(30, || run.try_wait().unwrap().is_some());
    if !done {
        let _ = b.out(&["delete", "--force", "nr"]);
    }
    let out = run.wait_with_output().unwrap();
    assert!(done, "the container blocked sending after READY");
    assert_eq!(stdout(&out), "/run/notify/notify.sock\nsent\n");

    // `run -d` with NOTIFY_SOCKET at `sock` fails, naming `why`, and leaves nothing.
    let refused = |id: &str, sock: &std::path::Path, why: &str| {
        let mut run = b.cmd(&["run", "-d", "--bundle", dir.to_str().unwrap(), id]);
        run.env("NOTIFY_SOCKET", sock);
        let o = b.detached(run);
        assert!(!o.status.success() && stderr(&o).contains(why), "{}", stderr(&o));
        assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    };
    refused("nr2", &b.tmp.path().join("nobody-listens"), "NOTIFY_SOCKET");

    // A signal before READY goes to the container, and the wait goes on:
    // here the container's answer to it is its READY. One while systemd's
    // BARRIER answer is awaited goes on too, at once.
    b.edit(|c| {
        c["process"]["args"] = serde_json::json!([
            "sh",
            "-c",
            "trap '/sd-notify READY=1' TERM; trap 'echo usr1' USR1; echo trapped; while :; do sleep 0.1; done"
        ])
    });
    let mut run = b.cmd(&["run", "--bundle", dir.to_str().unwrap(), "nr4"]);
    run.env("NOTIFY_SOCKET", &systemd.path)
        .stdout(std::process::Stdio::piped());
    let mut run = run.spawn().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let out = run.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let next = || lines.recv_timeout(std::time::Duration::from_secs(10)).ok();
    // The traps are set once the line comes.
    assert_eq!(next().as_deref(), Some("trapped"));
    let signal = |s| nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), s).unwrap();
    signal(nix::sys::signal::Signal::SIGTERM);
    let barrier = systemd.expect_ready(run.id());
    signal(nix::sys::signal::Signal::SIGUSR1);
    assert_eq!(next().as_deref(), Some("usr1"), "USR1 held while BARRIER was awaited");
    drop(barrier);
    assert!(b.out(&["kill", "nr4", "KILL"]).status.success());
    let _ = run.wait();

    // Without a mount namespace of its own there is nowhere to put the
    // socket: refused, not a unit left waiting.
    let namespaces = b.config()["linux"]["namespaces"].clone();
    b.edit(|c| common::without_namespace(c, "mount"));
    refused("nr5", &systemd.path, "mount namespace");

    b.edit(|c| {
        c["process"]["args"] = serde_json::json!(["true"]);
        c["linux"]["namespaces"] = namespaces;
    });
    let mut run = b.cmd(&["run", "-d", "--bundle", dir.to_str().unwrap(), "nr3"]);
    run.env("NOTIFY_SOCKET", &systemd.path);
    let o = b.detached(run);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(systemd.nothing_came(), "a message without READY");
    assert!(b.out(&["delete", "--force", "nr3"]).status.success());
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
}
