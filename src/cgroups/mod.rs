//! One small manager over cgroups-rs for v1 and v2: placement, resources,
//! freeze, kill, processes, removal. Nothing outside this module asks which
//! cgroup version the host runs.

pub mod bpf;
mod devices;
mod gvariant;
mod resources;
mod stats;
pub mod sub;
pub mod systemd;
pub mod v2;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use cgroups_rs::manager::{FsManager, Manager};
use cgroups_rs::{CgroupPid, FreezerState};
use oci_spec::runtime::{LinuxResources, Spec};
use serde::{Deserialize, Serialize};

const ROOT: &str = "/sys/fs/cgroup";
/// Where containers without an absolute linux.cgroupsPath go.
const DEFAULT_PARENT: &str = "hull";

/// What the state records about a container's cgroup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CgroupRef {
    /// Path below each hierarchy's root, without a leading slash.
    pub path: String,
    /// Whether none of its directories existed before create. `made` says
    /// more; this stays for an older hull, which removes the cgroup only
    /// when it is true.
    pub created: bool,
    /// The systemd unit (`slice:prefix:name`) under --systemd-cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<String>,
    /// What create made, hierarchy by hierarchy (see `to_make`): delete
    /// removes that and only that.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub made: Vec<Made>,
    /// An older hull's record of the hybrid host's cgroup2 mirror it made
    /// for a cgroup that existed: read, never written (see `made_by_create`).
    #[serde(default, skip_serializing)]
    pub hybrid_made_from: Option<String>,
}

impl CgroupRef {
    /// What create made, from `made`, or from what an older hull recorded.
    pub fn made_by_create(&self) -> Vec<Made> {
        if !self.made.is_empty() {
            return self.made.clone();
        }
        let made_from = self.created.then_some(self.path.as_str());
        legacy_made(made_from, self.hybrid_made_from.as_deref())
    }
}

/// Where a create began making a cgroup in one hierarchy: `from` is the
/// shallowest part of the cgroup's path that did not exist there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Made {
    /// The hierarchy's mount point.
    pub root: PathBuf,
    pub from: String,
}

/// An older hull's record as `Made`s: `made_from` in every hierarchy (it
/// recorded one only when the cgroup existed in none), `hybrid_made_from`
/// in the hybrid host's cgroup2 tree alone.
pub fn legacy_made(made_from: Option<&str>, hybrid_made_from: Option<&str>) -> Vec<Made> {
    let made = |root: PathBuf, from: &str| Made {
        root,
        from: from.to_string(),
    };
    match (made_from, hybrid_made_from) {
        (Some(from), _) => hierarchy_roots().into_iter().map(|r| made(r, from)).collect(),
        (None, Some(from)) => resources::v2_root()
            .filter(|_| !is_v2())
            .map(|r| made(r, from))
            .into_iter()
            .collect(),
        (None, None) => vec![],
    }
}

/// Whether `r` sets any limit (device rules alone are not limits: a rootless
/// container has the host's device permissions anyway).
pub fn asks_for_limits(r: &oci_spec::runtime::LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
        || r.unified().as_ref().is_some_and(|m| !m.is_empty())
}

/// Whether this process may make (or use) the cgroup at `path`: its
/// deepest existing directory in the pids (or unified) hierarchy is
/// writable by the caller, i.e. delegated to it.
pub fn writable_by_caller(path: &str) -> bool {
    let Some(base) = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(Path::new)
        .find(|b| b.join("cgroup.procs").exists())
    else {
        return false;
    };
    let mut p = base.join(path);
    while !p.exists() && p.pop() {}
    nix::unistd::access(&p, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// Refuses resources this host cannot apply, as an update would, before
/// anything is written.
pub fn check(r: &LinuxResources) -> Result<()> {
    resources::split(r).map(|_| ())
}

/// Refuses device rules this host's devices cgroup would not keep as
/// written (v1 only: v2's program plays any list).
pub fn check_devices(spec_rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
    if is_v2() {
        return Ok(());
    }
    devices::check_v1(spec_rules)
}

/// The systemd unit a container's cgroup is under --systemd-cgroup.
pub fn systemd_spec(spec: &Spec, id: &str) -> Option<String> {
    systemd::enabled().then(|| {
        spec.linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().clone())
            .map_or_else(|| systemd::default_spec(id), |p| p.to_string_lossy().into_owned())
    })
}

/// The huge page sizes this host has, as hugepageLimits names them ("2MB").
pub fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return vec![];
    };
    let mut kbs: Vec<u64> = rd
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    kbs.sort();
    kbs.into_iter()
        .map(|kb| match kb {
            kb if kb >= 1 << 20 && kb % (1 << 20) == 0 => format!("{}GB", kb >> 20),
            kb if kb >= 1 << 10 && kb % (1 << 10) == 0 => format!("{}MB", kb >> 10),
            kb => format!("{kb}KB"),
        })
        .collect()
}

