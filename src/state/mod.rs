//! Container state under --root: `<root>/<id>/state.json`, a lock per
//! container, and the status worked out from the init's pid and start time.

pub mod execs;
mod liveness;

use std::collections::HashMap;

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub use liveness::{is_alive, is_runnable, start_time};

pub const EXEC_FIFO: &str = "exec.fifo";
const STATE_FILE: &str = "state.json";
/// config.json as create read it (see `spec::Bundle::load_kept`).
pub const KEPT_CONFIG: &str = "config.json";
/// What a create is about to make (its cgroup), written before it makes it,
/// so that `delete --force` can clear what a create killed midway left.
const CREATING_FILE: &str = "creating.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        };
        f.write_str(s)
    }
}

/// What hull records about a container; the OCI state is derived from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// The init's start time (clock ticks since boot), so a reused pid is not taken for it.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::CgroupRef>,
    /// Whether the container has a pid namespace of its own (its processes die with the init).
    #[serde(default)]
    pub own_pid_ns: bool,
    /// config.json had no process: the container can be created, not started.
    #[serde(default)]
    pub no_process: bool,
    /// The hooks that run after create, as config.json had them at create:
    /// changes to it afterwards must not affect the container (runtime-spec).
    /// None in a state written by a hull from before they were kept here.
    #[serde(default)]
    pub poststart: Option<Vec<oci_spec::runtime::Hook>>,
    #[serde(default)]
    pub poststop: Option<Vec<oci_spec::runtime::Hook>>,
}

/// The OCI state document (`hull state`), with runc's extra fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty", default)]
    pub annotations: HashMap<String, String>,
}

/// A container's state directory, locked for as long as this value lives
/// (unless opened to read only).
pub struct ContainerDir {
    pub path: PathBuf,
    lock: Option<fsutil::Lock>,
}

fn missing(root: &Path, id: &str) -> String {
    format!(
        "{}: {id:?} (no state under {})",
        crate::container::phrases::NOT_EXIST,
        root.display()
    )
}

/// Container ids as runc accepts them: letters, digits, `_+-.`, not `.` or `..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if !ok {
        bail!(
            "{}: {id:?}: use letters, digits and _+-. only",
            crate::container::phrases::BAD_ID
        );
    }
    Ok(())
}

