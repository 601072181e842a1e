//! What a runtime may leave behind, taken before and after a case: mounts,
//! cgroup directories in every hierarchy, processes, state entries, files
//! beside the bundle and the caller's fds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    mounts: Vec<String>,
    cgroups: BTreeSet<PathBuf>,
    processes: BTreeSet<i32>,
    entries: BTreeSet<String>,
    fds: usize,
}

/// Takes what exists now that a case in `case_dir` could leak; the runtime's
/// --root and the bundle are in it.
pub fn snapshot(case_dir: &Path) -> Snapshot {
    Snapshot {
        mounts: mounts(),
        cgroups: cgroup_dirs(),
        processes: foreign_processes(case_dir),
        entries: entries(case_dir),
        fds: std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
    }
}

impl Snapshot {
    /// Everything `after` has that `self` had not, one line each.
    pub fn leaks(&self, after: &Snapshot) -> Vec<String> {
        let mut out = vec![];
        let mut before = self.mounts.clone();
        for m in &after.mounts {
            match before.iter().position(|b| b == m) {
                Some(i) => {
                    before.remove(i);
                }
                None => out.push(format!("mount {m}")),
            }
        }
        for c in after.cgroups.difference(&self.cgroups) {
            out.push(format!("cgroup {}", c.display()));
        }
        for p in after.processes.difference(&self.processes) {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            out.push(format!("process {p} ({})", cmd.trim()));
        }
        for e in after.entries.difference(&self.entries) {
            out.push(format!("file {e}"));
        }
        if after.fds > self.fds {
            out.push(format!("{} fds of the caller", after.fds - self.fds));
        }
        out
    }

    /// The cgroup directories `after` has that `self` had not, deepest first.
    pub fn new_cgroups(&self, after: &Snapshot) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = after.cgroups.difference(&self.cgroups).cloned().collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        v
    }

    /// The processes `after` has that `self` had not.
    pub fn new_processes(&self, after: &Snapshot) -> Vec<i32> {
        after.processes.difference(&self.processes).copied().collect()
    }

    /// New mount points under `dir`, deepest first.
    pub fn new_mounts_under(&self, after: &Snapshot, dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = after
            .mounts
            .iter()
            .filter(|m| !self.mounts.contains(m))
            .filter_map(|m| m.split(' ').next().map(PathBuf::from))
            .filter(|p| p.starts_with(dir))
            .collect();
        v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        v
    }
}

/// "mount point, type, source" of every mount in this namespace.
fn mounts() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            Some(format!("{point} {} {}", r.next()?, r.next()?))
        })
        .collect()
}

fn cgroup_roots() -> BTreeSet<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

fn cgroup_dirs() -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for root in cgroup_roots() {
        walk(&root, &mut out);
    }
    out
}

fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.insert(e.path());
            walk(&e.path(), out);
        }
    }
}

/// Processes outside this process's mount or pid namespace (a container's)
/// or naming the case's directory (a runtime still at work).
fn foreign_processes(case_dir: &Path) -> BTreeSet<i32> {
    let me = std::process::id() as i32;
    let ns = |pid: &str, t: &str| std::fs::read_link(format!("/proc/{pid}/ns/{t}")).ok();
    let (my_mnt, my_pid) = (ns("self", "mnt"), ns("self", "pid"));
    let needle = case_dir.to_string_lossy().into_owned();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return BTreeSet::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != me)
        .filter(|&p| {
            let s = p.to_string();
            let cmd = std::fs::read(format!("/proc/{s}/cmdline")).unwrap_or_default();
            if cmd.is_empty() {
                return false; // a kernel thread, or gone
            }
            let foreign = ns(&s, "mnt") != my_mnt || ns(&s, "pid") != my_pid;
            foreign || String::from_utf8_lossy(&cmd).contains(&needle)
        })
        .collect()
}

/// Names in the case directory and the runtime's --root (`state`) in it.
fn entries(case_dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in [case_dir.to_path_buf(), case_dir.join("state")] {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                out.insert(e.path().display().to_string());
            }
        }
    }
    out
}
