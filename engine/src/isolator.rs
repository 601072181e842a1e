//! The isolator interface (Mesos's): each isolator edits the bundle's
//! config before create (`prepare`), acts on the live container before its
//! program runs (`isolate`), changes limits (`update`), reports statistics
//! (`usage`) and limitations that end the container (`watch`), and undoes
//! its setup (`cleanup`: reverse order, idempotent, also after a crash).
//! Isolators are rebuilt from their names and the record, so a container
//! found after a crash is cleaned up by the same code that set it up.

use anyhow::{bail, Result};
use serde_json::{Map, Value};

use crate::isolators;
use crate::record::{Record, Sandbox};
use crate::request::{Launcher, Limits, Request, VolumeSource};

/// The config.json being assembled.
pub type Spec = Value;

pub trait Isolator: Send + Sync {
    fn prepare(&self, _req: &Request, _sb: &Sandbox, _spec: &mut Spec) -> Result<()> {
        Ok(())
    }
    /// Between create and start: the init exists, waiting on the exec fifo.
    fn isolate(&self, _rec: &Record, _sb: &Sandbox) -> Result<()> {
        Ok(())
    }
    fn update(&self, _rec: &Record, _limits: &Limits) -> Result<()> {
        Ok(())
    }
    fn usage(&self, _rec: &Record, _sb: &Sandbox, _stats: &mut Map<String, Value>) {}
    /// A limitation that should end the container, as its reason.
    fn watch(&self, _rec: &Record, _sb: &Sandbox) -> Option<&'static str> {
        None
    }
    fn cleanup(&self, _rec: &Record, _sb: &Sandbox) -> Result<()> {
        Ok(())
    }
    /// A running container was adopted after a crash: check what it relies on.
    fn recover(&self, _rec: &Record, _sb: &Sandbox) -> Result<()> {
        Ok(())
    }
    /// What `inspect` adds (the network isolator: interfaces and addresses).
    fn describe(&self, _rec: &Record, _sb: &Sandbox, _out: &mut Map<String, Value>) {}
}

/// Mesos's names that hull has; each `cgroups/*` name shares one cgroup.
pub const NAMES: &[&str] = &[
    "cgroups/cpu",
    "cgroups/mem",
    "cgroups/pids",
    "cgroups/cpuset",
    "cgroups/blkio",
    "cgroups/hugetlb",
    "cgroups/devices",
    "cgroups/all",
    "namespaces/pid",
    "namespaces/ipc",
    "filesystem/linux",
    "filesystem/posix",
    "volume/host_path",
    "volume/sandbox_path",
    "volume/image",
    "volume/csi",
    "volume/secret",
    "environment_secret",
    "posix/rlimits",
    "linux/capabilities",
    "linux/nnp",
    "linux/seccomp",
    "disk/du",
    "network/cni",
    "devices/cdi",
];

/// The isolators a request asks for: `--isolation` as given (checked), plus
/// the filesystem isolator, or else what its flags need.
pub fn select(req: &Request) -> Result<Vec<String>> {
    let fs = if req.image.is_some() {
        "filesystem/linux"
    } else {
        "filesystem/posix"
    };
    let needed = needed_by_flags(req);
    let mut names: Vec<String> = match &req.isolation {
        None => {
            let mut n = vec![fs.to_string()];
            if req.launcher == Launcher::Linux {
                n.extend(["namespaces/pid", "namespaces/ipc"].map(String::from));
            }
            n.extend(needed.iter().map(|(_, i)| i.to_string()));
            n
        }
        Some(list) => {
            for n in list {
                if !NAMES.contains(&n.as_str()) {
                    bail!(
                        "--isolation: {n:?} is not an isolator hull has (one of {})",
                        NAMES.join(", ")
                    );
                }
            }
            let mut n = list.clone();
            if !n.iter().any(|i| i.starts_with("filesystem/")) {
                n.insert(0, fs.to_string());
            }
            let all_cgroups = n.iter().any(|i| i == "cgroups/all");
            for (flag, iso) in &needed {
                let covered = n.iter().any(|i| i == iso) || (all_cgroups && iso.starts_with("cgroups/"));
                if !covered {
                    bail!("{flag} needs the {iso} isolator, which --isolation leaves out");
                }
            }
            n
        }
    };
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    check_conflicts(req, &names)?;
    Ok(names)
}

