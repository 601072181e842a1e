//! The cgroup2 code paths (freeze, kill, processes, BPF device programs) on
//! a real cgroup2 tree: the host's own on a v2 host, the `unified` mount of a
//! hybrid one. They run through the library, since on a hybrid host the
//! runtime itself uses the v1 controllers for these.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hull::cgroups::bpf::Rule;
use hull::cgroups::v2::Dir;

fn tree() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.controllers").exists())
}

/// A scratch cgroup2 directory, removed (with whatever is in it killed) on drop.
struct Scratch {
    dir: Dir,
    parent: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Option<Scratch> {
        let root = tree()?;
        let parent = root.join(format!("hull-test-{}", std::process::id()));
        let dir = Dir(parent.join(name));
        dir.create(&root, &[]).unwrap();
        Some(Scratch { dir, parent })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.dir.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.dir.procs().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.dir.remove();
        let _ = std::fs::remove_dir(&self.parent);
    }
}

fn state_of(pid: u32) -> char {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    s.rsplit(')')
        .next()
        .unwrap_or("")
        .trim_start()
        .chars()
        .next()
        .unwrap_or('?')
}

#[test]
fn freeze_thaw_and_kill() {
    let Some(s) = Scratch::new("freeze") else {
        return eprintln!("no cgroup2 tree here");
    };
    let mut child = Command::new("/bin/busybox")
        .args(["sh", "-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    s.dir.add(child.id() as i32).unwrap();
    assert_eq!(s.dir.procs(), vec![child.id() as i32]);
    s.dir.freeze().unwrap();
    assert!(s.dir.frozen());
    // A frozen task sleeps in the freezer, however busy it was.
    assert_eq!(state_of(child.id()), 'S');
    s.dir.thaw().unwrap();
    assert!(!s.dir.frozen());
    s.dir.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
}

#[test]
fn bpf_device_program_denies_what_it_does_not_allow() {
    let Some(s) = Scratch::new("devices") else {
        return eprintln!("no cgroup2 tree here");
    };
    // The shell waits for a line, so it is in the cgroup before it opens anything.
    let mut child = Command::new("/bin/busybox")
        .args([
            "sh",
            "-c",
            "read x; (exec 3</dev/null) 2>/dev/null && echo null-ok; (exec 3</dev/zero) 2>/dev/null || echo zero-denied",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    s.dir.add(child.id() as i32).unwrap();
    let rules = vec![
        Rule {
            typ: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
            allow: false,
        },
        Rule {
            typ: 'c',
            major: Some(1),
            minor: Some(3),
            access: "rwm".into(),
            allow: true,
        },
    ];
    s.dir.devices(&rules, false).unwrap();
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let out: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    child.wait().unwrap();
    assert_eq!(out, ["null-ok", "zero-denied"]);
}
