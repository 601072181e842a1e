//! linux.seccomp: actions, errno values, argument conditions, loading late
//! enough not to break hull, and Debian's real default profile.

mod common;

use common::{stderr, Bundle};
use serde_json::json;

#[test]
fn blocked_calls_get_the_profiles_errno() {
    // getcwd and chdir blocked: hull needs both during setup, so it must be
    // done with them before the filter goes in, also when no_new_privs is
    // off and the filter loads before the user switch.
    for (i, (nnp, uid)) in [(true, 0), (false, 0), (false, 1000)].into_iter().enumerate() {
        let b = Bundle::new(&[
            "sh",
            "-c",
            "readlink /proc/self/cwd; cd / || echo cd-refused; mkdir /tmp/x || echo mkdir-refused; echo alive",
        ]);
        b.edit(|c| {
            c["root"]["readonly"] = json!(false);
            c["process"]["cwd"] = json!("/tmp");
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getcwd", "chdir"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
                ]
            });
        });
        let o = b.run(&format!("sc1-{i}"));
        assert!(o.status.success(), "nnp {nnp} uid {uid}: {}", stderr(&o));
        let out = common::stdout(&o);
        let err = stderr(&o);
        assert_eq!(out, "/tmp\ncd-refused\nmkdir-refused\nalive\n", "nnp {nnp} uid {uid}");
        assert!(err.contains("Operation not permitted"), "EPERM by default: {err}");
        assert!(err.contains("Function not implemented"), "errnoRet 38: {err}");
    }
}

#[test]
fn argument_conditions() {
    // kill with signal 10 (SIGUSR1) refused; other signals pass. MASKED_EQ on the low byte.
    let b = Bundle::new(&["sh", "-c", "kill -USR1 $$ 2>/dev/null || echo usr1-refused; kill -0 $$ && echo zero-ok; kill -USR2 $$ 2>/dev/null || echo usr2-refused"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 1, "value": 255, "valueTwo": 12, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        });
        c["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    });
    // USR2 (12) is caught by the masked rule; a trap keeps the shell alive if it were delivered.
    b.edit(|c| c["process"]["args"][2] = json!("trap '' USR1 USR2; kill -USR1 $$ 2>/dev/null || echo usr1-refused; kill -0 $$ && echo zero-ok; kill -USR2 $$ 2>/dev/null || echo usr2-refused"));
    let out = b.run_ok("sc2");
    assert_eq!(out, "usr1-refused\nzero-ok\nusr2-refused\n");
}

#[test]
fn conditions_on_one_argument_are_alternatives() {
    // Two tests of args[1] in one rule: each is its own rule (either
    // matches), as runc and libseccomp build them; ANDed, neither could hold.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "trap '' USR1 USR2; kill -USR1 $$ 2>/dev/null || echo usr1-refused; kill -0 $$ && echo zero-ok; kill -USR2 $$ 2>/dev/null || echo usr2-refused",
    ]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
                {"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}
            ]}]
        });
    });
    assert_eq!(b.run_ok("sc-or"), "usr1-refused\nzero-ok\nusr2-refused\n");
}

#[test]
fn without_no_new_privs_the_filter_loads_after_the_user_switch() {
    // The profile blocks the calls that switch users: hull must have made
    // them before the filter goes in, even though, without no_new_privs, it
    // loads before the capabilities are set.
    let b = Bundle::new(&["sh", "-c", "id -u; id -G; mkdir /tmp/y 2>/dev/null || echo refused"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid", "setgroups"],
                 "action": "SCMP_ACT_ERRNO"}
            ]
        });
    });
    assert_eq!(b.run_ok("sc3"), "1000\n1000 5\nrefused\n");
}

#[test]
/// Names unknown here are normal in multi-architecture profiles: runc logs
/// them at debug, and so does hull; nothing reaches the container's stderr.
fn unknown_syscalls_are_debug_and_bad_actions_fail() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["no_such_syscall_x"], "action": "SCMP_ACT_ERRNO"}]
        })
    });
    let o = b.run("sc4");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "nothing but the container's own output");
    let dir = b.dir();
    let o = b.out(&["--debug", "run", "--bundle", dir.to_str().unwrap(), "sc4d"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no_such_syscall_x"),
        "--debug names it: {}",
        stderr(&o)
    );

    b.edit(|c| c["linux"]["seccomp"]["syscalls"][0]["action"] = json!("SCMP_ACT_BOGUS"));
    let o = b.create("sc5", &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("linux.seccomp.syscalls[0].action"),
        "{}",
        stderr(&o)
    );
    assert!(b.leftovers().is_empty());
}

#[test]
fn debians_default_profile() {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let Some(profile) = common::containers_common_seccomp(&caps) else {
        panic!("/usr/share/containers/seccomp.json missing: run hack/setup.sh");
    };
    let b = Bundle::new(&["sh", "-c", "unshare -m true 2>/dev/null || echo unshare-refused; mount -t tmpfs none /tmp 2>/dev/null || echo mount-refused; echo fine"]);
    b.edit(|c| c["linux"]["seccomp"] = profile);
    let o = b.run("sc6");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::stdout(&o), "unshare-refused\nmount-refused\nfine\n");
}

/// struct seccomp_notif and seccomp_notif_resp (linux/seccomp.h).
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const NOTIF_RECV: libc::c_ulong = 0xc050_2100; // _IOWR('!', 0, struct seccomp_notif)
const NOTIF_SEND: libc::c_ulong = 0xc018_2101; // _IOWR('!', 1, struct seccomp_notif_resp)