impl ContainerDir {
    /// Makes the directory of a new container; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        check_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .with_context(|| format!("--root {}: cannot create", root.display()))?;
        let path = root.join(id);
        if path.symlink_metadata().is_ok() {
            bail!("{}: {id:?}", crate::container::phrases::EXISTS);
        }
        remove_abandoned(root);
        // Made under a name of its own, locked, then renamed into place: the
        // directory is never there unlocked, so no delete --force of a
        // leftover can take it (and no other create can lock it) first.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = root.join(format!(".creating-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let lock = fsutil::lock_dir(&tmp, true)?;
        let mut placed = nix::fcntl::renameat2(None, &tmp, None, &path, nix::fcntl::RenameFlags::RENAME_NOREPLACE);
        if placed == Err(nix::errno::Errno::EINVAL) {
            // A filesystem without RENAME_NOREPLACE: an existing directory,
            // even an empty one, must still make this fail.
            placed = match path.symlink_metadata() {
                Ok(_) => Err(nix::errno::Errno::EEXIST),
                Err(_) => nix::fcntl::renameat(None, &tmp, None, &path),
            };
        }
        if let Err(e) = placed {
            let _ = std::fs::remove_dir(&tmp);
            if e == nix::errno::Errno::EEXIST {
                bail!("{}: {id:?}", crate::container::phrases::EXISTS);
            }
            return Err(e).with_context(|| format!("{}: cannot create", path.display()));
        }
        Ok(ContainerDir { path, lock: Some(lock) })
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        let mut dir = ContainerDir::read_only(root, id)?;
        let lock = fsutil::lock_dir(&dir.path, true).with_context(|| missing(root, id))?;
        if !dir.path.join(STATE_FILE).exists() {
            bail!(missing(root, id));
        }
        dir.lock = Some(lock);
        Ok(dir)
    }

    /// Opens an existing container's directory to read its state, without
    /// the lock (as runc's `state` and `list`): state.json is replaced
    /// whole, and a `state` from a hook must not wait for the `start` or
    /// `create` that runs the hook, nor `list` for a hook that hangs.
    pub fn read_only(root: &Path, id: &str) -> Result<ContainerDir> {
        check_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            bail!(missing(root, id));
        }
        Ok(ContainerDir { path, lock: None })
    }

    /// The lock's fd; None when opened to read only.
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        self.lock.as_ref().map(|l| l.as_raw_fd())
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// The socket directory of NOTIFY_SOCKET (container/notify.rs).
    pub fn notify_dir(&self) -> PathBuf {
        self.path.join("notify")
    }

    pub fn load(&self) -> Result<State> {
        let p = self.path.join(STATE_FILE);
        let text = match std::fs::read(&p) {
            Ok(text) => text,
            // Deleted since it was opened to read only.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.lock.is_none() => {
                let id = self.path.file_name().unwrap_or_default().to_string_lossy();
                bail!("{}: {id:?}", crate::container::phrases::NOT_EXIST)
            }
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", p.display())),
        };
        serde_json::from_slice(&text).with_context(|| format!("{}: corrupt", p.display()))
    }

    /// Writes state.json atomically (temp file + rename).
    pub fn save(&self, st: &State) -> Result<()> {
        let bytes = serde_json::to_vec(st)?;
        write_atomic(&self.path.join(STATE_FILE), &bytes, 0o600)
    }

    pub fn status(&self, st: &State) -> Status {
        if !is_alive(st.pid, st.pid_start) {
            return Status::Stopped;
        }
        // A created container can be paused too, as in runc.
        if st.cgroup.as_ref().is_some_and(|c| crate::cgroups::frozen(&c.path)) {
            return Status::Paused;
        }
        if self.fifo().exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    pub fn oci_state(&self, st: &State) -> OciState {
        let status = self.status(st);
        OciState {
            oci_version: crate::SPEC_VERSION.to_string(),
            id: st.id.clone(),
            pid: if status == Status::Stopped { 0 } else { st.pid },
            status,
            bundle: st.bundle.clone(),
            rootfs: st.rootfs.clone(),
            created: st.created.clone(),
            owner: st.owner.clone(),
            annotations: st.annotations.clone(),
        }
    }

    /// Removes state.json ahead of the rest: from now on the container does
    /// not exist for any command.
    pub fn withdraw_state(&self) -> Result<()> {
        let p = self.path.join(STATE_FILE);
        std::fs::remove_file(&p).with_context(|| format!("{}: cannot remove", p.display()))
    }

    /// Removes the directory; the lock goes with it. An exec's record made
    /// meanwhile (`execs::record`, which takes no lock) is removed too.
    pub fn remove(self) -> Result<()> {
        let mut tries = 0;
        loop {
            match std::fs::remove_dir_all(&self.path) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) && tries < 10 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                done => return done.with_context(|| format!("{}: cannot remove", self.path.display())),
            }
        }
    }
}

use hull_sys::file as fsutil;
pub use hull_sys::file::write_atomic;

/// Removes a container directory that has no state.json (a create killed
/// midway), or nothing if there is none.
/// Writes creating.json (see CREATING_FILE).
pub fn save_creating(dir: &ContainerDir, what: &serde_json::Value) -> Result<()> {
    write_atomic(&dir.path.join(CREATING_FILE), what.to_string().as_bytes(), 0o600)
}

/// Removes what a create killed midway left: `clear` gets its
/// creating.json (if it got as far as writing one) to undo, under the
/// container's lock, then the state dir goes.
pub fn remove_leftover(root: &Path, id: &str, clear: impl FnOnce(Option<serde_json::Value>)) -> Result<()> {
    check_id(id)?;
    let path = root.join(id);
    if !path.exists() {
        return Ok(());
    }
    // An older hull's lock could leave a file where a deleted container's
    // directory was: it holds nothing.
    if path.is_file() {
        return std::fs::remove_file(&path).with_context(|| format!("{}: cannot remove", path.display()));
    }
    // A create in progress holds the lock; wait for it to finish or fail.
    // Gone meanwhile (another delete): nothing is left to remove.
    let _lock = match fsutil::lock_dir(&path, true) {
        Ok(l) => l,
        Err(_) if !path.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    if path.join(STATE_FILE).exists() {
        bail!("container {id:?} was created meanwhile; delete it again");
    }
    let creating = std::fs::read(path.join(CREATING_FILE)).ok();
    clear(creating.and_then(|c| serde_json::from_slice(&c).ok()));
    match std::fs::remove_dir_all(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("{}: cannot remove", path.display()))
        }
        _ => Ok(()),
    }
}

/// Removes the `.creating-PID-NANOS` directories of creates killed between
/// their mkdir and their rename: an empty directory whose creator is gone,
/// and at least a minute old (a creator in another pid namespace may have
/// the same number as a process gone here; no create holds one that long).
fn remove_abandoned(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(".creating-")?.split('-').next());
        let Some(pid) = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() >= 60));
        if old && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// Ids of every container under the root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("--root {}: cannot read", root.display())),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "abc-1_2.3+x", "A9"] {
            check_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
