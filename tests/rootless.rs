//! Rootless: an unprivileged user (made here with useradd) runs a bundle
//! from `hull spec --rootless`: maps written by the parent (its own id) or
//! by newuidmap/newgidmap (subordinate ranges), state in its own runtime dir,
//! no cgroup unless limits are asked for, and then a clear error.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, HULL};
use serde_json::{json, Value};

const USER: &str = "hull-rootless";

/// The test user, removed (with its subordinate ids) when the test ends.
struct TestUser {
    uid: u32,
    gid: u32,
    subuid: u32,
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(USER).output();
    }
}

fn test_user() -> TestUser {
    let _ = Command::new("userdel").arg(USER).output();
    let o = Command::new("useradd")
        .args(["--no-create-home", "--shell", "/usr/sbin/nologin", USER])
        .output()
        .unwrap();
    assert!(o.status.success(), "useradd: {}", stderr(&o));
    let id = |flag: &str| -> u32 {
        let o = Command::new("id").args([flag, USER]).output().unwrap();
        stdout(&o).trim().parse().unwrap()
    };
    let subuid = std::fs::read_to_string("/etc/subuid")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{USER}:"))
                .map(|r| r.split(':').next().unwrap().parse().unwrap())
        })
        .expect("useradd gave the user no /etc/subuid range");
    TestUser {
        uid: id("-u"),
        gid: id("-g"),
        subuid,
    }
}

fn as_user(u: &TestUser, runtime_dir: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(HULL)
        .args(args)
        .current_dir(cwd)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("HOME", runtime_dir)
        .uid(u.uid)
        .gid(u.gid)
        .output()
        .unwrap()
}

fn chown_all(p: &Path, u: &TestUser) {
    let o = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", u.uid, u.gid))
        .arg(p)
        .output()
        .unwrap();
    assert!(o.status.success());
}

#[test]
fn an_unprivileged_user_runs_a_rootless_bundle() {
    let user = test_user();
    let t = tempfile::tempdir().unwrap();
    let bundle = t.path().join("bundle");
    common::make_rootfs(&bundle.join("rootfs"));
    let run_dir = t.path().join("xdg");
    std::fs::create_dir_all(&run_dir).unwrap();
    chown_all(t.path(), &user);

    let o = as_user(&user, &run_dir, &["spec", "--rootless"], &bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = bundle.join("config.json");
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&config, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    edit(&|v| {
        v["process"]["terminal"] = json!(false);
        v["process"]["args"] = json!(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/setgroups"]);
    });
    let o = as_user(&user, &run_dir, &["run", "own-id"], &bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0", &user.uid.to_string(), "1"], "{out}");
    assert_eq!(
        lines[2],
        ["deny"],
        "an unprivileged gid map needs setgroups denied: {out}"
    );
    assert!(!Path::new("/run/hull/own-id").exists(), "state went to /run/hull");
    assert_eq!(
        std::fs::read_dir(run_dir.join("hull")).unwrap().count(),
        0,
        "state left behind"
    );

    // Subordinate ranges go through newuidmap/newgidmap: a file chowned to
    // 1000 inside belongs to subuid+999 on the host.
    edit(&|v| {
        let maps = json!([{"containerID": 0, "hostID": user.uid, "size": 1},
                          {"containerID": 1, "hostID": user.subuid, "size": 65536}]);
        v["linux"]["uidMappings"] = maps.clone();
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": user.gid, "size": 1},
                                           {"containerID": 1, "hostID": user.subuid, "size": 65536}]);
        v["root"]["readonly"] = json!(false);
        for set in ["bounding", "effective", "permitted"] {
            v["process"]["capabilities"][set] = json!(["CAP_CHOWN"]);
        }
        v["process"]["args"] = json!([
            "sh",
            "-c",
            "cat /proc/self/uid_map; touch /root/f && chown 1000:1000 /root/f"
        ]);
    });
    let o = as_user(&user, &run_dir, &["run", "subids"], &bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    let m = std::fs::metadata(bundle.join("rootfs/root/f")).unwrap();
    assert_eq!(m.uid(), user.subuid + 999);

    // Detached, exec'd into, killed and deleted by the same user.
    edit(&|v| v["process"]["args"] = json!(["sleep", "60"]));
    run_detached_as(&user, &run_dir, &bundle, "bg");
    let o = as_user(&user, &run_dir, &["exec", "bg", "id", "-u"], &bundle);
    assert_eq!(stdout(&o).trim(), "0", "{}", stderr(&o));
    let o = as_user(&user, &run_dir, &["delete", "--force", "bg"], &bundle);
    assert!(o.status.success(), "{}", stderr(&o));

    kill_all_spares_the_pod_sharing_its_pid_namespace(&user, &run_dir, &bundle);
    kill_all_reaches_nested_pid_namespaces(&user, &run_dir, &bundle);
    notify_socket_without_the_privilege_to_clone_a_mount(&user, &run_dir, &bundle);

    // Limits with no delegated cgroup: a clear error, nothing left.
    edit(&|v| v["linux"]["resources"] = json!({"pids": {"limit": 10}}));
    let o = as_user(&user, &run_dir, &["run", "limited"], &bundle);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("delegated"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(run_dir.join("hull")).unwrap().count(), 0);
    assert!(!Path::new("/sys/fs/cgroup/pids/hull/limited").exists());
}

/// What a step of the rootless test leaves: its containers, deleted, and
/// the bundle's config, put back, also when it fails.
struct Leaves<'a> {
    u: &'a TestUser,
    runtime_dir: &'a Path,
    bundle: &'a Path,
    ids: &'a [&'a str],
    config: Vec<u8>,
}

