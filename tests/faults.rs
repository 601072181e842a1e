//! Crashes at every step (`cargo test --features fault-injection --test
//! faults`): hull is SIGKILLed at each fault point of create, start, exec
//! and delete in turn (the points a clean run reaches, listed through
//! HULL_FAULT_LOG). After each crash `list` shows no corrupt entry,
//! `delete --force` leaves nothing (state, mounts, cgroups, processes,
//! files), and the same command run again succeeds.

mod common;
#[path = "../conformance/bad-bundles/leaks.rs"]
#[allow(dead_code)]
mod leaks;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use common::{stderr, Bundle};

/// Runs with output to files: a container's init inherits them, and would
/// hold pipes open.
fn output(b: &Bundle, env: (&str, &str), args: &[&str]) -> Output {
    let mut cmd = b.cmd(args);
    cmd.env(env.0, env.1);
    b.detached(cmd)
}

/// The fault points `args` reaches when nothing goes wrong.
fn points_of(b: &Bundle, args: &[&str]) -> Vec<String> {
    let log = b.tmp.path().join("logs/points");
    let _ = std::fs::remove_file(&log);
    let o = output(b, ("HULL_FAULT_LOG", &log.to_string_lossy()), args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    text.lines().map(String::from).collect()
}

fn crash_at(b: &Bundle, point: &str, args: &[&str]) -> Output {
    let o = output(b, ("HULL_FAULT", point), args);
    assert_eq!(
        o.status.signal(),
        Some(9),
        "{args:?} at {point} was not killed: {}",
        stderr(&o)
    );
    o
}

/// `list` still lists, every entry with a status.
fn list_is_sound(b: &Bundle, point: &str) {
    let o = b.out(&["list", "--format", "json"]);
    assert!(o.status.success(), "list after a crash at {point}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    for c in v.as_array().into_iter().flatten() {
        assert!(c["status"].is_string(), "list after a crash at {point}: {c}");
    }
}

fn ok(b: &Bundle, args: &[&str]) {
    let o = output(b, ("HULL_FAULT", ""), args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

fn nothing_left(b: &Bundle, before: &leaks::Snapshot, point: &str) {
    let mut left = vec![];
    common::eventually(5, || {
        left = before.leaks(&leaks::snapshot(b.tmp.path()));
        left.is_empty()
    });
    assert!(left.is_empty(), "after a crash at {point} and delete --force: {left:?}");
}

#[test]
fn a_crash_at_any_step_leaves_nothing_that_delete_force_cannot_clear() {
    let b = Bundle::new(&["sleep", "100"]);
    let dir = b.dir().to_string_lossy().into_owned();
    let pid_file = b.tmp.path().join("logs/pid").to_string_lossy().into_owned();
    let create = [
        "create",
        "--bundle",
        dir.as_str(),
        "--pid-file",
        pid_file.as_str(),
        "f1",
    ];
    std::fs::create_dir_all(&b.root).unwrap();
    std::fs::create_dir_all(b.tmp.path().join("logs")).unwrap();
    let before = leaks::snapshot(b.tmp.path());

    let points = points_of(&b, &create);
    ok(&b, &["start", "f1"]);
    let exec_points = points_of(&b, &["exec", "f1", "true"]);
    let delete_points = points_of(&b, &["delete", "--force", "f1"]);
    ok(&b, &create);
    let start_points = points_of(&b, &["start", "f1"]);
    ok(&b, &["delete", "--force", "f1"]);
    for (verb, list) in [
        ("create", &points),
        ("start", &start_points),
        ("exec", &exec_points),
        ("delete", &delete_points),
    ] {
        assert!(!list.is_empty(), "{verb} reaches no fault point");
    }

    for p in &points {
        crash_at(&b, p, &create);
        list_is_sound(&b, p);
        ok(&b, &["delete", "--force", "f1"]);
        nothing_left(&b, &before, p);
        ok(&b, &create);
        ok(&b, &["delete", "--force", "f1"]);
    }
    for p in &start_points {
        ok(&b, &create);
        crash_at(&b, p, &["start", "f1"]);
        list_is_sound(&b, p);
        ok(&b, &["delete", "--force", "f1"]);
        nothing_left(&b, &before, p);
    }
    ok(&b, &create);
    ok(&b, &["start", "f1"]);
    for p in &exec_points {
        crash_at(&b, p, &["exec", "f1", "true"]);
        list_is_sound(&b, p);
        ok(&b, &["exec", "f1", "true"]);
        let ps = b.out(&["ps", "--format", "json", "f1"]);
        let pids: Vec<i32> = serde_json::from_slice(&ps.stdout).unwrap_or_default();
        assert!(
            common::eventually(5, || {
                let ps = b.out(&["ps", "--format", "json", "f1"]);
                serde_json::from_slice::<Vec<i32>>(&ps.stdout).unwrap_or_default().len() == 1
            }),
            "the crashed exec at {p} left a process in the container: {pids:?}"
        );
    }
    ok(&b, &["delete", "--force", "f1"]);
    for p in &delete_points {
        ok(&b, &create);
        ok(&b, &["start", "f1"]);
        crash_at(&b, p, &["delete", "--force", "f1"]);
        list_is_sound(&b, p);
        let again = b.out(&["delete", "--force", "f1"]);
        let gone = b.out(&["state", "f1"]);
        assert!(
            again.status.success() || !gone.status.success(),
            "delete --force after {p}: {}",
            stderr(&again)
        );
        nothing_left(&b, &before, p);
    }
    println!(
        "[faults] {} crash points (create {}, start {}, exec {}, delete {}): nothing left after any",
        points.len() + start_points.len() + exec_points.len() + delete_points.len(),
        points.len(),
        start_points.len(),
        exec_points.len(),
        delete_points.len()
    );
}