/// A seccomp agent: takes the state and the listener from hull, then answers
/// every notification with EXDEV, an errno nothing else would give mkdir.
fn agent(sock: std::path::PathBuf) -> std::thread::JoinHandle<(serde_json::Value, Vec<i32>)> {
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let (conn, _) = listener.accept().unwrap();
        let (payload, fd) = hull::fdpass::recv_fd(conn.as_raw_fd(), "listener").unwrap();
        let state: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let mut seen = vec![];
        loop {
            let mut n = Notif::default();
            // SAFETY: a zeroed seccomp_notif for the kernel to fill.
            if unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_RECV, &mut n as *mut Notif) } != 0 {
                break; // the filter's last user is gone
            }
            seen.push(n.nr);
            let resp = NotifResp {
                id: n.id,
                val: 0,
                error: -libc::EXDEV,
                flags: 0,
            };
            // SAFETY: a filled seccomp_notif_resp.
            unsafe { libc::ioctl(fd.as_raw_fd(), NOTIF_SEND, &resp as *const NotifResp) };
        }
        (state, seen)
    })
}

#[test]
fn notify_hands_the_listener_to_the_agent_which_answers() {
    let b = Bundle::new(&["sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    let sock = b.tmp.path().join("agent.sock");
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "hull-test-metadata",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
        });
    });
    let agent = agent(sock);
    let o = b.run("notify");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::stdout(&o), "rc=1\n");
    assert!(
        stderr(&o).contains("Invalid cross-device link"),
        "the agent's answer: {}",
        stderr(&o)
    );
    let (state, seen) = agent.join().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hull-test-metadata");
    assert_eq!(state["state"]["id"], "notify");
    assert!(state["pid"].as_i64().unwrap() > 1);
    assert_eq!(seen, [libc::SYS_mkdir as i32], "one mkdir, notified once");
    assert!(!b.rootfs().join("tmp/x").exists());
}

/// tests/fixtures/abi-probe.c, built into the bundle's rootfs as /abi-probe.
fn build_probe(b: &Bundle) {
    b.build_fixture("abi-probe.c", "abi-probe", &["-no-pie", "-O1"]);
}

/// Under a profile whose default is EPERM, a syscall newer than any it names
/// gets ENOSYS (libc then falls back, as from clone3 to clone), and an older
/// one it leaves out gets the default; runc answers the same.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut profile = common::containers_common_seccomp(&caps).expect("run hack/setup.sh");
    profile["defaultErrnoRet"] = json!(libc::EPERM);
    let mut b = Bundle::new(&["/abi-probe"]);
    build_probe(&b);
    b.edit(|c| c["linux"]["seccomp"] = profile.clone());
    // 1000 is beyond every syscall table; reboot (169) is left out for want
    // of CAP_SYS_BOOT.
    let cases = [("1000", "-38\n"), ("169", "-1\n")];
    for runtime in [common::HULL, "runc"] {
        b.runtime = runtime.to_string();
        for (i, (nr, want)) in cases.iter().enumerate() {
            b.edit(|c| c["process"]["args"] = json!(["/abi-probe", "x86_64", nr]));
            let o = b.run(&format!("enosys{i}"));
            assert_eq!(common::stdout(&o), *want, "{runtime}: syscall {nr}: {}", stderr(&o));
        }
    }
    // Without `architectures` the native ABI is implied, stub included, as
    // in runc since 1.2 (Debian's 1.1.5 adds no stub then: not compared).
    profile.as_object_mut().unwrap().remove("architectures");
    b.runtime = common::HULL.to_string();
    b.edit(|c| {
        c["linux"]["seccomp"] = profile.clone();
        c["process"]["args"] = json!(["/abi-probe", "x86_64", "1000"]);
    });
    let o = b.run("enosys-native");
    assert_eq!(common::stdout(&o), "-38\n", "no architectures: {}", stderr(&o));
}

/// The compat ABIs: `architectures` naming x86 and x32 gets the rules for
/// their syscall numbers too; an ABI it does not name is killed (i386) or
/// answered ENOSYS (x32). tests/fixtures/abi-probe.c makes the calls.
#[test]
fn compat_architectures_get_the_rules_or_are_refused() {
    let b = Bundle::new(&["/abi-probe", "i386-getpid"]);
    build_probe(&b);
    let profile = |archs: serde_json::Value| {
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": archs,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        })
    };
    let run = |archs: serde_json::Value, arg: &str, id: &str| {
        b.edit(|c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["seccomp"] = profile(archs.clone());
            c["process"]["args"] = json!(["/abi-probe", arg]);
        });
        b.run(id)
    };
    let all = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    let o = run(all.clone(), "i386-mkdir", "abi1");
    assert_eq!(
        common::stdout(&o),
        "-1\n",
        "i386 mkdir gets the rule's EPERM: {}",
        stderr(&o)
    );
    let o = run(all.clone(), "i386-getpid", "abi2");
    assert_eq!(common::stdout(&o), "1\n", "an allowed i386 call works: {}", stderr(&o));
    let o = run(all, "x32-mkdir", "abi3");
    assert_eq!(
        common::stdout(&o),
        "-1\n",
        "x32 mkdir gets the rule's EPERM: {}",
        stderr(&o)
    );
    assert!(!b.rootfs().join("tmp/made-by-i386").exists() && !b.rootfs().join("tmp/made-by-x32").exists());

    let native = json!(["SCMP_ARCH_X86_64"]);
    let o = run(native.clone(), "i386-getpid", "abi4");
    assert_eq!(
        o.status.code(),
        Some(128 + libc::SIGSYS),
        "an unnamed i386 is killed: {}",
        common::stdout(&o)
    );
    let o = run(native, "x32-mkdir", "abi5");
    assert_eq!(
        common::stdout(&o),
        format!("-{}\n", libc::ENOSYS),
        "an unnamed x32 gets ENOSYS"
    );
    assert!(b.leftovers().is_empty());
}