/// The cgroup path for a container: linux.cgroupsPath if absolute, under
/// hull's parent if relative, `hull/<id>` if absent.
pub fn path_for(spec: &Spec, id: &str) -> Result<String> {
    if let Some(unit) = systemd_spec(spec, id) {
        return systemd::cgroup_dir(&unit);
    }
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = match given {
        Some(p) if p.is_absolute() => p.strip_prefix("/").unwrap_or(&p).to_path_buf(),
        Some(p) => Path::new(DEFAULT_PARENT).join(p),
        None => Path::new(DEFAULT_PARENT).join(id),
    };
    let s = path.to_string_lossy().trim_end_matches('/').to_string();
    if let Some(long) = path.iter().find(|c| c.len() > 255) {
        bail!(
            "linux.cgroupsPath: the name {:?}... is longer than the 255 bytes a cgroup name may have",
            long.to_string_lossy().chars().take(40).collect::<String>()
        );
    }
    if s.contains('\n') {
        bail!("linux.cgroupsPath: {s:?} holds a newline, which no cgroup name may");
    }
    if s.is_empty() || path.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        bail!(
            "linux.cgroupsPath: {:?} must name a cgroup below the root, without ..",
            path.display().to_string()
        );
    }
    Ok(s)
}

/// Whether the host is cgroup v2 only. Looked at once per process: the
/// host's layout does not change under a command, and the answer stays
/// the host's in a child that has since changed its root.
pub fn is_v2() -> bool {
    static V2: OnceLock<bool> = OnceLock::new();
    *V2.get_or_init(|| {
        nix::sys::statfs::statfs(ROOT)
            .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
            .unwrap_or(false)
    })
}

/// The v1 hierarchies' mount points, sorted; looked at once per process.
fn v1_hierarchies() -> &'static [PathBuf] {
    static ROOTS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let Ok(rd) = std::fs::read_dir(ROOT) else { return vec![] };
        let mut out: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            // The hybrid host's cgroup2 tree is not one of the v1 hierarchies cgroups-rs uses.
            .filter(|p| p.file_name().is_some_and(|n| n != "unified"))
            // Only hierarchies: a systemd host also has plain directories there.
            .filter(|p| {
                nix::sys::statfs::statfs(p.as_path())
                    .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP_SUPER_MAGIC)
            })
            .collect();
        out.sort();
        out
    })
}

/// Directories of this cgroup, one per hierarchy it lives in.
fn dirs(path: &str) -> Vec<PathBuf> {
    if is_v2() {
        return vec![Path::new(ROOT).join(path)];
    }
    v1_hierarchies().iter().map(|h| h.join(path)).collect()
}

/// Every hierarchy a container's cgroup has a directory in: the v1 ones and
/// a hybrid host's cgroup2 tree (the mirror), or the one v2 tree.
fn hierarchy_roots() -> Vec<PathBuf> {
    if is_v2() {
        return vec![PathBuf::from(ROOT)];
    }
    let mut roots = v1_hierarchies().to_vec();
    roots.extend(resources::v2_root());
    roots
}

fn hierarchy_dir(path: &str, controller: &str) -> PathBuf {
    if is_v2() {
        Path::new(ROOT).join(path)
    } else {
        Path::new(ROOT).join(controller).join(path)
    }
}

/// Moves this single-threaded process into each `tasks` file's cgroup (see
/// `Cgroup::self_placement`).
pub fn join_self(tasks: &[PathBuf]) -> Result<()> {
    use std::io::Write;
    for t in tasks {
        std::fs::OpenOptions::new()
            .write(true)
            .open(t)
            .and_then(|mut f| f.write_all(b"0"))
            .with_context(|| format!("write 0 to {}", t.display()))?;
    }
    Ok(())
}