impl<'a> Leaves<'a> {
    fn new(u: &'a TestUser, runtime_dir: &'a Path, bundle: &'a Path, ids: &'a [&'a str]) -> Leaves<'a> {
        let config = std::fs::read(bundle.join("config.json")).unwrap();
        Leaves {
            u,
            runtime_dir,
            bundle,
            ids,
            config,
        }
    }

    /// The config as it was, to edit.
    fn original(&self) -> Value {
        serde_json::from_slice(&self.config).unwrap()
    }

    fn write_config(&self, v: &Value) {
        std::fs::write(self.bundle.join("config.json"), serde_json::to_vec(v).unwrap()).unwrap();
    }
}

impl Drop for Leaves<'_> {
    fn drop(&mut self) {
        for id in self.ids {
            let _ = as_user(self.u, self.runtime_dir, &["delete", "--force", id], self.bundle);
        }
        let _ = std::fs::write(self.bundle.join("config.json"), &self.config);
    }
}

/// The pid of the process descended from `ancestor` whose command line is
/// `args`, once one runs.
fn process_running(ancestor: i64, args: &[&str]) -> i32 {
    let want: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let descends = |pid: i32| {
        let mut p = pid;
        while let Some(pp) = common::ppid_of(p).filter(|&pp| pp > 1) {
            if i64::from(pp) == ancestor {
                return true;
            }
            p = pp;
        }
        false
    };
    let find = || {
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmdline == want && common::alive(pid) && descends(pid)).then_some(pid)
        })
    };
    let mut found = None;
    common::eventually(5, || {
        found = find();
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("{args:?} never ran"))
}

