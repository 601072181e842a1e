//! Crashes at every step of the provisioner (`cargo test -p hull-engine
//! --features fault-injection --test faults`): `image pull` and `bundle
//! create` SIGKILLed at each of their fault points in turn. After each
//! crash `image ls` lists only whole images, the next identical pull
//! completes (and leaves no part-written file in the store), and `bundle
//! rm` leaves nothing: no mount under the bundle, no file in it, no record.
//! Then `hull launch`, alone and on a CNI bridge, killed at each of its
//! points (its own, bundle create's, the CNI calls', the runtime's): after
//! `recover` and `destroy` no state, cgroup, mount, sandbox, veth or
//! address reservation is left, and the same launch runs again. A pod's
//! first launch killed leaves no half-made pod for the next to join.
//! A launch stopped in a window a user could race (HULL_FAULT_STOP) shows
//! the supervisor writes through no link that user left.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{hull_bin, image, stderr};

/// Output goes through files, not pipes: a container's init killed with
/// its launch keeps its stdio, and a pipe would never reach its end.
fn hull(args: &[&str], env: (&str, &str)) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let status = Command::new(hull_bin())
        .args(args)
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: read_all(out),
        stderr: read_all(err),
    }
}

fn read_all(mut f: std::fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    let mut v = Vec::new();
    f.rewind().unwrap();
    f.read_to_end(&mut v).unwrap();
    v
}

fn ok(args: &[&str]) -> Output {
    let o = hull(args, ("HULL_FAULT", ""));
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn points_of(args: &[&str], log: &Path) -> Vec<String> {
    let _ = std::fs::remove_file(log);
    let o = hull(args, ("HULL_FAULT_LOG", log.to_str().unwrap()));
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn crash_at(point: &str, args: &[&str]) {
    let o = hull(args, ("HULL_FAULT", point));
    assert_eq!(
        o.status.signal(),
        Some(9),
        "{args:?} at {point} was not killed: {}",
        stderr(&o)
    );
}

/// Names `image ls` gives; each must be a whole image (its layers counted).
fn listed(store: &str) -> Vec<String> {
    let o = ok(&["image", "ls", "--store", store, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert!(i["layers"].as_u64().is_some_and(|n| n > 0), "a broken entry: {i}");
            i["name"].as_str().unwrap().to_string()
        })
        .collect()
}

fn mounts_under(dir: &Path) -> usize {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|p| Path::new(p).starts_with(dir)))
        .count()
}

