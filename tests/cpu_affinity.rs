//! CPU affinity: a container's processes do not keep the affinity of
//! whoever ran hull (a caller pinned with taskset, a shim pinned to
//! housekeeping CPUs), and an exec'd process gets process.execCPUAffinity.
//! Needs two CPUs; on one there is nothing to tell apart.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{stderr, stdout, Bundle};
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use serde_json::json;

/// The CPUs this test may use, and how the kernel prints them all.
fn cpus() -> Option<(Vec<usize>, String)> {
    let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
    let on: Vec<usize> = (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap()).collect();
    if on.len() < 2 {
        eprintln!("one CPU: no affinity to tell apart; skipped");
        return None;
    }
    // hull resets to every CPU the cgroup allows: that is the test's own
    // set only when nothing (taskset, isolcpus, a cpuset) narrowed it.
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let mine = allowed(&std::fs::read_to_string("/proc/self/status").unwrap());
    if online.trim() != mine {
        eprintln!("this test runs on CPUs {mine} of {}: skipped", online.trim());
        return None;
    }
    Some((on, mine))
}

/// The Cpus_allowed_list line of a /proc/<pid>/status.
fn allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {status:?}"))
        .trim()
        .to_string()
}

/// `cmd` runs pinned to `cpu`, as under `taskset -c cpu`.
fn pinned(mut cmd: Command, cpu: usize) -> Command {
    // SAFETY: between fork and exec only sched_setaffinity runs.
    unsafe {
        cmd.pre_exec(move || {
            let mut set = CpuSet::new();
            set.set(cpu).map_err(std::io::Error::from)?;
            sched_setaffinity(Pid::from_raw(0), &set).map_err(std::io::Error::from)
        });
    }
    cmd
}

const SHOW: [&str; 3] = ["grep", "Cpus_allowed_list", "/proc/self/status"];

#[test]
fn run_does_not_keep_the_callers_affinity() {
    let Some((on, all)) = cpus() else { return };
    let last = *on.last().unwrap();
    let b = Bundle::new(&SHOW);
    let run = |id: &str| {
        let dir = b.dir();
        let o = pinned(b.cmd(&["run", "--bundle", dir.to_str().unwrap(), id]), last)
            .output()
            .unwrap();
        assert!(o.status.success(), "run {id}: {}", stderr(&o));
        allowed(&stdout(&o))
    };
    assert_eq!(run("aff-run"), all, "without a cpuset: every CPU");
    // Kubernetes' static CPU manager gives a container its CPUs as a cpuset.
    b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"cpus": all, "mems": "0"}));
    assert_eq!(run("aff-run-cpuset"), all, "with a cpuset: the cpuset's CPUs");
}

#[test]
fn exec_gets_exec_cpu_affinity_and_not_the_callers() {
    let Some((on, all)) = cpus() else { return };
    let (first, last) = (on[0], *on.last().unwrap());
    let b = Bundle::new(&["sleep", "60"]);
    // config.json's process is what a plain exec starts from (runc's too);
    // the init itself is not an exec'd process.
    b.edit(|c| c["process"]["execCPUAffinity"] = json!({"final": last.to_string()}));
    let o = b.run_detached("aff-exec");
    assert!(o.status.success(), "{}", stderr(&o));
    let exec = |extra: &[&str], cpu: Option<usize>| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.push("aff-exec");
        if extra.is_empty() {
            args.extend_from_slice(&SHOW);
        }
        let mut cmd = b.cmd(&args);
        if let Some(c) = cpu {
            cmd = pinned(cmd, c);
        }
        let o = cmd.output().unwrap();
        (o.status.success(), stdout(&o), stderr(&o))
    };
    let (ok, out, err) = exec(&[], None);
    assert!(ok, "{err}");
    assert_eq!(allowed(&out), last.to_string(), "config.json's final");
    let init = b.out(&["exec", "aff-exec", "cat", "/proc/1/status"]);
    assert_eq!(allowed(&stdout(&init)), all, "the init keeps every CPU");

    let process = |affinity: serde_json::Value| {
        let f = b.tmp.path().join("process.json");
        let p = json!({"args": SHOW, "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"],
                       "execCPUAffinity": affinity});
        std::fs::write(&f, serde_json::to_vec(&p).unwrap()).unwrap();
        f.to_str().unwrap().to_string()
    };
    let with = |affinity, cpu| {
        let f = process(affinity);
        exec(&["--process", &f], cpu)
    };
    let (ok, out, err) = with(json!({}), Some(first));
    assert!(ok, "{err}");
    assert_eq!(allowed(&out), all, "no execCPUAffinity: not the caller's CPU");
    let (ok, out, err) = with(json!({"initial": last.to_string(), "final": first.to_string()}), None);
    assert!(ok, "{err}");
    assert_eq!(allowed(&out), first.to_string(), "final");
    let (ok, out, err) = with(json!({"initial": last.to_string()}), Some(first));
    assert!(ok, "{err}");
    assert_eq!(allowed(&out), all, "initial is only until the cgroup move");

    // A CPU this machine lacks: the kernel refuses it, in either place, and
    // no process is left in the container.
    let absent = (CpuSet::count() - 1).to_string();
    for field in ["initial", "final"] {
        let (ok, _, err) = with(json!({ field: absent }), None);
        assert!(!ok, "execCPUAffinity.{field} {absent} was accepted");
        assert!(
            err.contains(&format!("process.execCPUAffinity.{field}")) && err.contains("EINVAL"),
            "{err}"
        );
        let ps = serde_json::from_slice::<Vec<i32>>(&b.out(&["ps", "-f", "json", "aff-exec"]).stdout).unwrap();
        assert_eq!(ps.len(), 1, "processes left after a refused {field}: {ps:?}");
    }
    let (ok, _, err) = with(json!({"final": "3-1"}), None);
    assert!(
        !ok && err.contains("process.execCPUAffinity.final") && err.contains("3-1"),
        "{err}"
    );
}
