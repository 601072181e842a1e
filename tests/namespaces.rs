//! Namespaces: all eight kinds new, joined by path, and user id mappings.

mod common;

use common::{stderr, Bundle};
use serde_json::json;

const KINDS: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
    ("user", "user"),
    ("time", "time"),
];

fn host_ns(file: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{file}"))
        .unwrap()
        .display()
        .to_string()
}

/// `file=link` lines for every namespace the container's process is in.
fn ns_report(b: &Bundle, id: &str) -> std::collections::HashMap<String, String> {
    let out = b.run_ok(id);
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const REPORT: &str = "for n in pid net ipc uts mnt cgroup user time; do echo $n=$(readlink /proc/self/ns/$n); done";

#[test]
fn all_eight_new_namespaces() {
    let b = Bundle::new(&["sh", "-c", REPORT]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!(KINDS.iter().map(|(t, _)| json!({"type": t})).collect::<Vec<_>>());
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // Files owned by host root show up as nobody in the user namespace; keep it simple.
        c["root"]["readonly"] = json!(false);
    });
    let seen = ns_report(&b, "ns-all");
    for (_, file) in KINDS {
        let inside = seen.get(file).unwrap_or_else(|| panic!("no {file} in {seen:?}"));
        assert_ne!(*inside, host_ns(file), "{file} namespace is the host's");
    }
}

#[test]
fn without_a_namespace_the_host_one_is_kept() {
    let b = Bundle::new(&["sh", "-c", REPORT]);
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
    });
    let seen = ns_report(&b, "ns-few");
    assert_ne!(seen["mnt"], host_ns("mnt"));
    assert_ne!(seen["uts"], host_ns("uts"));
    for file in ["net", "ipc", "user", "cgroup"] {
        assert_eq!(seen[file], host_ns(file), "{file}");
    }
}

#[test]
fn join_namespaces_by_path() {
    let first = Bundle::new(&["sleep", "60"]);
    assert!(first.run_detached("ns-owner").status.success());
    let pid = first.state("ns-owner")["pid"].as_i64().unwrap();
    let want = |f: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{f}"))
            .unwrap()
            .display()
            .to_string()
    };

    let second = Bundle::new(&["sh", "-c", REPORT]);
    second.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "mount"},
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
            {"type": "network", "path": format!("/proc/{pid}/ns/net")},
            {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
            {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        ]);
        c["hostname"] = json!(null);
    });
    let seen = ns_report(&second, "ns-joiner");
    for f in ["pid", "net", "ipc", "uts"] {
        assert_eq!(seen[f], want(f), "{f} not joined");
    }
    assert_ne!(seen["mnt"], want("mnt"));

    // runtime-tools joins a pid namespace through pid_for_children.
    second.edit(|c| c["linux"]["namespaces"][1]["path"] = json!(format!("/proc/{pid}/ns/pid_for_children")));
    assert_eq!(ns_report(&second, "ns-joiner2")["pid"], want("pid"));
}

#[test]
fn user_namespace_mappings() {
    let b = Bundle::new(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"]);
    b.edit(|c| {
        common::add_user_namespace(c, 200000, 300000, 1000);
    });
    let out = b.run_ok("userns");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "200000", "1000", "0", "300000", "1000", "0"], "{out}");
}

