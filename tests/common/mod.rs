//! Test fixtures: busybox-static bundles, a private --root per test, and
//! cleanup of every container a test made, also when it fails.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const HULL: &str = env!("CARGO_BIN_EXE_hull");

/// Polls `done` every 20 ms for up to `secs` seconds; whether it came true.
/// Tests wait on what they can observe, never on a fixed sleep.
pub fn eventually(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if done() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A bundle whose rootfs holds busybox and a symlink per applet.
pub struct Bundle {
    pub tmp: tempfile::TempDir,
    /// The --root for this test's containers.
    pub root: PathBuf,
    /// Runtime binary driven by `cmd` (hull unless a test says otherwise).
    pub runtime: String,
}

pub fn make_rootfs(rootfs: &Path) {
    for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root", "home"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static: run hack/setup.sh");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

impl Bundle {
    /// `hull spec` with terminal off and these args.
    pub fn new(args: &[&str]) -> Bundle {
        let tmp = tempfile::Builder::new().prefix("hull-test-").tempdir().unwrap();
        let root = tmp.path().join("state");
        let bundle = tmp.path().join("bundle");
        make_rootfs(&bundle.join("rootfs"));
        let out = Command::new(HULL)
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hull spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let b = Bundle {
            tmp,
            root,
            runtime: HULL.to_string(),
        };
        b.edit(|c| {
            c["process"]["terminal"] = Value::Bool(false);
            c["process"]["args"] = serde_json::json!(args);
        });
        b
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("bundle")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir().join("rootfs")
    }

    pub fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir().join("config.json")).unwrap()).unwrap()
    }

    pub fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut c = self.config();
        f(&mut c);
        std::fs::write(self.dir().join("config.json"), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// The runtime with this test's --root.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn out(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// For commands that leave a container behind (create, run -d): its init
    /// inherits stdio, so output goes through files rather than pipes that
    /// would stay open as long as the container.
    pub fn out_detached(&self, args: &[&str]) -> Output {
        self.detached(self.cmd(args))
    }

    /// `cmd` run as out_detached runs it; the files go to logs/ in the
    /// test's directory.
    pub fn detached(&self, mut cmd: Command) -> Output {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let tag = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let logs = self.tmp.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let (o, e) = (logs.join(format!("out-{tag}")), logs.join(format!("err-{tag}")));
        let status = cmd
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .unwrap();
        Output {
            status,
            stdout: std::fs::read(&o).unwrap_or_default(),
            stderr: std::fs::read(&e).unwrap_or_default(),
        }
    }

    /// `run --bundle <dir> <id>` in the foreground.
    pub fn run(&self, id: &str) -> Output {
        let dir = self.dir();
        self.out(&["run", "--bundle", dir.to_str().unwrap(), id])
    }

    /// Runs and returns stdout, failing the test on a non-zero exit.
    pub fn run_ok(&self, id: &str) -> String {
        let o = self.run(id);
        assert!(
            o.status.success(),
            "run {id} failed ({:?}): {}{}",
            o.status,
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    pub fn create(&self, id: &str, extra: &[&str]) -> Output {
        let dir = self.dir();
        let mut args = vec!["create", "--bundle", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.out_detached(&args)
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.out(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The state once its status is `want`, or as it is after 10 s.
    pub fn wait_status(&self, id: &str, want: &str) -> Value {
        let mut st = self.state(id);
        eventually(10, || {
            st = self.state(id);
            st["status"] == want
        });
        st
    }

    /// tests/fixtures/SOURCE compiled static into the rootfs at `at`, for
    /// what busybox has no applet for.
    pub fn build_fixture(&self, source: &str, at: &str, flags: &[&str]) {
        build_fixture(source, &self.rootfs().join(at), flags);
    }

    /// The ids left under this test's --root.
    /// `run -d --bundle <dir> <id>`.
    pub fn run_detached(&self, id: &str) -> Output {
        let dir = self.dir();
        self.out_detached(&["run", "-d", "--bundle", dir.to_str().unwrap(), id])
    }

    pub fn leftovers(&self) -> Vec<String> {
        match std::fs::read_dir(&self.root) {
            Ok(rd) => rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect(),
            Err(_) => vec![],
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in self.leftovers() {
            let _ = self.out(&["delete", "--force", &id]);
        }
    }
}

/// Leaves the namespace of type `kind` out of a config: the container
/// shares the caller's.
pub fn without_namespace(config: &mut Value, kind: &str) {
    if let Some(ns) = config["linux"]["namespaces"].as_array_mut() {
        ns.retain(|n| n["type"] != kind);
    }
}

/// tests/fixtures/SOURCE compiled static to `out`.
pub fn build_fixture(source: &str, out: &Path, flags: &[&str]) {
    let o = Command::new("cc")
        .arg("-static")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(source),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "cc {source}: {}", stderr(&o));
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Pids of processes whose command line names this path (a test's --root):
/// hull commands and container inits that have not exec'd yet.
pub fn processes_naming(path: &Path) -> Vec<i32> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(&needle))
                .unwrap_or(false)
        })
        .filter(|pid| alive(*pid))
        .collect()
}

pub fn alive(pid: i32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z')
}

pub fn ppid_of(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("PPid:")?.trim().parse().ok())
}

/// State letter of /proc/PID/stat ('T' stopped, 'Z' zombie), or None.
pub fn proc_state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.trim_start().chars().next()
}

/// The pid a pidfd holds, as its fdinfo says (-1 once it is reaped).
pub fn pidfd_pid(fd: &std::os::fd::OwnedFd) -> i64 {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", std::os::fd::AsRawFd::as_raw_fd(fd))).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a pidfd: {info}"))
}