/// A container with a pid namespace of its own and no cgroup: `kill --all`
/// reaches the processes in pid namespaces nested in its own too (before,
/// only those in its own). STOP, since a namespace's init takes no other
/// signal from outside it without a handler.
fn kill_all_reaches_nested_pid_namespaces(u: &TestUser, runtime_dir: &Path, bundle: &Path) {
    let leaves = Leaves::new(u, runtime_dir, bundle, &["nest"]);
    let mut v = leaves.original();
    v["process"]["args"] = json!(["sh", "-c", "unshare -p -f sleep 1002"]);
    for set in ["bounding", "effective", "permitted"] {
        v["process"]["capabilities"][set] = json!(["CAP_SYS_ADMIN"]);
    }
    leaves.write_config(&v);
    run_detached_as(u, runtime_dir, bundle, "nest");
    let o = as_user(u, runtime_dir, &["state", "nest"], bundle);
    let init = serde_json::from_slice::<Value>(&o.stdout).unwrap()["pid"]
        .as_i64()
        .unwrap();
    let nested = process_running(init, &["sleep", "1002"]);
    let o = as_user(u, runtime_dir, &["kill", "--all", "nest", "STOP"], bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::eventually(5, || common::proc_state(nested) == Some('T')),
        "kill --all missed the nested pid namespace"
    );
    let o = as_user(u, runtime_dir, &["delete", "--force", "nest"], bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(common::eventually(5, || !common::alive(nested)));
}

/// NOTIFY_SOCKET for a rootless caller, who cannot clone a mount: the init
/// binds the notify directory by its path, which the caller's mapped root
/// owns, and READY=1 reaches systemd.
fn notify_socket_without_the_privilege_to_clone_a_mount(u: &TestUser, runtime_dir: &Path, bundle: &Path) {
    common::build_fixture("sd-notify.c", &bundle.join("rootfs/sd-notify"), &["-O2"]);
    let path = runtime_dir.join("systemd-notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    systemd
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let leaves = Leaves::new(u, runtime_dir, bundle, &["notified"]);
    let mut v = leaves.original();
    v["process"]["args"] = json!(["/sd-notify", "READY=1"]);
    leaves.write_config(&v);
    let run = user_command(u, runtime_dir, bundle, &["run", "notified"])
        .env("NOTIFY_SOCKET", &path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ready, _) = common::recv_with_fd(&systemd);
    assert_eq!(
        String::from_utf8_lossy(&ready),
        format!("READY=1\nMAINPID={}\n", run.id())
    );
    let (barrier, answer) = common::recv_with_fd(&systemd);
    assert_eq!(barrier, b"BARRIER=1");
    drop(answer);
    let o = run.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// hull as the user in `bundle`, keeping none of the test's pipes.
fn user_command(u: &TestUser, runtime_dir: &Path, bundle: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(HULL);
    c.args(args)
        .current_dir(bundle)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .uid(u.uid)
        .gid(u.gid)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// `run -d` as the user, the container keeping none of the test's pipes.
fn run_detached_as(u: &TestUser, runtime_dir: &Path, bundle: &Path, id: &str) {
    let status = user_command(u, runtime_dir, bundle, &["run", "-d", id])
        .status()
        .unwrap();
    assert!(status.success(), "run -d {id}");
}

/// A pod as rootless podman makes one with `--share pid`: a member joins
/// the first container's user and pid namespaces, and no cgroup tells
/// their processes apart. `kill --all` of the member (podman stop's) must
/// not reach the first container: before, it signalled every process of
/// the shared namespace.
fn kill_all_spares_the_pod_sharing_its_pid_namespace(u: &TestUser, runtime_dir: &Path, bundle: &Path) {
    let leaves = Leaves::new(u, runtime_dir, bundle, &["member", "member2", "pod"]);
    run_detached_as(u, runtime_dir, bundle, "pod");
    let state = |id: &str| -> Value {
        let o = as_user(u, runtime_dir, &["state", id], bundle);
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
    };
    let pod = state("pod")["pid"].as_i64().unwrap();
    let mut v = leaves.original();
    for ns in v["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "user" || ns["type"] == "pid" {
            ns["path"] = json!(format!("/proc/{pod}/ns/{}", ns["type"].as_str().unwrap()));
        }
    }
    v["linux"].as_object_mut().unwrap().remove("uidMappings");
    v["linux"].as_object_mut().unwrap().remove("gidMappings");
    v["process"]["args"] = json!(["sh", "-c", "sleep 1001 & wait"]);
    leaves.write_config(&v);
    run_detached_as(u, runtime_dir, bundle, "member");

    let member = state("member")["pid"].as_i64().unwrap();
    let ns = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    assert_eq!(ns(member), ns(pod), "the member is not in the pod's pid namespace");
    let child = process_running(member, &["sleep", "1001"]);
    // What `exec` put into each: the member's is the member's, though not
    // descended from its init; the pod's is not the member's.
    let exec_into = |id: &str, sleep: &str| -> i32 {
        let pid_file = runtime_dir.join(format!("{id}.exec.pid"));
        let cmd = format!("sleep {sleep} & wait");
        let pf = pid_file.to_str().unwrap();
        // Its stdio not piped here: the process would hold the pipes open.
        let args = ["exec", "-d", "--pid-file", pf, id, "sh", "-c", &cmd];
        let status = user_command(u, runtime_dir, bundle, &args).status().unwrap();
        assert!(status.success(), "exec into {id}");
        let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        process_running(pid, &["sleep", sleep])
    };
    let member_exec = exec_into("member", "1002");
    let pod_exec = exec_into("pod", "1003");

    let o = as_user(u, runtime_dir, &["kill", "--all", "member", "KILL"], bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::eventually(5, || state("member")["status"] == "stopped"),
        "kill --all did not stop the member"
    );
    // Its child is its too; killed, it is the pod's zombie (the pod's init,
    // sleep, reaps nothing).
    assert!(
        common::eventually(5, || !common::alive(child)),
        "kill --all spared the member's child"
    );
    assert!(
        common::eventually(5, || !common::alive(member_exec)),
        "kill --all spared what exec put into the member"
    );
    assert!(
        common::alive(pod_exec),
        "kill --all of the member reached the pod's exec"
    );
    // A killed pod init can look alive while its namespace drains: what
    // shows it alive is that a process can still join it.
    let o = as_user(u, runtime_dir, &["exec", "pod", "true"], bundle);
    assert!(
        o.status.success(),
        "kill --all of the member reached the pod: {}",
        stderr(&o)
    );

    // containerd's flow: the init exits, then kill --all. What exec put
    // into the container outlives its init, and kill --all must reach it.
    v["process"]["args"] = json!(["sleep", "1007"]);
    leaves.write_config(&v);
    run_detached_as(u, runtime_dir, bundle, "member2");
    let orphan = exec_into("member2", "1006");
    let o = as_user(u, runtime_dir, &["kill", "member2", "TERM"], bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::eventually(5, || state("member2")["status"] == "stopped"),
        "TERM did not stop member2"
    );
    assert!(common::alive(orphan), "the exec'd process died with the init");
    let o = as_user(u, runtime_dir, &["kill", "--all", "member2", "KILL"], bundle);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        common::eventually(5, || !common::alive(orphan)),
        "kill --all of a stopped container spared what exec put into it"
    );
    for id in ["member", "member2", "pod"] {
        let o = as_user(u, runtime_dir, &["delete", "--force", id], bundle);
        assert!(o.status.success(), "delete {id}: {}", stderr(&o));
    }
}
