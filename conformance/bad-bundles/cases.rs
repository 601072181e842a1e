//! The cases: each edits a fresh busybox bundle (config `hull spec` makes,
//! args `true`) and says what the spec expects of it, and what hull's error
//! must name. Where the spec is silent, the expectation is the one that
//! keeps the host safe, and `why` says so.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use serde_json::{json, Value};

pub use crate::ctx::Ctx;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// `create` fails.
    Create,
    /// `create` succeeds and `start` fails.
    Start,
    /// `create` or `start` fails (the spec does not say which).
    Fails,
    /// The container runs.
    Runs,
    /// The container runs and its script wrote "ok" to /verdict.
    Checked,
}

impl Expect {
    pub fn word(self) -> &'static str {
        match self {
            Expect::Create => "create fails",
            Expect::Start => "start fails",
            Expect::Fails => "create or start fails",
            Expect::Runs | Expect::Checked => "runs",
        }
    }
}

type Make = Box<dyn Fn(&mut Ctx)>;

pub struct Case {
    pub group: &'static str,
    pub name: String,
    pub expect: Expect,
    /// What hull's error must contain (the field, the value).
    pub needle: String,
    pub make: Make,
    /// Host paths that must not exist afterwards (what an escape would make).
    pub host_absent: Vec<PathBuf>,
}

fn case(group: &'static str, name: &str, expect: Expect, needle: &str, f: impl Fn(&mut Ctx) + 'static) -> Case {
    Case {
        group,
        name: name.to_string(),
        expect,
        needle: needle.to_string(),
        make: Box::new(f),
        host_absent: vec![],
    }
}

/// A case that sets one field.
fn set(group: &'static str, ptr: &str, v: Value, expect: Expect, needle: &str) -> Case {
    let (p, val) = (ptr.to_string(), v.clone());
    let name = format!("{} = {}", ptr.trim_start_matches('/').replace('/', "."), short(&v));
    case(group, &name, expect, needle, move |c| c.set(&p, val.clone()))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}... ({} bytes)", &s[..30], s.len())
    } else {
        s
    }
}

/// The container runs `script`, which must end by writing ok to /verdict.
fn inside(c: &mut Ctx, script: &str) {
    c.set("/root/readonly", json!(false));
    c.set(
        "/process/args",
        json!(["/bin/sh", "-c", format!("{script} && echo ok > /verdict")]),
    );
}

/// A path on the host that an escape through the rootfs would create.
fn host_target(name: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/hull-bb-escaped-{name}"))
}

const CAP_SYS_RESOURCE: u32 = 24;

/// Whether CAP_SYS_RESOURCE is in this process's bounding set.
fn can_lower_oom_score() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|b| b & (1 << CAP_SYS_RESOURCE) != 0)
}