/// Whether the cgroup at `path` is frozen (read without building a manager,
/// as every `state` asks).
pub fn frozen(path: &str) -> bool {
    if is_v2() {
        return v2::Dir::new(Path::new(ROOT), path).frozen();
    }
    std::fs::read_to_string(hierarchy_dir(path, "freezer").join("freezer.state"))
        .map(|s| s.trim() == "FROZEN")
        .unwrap_or(false)
}

/// A v1 cpuset cgroup made by someone else may have no cpus or mems yet, and
/// then takes no process (ENOSPC): fill them in from the parent, as runc does.
fn inherit_cpuset(path: &str) -> Result<()> {
    // Top down, so each level copies from a parent that is already filled in.
    let mut dir = Path::new(ROOT).join("cpuset");
    for comp in Path::new(path).components() {
        let parent = dir.clone();
        dir.push(comp);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let f = dir.join(file);
            if std::fs::read_to_string(&f)
                .map(|s| s.trim().is_empty())
                .unwrap_or(false)
            {
                let from = parent.join(file);
                let value = std::fs::read_to_string(&from).with_context(|| format!("read {}", from.display()))?;
                std::fs::write(&f, value.trim()).with_context(|| format!("write {}", f.display()))?;
            }
        }
    }
    Ok(())
}

pub struct Cgroup {
    pub path: String,
    /// The systemd unit that holds it, under --systemd-cgroup.
    pub systemd: Option<String>,
    /// Whether this process started that unit (only then may a failed create stop it).
    pub started_unit: bool,
    /// The unit properties the config's annotations add (`org.systemd.property.*`).
    pub unit_properties: Vec<systemd::Property>,
    /// A rootless container's (an unprivileged caller's, in a cgroup
    /// delegated to it): device rules are not the caller's to set.
    pub rootless: bool,
    /// cgroups-rs's view, made on first use: making it reads /proc/self/cgroup,
    /// mountinfo twice and each hierarchy, which a create that places its
    /// init itself and sets no limits through it never needs.
    mgr: std::cell::OnceCell<FsManager>,
    /// The process placed last (the init), for the hybrid cgroup2 tree.
    pid: Option<i32>,
}