fn needed_by_flags(req: &Request) -> Vec<(&'static str, &'static str)> {
    let mut n = vec![];
    let l = &req.limits;
    let flags = [
        (l.cpus.is_some(), "--cpus", "cgroups/cpu"),
        (l.memory.is_some(), "--memory", "cgroups/mem"),
        (l.pids.is_some(), "--pids", "cgroups/pids"),
        (l.disk.is_some(), "--disk", "disk/du"),
        (
            req.volumes.iter().any(|v| matches!(v.source, VolumeSource::Host(_))),
            "-v",
            "volume/host_path",
        ),
        (
            req.volumes.iter().any(|v| matches!(v.source, VolumeSource::Sandbox(_))),
            "-v sandbox:",
            "volume/sandbox_path",
        ),
        (!req.secrets.is_empty(), "--secret", "volume/secret"),
        (
            req.volumes.iter().any(|v| matches!(v.source, VolumeSource::Csi { .. })),
            "-v csi:",
            "volume/csi",
        ),
        (!req.image_volumes.is_empty(), "--image-volume", "volume/image"),
        (!req.env_secrets.is_empty(), "--env-secret", "environment_secret"),
        (!req.rlimits.is_empty(), "--rlimit", "posix/rlimits"),
        (req.capabilities.is_some(), "--capabilities", "linux/capabilities"),
        (req.shm_size.is_some(), "--shm-size", "namespaces/ipc"),
        (!req.networks.is_empty(), "--network", "network/cni"),
        (!req.ports.is_empty(), "-p", "network/cni"),
        (req.hostname.is_some(), "--hostname", "network/cni"),
        (req.pod.is_some(), "--pod", "network/cni"),
        (!req.devices.is_empty(), "--device", "devices/cdi"),
    ];
    for (asked, flag, iso) in flags {
        if asked {
            n.push((flag, iso));
        }
    }
    n
}

fn check_conflicts(req: &Request, names: &[String]) -> Result<()> {
    let has = |n: &str| names.iter().any(|i| i == n);
    if has("filesystem/linux") && has("filesystem/posix") {
        bail!("--isolation: filesystem/linux and filesystem/posix exclude each other");
    }
    if has("filesystem/linux") && req.image.is_none() {
        bail!("--isolation: filesystem/linux provisions an image: give --image, or use filesystem/posix");
    }
    if has("filesystem/posix") && req.image.is_some() {
        bail!("--isolation: filesystem/posix runs without an image: use filesystem/linux with --image");
    }
    if req.launcher == Launcher::Posix {
        let own = names.iter().find(|n| {
            ["namespaces/", "volume/", "network/", "devices/"]
                .iter()
                .any(|p| n.starts_with(p))
        });
        if let Some(n) = own {
            bail!("--isolation: {n} needs namespaces of the container's own; --launcher posix has none");
        }
    }
    Ok(())
}

/// The isolators by name, in setup order (one for every `cgroups/*` name).
pub fn build(names: &[String]) -> Vec<Box<dyn Isolator>> {
    let mut out: Vec<Box<dyn Isolator>> = vec![];
    let cgroups: Vec<&str> = names.iter().filter_map(|n| n.strip_prefix("cgroups/")).collect();
    for n in names {
        let iso: Option<Box<dyn Isolator>> = match n.as_str() {
            // The first cgroups name stands for all of them.
            n if n.starts_with("cgroups/") => (names.iter().find(|x| x.starts_with("cgroups/")).map(String::as_str)
                == Some(n))
            .then(|| Box::new(isolators::cgroups::Cgroups::new(&cgroups)) as Box<dyn Isolator>),
            "namespaces/pid" => Some(Box::new(isolators::namespaces::Pid)),
            "namespaces/ipc" => Some(Box::new(isolators::namespaces::Ipc)),
            "filesystem/linux" | "filesystem/posix" => Some(Box::new(isolators::filesystem::Filesystem)),
            "volume/host_path" => Some(Box::new(isolators::volumes::HostPath)),
            "volume/sandbox_path" => Some(Box::new(isolators::volumes::SandboxPath)),
            "volume/secret" => Some(Box::new(isolators::secrets::Secrets)),
            "volume/image" => Some(Box::new(isolators::volumes::Image)),
            "volume/csi" => Some(Box::new(isolators::csi::Csi)),
            "environment_secret" => Some(Box::new(isolators::secrets::EnvironmentSecret)),
            "posix/rlimits" => Some(Box::new(isolators::process::Rlimits)),
            "linux/capabilities" => Some(Box::new(isolators::process::Capabilities)),
            "linux/nnp" => Some(Box::new(isolators::process::NoNewPrivs)),
            "linux/seccomp" => Some(Box::new(isolators::process::Seccomp)),
            "disk/du" => Some(Box::new(isolators::disk::Du)),
            "network/cni" => Some(Box::new(isolators::network::Cni)),
            "devices/cdi" => Some(Box::new(isolators::devices::Cdi)),
            _ => None,
        };
        out.extend(iso);
    }
    out
}