fn mkfifo(p: &std::path::Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

pub fn all() -> Vec<Case> {
    [
        json_files(),
        top_level(),
        process(),
        user(),
        limits(),
        namespaces(),
        mounts(),
        paths(),
        devices(),
    ]
    .into_iter()
    .chain([cgroups(), resources(), sysctls(), hooks(), seccomp(), ids()])
    .flatten()
    .collect()
}

fn json_files() -> Vec<Case> {
    use Expect::*;
    let g = "config.json";
    let raw = |name: &str, bytes: Vec<u8>, expect, needle: &str| {
        case(g, name, expect, needle, move |c| c.raw = Some(bytes.clone()))
    };
    vec![
        raw("empty file", vec![], Create, "config.json"),
        raw("not JSON", b"{not json".to_vec(), Create, "not valid JSON"),
        raw("top level is an array", b"[]".to_vec(), Create, "config.json"),
        raw("top level is null", b"null".to_vec(), Create, "config.json"),
        raw("10 MB of garbage", vec![b'x'; 10 << 20], Create, "not valid JSON"),
        case(g, "truncated in the middle", Create, "config.json", |c| {
            let full = serde_json::to_vec(&c.cfg).unwrap();
            c.raw = Some(full[..full.len() / 2].to_vec());
        }),
        case(g, "a 10 MB annotation", Runs, "", |c| {
            c.set("/annotations/big", json!("x".repeat(10 << 20)))
        }),
        case(
            g,
            "100,000 arrays deep under an unknown field",
            Create,
            "config.json",
            |c| {
                let mut s = serde_json::to_string(&c.cfg).unwrap();
                s.pop();
                s += &format!(",\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
                c.raw = Some(s.into_bytes());
            },
        ),
        case(g, "100 arrays deep under an unknown field", Runs, "", |c| {
            let mut s = serde_json::to_string(&c.cfg).unwrap();
            s.pop();
            s += &format!(",\"x\":{}{}}}", "[".repeat(100), "]".repeat(100));
            c.raw = Some(s.into_bytes());
        }),
        case(g, "a UTF-8 byte order mark", Create, "config.json", |c| {
            let mut b = b"\xef\xbb\xbf".to_vec();
            b.extend(serde_json::to_vec(&c.cfg).unwrap());
            c.raw = Some(b);
        }),
        case(g, "invalid UTF-8 in a string", Create, "config.json", |c| {
            c.set("/hostname", json!("HOSTNAME_HERE"));
            let s = serde_json::to_vec(&c.cfg).unwrap();
            let s = String::from_utf8_lossy(&s).replace("HOSTNAME_HERE", "\u{1}");
            c.raw = Some(
                s.into_bytes()
                    .into_iter()
                    .map(|b| if b == 1 { 0xff } else { b })
                    .collect(),
            );
        }),
        case(g, "a key given twice", Runs, "", |c| {
            let mut s = serde_json::to_string(&c.cfg).unwrap();
            s.pop();
            s += ",\"hostname\":\"one\",\"hostname\":\"two\"}";
            c.raw = Some(s.into_bytes());
        }),
        case(g, "missing", Create, "config.json", |c| c.write_config = false),
        case(g, "a directory", Create, "config.json", |c| {
            c.write_config = false;
            std::fs::create_dir(c.config_path()).unwrap();
        }),
        case(g, "a FIFO nobody writes to", Create, "config.json", |c| {
            c.write_config = false;
            mkfifo(&c.config_path());
        }),
        case(g, "a symlink to a file that is not JSON", Create, "config.json", |c| {
            c.write_config = false;
            symlink("/etc/passwd", c.config_path()).unwrap();
        }),
        case(g, "a symlink to /dev/zero", Create, "config.json", |c| {
            c.write_config = false;
            symlink("/dev/zero", c.config_path()).unwrap();
        }),
    ]
}

fn top_level() -> Vec<Case> {
    use Expect::*;
    let g = "ociVersion, root";
    let rootfs_as = |name: &str, expect, needle: &str, f: fn(&mut Ctx, PathBuf)| {
        case(g, name, expect, needle, move |c| {
            let target = c.dir.join("other");
            f(c, target);
            c.set("/root/path", json!("other"));
        })
    };
    vec![
        case(g, "ociVersion missing", Create, "ociVersion", |c| {
            c.remove("/ociVersion")
        }),
        set(g, "/ociVersion", json!(""), Create, "ociVersion"),
        set(g, "/ociVersion", json!("2.0.0"), Create, "ociVersion"),
        set(g, "/ociVersion", json!("0.9.0"), Create, "ociVersion"),
        set(g, "/ociVersion", json!(1), Create, "ociVersion"),
        case(g, "root missing", Create, "root", |c| c.remove("/root")),
        case(g, "root.path missing", Create, "root", |c| c.remove("/root/path")),
        set(g, "/root/path", json!(""), Create, "root.path"),
        set(g, "/root/path", json!("/nonexistent/rootfs"), Create, "root.path"),
        set(g, "/root/path", json!(5), Create, "root.path"),
        set(g, "/root/readonly", json!("yes"), Create, "root.readonly"),
        set(g, "/root/readonly", json!(true), Runs, ""),
        rootfs_as("root.path a regular file", Create, "root.path", |_, t| {
            std::fs::write(t, "x").unwrap()
        }),
        rootfs_as("root.path a FIFO", Create, "root.path", |_, t| mkfifo(&t)),
        rootfs_as("root.path a symlink to the rootfs", Runs, "", |_, t| {
            symlink("rootfs", t).unwrap()
        }),
        rootfs_as("root.path a dangling symlink", Create, "root.path", |_, t| {
            symlink("/nonexistent", t).unwrap()
        }),
        rootfs_as("root.path on another filesystem (tmpfs)", Runs, "", |c, t| {
            std::fs::create_dir(&t).unwrap();
            nix::mount::mount(
                Some("tmpfs"),
                &t,
                Some("tmpfs"),
                nix::mount::MsFlags::empty(),
                None::<&str>,
            )
            .unwrap();
            c.mounts.push(t.clone());
            crate::common::make_rootfs(&t);
        }),
        case(g, "root.path relative, through ..", Runs, "", |c| {
            c.set("/root/path", json!("../bundle/rootfs"))
        }),
    ]
}

fn process() -> Vec<Case> {
    use Expect::*;
    let g = "process";
    vec![
        case(g, "process missing", Start, "process", |c| c.remove("/process")),
        case(g, "process.args missing", Create, "process.args", |c| {
            c.remove("/process/args")
        }),
        set(g, "/process/args", json!([]), Create, "process.args"),
        set(g, "/process/args", json!("true"), Create, "process.args"),
        set(g, "/process/args", json!([1]), Create, "process.args"),
        set(g, "/process/args", json!([""]), Fails, "process.args"),
        set(g, "/process/args", json!(["tr\u{0}ue"]), Create, "process.args"),
        set(g, "/process/args", json!(["/nonexistent"]), Fails, "/nonexistent"),
        set(g, "/process/args", json!(["/bin"]), Fails, "/bin"),
        set(g, "/process/args", json!(["/etc/passwd"]), Fails, "/etc/passwd"),
        case(
            g,
            "process.args 10 MB in all (past ARG_MAX)",
            Fails,
            "process.args",
            |c| {
                let mut a = vec![json!("true")];
                a.extend((0..10_000).map(|_| json!("a".repeat(1000))));
                c.set("/process/args", Value::Array(a));
            },
        ),
        case(g, "process.cwd missing", Create, "process.cwd", |c| {
            c.remove("/process/cwd")
        }),
        set(g, "/process/cwd", json!("relative/dir"), Create, "process.cwd"),
        set(g, "/process/cwd", json!(""), Create, "process.cwd"),
        set(g, "/process/cwd", json!("/a\u{0}b"), Create, "process.cwd"),
        set(g, "/process/cwd", json!("/etc/passwd"), Fails, "process.cwd"),
        set(g, "/process/cwd", json!("/made/by/the/runtime"), Runs, ""),
        Case {
            host_absent: vec![host_target("cwd")],
            ..case(g, "process.cwd through a symlink to a host path", Checked, "", |c| {
                symlink(host_target("cwd").join("sub"), c.rootfs().join("esc")).unwrap();
                c.set("/process/cwd", json!("/esc"));
                inside(c, "test \"$(pwd -P)\" = /tmp/hull-bb-escaped-cwd/sub");
            })
        },
        case(g, "process.cwd through ../ past the root", Checked, "", |c| {
            c.set("/process/cwd", json!("/../../../../etc"));
            inside(c, "test \"$(pwd -P)\" = /etc && test ! -e /etc/debian_version");
        }),
        set(g, "/process/env", json!(["NOEQUALS"]), Create, "process.env[0]"),
        set(g, "/process/env", json!(["A=b\u{0}c"]), Create, "process.env[0]"),
        set(g, "/process/env", json!([5]), Create, "process.env"),
        case(
            g,
            "process.env one 200 KB string (past MAX_ARG_STRLEN)",
            Fails,
            "process.env",
            |c| c.set("/process/env", json!([format!("A={}", "b".repeat(200 << 10))])),
        ),
        case(g, "process.env 10,000 variables", Runs, "", |c| {
            c.set(
                "/process/env",
                Value::Array((0..10_000).map(|i| json!(format!("V{i}=x"))).collect()),
            )
        }),
        set(g, "/process/terminal", json!(true), Create, "console-socket"),
        set(g, "/process/terminal", json!("yes"), Create, "process.terminal"),
        set(
            g,
            "/process/consoleSize",
            json!({"height": -1, "width": 80}),
            Create,
            "process.consoleSize",
        ),
        set(
            g,
            "/process/noNewPrivileges",
            json!("yes"),
            Create,
            "process.noNewPrivileges",
        ),
        set(
            g,
            "/process/apparmorProfile",
            json!("hull-bb"),
            Create,
            "apparmorProfile",
        ),
        set(
            g,
            "/process/selinuxLabel",
            json!("system_u:system_r:container_t:s0"),
            Create,
            "selinuxLabel",
        ),
        set(
            g,
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_BOGUS", "priority": 0}),
            Create,
            "process.ioPriority",
        ),
        set(
            g,
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
            Fails,
            "ioPriority",
        ),
        set(
            g,
            "/process/ioPriority",
            json!({"class": "IOPRIO_CLASS_BE", "priority": -1}),
            Fails,
            "ioPriority",
        ),
        set(
            g,
            "/process/scheduler",
            json!({"policy": "SCHED_BOGUS"}),
            Create,
            "process.scheduler",
        ),
        set(
            g,
            "/process/scheduler",
            json!({"policy": "SCHED_OTHER", "nice": 20}),
            Fails,
            "scheduler",
        ),
        set(
            g,
            "/process/scheduler",
            json!({"policy": "SCHED_FIFO", "priority": 100}),
            Fails,
            "scheduler",
        ),
        set(
            g,
            "/linux/personality",
            json!({"domain": "LINUX_BOGUS"}),
            Create,
            "linux.personality",
        ),
        set(g, "/annotations", json!({"a": 1}), Create, "annotations"),
        case(g, "1,000 annotations", Runs, "", |c| {
            for i in 0..1000 {
                c.set(&format!("/annotations/org.hull.bb{i}"), json!("v"));
            }
        }),
        case(g, "hostname without a uts namespace", Create, "hostname", |c| {
            c.drop_ns("uts");
            c.set("/hostname", json!("box"));
        }),
        case(g, "domainname without a uts namespace", Create, "domainname", |c| {
            c.drop_ns("uts");
            c.remove("/hostname");
            c.set("/domainname", json!("box"));
        }),
        set(g, "/hostname", json!("h".repeat(1000)), Fails, "hostname"),
        set(g, "/hostname", json!("a\u{0}b"), Fails, "hostname"),
    ]
}

fn user() -> Vec<Case> {
    use Expect::*;
    let g = "process.user";
    let mut v = vec![];
    for field in ["uid", "gid"] {
        let ptr = format!("/process/user/{field}");
        let needle = format!("process.user.{field}");
        v.push(set(g, &ptr, json!(0), Runs, ""));
        v.push(set(g, &ptr, json!(-1), Create, &needle));
        v.push(set(g, &ptr, json!(4294967295u64), Create, &needle));
        v.push(set(g, &ptr, json!(4294967296u64), Create, &needle));
        v.push(set(g, &ptr, json!(4294967294u64), Runs, ""));
        v.push(set(g, &ptr, json!("0"), Create, &needle));
    }
    let gids = "process.user.additionalGids";
    v.push(set(g, "/process/user/additionalGids", json!([-1]), Create, gids));
    v.push(set(
        g,
        "/process/user/additionalGids",
        json!([4294967295u64]),
        Create,
        gids,
    ));
    v.push(case(g, "70,000 additionalGids (past NGROUPS_MAX)", Fails, gids, |c| {
        c.set(
            "/process/user/additionalGids",
            Value::Array((1..70_001).map(|i| json!(i)).collect()),
        )
    }));
    v.push(set(g, "/process/user/umask", json!(-1), Create, "process.user.umask"));
    v.push(set(
        g,
        "/process/user/umask",
        json!(4294967296u64),
        Create,
        "process.user.umask",
    ));
    v.push(set(g, "/process/user/umask", json!(0o777), Runs, ""));
    v
}

fn limits() -> Vec<Case> {
    use Expect::*;
    let g = "rlimits, capabilities, oomScoreAdj";
    let rl = |t: &str, soft: Value, hard: Value| json!([{"type": t, "soft": soft, "hard": hard}]);
    let caps = |set: Value| json!({"bounding": set, "effective": set, "permitted": set});
    vec![
        set(g, "/process/oomScoreAdj", json!(-1001), Create, "process.oomScoreAdj"),
        set(g, "/process/oomScoreAdj", json!(1001), Create, "process.oomScoreAdj"),
        // Lowering it needs CAP_SYS_RESOURCE, which some hosts (this project's VM) lack.
        set(
            g,
            "/process/oomScoreAdj",
            json!(-1000),
            if can_lower_oom_score() { Runs } else { Fails },
            "process.oomScoreAdj",
        ),
        set(g, "/process/oomScoreAdj", json!(1000), Runs, ""),
        set(
            g,
            "/process/oomScoreAdj",
            json!(2147483648u64),
            Create,
            "process.oomScoreAdj",
        ),
        set(
            g,
            "/process/rlimits",
            rl("RLIMIT_BOGUS", json!(1), json!(1)),
            Create,
            "process.rlimits[0].type",
        ),
        set(
            g,
            "/process/rlimits",
            rl("RLIMIT_CORE", json!(2), json!(1)),
            Create,
            "process.rlimits[0]",
        ),
        set(
            g,
            "/process/rlimits",
            rl("RLIMIT_CORE", json!(-1), json!(1)),
            Create,
            "process.rlimits[0]",
        ),
        set(
            g,
            "/process/rlimits",
            rl("RLIMIT_CORE", json!(0), json!(18446744073709551616u128 as f64)),
            Create,
            "process.rlimits[0]",
        ),
        set(g, "/process/rlimits", rl("RLIMIT_CORE", json!(0), json!(0)), Runs, ""),
        set(
            g,
            "/process/rlimits",
            json!([{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]),
            Create,
            "process.rlimits[1]",
        ),
        set(
            g,
            "/process/rlimits",
            rl("RLIMIT_NOFILE", json!(1024), json!(u64::MAX)),
            Fails,
            "RLIMIT_NOFILE",
        ),
        set(g, "/process/capabilities", caps(json!(["CAP_BOGUS"])), Runs, ""),
        set(g, "/process/capabilities", caps(json!(["cap_chown"])), Runs, ""),
        set(
            g,
            "/process/capabilities",
            caps(json!([5])),
            Create,
            "process.capabilities",
        ),
        set(
            g,
            "/process/capabilities",
            json!({"bounding": "CAP_CHOWN"}),
            Create,
            "process.capabilities.bounding",
        ),
        set(
            g,
            "/process/capabilities",
            caps(json!(["CAP_SYS_RESOURCE", "CAP_CHOWN"])),
            Runs,
            "",
        ),
        set(
            g,
            "/process/capabilities",
            json!({"ambient": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}),
            Runs,
            "",
        ),
        set(
            g,
            "/process/capabilities",
            json!({"effective": ["CAP_SYS_ADMIN"], "permitted": []}),
            Fails,
            "capabilities",
        ),
    ]
}

fn namespaces() -> Vec<Case> {
    use Expect::*;
    let g = "linux.namespaces";
    let ns = |entry: Value| move |c: &mut Ctx| c.push("/linux/namespaces", entry.clone());
    let maps = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let userns = move |uid: Value, gid: Value| {
        move |c: &mut Ctx| {
            c.push("/linux/namespaces", json!({"type": "user"}));
            c.set("/linux/uidMappings", uid.clone());
            c.set("/linux/gidMappings", gid.clone());
        }
    };
    vec![
        case(
            g,
            "type bogus",
            Create,
            "linux.namespaces",
            ns(json!({"type": "bogus"})),
        ),
        case(g, "pid twice", Create, "linux.namespaces", ns(json!({"type": "pid"}))),
        case(
            g,
            "type missing",
            Create,
            "linux.namespaces",
            ns(json!({"path": "/proc/1/ns/net"})),
        ),
        case(
            g,
            "net joined by a path that does not exist",
            Create,
            "/nonexistent/ns",
            |c| {
                c.drop_ns("network");
                c.push(
                    "/linux/namespaces",
                    json!({"type": "network", "path": "/nonexistent/ns"}),
                );
            },
        ),
        case(g, "net joined by a regular file", Create, "/etc/hostname", |c| {
            c.drop_ns("network");
            c.push("/linux/namespaces", json!({"type": "network", "path": "/etc/hostname"}));
        }),
        case(
            g,
            "net joined by a path of the wrong type",
            Create,
            "/proc/self/ns/uts",
            |c| {
                c.drop_ns("network");
                c.push(
                    "/linux/namespaces",
                    json!({"type": "network", "path": "/proc/self/ns/uts"}),
                );
            },
        ),
        case(g, "net joined by a relative path", Create, "linux.namespaces", |c| {
            c.drop_ns("network");
            c.push(
                "/linux/namespaces",
                json!({"type": "network", "path": "proc/self/ns/net"}),
            );
        }),
        case(
            g,
            "user namespace without mappings",
            Create,
            "uidMappings",
            ns(json!({"type": "user"})),
        ),
        case(g, "mappings without a user namespace", Create, "linux.uidMappings", {
            let m = maps.clone();
            move |c: &mut Ctx| {
                c.set("/linux/uidMappings", m.clone());
                c.set("/linux/gidMappings", m.clone());
            }
        }),
        case(
            g,
            "uidMappings size 0",
            Create,
            "linux.uidMappings",
            userns(json!([{"containerID": 0, "hostID": 100000, "size": 0}]), maps.clone()),
        ),
        case(
            g,
            "uidMappings overlapping",
            Create,
            "linux.uidMappings",
            userns(
                json!([{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 5, "hostID": 200000, "size": 10}]),
                maps.clone(),
            ),
        ),
        case(
            g,
            "uidMappings hostID -1",
            Create,
            "linux.uidMappings",
            userns(json!([{"containerID": 0, "hostID": -1, "size": 1}]), maps.clone()),
        ),
        case(
            g,
            "uidMappings past 2^32",
            Create,
            "linux.uidMappings",
            userns(
                json!([{"containerID": 0, "hostID": 4294967295u64, "size": 10}]),
                maps.clone(),
            ),
        ),
        case(
            g,
            "gidMappings not covering process.user.gid",
            Create,
            "process.user.gid",
            userns(maps.clone(), json!([{"containerID": 1, "hostID": 100000, "size": 10}])),
        ),
    ]
}

fn mounts() -> Vec<Case> {
    use Expect::*;
    let g = "mounts";
    let m = |mount: Value| move |c: &mut Ctx| c.push("/mounts", mount.clone());
    let tmpfs_at = |dest: &str| json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"});
    let escape = |name: &'static str, link: fn(&str) -> String| Case {
        host_absent: vec![host_target(name)],
        ..case(
            g,
            &format!("destination through a symlink ({name})"),
            Checked,
            "",
            move |c| {
                let target = host_target(name);
                symlink(link(&target.to_string_lossy()), c.rootfs().join("link")).unwrap();
                c.push(
                    "/mounts",
                    json!({"destination": "/link/sub", "type": "tmpfs", "source": "tmpfs"}),
                );
                inside(c, &format!("grep -q ' {}/sub ' /proc/self/mountinfo", target.display()));
            },
        )
    };
    vec![
        case(g, "destination empty", Create, "mounts[", m(tmpfs_at(""))),
        case(
            g,
            "destination missing",
            Create,
            "mounts",
            m(json!({"type": "tmpfs", "source": "tmpfs"})),
        ),
        case(g, "destination relative", Runs, "", m(tmpfs_at("tmp/rel"))),
        case(g, "destination with a NUL", Create, "mounts[", m(tmpfs_at("/a\u{0}b"))),
        case(g, "destination past the root by ..", Checked, "", |c| {
            c.push(
                "/mounts",
                json!({"destination": "/../../../../tmp/up", "type": "tmpfs", "source": "tmpfs"}),
            );
            inside(c, "grep -q ' /tmp/up ' /proc/self/mountinfo");
        }),
        escape("absolute-link", |t| t.to_string()),
        escape("relative-link", |t| format!("../../../../../../..{t}")),
        case(
            g,
            "bind source that does not exist",
            Create,
            "/nonexistent/src",
            m(json!({"destination": "/mnt", "type": "bind", "source": "/nonexistent/src", "options": ["bind"]})),
        ),
        case(
            g,
            "bind without a source",
            Create,
            "mounts[",
            m(json!({"destination": "/mnt", "type": "bind", "options": ["bind"]})),
        ),
        case(
            g,
            "type unknown to the kernel",
            Create,
            "mounts[",
            m(json!({"destination": "/mnt", "type": "bogusfs", "source": "x"})),
        ),
        case(
            g,
            "an option tmpfs refuses",
            Create,
            "mounts[",
            m(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt=1"]})),
        ),
        case(g, "tmpfs over /proc", Create, "/proc", m(tmpfs_at("/proc"))),
        case(
            g,
            "tmpfs over /dev/../proc",
            Create,
            "/proc",
            m(tmpfs_at("/dev/../proc")),
        ),
        case(g, "tmpfs over a symlink to /proc", Create, "/proc", |c| {
            symlink("/proc", c.rootfs().join("plink")).unwrap();
            c.push(
                "/mounts",
                json!({"destination": "/plink", "type": "tmpfs", "source": "tmpfs"}),
            );
        }),
        case(g, "a bind over a symlink to /proc/sys/kernel", Create, "/proc", |c| {
            symlink("/proc/sys/kernel", c.rootfs().join("klink")).unwrap();
            c.push(
                "/mounts",
                json!({"destination": "/klink", "type": "bind", "source": "/tmp", "options": ["bind"]}),
            );
        }),
        case(
            g,
            "a bind over /proc/sys/kernel",
            Create,
            "/proc",
            m(json!({"destination": "/proc/sys/kernel", "type": "bind", "source": "/tmp", "options": ["bind"]})),
        ),
        case(
            g,
            "bind source a symlink on the host",
            Runs,
            "",
            m(json!({"destination": "/mnt", "type": "bind", "source": "/proc/self/cwd", "options": ["rbind"]})),
        ),
        case(g, "bind source a FIFO onto a file", Runs, "", |c| {
            mkfifo(&c.dir.join("fifo"));
            let src = c.dir.join("fifo").to_string_lossy().into_owned();
            c.push(
                "/mounts",
                json!({"destination": "/fifo", "type": "bind", "source": src, "options": ["bind"]}),
            );
        }),
        case(g, "1,000 tmpfs mounts", Runs, "", |c| {
            for i in 0..1000 {
                c.push(
                    "/mounts",
                    json!({"destination": format!("/tmp/m{i}"), "type": "tmpfs", "source": "tmpfs"}),
                );
            }
        }),
        case(
            g,
            "options not an array",
            Create,
            "mounts[",
            m(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": "ro"})),
        ),
    ]
}

fn paths() -> Vec<Case> {
    use Expect::*;
    let g = "maskedPaths, readonlyPaths";
    let mut v = vec![];
    for (field, ptr) in [
        ("maskedPaths", "/linux/maskedPaths"),
        ("readonlyPaths", "/linux/readonlyPaths"),
    ] {
        let needle = format!("linux.{field}[0]");
        v.push(set(g, ptr, json!(["relative/path"]), Create, &needle));
        v.push(set(g, ptr, json!(["/does/not/exist"]), Runs, ""));
        v.push(set(g, ptr, json!([5]), Create, &format!("linux.{field}")));
        let p = ptr.to_string();
        // The rootfs is the image's: a link there would choose what is covered.
        v.push(case(
            g,
            &format!("{field} through a symlink to a host path"),
            Create,
            &needle,
            move |c| {
                symlink("/../../../../../etc/hostname", c.rootfs().join("lnk")).unwrap();
                c.set(&p, json!(["/lnk"]));
            },
        ));
    }
    v.push(case(g, "readonlyPaths of /.. (the root itself)", Runs, "", |c| {
        c.set("/linux/readonlyPaths", json!(["/.."]))
    }));
    v.push(case(
        g,
        "maskedPaths of /proc/self/exe (a magic link)",
        Create,
        "linux.maskedPaths[0]",
        |c| c.set("/linux/maskedPaths", json!(["/proc/self/exe"])),
    ));
    v
}

fn devices() -> Vec<Case> {
    use Expect::*;
    let g = "linux.devices";
    let dev = |d: Value| move |c: &mut Ctx| c.push("/linux/devices", d.clone());
    let null = |path: &str| json!({"path": path, "type": "c", "major": 1, "minor": 3});
    vec![
        case(g, "path relative", Create, "linux.devices[0].path", dev(null("dev/x"))),
        case(
            g,
            "type x",
            Create,
            "linux.devices[0].type",
            dev(json!({"path": "/dev/x", "type": "x", "major": 1, "minor": 3})),
        ),
        case(
            g,
            "type a",
            Create,
            "linux.devices[0].type",
            dev(json!({"path": "/dev/x", "type": "a", "major": 1, "minor": 3})),
        ),
        case(
            g,
            "major -1",
            Create,
            "linux.devices[0]",
            dev(json!({"path": "/dev/x", "type": "c", "major": -1, "minor": 3})),
        ),
        case(
            g,
            "fileMode -1",
            Create,
            "linux.devices[0].fileMode",
            dev(json!({"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": -1})),
        ),
        case(
            g,
            "uid -1",
            Create,
            "linux.devices[0].uid",
            dev(json!({"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "uid": -1})),
        ),
        case(g, "a FIFO", Runs, "", dev(json!({"path": "/dev/fifo", "type": "p"}))),
        case(g, "path past the root by ..", Checked, "", |c| {
            c.push(
                "/linux/devices",
                json!({"path": "/dev/../../../../tmp/devnull", "type": "c", "major": 1, "minor": 3}),
            );
            inside(c, "test -c /tmp/devnull");
        }),
        Case {
            host_absent: vec![host_target("device")],
            ..case(g, "path through a symlink to a host path", Checked, "", |c| {
                symlink(host_target("device"), c.rootfs().join("devlink")).unwrap();
                c.push(
                    "/linux/devices",
                    json!({"path": "/devlink/null", "type": "c", "major": 1, "minor": 3}),
                );
                inside(c, "test -c /tmp/hull-bb-escaped-device/null");
            })
        },
    ]
}

fn cgroups() -> Vec<Case> {
    use Expect::*;
    let g = "linux.cgroupsPath";
    vec![
        set(
            g,
            "/linux/cgroupsPath",
            json!("../../../../hull-bb-escape"),
            Create,
            "linux.cgroupsPath",
        ),
        set(
            g,
            "/linux/cgroupsPath",
            json!("/../../../hull-bb-escape"),
            Create,
            "linux.cgroupsPath",
        ),
        set(
            g,
            "/linux/cgroupsPath",
            json!("/hull-bb/../../x"),
            Create,
            "linux.cgroupsPath",
        ),
        set(
            g,
            "/linux/cgroupsPath",
            json!(format!("/{}", "c".repeat(5000))),
            Create,
            "linux.cgroupsPath",
        ),
        set(
            g,
            "/linux/cgroupsPath",
            json!("/hull-bb/a\u{0}b"),
            Create,
            "linux.cgroupsPath",
        ),
        set(g, "/linux/cgroupsPath", json!("/hull-bb:slice:name"), Runs, ""),
        set(g, "/linux/cgroupsPath", json!(5), Create, "linux.cgroupsPath"),
    ]
}

fn resources() -> Vec<Case> {
    use Expect::*;
    let g = "linux.resources";
    let r = |ptr: &str, v: Value, expect, needle: &str| set(g, &format!("/linux/resources{ptr}"), v, expect, needle);
    vec![
        r("/memory/limit", json!(-1), Runs, ""),
        r("/memory/limit", json!(i64::MAX), Runs, ""),
        r(
            "/memory/limit",
            json!(9223372036854775808u64),
            Create,
            "linux.resources.memory.limit",
        ),
        r("/memory/limit", json!("1G"), Create, "linux.resources.memory.limit"),
        r(
            "/memory",
            json!({"limit": 104857600, "swap": 1048576}),
            Create,
            "memory.swap",
        ),
        r("/memory/swappiness", json!(101), Create, "memory.swappiness"),
        r("/memory/reservation", json!(-2), Fails, "memory.reservation"),
        r("/memory/kernel", json!(1048576), Runs, ""),
        r("/cpu/shares", json!(0), Runs, ""),
        r("/cpu/shares", json!(u64::MAX), Runs, ""),
        // The kernel takes any negative quota as no limit.
        r("/cpu/quota", json!(-2), Runs, ""),
        r("/cpu", json!({"quota": 500, "period": 100000}), Create, "cpu.quota"),
        r("/cpu/period", json!(2000000), Create, "cpu.period"),
        r("/cpu/cpus", json!("abc"), Create, "cpu.cpus"),
        r("/cpu/cpus", json!("0-4095"), Create, "cpu.cpus"),
        r("/cpu/mems", json!("7"), Create, "cpu.mems"),
        r("/cpu/realtimeRuntime", json!(1000), Fails, "realtime"),
        r("/pids/limit", json!(-1), Runs, ""),
        r("/pids/limit", json!(4194305), Create, "pids.limit"),
        r("/pids/limit", json!("many"), Create, "pids.limit"),
        r(
            "/devices",
            json!([{"allow": true, "type": "z", "access": "rwm"}]),
            Create,
            "linux.resources.devices[0].type",
        ),
        r(
            "/devices",
            json!([{"allow": true, "type": "c", "access": "rwz"}]),
            Create,
            "linux.resources.devices[0].access",
        ),
        r(
            "/devices",
            json!([{"allow": true, "type": "c", "major": -2, "access": "rwm"}]),
            Create,
            "linux.resources.devices[0].major",
        ),
        r(
            "/hugepageLimits",
            json!([{"pageSize": "3MB", "limit": 1}]),
            Create,
            "hugepageLimits",
        ),
        r(
            "/unified",
            json!({"memory.max": "1"}),
            Create,
            "linux.resources.unified",
        ),
        r(
            "/unified",
            json!({"../../escape": "1"}),
            Create,
            "linux.resources.unified",
        ),
        set(
            g,
            "/linux/intelRdt",
            json!({"closID": "hull-bb"}),
            Create,
            "linux.intelRdt",
        ),
    ]
}

fn sysctls() -> Vec<Case> {
    use Expect::*;
    let g = "linux.sysctl";
    let s = |k: &str, v: &str, expect, needle: &str| {
        let (k2, v2) = (k.to_string(), v.to_string());
        case(g, &format!("{k} = {v}"), expect, needle, move |c| {
            c.set("/linux/sysctl", json!({ k2.clone(): v2.clone() }))
        })
    };
    vec![
        s("kernel.core_pattern", "|/bin/evil", Create, "kernel.core_pattern"),
        s("net/../../kernel/core_pattern", "|/bin/evil", Create, "linux.sysctl"),
        s(
            "net.ipv4.../../../kernel.core_pattern",
            "|/bin/evil",
            Create,
            "linux.sysctl",
        ),
        s("bogus.key", "1", Create, "bogus.key"),
        s("net.ipv4.ip_forward", "abc", Fails, "net.ipv4.ip_forward"),
        s("kernel.shmmax", "4096", Runs, ""),
        s("fs.mqueue.queues_max", "1", Runs, ""),
        s("", "1", Create, "linux.sysctl"),
        case(
            g,
            "net.ipv4.ip_forward without a network namespace",
            Create,
            "net.ipv4.ip_forward",
            |c| {
                c.drop_ns("network");
                c.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
            },
        ),
        case(
            g,
            "kernel.shmmax without an ipc namespace",
            Create,
            "kernel.shmmax",
            |c| {
                c.drop_ns("ipc");
                c.set("/linux/sysctl", json!({"kernel.shmmax": "4096"}));
            },
        ),
    ]
}

fn hooks() -> Vec<Case> {
    use Expect::*;
    let g = "hooks";
    let hook = |kind: &'static str, h: Value| move |c: &mut Ctx| c.push(&format!("/hooks/{kind}"), h.clone());
    // The loop names the case's directory, so a hook left running is found.
    let hang = |kind: &'static str| {
        move |c: &mut Ctx| {
            let dir = c.dir.to_string_lossy().into_owned();
            let h = json!({"path": "/bin/sh", "args": ["sh", "-c", "while :; do sleep 0.05; done", dir], "timeout": 1});
            c.push(&format!("/hooks/{kind}"), h);
        }
    };
    let sh = |script: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
    vec![
        case(
            g,
            "prestart path that does not exist",
            Create,
            "/nonexistent/hook",
            hook("prestart", json!({"path": "/nonexistent/hook"})),
        ),
        case(
            g,
            "prestart path relative",
            Create,
            "hooks.prestart[0].path",
            hook("prestart", json!({"path": "bin/true"})),
        ),
        case(
            g,
            "prestart exits 1",
            Create,
            "prestart",
            hook("prestart", sh("exit 1")),
        ),
        case(
            g,
            "createRuntime exits 1",
            Create,
            "createRuntime",
            hook("createRuntime", sh("exit 1")),
        ),
        case(
            g,
            "createContainer exits 1",
            Create,
            "createContainer",
            hook("createContainer", sh("exit 1")),
        ),
        case(g, "prestart hangs (timeout 1)", Create, "prestart", hang("prestart")),
        case(
            g,
            "createRuntime hangs (timeout 1)",
            Create,
            "createRuntime",
            hang("createRuntime"),
        ),
        case(
            g,
            "startContainer hangs (timeout 1)",
            Start,
            "startContainer",
            hang("startContainer"),
        ),
        case(
            g,
            "poststart exits 1",
            Start,
            "poststart",
            hook("poststart", sh("exit 1")),
        ),
        case(g, "poststop exits 1", Runs, "", hook("poststop", sh("exit 1"))),
        case(
            g,
            "prestart closes its stdin at once",
            Runs,
            "",
            hook("prestart", sh("exec 0<&-; exit 0")),
        ),
        case(
            g,
            "prestart writes 1 MB to stdout and stderr",
            Runs,
            "",
            hook(
                "prestart",
                sh("head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2"),
            ),
        ),
        case(
            g,
            "timeout 0",
            Create,
            "timeout",
            hook("prestart", json!({"path": "/bin/true", "timeout": 0})),
        ),
        case(
            g,
            "timeout -1",
            Create,
            "timeout",
            hook("prestart", json!({"path": "/bin/true", "timeout": -1})),
        ),
        case(
            g,
            "env not NAME=VALUE",
            Create,
            "hooks.prestart[0].env",
            hook("prestart", json!({"path": "/bin/true", "env": ["NOEQ"]})),
        ),
        case(
            g,
            "path missing",
            Create,
            "hooks.prestart[0]",
            hook("prestart", json!({"args": ["true"]})),
        ),
    ]
}

fn seccomp() -> Vec<Case> {
    use Expect::*;
    let g = "linux.seccomp";
    let prof = |p: Value| move |c: &mut Ctx| c.set("/linux/seccomp", p.clone());
    let rule = |r: Value| json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r]});
    let getcwd = |extra: Value| {
        let mut r = json!({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"});
        r.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r
    };
    vec![
        case(
            g,
            "defaultAction bogus",
            Create,
            "linux.seccomp.defaultAction",
            prof(json!({"defaultAction": "SCMP_ACT_BOGUS"})),
        ),
        case(
            g,
            "defaultAction missing",
            Create,
            "linux.seccomp",
            prof(json!({"syscalls": []})),
        ),
        case(
            g,
            "architecture bogus",
            Create,
            "linux.seccomp.architectures",
            prof(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]})),
        ),
        case(
            g,
            "a syscall name unknown everywhere",
            Runs,
            "",
            prof(rule(getcwd(json!({"names": ["getcwd", "no_such_syscall"]})))),
        ),
        case(
            g,
            "action bogus",
            Create,
            "linux.seccomp.syscalls[0].action",
            prof(rule(getcwd(json!({"action": "SCMP_ACT_BOGUS"})))),
        ),
        case(
            g,
            "argument index 6",
            Create,
            "linux.seccomp.syscalls[0]",
            prof(rule(getcwd(
                json!({"args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}),
            ))),
        ),
        case(
            g,
            "argument op bogus",
            Create,
            "linux.seccomp.syscalls[0].args[0].op",
            prof(rule(getcwd(
                json!({"args": [{"index": 0, "value": 0, "op": "SCMP_CMP_BOGUS"}]}),
            ))),
        ),
        case(
            g,
            "errnoRet on an allow rule",
            Create,
            "errnoRet",
            prof(rule(
                json!({"names": ["getcwd"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}),
            )),
        ),
        case(
            g,
            "SCMP_ACT_NOTIFY without listenerPath",
            Create,
            "listenerPath",
            prof(rule(getcwd(json!({"action": "SCMP_ACT_NOTIFY"})))),
        ),
        case(
            g,
            "listenerPath that does not exist",
            Fails,
            "/nonexistent/listener",
            prof(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/listener", "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_NOTIFY"}]}),
            ),
        ),
        case(
            g,
            "flags bogus",
            Create,
            "linux.seccomp.flags",
            prof(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]})),
        ),
        case(
            g,
            "names not an array",
            Create,
            "linux.seccomp.syscalls[0].names",
            prof(rule(getcwd(json!({"names": "getcwd"})))),
        ),
        // 400 rules fit the kernel's 4,096 instructions a filter; 4,000 do not.
        case(g, "400 rules", Runs, "", |c| {
            let r: Vec<Value> = (0..400).map(|i| json!({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})).collect();
            c.set(
                "/linux/seccomp",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": r}),
            );
        }),
        case(g, "4,000 rules", Create, "linux.seccomp", |c| {
            let r: Vec<Value> = (0..4000).map(|i| json!({"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})).collect();
            c.set(
                "/linux/seccomp",
                json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": r}),
            );
        }),
        case(
            g,
            "errnoRet past 4095",
            Create,
            "errnoRet",
            prof(rule(getcwd(json!({"errnoRet": 5000})))),
        ),
    ]
}

fn ids() -> Vec<Case> {
    use Expect::*;
    let g = "container id";
    let id = |name: &str, id: String| {
        let i = id.clone();
        case(g, name, Create, "id", move |c| c.id = i.clone())
    };
    vec![
        id("empty", String::new()),
        id("holds /", "a/b".into()),
        id("..", "..".into()),
        id(".", ".".into()),
        id("../escape", "../escape".into()),
        id("holds a newline", "a\nb".into()),
        id("holds a space", "a b".into()),
        id("1,025 characters", "i".repeat(1025)),
        // Taken for a flag: the error names it.
        case(g, "starts with -", Create, "-x", |c| c.id = "-x".into()),
    ]
}
