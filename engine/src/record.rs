//! What the engine keeps of each container, in `<engine-dir>/<id>/`:
//! record.json (what `inspect` shows and what recovery and cleanup need),
//! the bundle, the sandbox (mounted at /mnt/sandbox, the container's
//! stdout and stderr when detached) and the secrets tmpfs.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::request::{Launcher, Limits};

/// Where the container's sandbox appears inside it.
pub const SANDBOX_IN_CONTAINER: &str = "/mnt/sandbox";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub image: Option<String>,
    /// `running` or `exited`.
    pub status: String,
    pub pid: i32,
    pub pid_start: u64,
    /// The supervisor's pid and start time; none in the foreground.
    pub supervisor: Option<(i32, u64)>,
    pub exit_code: Option<i32>,
    /// `exited`, `signal`, `oom`, `disk` or `destroyed`.
    pub reason: Option<String>,
    pub isolators: Vec<String>,
    pub limits: Limits,
    pub launcher: Launcher,
    /// The runtime's --root the container lives in.
    pub root: PathBuf,
    /// Its cgroup path (as linux.cgroupsPath).
    pub cgroup: String,
    pub started: String,
    pub finished: Option<String>,
    /// Whether the runtime container, the isolators' setup and the bundle are gone.
    pub cleaned: bool,
}

/// The paths of one container's directory.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub dir: PathBuf,
}

impl Sandbox {
    pub fn new(engine_dir: &Path, id: &str) -> Sandbox {
        Sandbox {
            dir: engine_dir.join(id),
        }
    }

    /// Makes the directory; an id in use is an error. It is root's alone:
    /// what the container writes in its sandbox and rootfs, setuid-root
    /// programs too, must be out of host users' reach (filesystem.rs opens
    /// a way through to a sandbox reached by its host path).
    pub fn create(engine_dir: &Path, id: &str) -> Result<Sandbox> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !engine_dir.exists() {
            std::fs::create_dir_all(engine_dir)
                .and_then(|()| std::fs::set_permissions(engine_dir, std::fs::Permissions::from_mode(0o711)))
                .with_context(|| format!("--engine-dir {}", engine_dir.display()))?;
        }
        let sb = Sandbox::new(engine_dir, id);
        match std::fs::DirBuilder::new().mode(0o700).create(&sb.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("--name {id:?}: the engine has a container of that name (hull destroy {id})")
            }
            Err(e) => return Err(e).with_context(|| format!("create {}", sb.dir.display())),
        }
        std::fs::create_dir(sb.sandbox()).with_context(|| format!("create {}", sb.sandbox().display()))?;
        Ok(sb)
    }

    pub fn record_path(&self) -> PathBuf {
        self.dir.join("record.json")
    }
    pub fn bundle(&self) -> PathBuf {
        self.dir.join("bundle")
    }
    pub fn sandbox(&self) -> PathBuf {
        self.dir.join("sandbox")
    }
    pub fn secrets(&self) -> PathBuf {
        self.dir.join("secrets")
    }
    /// The overlay backend's upper dir: what the container wrote to its rootfs.
    pub fn upper(&self) -> PathBuf {
        self.bundle().join("upper")
    }
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn load(&self) -> Result<Record> {
        let p = self.record_path();
        let data =
            std::fs::read(&p).with_context(|| format!("no engine container {:?} ({})", self.id(), p.display()))?;
        serde_json::from_slice(&data).with_context(|| format!("{}: not a record", p.display()))
    }

    pub fn save(&self, r: &Record) -> Result<()> {
        hull_sys::file::write_atomic(&self.record_path(), &serde_json::to_vec_pretty(r)?, 0o600)
    }

    /// Removes the container's directory (see `remove_unmounted`).
    pub fn remove(&self) -> Result<()> {
        remove_unmounted(&self.dir)
    }

    /// Holds the container's lock while `f` runs: verbs on one id take turns.
    pub fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let _lock = hull_sys::file::lock(&self.dir.join("lock"), true)?;
        f()
    }
}

/// Removes `dir`, refusing while anything is mounted under it: a bundle's
/// rootfs can be a bind of the host's root. A mount point another
/// namespace still holds is retried (EBUSY).
pub fn remove_unmounted(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if hull_provision::backend::mounts_under(dir) {
        bail!("{}: something is still mounted there; not removing it", dir.display());
    }
    hull_sys::file::retry_busy(|| std::fs::remove_dir_all(dir)).with_context(|| format!("remove {}", dir.display()))
}

/// Unmounts whatever is mounted at `path` (a file or a directory), then
/// removes it; nothing there is fine.
pub fn unmount_and_remove(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    hull_provision::backend::unmount(path)?;
    hull_sys::file::retry_busy(|| {
        if path.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        }
    })
    .with_context(|| format!("remove {}", path.display()))
}

/// Every container directory the engine has.
pub fn all(engine_dir: &Path) -> Result<Vec<Sandbox>> {
    let rd = match std::fs::read_dir(engine_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("--engine-dir {}", engine_dir.display())),
    };
    let mut out: Vec<Sandbox> = rd
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| e.path().join("record.json").exists() || e.path().join("sandbox").is_dir())
        .map(|e| Sandbox { dir: e.path() })
        .collect();
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

pub fn now() -> String {
    hull::logging::rfc3339_now()
}
