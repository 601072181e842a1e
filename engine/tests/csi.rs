//! CSI volumes through the tests' own node plugin (fixtures/csi: Python,
//! grpcio; each volume a loop-mounted ext4 image): staged and published
//! before create, unpublished and unstaged at cleanup and after a crash;
//! what one container wrote, the next that publishes the volume reads.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{kill9, ok, stderr, Engine};
use serde_json::Value;

struct PluginUnderTest {
    e: Engine,
    child: Child,
    socket: PathBuf,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/csi")
}

impl PluginUnderTest {
    fn start() -> PluginUnderTest {
        let e = Engine::new();
        let t = e.tmp.path().to_path_buf();
        for d in ["stubs", "data"] {
            std::fs::create_dir_all(t.join(d)).unwrap();
        }
        let o = Command::new("/usr/bin/python3")
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(fixtures())
            .arg(format!("--python_out={}", t.join("stubs").display()))
            .arg(format!("--grpc_python_out={}", t.join("stubs").display()))
            .arg("csi_node.proto")
            .output()
            .unwrap();
        assert!(o.status.success(), "protoc: {}", stderr(&o));
        let socket = t.join("csi.sock");
        let child = Command::new("/usr/bin/python3")
            .arg(fixtures().join("node_plugin.py"))
            .arg(&socket)
            .arg(t.join("data"))
            .arg(t.join("calls.log"))
            .env("PYTHONPATH", t.join("stubs"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the CSI plugin did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        PluginUnderTest { e, child, socket }
    }

    fn volume(&self, id: &str, ctr: &str) -> String {
        format!("csi:{}:{id}:{ctr}", self.socket.display())
    }

    /// The calls the plugin got, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.e.tmp.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["call"].as_str().map(String::from))
            .filter(|c| c != "ready")
            .collect()
    }

    fn no_mounts_left(&self) {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let tmp = self.e.tmp.path().to_str().unwrap();
        assert!(!mounts.contains(tmp), "mounts left under {tmp}:\n{mounts}");
    }
}

impl Drop for PluginUnderTest {
    fn drop(&mut self) {
        // The engine's containers go first (their cleanup calls the plugin).
        self.e.destroy_all();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_csi_volume_written_by_one_container_is_read_by_the_next() {
    let p = PluginUnderTest::start();
    let rw = p.volume("vol-1", "/data");
    ok(p.e.launch(&[
        "--name",
        "writer",
        "-v",
        &rw,
        "--",
        "sh",
        "-c",
        "echo from-the-writer > /data/f",
    ]));
    let ro = format!("{}:ro", p.volume("vol-1", "/data"));
    let o = p.e.launch(&[
        "--name",
        "reader",
        "-v",
        &ro,
        "--",
        "sh",
        "-c",
        "cat /data/f; touch /data/g",
    ]);
    assert_eq!(common::stdout(&o), "from-the-writer\n");
    assert!(stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    let one = [
        "NodeGetCapabilities",
        "NodeStageVolume",
        "NodePublishVolume",
        "NodeUnpublishVolume",
        "NodeUnstageVolume",
    ];
    assert_eq!(p.calls(), [one, one].concat());
    p.no_mounts_left();
}

#[test]
fn a_crashed_containers_csi_volume_is_unpublished_by_recover() {
    let p = PluginUnderTest::start();
    let v = p.volume("vol-2", "/data");
    ok(p.e.launch(&["-d", "--name", "lost", "-v", &v, "--", "sleep", "60"]));
    let r = p.e.inspect("lost");
    for which in ["supervisor", "pid"] {
        kill9(&r, which);
    }
    std::thread::sleep(Duration::from_millis(300));
    let said = ok(p.e.out("recover", &[]));
    assert!(said.contains("lost: cleaned up"), "{said}");
    assert_eq!(p.calls()[3..], ["NodeUnpublishVolume", "NodeUnstageVolume"]);
    ok(p.e.out("destroy", &["lost"]));
    p.no_mounts_left();
    // A plugin's gRPC error reaches the user with its code and message.
    let bad = p.volume("a%2Fb/../x", "/data");
    let o = p.e.launch(&["-v", &bad, "--", "true"]);
    assert!(
        stderr(&o).contains("NodeStageVolume: InvalidArgument: bad volume id"),
        "{}",
        stderr(&o)
    );
    p.no_mounts_left();
}
