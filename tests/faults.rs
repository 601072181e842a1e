//! Crashes at every step (`cargo test --features fault-injection --test
//! faults`): hull is SIGKILLed at each fault point of create, start, exec
//! and delete in turn (the points a clean run reaches, listed through
//! HULL_FAULT_LOG). After each crash `list` shows no corrupt entry,
//! `delete --force` leaves nothing (state, mounts, cgroups, processes,
//! files), and the same command run again succeeds.

mod common;
#[path = "../conformance/bad-bundles/leaks.rs"]
#[allow(dead_code)]
mod leaks;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use common::{stderr, Bundle};

/// Runs with output to files: a container's init inherits them, and would
/// hold pipes open.
fn output(b: &Bundle, env: (&str, &str), args: &[&str]) -> Output {
    let mut cmd = b.cmd(args);
    cmd.env(env.0, env.1);
    b.detached(cmd)
}

/// The fault points `args` reaches when nothing goes wrong.
fn points_of(b: &Bundle, args: &[&str]) -> Vec<String> {
    let log = b.tmp.path().join("logs/points");
    let _ = std::fs::remove_file(&log);
    let o = output(b, ("HULL_FAULT_LOG", &log.to_string_lossy()), args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    text.lines().map(String::from).collect()
}

fn crash_at(b: &Bundle, point: &str, args: &[&str]) -> Output {
    let o = output(b, ("HULL_FAULT", point), args);
    assert_eq!(
        o.status.signal(),
        Some(9),
        "{args:?} at {point} was not killed: {}",
        stderr(&o)
    );
    o
}

/// `list` still lists, every entry with a status.
fn list_is_sound(b: &Bundle, point: &str) {
    let o = b.out(&["list", "--format", "json"]);
    assert!(o.status.success(), "list after a crash at {point}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    for c in v.as_array().into_iter().flatten() {
        assert!(c["status"].is_string(), "list after a crash at {point}: {c}");
    }
}

fn ok(b: &Bundle, args: &[&str]) {
    let o = output(b, ("HULL_FAULT", ""), args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

fn nothing_left(b: &Bundle, before: &leaks::Snapshot, point: &str) {
    let mut left = vec![];
    common::eventually(5, || {
        left = before.leaks(&leaks::snapshot(b.tmp.path()));
        left.is_empty()
    });
    assert!(left.is_empty(), "after a crash at {point} and delete --force: {left:?}");
}

#[test]
fn a_crash_at_any_step_leaves_nothing_that_delete_force_cannot_clear() {
    let _alone = SUBREAPER.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new(&["sleep", "100"]);
    let dir = b.dir().to_string_lossy().into_owned();
    let pid_file = b.tmp.path().join("logs/pid").to_string_lossy().into_owned();
    let create = [
        "create",
        "--bundle",
        dir.as_str(),
        "--pid-file",
        pid_file.as_str(),
        "f1",
    ];
    std::fs::create_dir_all(&b.root).unwrap();
    std::fs::create_dir_all(b.tmp.path().join("logs")).unwrap();
    let before = leaks::snapshot(b.tmp.path());

    let points = points_of(&b, &create);
    ok(&b, &["start", "f1"]);
    let exec_points = points_of(&b, &["exec", "f1", "true"]);
    let delete_points = points_of(&b, &["delete", "--force", "f1"]);
    ok(&b, &create);
    let start_points = points_of(&b, &["start", "f1"]);
    ok(&b, &["delete", "--force", "f1"]);
    for (verb, list) in [
        ("create", &points),
        ("start", &start_points),
        ("exec", &exec_points),
        ("delete", &delete_points),
    ] {
        assert!(!list.is_empty(), "{verb} reaches no fault point");
    }

    for p in &points {
        crash_at(&b, p, &create);
        list_is_sound(&b, p);
        ok(&b, &["delete", "--force", "f1"]);
        nothing_left(&b, &before, p);
        ok(&b, &create);
        ok(&b, &["delete", "--force", "f1"]);
    }
    for p in &start_points {
        ok(&b, &create);
        crash_at(&b, p, &["start", "f1"]);
        list_is_sound(&b, p);
        ok(&b, &["delete", "--force", "f1"]);
        nothing_left(&b, &before, p);
    }
    ok(&b, &create);
    ok(&b, &["start", "f1"]);
    for p in &exec_points {
        crash_at(&b, p, &["exec", "f1", "true"]);
        list_is_sound(&b, p);
        ok(&b, &["exec", "f1", "true"]);
        let ps = b.out(&["ps", "--format", "json", "f1"]);
        let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap_or_default();
        assert!(
            common::eventually(5, || {
                let ps = b.out(&["ps", "--format", "json", "f1"]);
                serde_json::from_slice::<Vec<i32>>(&ps.stdout).unwrap_or_default().len() == 1
            }),
            "the crashed exec at {p} left a process in the container: {pids:?}"
        );
    }
    ok(&b, &["delete", "--force", "f1"]);
    for p in &delete_points {
        ok(&b, &create);
        ok(&b, &["start", "f1"]);
        crash_at(&b, p, &["delete", "--force", "f1"]);
        list_is_sound(&b, p);
        let again = b.out(&["delete", "--force", "f1"]);
        let gone = b.out(&["state", "f1"]);
        assert!(
            again.status.success() || !gone.status.success(),
            "delete --force after {p}: {}",
            stderr(&again)
        );
        nothing_left(&b, &before, p);
    }
    println!(
        "[faults] {} crash points (create {}, start {}, exec {}, delete {}): nothing left after any",
        points.len() + start_points.len() + exec_points.len() + delete_points.len(),
        points.len(),
        start_points.len(),
        exec_points.len(),
        delete_points.len()
    );
}

/// The processes of `init`'s pid namespace other than `init`.
fn others_in_pid_ns(init: i32) -> Vec<i32> {
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != init && std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns))
        .collect()
}

/// A process started to take `pid` as soon as it is free: ns_last_pid is set
/// just below it (other tests fork too, so a few tries). Returns the
/// process, on whatever pid it got.
fn spawn_on_pid(pid: i32) -> std::process::Child {
    let mut last = None;
    for _ in 0..20 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
        let child = std::process::Command::new("sleep").arg("100").spawn().unwrap();
        if child.id() as i32 == pid {
            return child;
        }
        if let Some(mut c) = last.replace(child) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    last.unwrap()
}

/// While a race test's process is a subreaper, orphans of the crash test's
/// hull commands would be its to reap: they do not overlap.
static SUBREAPER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn set_subreaper(on: bool) {
    // SAFETY: prctl with integer arguments only.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on as libc::c_ulong, 0, 0, 0) },
        0
    );
}

