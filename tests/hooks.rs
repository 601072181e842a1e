//! The six OCI hooks: when each runs, with which state on stdin, and what a
//! failing or hanging hook does to the operation.

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, Bundle};
use serde_json::{json, Value};

/// A hook that saves its stdin (the state) to `file`, through the host's or
/// the container's /bin/sh. It writes aside and renames, so a test polling
/// for `file` never reads it half written.
fn saving_hook(file: &Path) -> Value {
    let f = file.display();
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {f}.part && mv {f}.part {f}")]})
}

fn read_state(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

#[test]
fn every_hook_runs_at_its_point_with_the_state() {
    let b = Bundle::new(&["true"]);
    let out = b.tmp.path().join("hooks");
    std::fs::create_dir_all(&out).unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({
            "prestart": [saving_hook(&out.join("prestart"))],
            "createRuntime": [saving_hook(&out.join("createRuntime"))],
            "createContainer": [saving_hook(&out.join("createContainer"))],
            // Runs in the container, after pivot_root: its /tmp is the rootfs's.
            "startContainer": [saving_hook(Path::new("/tmp/startContainer"))],
            "poststart": [saving_hook(&out.join("poststart"))],
            "poststop": [saving_hook(&out.join("poststop"))]
        });
        c["annotations"] = json!({"org.example": "yes"});
    });
    let o = b.create("h1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = b.state("h1")["pid"].as_i64().unwrap();
    // prestart comes after create is done (runtime.md lifecycle step 3), as in crun.
    for (phase, status) in [
        ("prestart", "created"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
    ] {
        let st = read_state(&out.join(phase));
        assert_eq!(st["status"], status, "{phase}");
        assert_eq!(st["id"], "h1");
        assert_eq!(st["pid"], pid, "{phase}");
        assert_eq!(st["annotations"]["org.example"], "yes");
    }
    assert!(!out.join("poststart").exists(), "poststart ran before start");
    let o = b.out(&["start", "h1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_state(&out.join("poststart"))["status"], "running");
    assert!(
        common::eventually(10, || b.rootfs().join("tmp/startContainer").exists()),
        "startContainer never ran"
    );
    assert_eq!(read_state(&b.rootfs().join("tmp/startContainer"))["status"], "created");
    b.wait_status("h1", "stopped");
    assert!(!out.join("poststop").exists());
    assert!(b.out(&["delete", "h1"]).status.success());
    assert_eq!(read_state(&out.join("poststop"))["status"], "stopped");
}

#[test]
fn poststart_runs_once_the_users_program_has_replaced_the_init() {
    let b = Bundle::new(&["sleep", "10"]);
    let out = b.tmp.path().join("cmdline");
    let o = out.display();
    b.edit(|c| {
        c["hooks"] = json!({
            // Holds the init between its release and its exec.
            "startContainer": [{"path": "/bin/sleep", "args": ["sleep", "0.3"]}],
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", format!(
                r#"pid=$(grep -o '"pid": *[0-9]*' | tr -dc 0-9); tr '\0' ' ' < /proc/$pid/cmdline > {o}"#
            )]}]
        })
    });
    assert!(b.create("h-exec", &[]).status.success());
    let started = b.out(&["start", "h-exec"]);
    let seen = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = b.out(&["delete", "-f", "h-exec"]);
    assert!(started.status.success(), "{}", stderr(&started));
    assert_eq!(seen.trim(), "sleep 10", "poststart saw the init before its exec");
}

/// runtime-tools' `poststart` program: the program and the hook append to
/// one file, and the program's line must come first. Starting the hook the
/// moment the exec closed the fifo lost that race about one run in four.
#[test]
fn poststart_hooks_start_after_the_program_has_run() {
    let b = Bundle::new(&["sh", "-c", "echo program >> /order"]);
    let order = b.rootfs().join("order");
    let o = order.display();
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["hooks"] = json!({"poststart": [
            {"path": "/bin/sh", "args": ["sh", "-c", format!("echo hook >> {o}")]}
        ]})
    });
    for round in 0..20 {
        let _ = std::fs::remove_file(&order);
        assert!(b.create("h-order", &[]).status.success());
        let started = b.out(&["start", "h-order"]);
        b.wait_status("h-order", "stopped");
        let _ = b.out(&["delete", "-f", "h-order"]);
        assert!(started.status.success(), "{}", stderr(&started));
        let seen = std::fs::read_to_string(&order).unwrap_or_default();
        assert_eq!(seen, "program\nhook\n", "round {round}");
    }
}

/// A `true` bundle whose poststart and poststop hooks save their state in
/// the returned directory.
fn with_post_hooks() -> (Bundle, PathBuf) {
    let b = Bundle::new(&["true"]);
    let out = b.tmp.path().join("hooks");
    std::fs::create_dir_all(&out).unwrap();
    b.edit(|c| {
        c["hooks"] = json!({
            "poststart": [saving_hook(&out.join("poststart"))],
            "poststop": [saving_hook(&out.join("poststop"))]
        })
    });
    (b, out)
}

