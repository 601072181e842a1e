//! What the engine's tests share: the binaries, the test image, and an
//! engine of the test's own that destroys what it launched when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `hull`, built beside hull-engine by the workspace.
pub fn hull_bin() -> PathBuf {
    let engine = PathBuf::from(env!("CARGO_BIN_EXE_hull-engine"));
    let hull = engine.with_file_name("hull");
    assert!(
        hull.exists(),
        "{}: build the workspace (cargo build --workspace)",
        hull.display()
    );
    hull
}

/// hack/images.sh's busybox image, unpacked as an OCI layout, once per run.
pub fn image() -> String {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("engine-images");
        let o = Command::new(root.join("hack/images.sh")).arg(&out).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let layout = out.join("busybox");
        if !layout.join("index.json").exists() {
            std::fs::create_dir_all(&layout).unwrap();
            let o = Command::new("tar")
                .arg("-C")
                .arg(&layout)
                .arg("-xf")
                .arg(out.join("busybox-oci.tar"))
                .output()
                .unwrap();
            assert!(o.status.success());
        }
        layout
    });
    format!("oci:{}", dir.display())
}

/// Whether `done` comes true within `secs` seconds, polled every 20 ms.
pub fn eventually(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Engine {
    pub tmp: tempfile::TempDir,
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            tmp: tempfile::Builder::new().prefix("hull-engine-test-").tempdir().unwrap(),
        }
    }
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("run")
    }
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("engine")
    }

    /// `hull --root R VERB --engine-dir D ARGS...`
    pub fn cmd(&self, verb: &str, args: &[&str]) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("--root").arg(self.root()).arg(verb);
        if verb != "exec" {
            c.arg("--engine-dir").arg(self.dir());
        }
        c.args(args).stdin(Stdio::null());
        c
    }

    pub fn out(&self, verb: &str, args: &[&str]) -> Output {
        self.cmd(verb, args).output().unwrap()
    }

    /// `launch --image busybox --store S ARGS...`
    pub fn launch(&self, args: &[&str]) -> Output {
        let store = self.tmp.path().join("store");
        let image = image();
        let mut all = vec!["--store", store.to_str().unwrap(), "--image", &image];
        all.extend_from_slice(args);
        self.out("launch", &all)
    }

    /// `launch --no-image ARGS...`
    pub fn launch_no_image(&self, args: &[&str]) -> Output {
        let mut all = vec!["--no-image"];
        all.extend_from_slice(args);
        self.out("launch", &all)
    }

    pub fn inspect(&self, id: &str) -> Value {
        let o = self.out("inspect", &[id]);
        assert!(o.status.success(), "inspect {id}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The record once the container has exited (at most 20 s).
    pub fn wait_exited(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.inspect(id);
            if r["status"] == "exited" || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Engine {
    /// `destroy` of every container the engine has.
    pub fn destroy_all(&self) {
        if let Ok(rd) = std::fs::read_dir(self.dir()) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if !id.starts_with('.') {
                    let _ = self.out("destroy", &[&id]);
                }
            }
        }
    }
}

/// kill -9 of a process an engine record names: "supervisor" or "pid" (the init).
pub fn kill9(record: &Value, which: &str) {
    let v = if which == "supervisor" {
        &record[which][0]
    } else {
        &record[which]
    };
    let pid = v.as_i64().unwrap_or_else(|| panic!("no {which} in {record}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.destroy_all();
        // Whatever a failed test left mounted goes before the temp dir is
        // removed: a no-image bundle's rootfs is a bind of the host's root.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let tmp = self.tmp.path().to_string_lossy().into_owned();
        let mut left: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&tmp))
            .collect();
        left.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in left {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "{:?}\n{}\n{}", o.status, stdout(&o), stderr(&o));
    stdout(&o)
}

/// Nothing of container `id` is left: no state, cgroup, mount or process.
pub fn nothing_left(e: &Engine, id: &str) {
    let dir = e.dir().join(id);
    if dir.exists() {
        let o = Command::new("find")
            .arg(&dir)
            .arg("-maxdepth")
            .arg("3")
            .output()
            .unwrap();
        panic!("engine dir of {id} is left:\n{}", stdout(&o));
    }
    assert!(!e.root().join(id).exists(), "runtime state of {id} is left");
    for c in ["memory", "cpu", "pids", "freezer"] {
        let d = Path::new("/sys/fs/cgroup").join(c).join("hull").join(id);
        assert!(!d.exists(), "{} is left", d.display());
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let tmp = e.tmp.path().to_str().unwrap();
    assert!(!mounts.contains(tmp), "mounts under {tmp} are left:\n{mounts}");
}

/// Writes `conf/10-NAME.conflist`: network NAME on a bridge of the test's
/// own, host-local addresses from `subnet` kept under `ipam`, no masquerade
/// and no route out, portmap for published ports.
pub fn bridge_network(conf: &Path, name: &str, bridge: &str, ipam: &Path, subnet: &str) {
    std::fs::create_dir_all(conf).unwrap();
    let list = serde_json::json!({"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false,
         "ipam": {"type": "host-local", "dataDir": ipam, "ranges": [[{"subnet": subnet}]]}},
        {"type": "portmap", "snat": false, "capabilities": {"portMappings": true}}]});
    std::fs::write(conf.join(format!("10-{name}.conflist")), list.to_string()).unwrap();
}

/// Addresses host-local still holds for `network` under `ipam`.
pub fn reserved(ipam: &Path, network: &str) -> Vec<String> {
    std::fs::read_dir(ipam.join(network))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("10."))
                .collect()
        })
        .unwrap_or_default()
}

/// Fails if any interface (a container's veth) is still on `bridge`.
pub fn assert_no_veths(bridge: &str) {
    let links = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    assert_eq!(stdout(&links), "", "veths left on {bridge}");
}