/// Reaps `pid` if it is a zombie child of this process; waits up to 5 s for
/// it to become one.
fn reap_if_ours(pid: i32) {
    common::eventually(5, || {
        !matches!(
            nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG)
            ),
            Ok(nix::sys::wait::WaitStatus::StillAlive)
        )
    });
}

/// Undoes what a race test did, also when it fails: kills what it
/// started, stops being a subreaper, reaps what it was left and removes the
/// sub-cgroup it made.
struct Cleanup {
    /// pidfds, so that a process reaped meanwhile is not mistaken for the
    /// one that has its pid by then.
    kill: Vec<std::os::fd::OwnedFd>,
    reap: Vec<i32>,
    dir: Option<std::path::PathBuf>,
}

impl Cleanup {
    /// `pid`, a child of this process not yet waited for, is killed at the end.
    fn kill_at_end(&mut self, pid: i32) {
        self.kill.push(hull::pidfd::open(pid).unwrap());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for fd in &self.kill {
            let _ = hull::pidfd::send_signal(fd, libc::SIGKILL);
            let _ = hull::pidfd::send_signal(fd, libc::SIGCONT);
        }
        set_subreaper(false);
        // The exec'd process first: a pid namespace's init does not finish
        // dying before the last of its pids is freed.
        for &p in &self.reap {
            reap_if_ours(p);
        }
        if let Some(dir) = &self.dir {
            common::eventually(5, || std::fs::remove_dir(dir).is_ok() || !dir.exists());
        }
    }
}

/// A race test's start: the other tests kept out, this process a
/// subreaper (it plays the shim, which is one), its cleanup armed (with a
/// sub-cgroup `dir` to remove), and a bundle of `sleep 100`.
/// Bind it as `let (_alone, b, mut cleanup)`: the cleanup then comes
/// first, before the bundle's `delete --force`, which a hull stopped with
/// the container's lock would block.
fn race(dir: Option<std::path::PathBuf>) -> (std::sync::MutexGuard<'static, ()>, Bundle, Cleanup) {
    let alone = SUBREAPER.lock().unwrap_or_else(|e| e.into_inner());
    let cleanup = Cleanup {
        kill: vec![],
        reap: vec![],
        dir,
    };
    set_subreaper(true);
    (alone, Bundle::new(&["sleep", "100"]), cleanup)
}