/// A user namespace in config `c`, its root mapped to host `uid` and `gid`
/// for `size` ids.
pub fn add_user_namespace(c: &mut Value, uid: u32, gid: u32, size: u32) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    c["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": size}]);
    c["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": size}]);
}

/// OCI linux.seccomp for amd64 and these capabilities, the way podman does:
/// entries whose includes/excludes (caps, arches) do not fit are dropped.
pub fn containers_common_seccomp(caps: &[&str]) -> Option<Value> {
    let text = std::fs::read("/usr/share/containers/seccomp.json").ok()?;
    let p: Value = serde_json::from_slice(&text).ok()?;
    let list = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let mut syscalls = vec![];
    for s in p["syscalls"].as_array()? {
        let (inc, exc) = (&s["includes"], &s["excludes"]);
        let inc_caps = list(inc, "caps");
        let inc_arch = list(inc, "arches");
        let exc_caps = list(exc, "caps");
        let exc_arch = list(exc, "arches");
        let fits = inc_caps.iter().all(|c| caps.contains(&c.as_str()))
            && (inc_arch.is_empty() || inc_arch.iter().any(|a| a == "amd64"))
            && !exc_caps.iter().any(|c| caps.contains(&c.as_str()))
            && !exc_arch.iter().any(|a| a == "amd64");
        if !fits {
            continue;
        }
        let mut rule = serde_json::json!({"names": s["names"], "action": s["action"]});
        if let Some(e) = s["errnoRet"].as_u64() {
            rule["errnoRet"] = e.into();
        }
        if let Some(args) = s["args"].as_array().filter(|a| !a.is_empty()) {
            rule["args"] = Value::Array(args.clone());
        }
        syscalls.push(rule);
    }
    let mut out = serde_json::json!({"defaultAction": p["defaultAction"], "syscalls": syscalls});
    if let Some(e) = p["defaultErrnoRet"].as_u64() {
        out["defaultErrnoRet"] = e.into();
    }
    // As podman writes it for amd64: the native arch and its sub-architectures.
    if let Some(m) = p["archMap"]
        .as_array()?
        .iter()
        .find(|m| m["architecture"] == "SCMP_ARCH_X86_64")
    {
        let mut archs = vec![m["architecture"].clone()];
        archs.extend(m["subArchitectures"].as_array().cloned().unwrap_or_default());
        out["architectures"] = Value::Array(archs);
    }
    Some(out)
}

/// Makes `cmd` run under a seccomp filter that answers syscall `nr` with
/// `errno`, as a confining parent's profile may.
pub fn refuse_syscall(cmd: &mut Command, nr: i64, errno: i32) {
    use std::os::unix::process::CommandExt;
    let filter: seccompiler::BpfProgram = seccompiler::SeccompFilter::new(
        [(nr, vec![])].into_iter().collect(),
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Errno(errno as u32),
        std::env::consts::ARCH.try_into().unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    // SAFETY: between fork and exec only the filter is installed.
    unsafe {
        cmd.pre_exec(move || seccompiler::apply_filter(&filter).map_err(std::io::Error::other));
    }
}

/// Accepts one connection and receives (payload, fd) the way containerd's
/// console socket does (and a pidfd socket's user): one message, one
/// SCM_RIGHTS fd.
pub fn fd_receiver(path: &Path) -> std::sync::mpsc::Receiver<(String, std::os::fd::OwnedFd)> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let (payload, fd) = recv_with_fd(&conn);
        let fd = fd.expect("exactly one fd");
        tx.send((String::from_utf8_lossy(&payload).into_owned(), fd)).unwrap();
    });
    rx
}

/// One message from a socket and the fd that came with it (SCM_RIGHTS).
pub fn recv_with_fd(sock: &impl std::os::fd::AsRawFd) -> (Vec<u8>, Option<std::os::fd::OwnedFd>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    // Another test's signal may interrupt the wait.
    let msg = loop {
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()) {
            Err(nix::Error::EINTR) => continue,
            r => break r.expect("recvmsg: nothing came within the socket's timeout"),
        }
    };
    let mut fds = vec![];
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(f) = c {
            fds.extend(f);
        }
    }
    assert!(fds.len() <= 1, "more than one fd");
    let n = msg.bytes;
    // SAFETY: the fd just arrived over SCM_RIGHTS and is ours.
    (
        buf[..n].to_vec(),
        fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) }),
    )
}