#[test]
fn user_namespace_needs_mappings() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}))
    });
    let o = b.create("nomap", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("uidMappings"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

#[test]
fn hostname_and_domainname() {
    let b = Bundle::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"]);
    b.edit(|c| {
        c["hostname"] = json!("box-1");
        c["domainname"] = json!("example.test");
    });
    assert_eq!(b.run_ok("uts"), "box-1\nexample.test\n");
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    let b = Bundle::new(&["sh", "-c", "echo $$; ls -d /proc/[0-9]* | wc -l"]);
    let out = b.run_ok("pid1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(
        lines[1].trim().parse::<u32>().unwrap() <= 4,
        "host processes visible: {out}"
    );
}

/// Without a mount namespace (runtime-tools' linux_ns_itype; runc allows it)
/// the container shares the caller's mounts and is chrooted into its rootfs;
/// exec lands there too. Run in a private mount namespace of the test's own,
/// so the config's mounts (proc, dev...) vanish with it.
#[test]
fn without_a_mount_namespace_the_container_shares_the_callers() {
    let b = Bundle::new(&["sh", "-c", "readlink /proc/self/ns/mnt; ls /bin/busybox; sleep 30"]);
    b.edit(|c| {
        common::without_namespace(c, "mount");
        c["root"]["readonly"] = json!(false);
    });
    let dir = b.dir();
    let script = format!(
        "readlink /proc/self/ns/mnt; {hull} --root {root} run -d --bundle {dir} nomnt >{out} 2>&1 || cat {out}; \
         for i in $(seq 50); do grep -q busybox {out} && break; sleep 0.1; done; cat {out}; \
         {hull} --root {root} exec nomnt sh -c 'ls /bin/busybox; readlink /proc/self/ns/mnt'; \
         {hull} --root {root} delete -f nomnt",
        hull = common::HULL,
        root = b.root.display(),
        dir = dir.display(),
        out = b.tmp.path().join("init.out").display(),
    );
    let o = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let out = common::stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 5, "{out}{}", stderr(&o));
    let caller_ns = lines[0];
    assert!(caller_ns.starts_with("mnt:["), "{out}");
    assert_eq!(
        lines[1..5],
        [caller_ns, "/bin/busybox", "/bin/busybox", caller_ns],
        "{out}{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty());
    // A read-only root would remount the caller's filesystem: refused.
    b.edit(|c| c["root"]["readonly"] = json!(true));
    let o = b.create("nomnt-ro", &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("root.readonly: needs a mount namespace"),
        "{}",
        stderr(&o)
    );
}

/// A host ifb device (this kernel has no dummy driver), deleted on drop if
/// it is still on the host (a virtual device dies with the namespace it was
/// moved to).
struct Dummy(String);

impl Dummy {
    fn new(name: &str, addrs: &[&str]) -> Dummy {
        let ip = |args: &[&str]| {
            let o = std::process::Command::new("ip").args(args).output().unwrap();
            assert!(
                o.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        let _ = std::process::Command::new("ip").args(["link", "del", name]).output();
        ip(&["link", "add", name, "type", "ifb"]);
        let d = Dummy(name.to_string());
        for a in addrs {
            let mut args = vec!["addr", "add", a, "dev", name];
            if a.contains(':') {
                args.push("nodad");
            }
            ip(&args);
        }
        d
    }

    fn on_host(&self) -> bool {
        std::path::Path::new("/sys/class/net").join(&self.0).exists()
    }
}

impl Drop for Dummy {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// linux.netDevices: the device moves in under its new name, with its
/// addresses, and up; a name taken inside fails create and leaves the
/// device on the host.
#[test]
fn net_devices_move_in_with_their_addresses() {
    let name = format!("hnd{}", std::process::id() % 1_000_000);
    let dev = Dummy::new(&name, &["10.213.7.1/24", "fd00:213::7/64"]);
    let b = Bundle::new(&["sh", "-c", "ip -o addr show dev eth7; ip -o link show eth7"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ &name: {"name": "eth7"} }));
    let out = b.run_ok("netdev");
    assert!(out.contains("inet 10.213.7.1/24"), "{out}");
    assert!(out.contains("inet6 fd00:213::7/64"), "{out}");
    assert!(out.lines().any(|l| l.contains("eth7:") && l.contains(",UP")), "{out}");
    drop(dev);

    let dev = Dummy::new(&name, &["10.213.7.1/24"]);
    b.edit(|c| c["linux"]["netDevices"] = json!({ &name: {"name": "lo"} }));
    let o = b.create("netdev-taken", &[]);
    assert!(!o.status.success(), "a device renamed to lo was accepted");
    assert!(
        stderr(&o).contains(&format!("linux.netDevices.{name}")) && stderr(&o).contains("\"lo\" is taken"),
        "{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty(), "{:?}", b.leftovers());
    assert!(dev.on_host(), "the device left the host although create failed");
}