#[test]
fn a_pull_or_bundle_create_killed_at_any_step_is_cleared_and_done_again() {
    let t = tempfile::tempdir().unwrap();
    let (store, log) = (t.path().join("store"), t.path().join("points"));
    let s = store.to_str().unwrap();
    let img = image();
    let pull = ["image", "pull", "-q", "--store", s, img.as_str()];
    let pull_points = points_of(&pull, &log);
    assert!(
        pull_points.len() >= 3,
        "pull reaches too few fault points: {pull_points:?}"
    );
    let name = listed(s).pop().expect("the pulled image");

    for p in &pull_points {
        ok(&["image", "rm", "--store", s, &name]);
        ok(&["image", "gc", "--store", s]);
        crash_at(p, &pull);
        assert!(
            listed(s).is_empty(),
            "after a pull killed at {p}, image ls shows an image"
        );
        ok(&pull);
        assert_eq!(listed(s), vec![name.clone()], "the pull after a crash at {p}");
        let tmp: Vec<_> = std::fs::read_dir(store.join("tmp"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            tmp.is_empty(),
            "the pull after a crash at {p} left {tmp:?} in the store's tmp/"
        );
    }

    let mut bundle_points = 0;
    for backend in ["overlay", "copy"] {
        let dir = t.path().join(format!("bundle-{backend}"));
        let d = dir.to_str().unwrap();
        let create = [
            "bundle",
            "create",
            "--store",
            s,
            "--backend",
            backend,
            "--image",
            img.as_str(),
            d,
        ];
        let points = points_of(&create, &log);
        bundle_points += points.len();
        assert!(
            points.len() >= 2,
            "bundle create reaches too few fault points: {points:?}"
        );
        ok(&["bundle", "rm", d]);
        for p in &points {
            crash_at(p, &create);
            ok(&["bundle", "rm", d]);
            assert_eq!(mounts_under(&dir), 0, "bundle rm after a crash at {p} left mounts");
            // rm empties the directory (create may have been given it).
            let inside = std::fs::read_dir(&dir).map(|r| r.count()).unwrap_or(0);
            assert_eq!(inside, 0, "bundle rm after a crash at {p} left files in {d}");
            let records = std::fs::read_dir(store.join("bundles")).map(|r| r.count()).unwrap_or(0);
            assert_eq!(records, 0, "bundle rm after a crash at {p} left the bundle's record");
            ok(&create);
            ok(&["bundle", "rm", d]);
        }
    }
    println!(
        "[faults] {} crash points of image pull, {bundle_points} of bundle create (overlay and copy): \
         each cleared and done again",
        pull_points.len()
    );
}

/// `hull launch --name ID EXTRA... -- CMD...` on the test's image and engine.
fn launch_args(e: &common::Engine, id: &str, extra: &[&str], cmd: &[&str]) -> Vec<String> {
    let store = e.tmp.path().join("store");
    let mut a: Vec<String> = vec!["--root".into(), e.root().to_str().unwrap().into(), "launch".into()];
    a.extend(["--engine-dir".into(), e.dir().to_str().unwrap().into()]);
    a.extend([
        "--store".into(),
        store.to_str().unwrap().into(),
        "--image".into(),
        image(),
    ]);
    a.extend(["--name", id, "--memory", "64M"].map(String::from));
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push("--".into());
    a.extend(cmd.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `hull launch` (foreground) killed at each of its steps, `extra` its
/// own flags: `after_crash` runs with the point's name, then `recover`
/// adopts or cleans up what it left, `destroy` of the id leaves nothing
/// (state, cgroup, mounts, the sandbox, and what `left` checks), and the
/// same launch succeeds again. Returns the points.
fn launch_crashes(
    e: &common::Engine,
    id: &str,
    extra: &[&str],
    after_crash: impl Fn(&str),
    left: impl Fn(),
) -> Vec<String> {
    let (root, dir) = (e.root(), e.dir());
    let (root, dir) = (root.to_str().unwrap(), dir.to_str().unwrap());
    let launch = launch_args(e, id, extra, &["true"]);
    let launch = strs(&launch);
    // The first launch pulls the image; the rest find it in the store.
    let points: Vec<String> = points_of(&launch, &e.tmp.path().join("points"))
        .into_iter()
        .filter(|p| !p.starts_with("pull:"))
        .collect();
    for p in &points {
        eprintln!("launch killed at {p}");
        crash_at(p, &launch);
        after_crash(p);
        ok(&["--root", root, "recover", "--engine-dir", dir]);
        // Nobody will start an init a killed launch left waiting: recover
        // must clean it up, not adopt it as running.
        let st = hull(&["--root", root, "state", id], ("HULL_FAULT", ""));
        assert!(
            !common::stdout(&st).contains("\"created\""),
            "after a crash at {p}, recover left a container that never started"
        );
        let _ = hull(
            &["--root", root, "destroy", "--engine-dir", dir, id],
            ("HULL_FAULT", ""),
        );
        common::nothing_left(e, id);
        left();
        ok(&launch);
        common::nothing_left(e, id);
        left();
    }
    points
}

#[test]
fn a_launch_killed_at_any_step_is_recovered_and_leaves_nothing() {
    let e = common::Engine::new();
    let points = launch_crashes(&e, "fault-launch", &[], |_| {}, || {});
    for p in [
        "launch:recorded",
        "bundle:rootfs",
        "create:forked",
        "create:ready",
        "launch:started",
    ] {
        assert!(points.iter().any(|q| q == p), "launch never reaches {p}: {points:?}");
    }
    println!(
        "[faults] {} crash points of hull launch: each recovered, nothing left",
        points.len()
    );
}

/// A CNI bridge network of the test's own (no masquerade, no route out),
/// its bridge deleted when dropped: make it before the engine, whose
/// containers' DEL needs the bridge.
struct Bridge {
    name: String,
    tmp: tempfile::TempDir,
}

impl Bridge {
    fn new(tag: &str, subnet: &str) -> Bridge {
        let b = Bridge {
            name: format!("hull{tag}{}", std::process::id() % 100000),
            tmp: tempfile::tempdir().unwrap(),
        };
        common::bridge_network(&b.conf(), "faultnet", &b.name, &b.ipam(), subnet);
        b
    }

    fn conf(&self) -> std::path::PathBuf {
        self.tmp.path().join("cni")
    }

    fn ipam(&self) -> std::path::PathBuf {
        self.tmp.path().join("ipam")
    }

    fn flags(&self) -> Vec<String> {
        let conf = self.conf().to_str().unwrap().to_string();
        vec!["--cni-config-dir".into(), conf, "--network".into(), "faultnet".into()]
    }

    /// No veth on the bridge, no address host-local reserved.
    fn assert_clear(&self) {
        common::assert_no_veths(&self.name);
        let reserved = common::reserved(&self.ipam(), "faultnet");
        assert!(reserved.is_empty(), "addresses still reserved: {reserved:?}");
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.name]).output();
    }
}

/// Killed before, between and after the plugins' ADDs, nothing may stay:
/// no veth on the bridge, no address host-local reserved.
#[test]
fn a_networked_launch_killed_at_any_step_leaves_no_veth_or_address() {
    let net = Bridge::new("f", "10.213.150.0/24");
    let e = common::Engine::new();
    let flags = net.flags();
    let points = launch_crashes(&e, "fault-net", &strs(&flags), |_| {}, || net.assert_clear());
    for p in [
        "cni:netns",
        "cni:recorded",
        "cni:plugin-0-added",
        "cni:plugin-1-added",
        "cni:added",
    ] {
        assert!(points.iter().any(|q| q == p), "launch never reaches {p}: {points:?}");
    }
    println!(
        "[faults] {} crash points of a networked hull launch: no veth, no address left",
        points.len()
    );
}

/// A pod's first launch killed at each step, its pod half-made: the next
/// launch into the pod, before any `recover`, gets a whole pod (an address
/// on the pod's network), and once the crashed one is recovered and
/// destroyed the pod goes with its last member, leaving nothing.
#[test]
fn a_pod_launch_killed_at_any_step_leaves_no_pod_a_launch_would_join_half_made() {
    let net = Bridge::new("p", "10.213.151.0/24");
    let e = common::Engine::new();
    let mut extra = vec!["--pod".to_string(), "fpod".into()];
    extra.extend(net.flags());
    let pod = e.dir().join(".pods/fpod");
    let joiner = launch_args(
        &e,
        "fault-pod-b",
        &strs(&extra),
        &["ip", "-4", "-o", "addr", "show", "eth0"],
    );
    let bare = launch_args(
        &e,
        "fault-pod-c",
        &["--pod", "fpod"],
        &["sh", "-c", "ip -4 -o addr; true"],
    );
    let next_launch_joins = |p: &str| {
        // A member that leaves --network out (as members do) gets the pod's
        // network, or is refused while the pod is half-made on it: never a
        // pod remade without it. Only a pod nothing was recorded of yet is
        // its own to make, on no network.
        let recorded = pod.join("networks.json").exists();
        let o = hull(&strs(&bare), ("HULL_FAULT", ""));
        let (out, err) = (common::stdout(&o), stderr(&o));
        let on_net = out.contains("inet 10.213.151.");
        assert!(
            (o.status.success() && (on_net || !recorded)) || (!o.status.success() && err.contains("--network")),
            "a launch into the pod without --network after a crash at {p}: {out}{err}"
        );
        let o = hull(&strs(&joiner), ("HULL_FAULT", ""));
        let out = common::stdout(&o);
        assert!(
            o.status.success() && out.contains("inet 10.213.151."),
            "a launch into the pod after a crash at {p}: no address on the pod's network: {out}{}",
            stderr(&o)
        );
        // The crashed launch's mounts stay until recover: the rest of
        // nothing_left is checked after it.
        for j in ["fault-pod-b", "fault-pod-c"] {
            assert!(!e.dir().join(j).exists(), "the joiner {j}'s sandbox is left");
            assert!(!e.root().join(j).exists(), "the joiner {j}'s state is left");
        }
    };
    let left = || {
        net.assert_clear();
        assert!(!pod.exists(), "the pod outlived its members");
    };
    let points = launch_crashes(&e, "fault-pod", &strs(&extra), next_launch_joins, left);
    for p in [
        "cni:netns",
        "cni:plugin-0-added",
        "cni:added",
        "pod:made",
        "launch:started",
    ] {
        assert!(points.iter().any(|q| q == p), "launch never reaches {p}: {points:?}");
    }
    println!(
        "[faults] {} crash points of a pod's launch: the next launch joins a whole pod, nothing left",
        points.len()
    );
}

/// The state letter of /proc/PID/stat.
fn proc_state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s.rsplit(')').next()?.trim_start().chars().next()
}