/// Spawns `cmd` to stop itself at fault `point` (HULL_FAULT_STOP), its
/// output to logs/NAME-out and -err; returns it once stopped.
fn stopped_at(b: &Bundle, mut cmd: std::process::Command, point: &str, cleanup: &mut Cleanup) -> std::process::Child {
    let logs = b.tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    cmd.env("HULL_FAULT_STOP", point)
        .stdout(std::fs::File::create(logs.join("stopped-out")).unwrap())
        .stderr(std::fs::File::create(logs.join("stopped-err")).unwrap());
    let hull = cmd.spawn().unwrap();
    let pid = hull.id() as i32;
    cleanup.kill_at_end(pid);
    common::eventually(10, || matches!(common::proc_state(pid), Some('T' | 'Z') | None));
    assert_eq!(
        common::proc_state(pid),
        Some('T'),
        "hull never reached {point}: {}",
        stopped_err(b)
    );
    hull
}

/// What the stopped command wrote to stderr.
fn stopped_err(b: &Bundle) -> String {
    std::fs::read_to_string(b.tmp.path().join("logs/stopped-err")).unwrap_or_default()
}

/// The attack: SIGKILLs `killer`, which takes `victim` with it; once the
/// victim is a zombie of this process (reaped here, as a shim reaps) or of
/// hull (which holds it), starts a process to take its pid.
fn kill_and_take_pid(killer: i32, victim: i32, hull: i32, cleanup: &mut Cleanup) -> std::process::Child {
    cleanup.reap.push(victim);
    // SAFETY: kill(2) with a pid and a signal.
    unsafe { libc::kill(killer, libc::SIGKILL) };
    let me = std::process::id() as i32;
    assert!(
        common::eventually(10, || common::proc_state(victim) == Some('Z')
            && common::ppid_of(victim).is_some_and(|pp| pp == me || pp == hull)),
        "pid {victim} did not die and pass to a reaper"
    );
    if common::ppid_of(victim) == Some(me) {
        reap_if_ours(victim);
    }
    let decoy = spawn_on_pid(victim);
    cleanup.kill_at_end(decoy.id() as i32);
    cleanup.reap.push(decoy.id() as i32);
    decoy
}