/// Starts the created container `id`, lets it end and deletes it: the
/// poststart and poststop hooks must have run, each with its state.
fn start_to_delete_runs_the_post_hooks(b: &Bundle, id: &str, out: &Path) {
    let o = b.out(&["start", id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_state(&out.join("poststart"))["status"], "running");
    b.wait_status(id, "stopped");
    assert!(b.out(&["delete", id]).status.success());
    assert_eq!(read_state(&out.join("poststop"))["status"], "stopped");
}

#[test]
fn hooks_after_create_are_the_ones_config_json_had_at_create() {
    let (b, out) = with_post_hooks();
    let o = b.create("h-kept", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Changes to config.json after create must not affect the container.
    std::fs::write(b.dir().join("config.json"), "this is no longer JSON").unwrap();
    start_to_delete_runs_the_post_hooks(&b, "h-kept", &out);
}

#[test]
fn a_state_from_an_older_hull_still_runs_the_configs_hooks() {
    let (b, out) = with_post_hooks();
    assert!(b.create("h-old", &[]).status.success());
    // What the previous release wrote: no hooks kept in the state.
    let path = b.root.join("h-old").join("state.json");
    let mut st: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(st["poststart"].is_array(), "create keeps the hooks: {st}");
    st.as_object_mut()
        .unwrap()
        .retain(|k, _| k != "poststart" && k != "poststop");
    std::fs::write(&path, st.to_string()).unwrap();
    start_to_delete_runs_the_post_hooks(&b, "h-old", &out);
}

#[test]
fn a_failing_create_hook_fails_create_and_leaves_nothing() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}]})
    });
    let o = b.create("h2", &[]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("hooks.createRuntime[0]") && err.contains("nope"), "{err}");
    assert!(b.leftovers().is_empty());
    assert!(common::processes_naming(&b.root).is_empty());
}

#[test]
fn a_hook_that_hangs_is_stopped_by_its_timeout() {
    let b = Bundle::new(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({"createContainer": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
    });
    let start = std::time::Instant::now();
    let o = b.create("h3", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(b.leftovers().is_empty());
}

/// A hook whose own child keeps its stderr open holds nothing up: a failing
/// one's error comes when the hook ends (before, when the child did), and
/// a createContainer hook, run by the init, leaves it one thread (before,
/// a thread still reading; the user switch that follows is made thread by
/// thread, and a helper thread still exiting then deadlocked the init).
#[test]
fn a_hook_that_leaves_its_stderr_open_holds_nothing_up() {
    let b = Bundle::new(&["true"]);
    let child = b.tmp.path().join("hook-child");
    let script = format!("sleep 31 >&2 & echo $! > {}; echo boom >&2; exit 3", child.display());
    b.edit(|c| c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]}));
    let start = std::time::Instant::now();
    let o = b.create("h5", &[]);
    let elapsed = start.elapsed();
    if let Some(pid) = std::fs::read_to_string(&child).ok().and_then(|p| p.trim().parse().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(!o.status.success() && stderr(&o).contains("boom"), "{}", stderr(&o));
    assert!(
        elapsed < std::time::Duration::from_secs(10),
        "create waited for the hook's child"
    );
    assert!(b.leftovers().is_empty());

    b.edit(|c| {
        c["hooks"] = json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 32 >&2 &"]}]});
        c["process"]["user"]["additionalGids"] = json!([100]);
    });
    let o = b.create("h6", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = b.state("h6")["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let threads = status.lines().find(|l| l.starts_with("Threads:")).unwrap_or_default();
    assert_eq!(threads.split_whitespace().nth(1), Some("1"), "the init: {threads}");
    assert!(b.out(&["delete", "--force", "h6"]).status.success());
    assert!(b.leftovers().is_empty());
}

/// A hook may ask the runtime about the container it runs for: `state` and
/// `list` read without the lock that `start` holds while its poststart hooks
/// run, as runc's do. Before, they waited on that lock until the hook's
/// timeout failed `start`.
#[test]
fn a_hook_can_ask_for_the_state_of_its_container() {
    let b = Bundle::new(&["sleep", "30"]);
    let (out, listed) = (b.tmp.path().join("state.out"), b.tmp.path().join("list.out"));
    let script = format!(
        "{hull} --root {root} state hs > {out} && {hull} --root {root} list -q > {listed}",
        hull = common::HULL,
        root = b.root.display(),
        out = out.display(),
        listed = listed.display()
    );
    b.edit(|c| c["hooks"] = json!({"poststart": [{"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 5}]}));
    assert!(b.create("hs", &[]).status.success());
    let o = b.out(&["start", "hs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read_state(&out)["status"], "running");
    assert_eq!(std::fs::read_to_string(&listed).unwrap(), "hs\n");
    assert!(b.out(&["delete", "--force", "hs"]).status.success());
}

#[test]
fn poststart_failure_fails_start_and_poststop_failure_only_warns() {
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["hooks"] = json!({
            "poststart": [{"path": "/bin/false"}],
            "poststop": [{"path": "/bin/false"}]
        })
    });
    assert!(b.create("h4", &[]).status.success());
    let o = b.out(&["start", "h4"]);
    assert!(!o.status.success(), "a failing poststart hook must fail start");
    assert!(stderr(&o).contains("hooks.poststart[0]"), "{}", stderr(&o));
    assert_eq!(b.state("h4")["status"], "stopped");
    let o = b.out(&["delete", "h4"]);
    assert!(
        o.status.success(),
        "poststop failure must not fail delete: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("hooks.poststop[0]"),
        "a warning names it: {}",
        stderr(&o)
    );
}

#[test]
fn hook_env_and_args_are_its_own() {
    let b = Bundle::new(&["true"]);
    let out = b.tmp.path().join("envout");
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["custom-argv0", "-c", format!("echo \"$0 $HOOKVAR $PATH\" > {}", out.display())],
            "env": ["HOOKVAR=set-by-spec"]
        }]})
    });
    let o = b.run("h5");
    assert!(o.status.success(), "{}", stderr(&o));
    let line = std::fs::read_to_string(&out).unwrap();
    assert!(line.starts_with("custom-argv0 set-by-spec"), "{line}");
}