/// A sandbox reached by its host path belongs to its container's user, who
/// can leave links in it. Stopped after the sandbox is the user's and
/// before the supervisor opens its stdout there, the test leaves the link
/// the user could: `stdout` to a file of root's. The supervisor must not
/// write through it (before, root truncated and filled that file).
#[test]
fn the_supervisor_never_writes_through_a_link_in_a_users_sandbox() {
    /// The launch, killed should the test fail while it is stopped.
    struct Launch(std::process::Child);
    impl Drop for Launch {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let e = common::Engine::new();
    let victim = e.tmp.path().join("roots-file");
    std::fs::write(&victim, "root's\n").unwrap();
    let errors = e.tmp.path().join("launch-stderr");
    let (root, dir) = (e.root(), e.dir());
    let mut launch = Launch(
        Command::new(hull_bin())
            .args([
                "--root",
                root.to_str().unwrap(),
                "launch",
                "--engine-dir",
                dir.to_str().unwrap(),
            ])
            .args([
                "-d",
                "--no-image",
                "--launcher",
                "posix",
                "-u",
                "nobody",
                "--name",
                "linked",
            ])
            .args(["--", "echo", "written through the link"])
            .env("HULL_FAULT_STOP", "launch:prepared")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&errors).unwrap())
            .spawn()
            .unwrap(),
    );
    // hull execs hull-engine, which re-execs itself sealed: one pid.
    let pid = launch.0.id() as i32;
    assert!(
        common::eventually(20, || proc_state(pid) == Some('T')),
        "launch never reached launch:prepared"
    );
    let sandbox = dir.join("linked/sandbox");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&sandbox).unwrap());
    assert_eq!(
        owner, 65534,
        "the sandbox is not its user's: the window is not the one a user has"
    );
    std::os::unix::fs::symlink(&victim, sandbox.join("stdout")).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGCONT).unwrap();
    let status = launch.0.wait().unwrap();
    let said = std::fs::read_to_string(&errors).unwrap_or_default();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's\n",
        "the supervisor wrote through the link"
    );
    assert!(
        !status.success() && said.contains("sandbox/stdout"),
        "the launch did not fail on the link: {said}"
    );
    common::nothing_left(&e, "linked");
}