/// A race test's end: the stand-in killed, the cleanup run (the exec'd
/// zombie reaped first), then container `id` deleted.
fn end_race(b: &Bundle, mut decoy: std::process::Child, cleanup: Cleanup, id: &str) {
    let _ = decoy.kill();
    let _ = decoy.wait();
    drop(cleanup);
    let o = b.out(&["delete", "--force", id]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Lets a stopped hull go on and waits for it (a hull stopped again, or
/// stuck, fails the test instead of hanging it).
fn resume(mut hull: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) with a pid and a signal.
    unsafe { libc::kill(hull.id() as i32, libc::SIGCONT) };
    let mut status = None;
    common::eventually(20, || {
        status = hull.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap_or_else(|| panic!("hull {} did not finish once continued", hull.id()))
}

fn cgroup_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

/// The exec'd process is placed (into a `--cgroup` sub-cgroup, and its pidfd
/// to `--pidfd-socket`) by pid. A container can tear its pid namespace down
/// just then, killing it; were it reaped (a shim, as containerd's, reaps
/// its orphans) another process could take its pid, and be moved into the
/// container's cgroup and handed out as the pidfd. Here `exec -d` stops
/// once its process is forked, the init is killed, the test reaps what it
/// is given (as a shim does) and starts a process on the pid. The exec must
/// touch neither that process's cgroup nor hand out its pidfd, and fail.
/// Before hull's exec held the pid (as a subreaper), the other process got
/// the container's memory cgroup and its pidfd was sent.
#[test]
fn an_exec_killed_before_it_is_placed_leaves_its_pid_to_nobody() {
    let path = format!("hull-test-{}-race", std::process::id());
    let (hierarchy, flag) = match std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        false => ("/sys/fs/cgroup/memory", "memory:sub"),
        true => ("/sys/fs/cgroup", "sub"),
    };
    let (_alone, b, mut cleanup) = race(Some(std::path::Path::new(hierarchy).join(&path).join("sub")));
    b.edit(|c| c["linux"]["cgroupsPath"] = serde_json::json!(format!("/{path}")));
    let o = b.run_detached("race");
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::create_dir(cleanup.dir.as_ref().unwrap()).unwrap();
    let init = b.state("race")["pid"].as_i64().unwrap() as i32;
    let sock = b.tmp.path().join("pidfd.sock");
    let rx = common::fd_receiver(&sock);
    let sock_arg = sock.to_str().unwrap();
    let exec = b.cmd(&[
        "exec",
        "-d",
        "--cgroup",
        flag,
        "--pidfd-socket",
        sock_arg,
        "race",
        "sleep",
        "100",
    ]);
    let hull = stopped_at(&b, exec, "exec:forked", &mut cleanup);
    let hull_pid = hull.id() as i32;
    let forked = others_in_pid_ns(init);
    assert_eq!(forked.len(), 1, "the exec'd process: {forked:?}");
    let decoy = kill_and_take_pid(init, forked[0], hull_pid, &mut cleanup);
    // After the exec'd process: the init finishes dying only once it is reaped.
    cleanup.reap.push(init);
    let cgroup_before = cgroup_of(decoy.id());

    let status = resume(hull);
    assert_eq!(
        cgroup_before,
        cgroup_of(decoy.id()),
        "exec (exit {status}) moved pid {} into the container's cgroup",
        decoy.id()
    );
    if let Ok((_, fd)) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        assert_ne!(
            common::pidfd_pid(&fd),
            i64::from(decoy.id()),
            "exec sent the pidfd of pid {}, not its own process's",
            decoy.id()
        );
    }
    let err = stopped_err(&b);
    assert!(
        !status.success() && err.contains("the process at its other end died"),
        "exec of a process killed before it started: {status}: {err}"
    );
    end_race(&b, decoy, cleanup, "race");
}

/// `kill` reads the container's status, then signals its init. Should the
/// init exit between the two and its pid be reaped (by a shim) and taken
/// by another process, that process must not get the signal. Here `kill`
/// stops after the status, the init is killed and reaped, and a process
/// started on its pid. Before kill went through a pidfd of the init checked
/// against state.json's start time, that process was killed.
#[test]
fn a_kill_after_the_init_is_gone_signals_nobody_else() {
    let (_alone, b, mut cleanup) = race(None);
    let o = b.run_detached("gone");
    assert!(o.status.success(), "{}", stderr(&o));
    let init = b.state("gone")["pid"].as_i64().unwrap() as i32;
    let hull = stopped_at(&b, b.cmd(&["kill", "gone", "KILL"]), "kill:checked", &mut cleanup);
    let hull_pid = hull.id() as i32;
    let mut decoy = kill_and_take_pid(init, init, hull_pid, &mut cleanup);
    assert_eq!(decoy.id() as i32, init, "no process could be started on the init's pid");

    let status = resume(hull);
    let err = stopped_err(&b);
    assert!(
        decoy.try_wait().unwrap().is_none(),
        "kill (exit {status}: {err}) killed pid {}, which is not the container's",
        decoy.id()
    );
    assert!(
        !status.success() && err.contains("no such process"),
        "kill of an init gone meanwhile: {status}: {err}"
    );
    end_race(&b, decoy, cleanup, "gone");
}

/// The pid namespace init among `pids`: pid 1 where it lives.
fn ns_init_among(pids: &[i32]) -> Option<i32> {
    pids.iter().copied().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")))
    })
}

/// Through stage 1 (here for a time namespace) `create` learns its init's
/// pid from stage 1, which then exits, and places the init by that pid. An
/// init killed just then (by whoever shares its pid namespace) must not
/// leave the pid to another process that create then acts on. Here create
/// stops on learning the pid, the init is killed and reaped (as a shim
/// does) and a process started on its pid. Before create held the pid (as
/// a subreaper), its cleanup SIGKILLed that process.
#[test]
fn a_create_whose_init_dies_before_it_is_placed_touches_no_other_process() {
    let (_alone, b, mut cleanup) = race(None);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(serde_json::json!({"type": "time"}));
    });
    let dir = b.dir();
    let create = b.cmd(&["create", "--bundle", dir.to_str().unwrap(), "cr"]);
    let hull = stopped_at(&b, create, "create:init-pid", &mut cleanup);
    let hull_pid = hull.id() as i32;
    let init = ns_init_among(&common::processes_naming(&b.root)).expect("the init");
    let mut decoy = kill_and_take_pid(init, init, hull_pid, &mut cleanup);
    let cgroup_before = cgroup_of(decoy.id());

    let status = resume(hull);
    let err = stopped_err(&b);
    assert!(
        decoy.try_wait().unwrap().is_none(),
        "create (exit {status}: {err}) killed pid {}, which is not its init",
        decoy.id()
    );
    assert_eq!(
        cgroup_before,
        cgroup_of(decoy.id()),
        "create moved pid {} into its cgroup",
        decoy.id()
    );
    assert!(
        !status.success() && err.contains("the process at its other end died"),
        "create of an init killed before it was placed: {err}"
    );
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    let _ = decoy.kill();
    let _ = decoy.wait();
}
