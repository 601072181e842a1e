//! linux.seccomp: actions, errno values, argument conditions, loading late
//! enough not to break hull, and Debian's real default profile.

mod common;

use common::{stderr, Bundle};
use serde_json::json;

#[test]
fn blocked_calls_get_the_profiles_errno() {
    // getcwd and chdir blocked: hull needs both during setup, so the filter
    // must go in after it is done with them.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "pwd; cd /tmp || echo cd-refused; mkdir /tmp/x || echo mkdir-refused; echo alive",
    ]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["getcwd", "chdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ]
        });
    });
    let o = b.run("sc1");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    let err = stderr(&o);
    assert!(
        out.contains("cd-refused") && out.contains("mkdir-refused") && out.ends_with("alive\n"),
        "{out}"
    );
    assert!(err.contains("Operation not permitted"), "EPERM by default: {err}");
    assert!(err.contains("Function not implemented"), "errnoRet 38: {err}");
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
fn without_no_new_privs_the_filter_loads_before_the_user_switch() {
    let b = Bundle::new(&["sh", "-c", "id -u; mkdir /tmp/y 2>/dev/null || echo refused"]);
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(false);
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    assert_eq!(b.run_ok("sc3"), "1000\nrefused\n");
}

#[test]
fn unknown_syscalls_warn_and_bad_actions_fail() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["no_such_syscall_x"], "action": "SCMP_ACT_ERRNO"}]
        })
    });
    let o = b.run("sc4");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no_such_syscall_x"),
        "a warning names it: {}",
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