fn mgr_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl Cgroup {
    pub fn open(path: &str) -> Result<Cgroup> {
        Ok(Cgroup {
            path: path.to_string(),
            systemd: None,
            started_unit: false,
            unit_properties: vec![],
            rootless: false,
            mgr: std::cell::OnceCell::new(),
            pid: None,
        })
    }

    fn mgr(&self) -> Result<&FsManager> {
        if let Some(m) = self.mgr.get() {
            return Ok(m);
        }
        let m = FsManager::new(&self.path)
            .map_err(mgr_err)
            .with_context(|| format!("cgroup {}", self.path))?;
        Ok(self.mgr.get_or_init(|| m))
    }

    fn mgr_mut(&mut self) -> Result<&mut FsManager> {
        self.mgr()?;
        self.mgr.get_mut().context("cgroup manager")
    }

    pub fn exists(&self) -> bool {
        Cgroup::any_left(&self.path)
    }

    /// Puts a process in the cgroup, making the cgroup if needed.
    pub fn add(&mut self, pid: i32) -> Result<()> {
        if let Some(unit) = &self.systemd {
            // systemd makes the scope with the process in it; the cgroupfs
            // placement below covers the hierarchies systemd leaves alone.
            // Before the start: a unit started but not yet seen holding the
            // pid (the wait timed out) is stopped as well on a failure.
            self.started_unit = true;
            systemd::start(unit, pid, &self.unit_properties)?;
        }
        if self.exists() && !is_v2() {
            // Made elsewhere (systemd makes a scope only in the hierarchies
            // it manages): the rest are made here, cpuset filled in.
            for d in dirs(&self.path) {
                std::fs::create_dir_all(&d).with_context(|| format!("mkdir {}", d.display()))?;
            }
            inherit_cpuset(&self.path)?;
        }
        self.pid = Some(pid);
        self.mgr_mut()?
            .add_proc(CgroupPid::from(pid as u64))
            .map_err(mgr_err)
            .with_context(|| format!("cgroup {}: add pid {pid}", self.path))?;
        self.add_hybrid(pid)
    }

    /// The `tasks` file of each v1 hierarchy, the directories made (cpuset
    /// filled in), for a process to place itself: a task writing 0 there
    /// moves without the global threadgroup lock that writing another
    /// process's pid to cgroup.procs takes, and whose first taker waits an
    /// RCU grace period (7-15 ms here, 0.4 ms for the self-move: the slow
    /// mode of `run`). None on cgroup v2 and with the systemd driver.
    pub fn self_placement(&self) -> Result<Option<Vec<PathBuf>>> {
        if is_v2() || self.systemd.is_some() {
            return Ok(None);
        }
        let dirs = dirs(&self.path);
        for d in &dirs {
            std::fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
        }
        inherit_cpuset(&self.path)?;
        Ok(Some(dirs.into_iter().map(|d| d.join("tasks")).collect()))
    }

    /// The process moved itself into the v1 hierarchies: the rest of
    /// `add`, unless it was born in its cgroup2 directory already.
    pub fn placed_itself(&mut self, pid: i32, in_cgroup2: bool) -> Result<()> {
        self.pid = Some(pid);
        if in_cgroup2 {
            return Ok(());
        }
        self.add_hybrid(pid)
    }

    /// The hybrid host's cgroup2 directory of this cgroup, made and opened
    /// for a child to be born in (clone3's CLONE_INTO_CGROUP). None on a
    /// pure v1 or v2 host and with the systemd driver.
    pub fn hybrid_dir_fd(&self) -> Result<Option<std::os::fd::OwnedFd>> {
        if is_v2() || self.systemd.is_some() {
            return Ok(None);
        }
        let Some(root) = resources::v2_root() else {
            return Ok(None);
        };
        let dir = v2::Dir::new(&root, &self.path);
        dir.create(&root, &[])
            .with_context(|| format!("cgroup {} in the hybrid host's cgroup2 tree", self.path))?;
        let path = root.join(&self.path);
        let fd = std::fs::OpenOptions::new()
            .read(true)
            // Not O_PATH: clone3 takes a real open file (EBADF otherwise).
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .with_context(|| format!("open {}", path.display()))?;
        Ok(Some(fd.into()))
    }

    /// On a hybrid host the process also goes to the same path in the
    /// cgroup2 tree, as runc puts it, so tools that read the unified
    /// hierarchy (containerd's own checks among them) see the container.
    fn add_hybrid(&self, pid: i32) -> Result<()> {
        let Some(root) = resources::v2_root().filter(|_| !is_v2()) else {
            return Ok(());
        };
        let dir = v2::Dir::new(&root, &self.path);
        dir.create(&root, &[])
            .and_then(|()| dir.add(pid))
            .with_context(|| format!("cgroup {} in the hybrid host's cgroup2 tree", self.path))
    }

    /// Applies linux.resources.
    pub fn apply(&mut self, r: Option<&LinuxResources>, devices: &[oci_spec::runtime::LinuxDevice]) -> Result<()> {
        if let (Some(r), None) = (r, &self.systemd) {
            self.update(r)?;
        }
        let spec_rules = r.and_then(|r| r.devices().as_deref()).unwrap_or(&[]);
        let rules = devices::rules(spec_rules, devices);
        let Some(unit) = self.systemd.clone() else {
            return self.apply_devices(&rules);
        };
        // systemd writes a v1 unit's device rules again at each reload
        // (v2's program is hull's own, beside systemd's).
        let device_props = if is_v2() || self.rootless {
            vec![]
        } else {
            systemd::device_properties(&rules, &std::fs::read_to_string("/proc/devices").unwrap_or_default())
        };
        systemd::set(&unit, r, is_v2(), device_props)?;
        // The files last: hull's exact values over systemd's rounding (the
        // quota in 10 ms steps), defaults, and device list (which has no
        // form for some rules) until its next reload.
        self.apply_devices(&rules)?;
        r.map_or(Ok(()), |r| self.update(r))
    }

    fn apply_devices(&self, rules: &[devices::Rule]) -> Result<()> {
        let dir = if is_v2() {
            Path::new(ROOT).join(&self.path)
        } else {
            hierarchy_dir(&self.path, "devices")
        };
        match devices::apply(&dir, rules, is_v2()) {
            // As runc: an unprivileged caller can load no device program
            // (v2) nor write devices.deny (v1), and its container can open
            // no device the caller could not open anyway.
            Err(e) if self.rootless && !crate::privilege::is_host_root() => {
                tracing::debug!("rootless: device rules not applied: {e:#}");
                Ok(())
            }
            applied => applied,
        }
    }

    /// Applies what the resources name, devices aside (an update never changes them).
    pub fn update(&mut self, r: &LinuxResources) -> Result<()> {
        let (rest, extras) = resources::split(r)?;
        if rest != LinuxResources::default() {
            resources::write_first(&self.path, &extras);
            let path = self.path.clone();
            self.mgr_mut()?
                .set(&rest)
                .map_err(|e| resources::explain(&path, &e.to_string()))?;
        }
        resources::apply(&self.path, self.pid, &extras)
    }

    /// `r` with a CFS quota or period it leaves out taken from the cgroup:
    /// systemd keeps the quota per second, which needs both.
    pub fn with_cfs(&self, r: &LinuxResources) -> LinuxResources {
        let mut r = r.clone();
        let Some(mut cpu) = r.cpu().clone().filter(|c| c.quota().is_some() != c.period().is_some()) else {
            return r;
        };
        let read = |f: &str| std::fs::read_to_string(hierarchy_dir(&self.path, "cpu").join(f)).unwrap_or_default();
        let (quota, period) = if is_v2() {
            resources::cpu_max(&read("cpu.max")).map_or((None, None), |(q, p)| (Some(q), p))
        } else {
            (
                read("cpu.cfs_quota_us").trim().parse().ok(),
                read("cpu.cfs_period_us").trim().parse().ok(),
            )
        };
        if cpu.quota().is_none() {
            cpu.set_quota(quota);
        } else {
            cpu.set_period(period);
        }
        r.set_cpu(Some(cpu));
        r
    }

    pub fn freeze(&self) -> Result<()> {
        if is_v2() {
            return v2::Dir::new(Path::new(ROOT), &self.path).freeze();
        }
        self.mgr()?
            .freeze(FreezerState::Frozen)
            .map_err(mgr_err)
            .context("freeze")?;
        // v1 goes through FREEZING; paused means every task is frozen.
        for _ in 0..1000 {
            if self.is_frozen() {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        bail!("cgroup {}: did not freeze", self.path)
    }

    pub fn thaw(&self) -> Result<()> {
        if is_v2() {
            return v2::Dir::new(Path::new(ROOT), &self.path).thaw();
        }
        self.mgr()?
            .freeze(FreezerState::Thawed)
            .map_err(mgr_err)
            .context("thaw")
    }

    pub fn is_frozen(&self) -> bool {
        frozen(&self.path)
    }

    /// runc's `events` stats document for this cgroup.
    pub fn stats_json(&self) -> Result<serde_json::Value> {
        if is_v2() {
            return Ok(stats::from_v2(&Path::new(ROOT).join(&self.path)));
        }
        Ok(stats::to_json(&self.mgr()?.stats()))
    }

    /// Memory in use now, in bytes.
    pub fn memory_usage(&self) -> u64 {
        let dir = hierarchy_dir(&self.path, "memory");
        let file = if is_v2() {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        };
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// How many times the OOM killer fired in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let dir = hierarchy_dir(&self.path, "memory");
        let file = if is_v2() { "memory.events" } else { "memory.oom_control" };
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        stats::keyed(&text).get("oom_kill").copied().unwrap_or(0)
    }

    /// Pids of every process in the cgroup and the cgroups below it, as
    /// runc's: a container's own (systemd in it, nested containers) and an
    /// `exec --cgroup`'s are below.
    pub fn procs(&self) -> Vec<i32> {
        fn walk(dir: &Path, out: &mut Vec<i32>) {
            let here = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            out.extend(here.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                }
            }
        }
        let mut out = vec![];
        walk(&hierarchy_dir(&self.path, "pids"), &mut out);
        // A process moving down while the walk goes is seen twice.
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A signal to every process, frozen first so none can fork away from
    /// it, and thawed after, as runc (also after a freeze that failed
    /// half-way).
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL && is_v2() {
            let dir = v2::Dir::new(Path::new(ROOT), &self.path);
            if dir.has_kill() {
                return dir.kill();
            }
        }
        let froze = self.freeze();
        // Even frozen, a process can die (of the OOM killer) and its pid
        // pass to another: each is held (by a pidfd) first, and signalled
        // only if the cgroup still lists it after that.
        let held: Vec<_> = self
            .procs()
            .into_iter()
            .filter_map(|p| crate::pidfd::Held::take(p).ok().flatten())
            .collect();
        let listed: std::collections::HashSet<i32> = self.procs().into_iter().collect();
        for h in held.iter().filter(|h| listed.contains(&h.pid)) {
            let _ = h.signal(sig);
        }
        match froze {
            Ok(()) => self.thaw(),
            // A host without a freezer has nothing to thaw.
            Err(_) => {
                let _ = self.thaw();
                Ok(())
            }
        }
    }

    /// What a create of `path` makes, hierarchy by hierarchy: each
    /// hierarchy where `path` has no directory, with the shallowest of its
    /// parents that has none there either. Looked at before anything is
    /// made; a cgroup that exists in some hierarchies only is made in the
    /// others, and only those are removed again.
    pub fn to_make(path: &str) -> Vec<Made> {
        hierarchy_roots()
            .into_iter()
            .filter(|r| !r.join(path).exists())
            .map(|r| Made {
                from: first_missing_where(path, |p| r.join(p).exists()),
                root: r,
            })
            .collect()
    }

    /// Removes what a create made (see `to_make`): the cgroup in each
    /// hierarchy it was made in, and with `parents` the parents it made
    /// there too, deepest first. A directory still in use (processes, a
    /// neighbour's cgroup) stays. Whether the cgroup itself is gone from
    /// every hierarchy it was made in.
    pub fn remove_made(path: &str, made: &[Made], parents: bool) -> bool {
        let mut gone = true;
        for m in made {
            let from = if parents { m.from.as_str() } else { path };
            up_to(path, from, |p| {
                let _ = std::fs::remove_dir(m.root.join(p));
            });
            gone &= !m.root.join(path).exists();
        }
        gone
    }

    /// Whether create made the directory whose processes `procs` and
    /// `signal_all` see (pids on v1, the one tree on v2).
    pub fn made_where_procs_are(made: &[Made]) -> bool {
        let procs_root = hierarchy_dir("", "pids");
        made.iter().any(|m| m.root == procs_root)
    }

    /// Whether any directory of this cgroup is left.
    pub fn any_left(path: &str) -> bool {
        dirs(path).iter().any(|d| d.exists())
    }
}

/// The shallowest prefix of `path` that does not `exist`, or `path`, which
/// the caller knows does not.
fn first_missing_where(path: &str, exists: impl Fn(&str) -> bool) -> String {
    let mut prefix = String::new();
    for part in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if prefix.len() == path.len() || !exists(&prefix) {
            break;
        }
    }
    prefix
}

/// Runs `f` on `path` and each parent up to `made_from`, deepest first.
fn up_to(path: &str, made_from: &str, mut f: impl FnMut(&str)) {
    let mut p = path;
    loop {
        f(p);
        if p == made_from || !p.starts_with(made_from) {
            return;
        }
        match p.rsplit_once('/') {
            Some((parent, _)) => p = parent,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(path: Option<&str>) -> Spec {
        let mut v = serde_json::json!({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {}});
        if let Some(p) = path {
            v["linux"]["cgroupsPath"] = p.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(path_for(&spec_with(None), "c1").unwrap(), "hull/c1");
        assert_eq!(path_for(&spec_with(Some("/a/b")), "c1").unwrap(), "a/b");
        assert_eq!(path_for(&spec_with(Some("rel/x")), "c1").unwrap(), "hull/rel/x");
        assert!(path_for(&spec_with(Some("/a/../..")), "c1").is_err());
        assert!(path_for(&spec_with(Some("/")), "c1").is_err());
    }
}
