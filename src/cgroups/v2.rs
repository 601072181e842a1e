//! One cgroup2 directory and what hull does with it directly: processes,
//! freeze, kill, device programs. Used for a v2 host's tree and for the
//! cgroup2 side of a hybrid host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::bpf;

pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(root: &Path, path: &str) -> Dir {
        Dir(root.join(path))
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let f = self.0.join(file);
        std::fs::write(&f, value).with_context(|| format!("write {value:?} to {}", f.display()))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap_or_default()
    }

    /// Makes the directory, enabling `controllers` in every parent on the way.
    pub fn create(&self, root: &Path, controllers: &[&str]) -> Result<()> {
        let rel = self.0.strip_prefix(root).unwrap_or(&self.0);
        let mut dir = root.to_path_buf();
        for comp in rel.components() {
            let ctl = dir.join("cgroup.subtree_control");
            // Only what is missing: a delegated (rootless) cgroup's parents
            // are not the caller's to write, and have them enabled already.
            let enabled = std::fs::read_to_string(&ctl).unwrap_or_default();
            for c in controllers
                .iter()
                .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
            {
                std::fs::write(&ctl, format!("+{c}")).with_context(|| format!("enable {c} in {}", ctl.display()))?;
            }
            dir.push(comp);
            std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        }
        Ok(())
    }

    pub fn add(&self, pid: i32) -> Result<()> {
        self.write("cgroup.procs", &pid.to_string())
    }

    pub fn procs(&self) -> Vec<i32> {
        self.read("cgroup.procs")
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    pub fn frozen(&self) -> bool {
        self.read("cgroup.events").lines().any(|l| l == "frozen 1")
    }

    /// Freezes and waits until cgroup.events says every process is frozen.
    pub fn freeze(&self) -> Result<()> {
        self.write("cgroup.freeze", "1")?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.frozen() {
            if Instant::now() > deadline {
                bail!("{}: did not freeze", self.0.display());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    pub fn thaw(&self) -> Result<()> {
        self.write("cgroup.freeze", "0")
    }

    /// Whether the kernel has cgroup.kill (5.14 on).
    pub fn has_kill(&self) -> bool {
        self.0.join("cgroup.kill").exists()
    }

    /// SIGKILL to every process at once (cgroup.kill), else one by one while frozen.
    pub fn kill(&self) -> Result<()> {
        if self.has_kill() {
            return self.write("cgroup.kill", "1");
        }
        if let Err(e) = self.freeze() {
            let _ = self.thaw();
            return Err(e);
        }
        for pid in self.procs() {
            // SAFETY: kill(2) with plain integers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        self.thaw()
    }

    pub fn devices(&self, rules: &[bpf::Rule], default_allow: bool) -> Result<()> {
        bpf::attach(&self.0, rules, default_allow)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
