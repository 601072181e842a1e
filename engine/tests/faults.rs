//! Crashes at every step of the provisioner (`cargo test -p hull-engine
//! --features fault-injection --test faults`): `image pull` and `bundle
//! create` SIGKILLed at each of their fault points in turn. After each
//! crash `image ls` lists only whole images, the next identical pull
//! completes (and leaves no part-written file in the store), and `bundle
//! rm` leaves nothing: no mount under the bundle, no file in it, no record.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{hull_bin, image, stderr};

fn hull(args: &[&str], env: (&str, &str)) -> Output {
    Command::new(hull_bin())
        .args(args)
        .env(env.0, env.1)
        .stdin(Stdio::null())
        .output()
        .unwrap()
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
