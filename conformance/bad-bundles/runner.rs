//! Runs one case against one runtime as a user would (create, start, wait,
//! delete), classifies the outcome, finds what was left, and then clears it
//! so that the next case starts clean.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cases::{Case, Ctx};
use crate::leaks;

/// A runtime: the command line before its global flags.
#[derive(Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub argv: Vec<String>,
}

impl Runtime {
    pub fn hull() -> Runtime {
        Runtime {
            name: "hull",
            argv: vec![crate::common::HULL.to_string()],
        }
    }

    pub fn runc() -> Runtime {
        Runtime {
            name: "runc",
            argv: vec!["runc".into()],
        }
    }

    /// crun 1.8 refuses this hybrid host unless the cgroup2 mount is out of
    /// its sight: each call runs in a mount namespace without it.
    pub fn crun() -> Runtime {
        let script = "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun \"$@\"";
        Runtime {
            name: "crun",
            argv: ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "crun"]
                .map(String::from)
                .to_vec(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    CreateFailed,
    StartFailed,
    Ran,
    /// The step that did not end within its time.
    Hung(&'static str),
}

impl Outcome {
    pub fn word(&self) -> String {
        match self {
            Outcome::CreateFailed => "create fails".into(),
            Outcome::StartFailed => "start fails".into(),
            Outcome::Ran => "runs".into(),
            Outcome::Hung(step) => format!("{step} hangs"),
        }
    }
}

pub struct Report {
    pub outcome: Outcome,
    /// The failing step's stderr (create's or start's).
    pub error: String,
    pub leaks: Vec<String>,
    /// What the container wrote to /verdict, for cases that check inside.
    pub verdict: Option<String>,
    pub panicked: bool,
}

struct Step {
    ok: bool,
    stderr: String,
    hung: bool,
}

struct Env<'a> {
    rt: &'a Runtime,
    case_dir: PathBuf,
    logs: PathBuf,
}

impl Env<'_> {
    fn root(&self) -> PathBuf {
        self.case_dir.join("state")
    }

    fn step(&self, name: &str, args: &[&str], secs: u64) -> Step {
        let (o, e) = (
            self.logs.join(format!("{name}.out")),
            self.logs.join(format!("{name}.err")),
        );
        let mut cmd = Command::new(&self.rt.argv[0]);
        cmd.args(&self.rt.argv[1..]).arg("--root").arg(self.root()).args(args);
        cmd.stdin(Stdio::null())
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .process_group(0);
        let Ok(mut child) = cmd.spawn() else {
            return Step {
                ok: false,
                stderr: format!("{} would not start", self.rt.argv[0]),
                hung: false,
            };
        };
        let deadline = Instant::now() + Duration::from_secs(secs);
        let (ok, hung) = loop {
            if let Ok(Some(st)) = child.try_wait() {
                break (st.success(), false);
            }
            if Instant::now() > deadline {
                // SAFETY: kill(2) on the process group spawned just above.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break (false, true);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = std::fs::read_to_string(&e).unwrap_or_default();
        Step { ok, stderr, hung }
    }

    fn status(&self, id: &str) -> Option<String> {
        let s = self.step("state", &["state", id], 10);
        if !s.ok {
            return None;
        }
        let text = std::fs::read(self.logs.join("state.out")).ok()?;
        let v: Value = serde_json::from_slice(&text).ok()?;
        v["status"].as_str().map(String::from)
    }

    /// Deletes as a user would, then with --force if that was refused.
    fn delete(&self, id: &str) {
        if !self.step("delete", &["delete", id], 20).ok {
            self.step("delete-force", &["delete", "--force", id], 20);
        }
    }

    fn lifecycle(&self, ctx: &Ctx) -> (Outcome, String) {
        let id = ctx.id.as_str();
        let bundle = ctx.dir.to_string_lossy().into_owned();
        let c = self.step("create", &["create", "--bundle", &bundle, id], 30);
        if c.hung {
            return (Outcome::Hung("create"), c.stderr);
        }
        if !c.ok {
            return (Outcome::CreateFailed, c.stderr);
        }
        let s = self.step("start", &["start", id], 30);
        let outcome = if s.hung {
            Outcome::Hung("start")
        } else if !s.ok {
            Outcome::StartFailed
        } else {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.status(id).as_deref() == Some("running") && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if self.status(id).as_deref() == Some("running") {
                Outcome::Hung("container")
            } else {
                Outcome::Ran
            }
        };
        self.delete(id);
        (outcome, s.stderr)
    }
}

pub fn run(rt: &Runtime, case: &Case, base: &Value, idx: usize) -> Report {
    let tmp = tempfile::Builder::new().prefix("hull-bb-").tempdir().unwrap();
    let env = Env {
        rt,
        case_dir: tmp.path().to_path_buf(),
        logs: tmp.path().join("logs"),
    };
    std::fs::create_dir_all(&env.logs).unwrap();
    std::fs::create_dir_all(env.root()).unwrap();
    let mut ctx = Ctx::new(tmp.path().join("bundle"), base, format!("bb{idx}"));
    (case.make)(&mut ctx);
    ctx.write();

    let before = leaks::snapshot(tmp.path());
    let (outcome, error) = env.lifecycle(&ctx);
    // A container that exited is reaped by then; one that leaked is not.
    std::thread::sleep(Duration::from_millis(20));
    let after = leaks::snapshot(tmp.path());
    let verdict = std::fs::read_to_string(ctx.rootfs().join("verdict")).ok();
    let report = Report {
        panicked: error.contains("panicked"),
        leaks: before.leaks(&after),
        outcome,
        error: error.trim().replace(&*tmp.path().to_string_lossy(), "$CASE"),
        verdict: verdict.map(|v| v.trim().to_string()),
    };
    clear(&env, &ctx, &before, &after);
    report
}

/// Removes whatever the case left so that the next one starts clean.
fn clear(env: &Env, ctx: &Ctx, before: &leaks::Snapshot, after: &leaks::Snapshot) {
    if let Ok(rd) = std::fs::read_dir(env.root()) {
        for e in rd.flatten() {
            if let Some(id) = e.file_name().to_str() {
                env.step("clear", &["delete", "--force", id], 20);
            }
        }
    }
    env.step("clear", &["delete", "--force", &ctx.id], 20);
    for p in before.new_processes(after) {
        // SAFETY: kill(2) of a process this case left.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    let now = leaks::snapshot(&env.case_dir);
    for m in before.new_mounts_under(&now, Path::new("/")) {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
    for c in before.new_cgroups(&now) {
        let _ = std::fs::remove_dir(c);
    }
    for m in ctx.mounts.iter().rev() {
        let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
    }
}
