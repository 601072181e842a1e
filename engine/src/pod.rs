//! Pods: containers that share a network namespace, an IPC and a UTS
//! namespace and a directory (Kubernetes pods, Mesos task groups). The
//! first launch with `--pod NAME` makes the pod (its namespaces, its CNI
//! attachments, its directory, mounted at /mnt/pod); each container is a
//! member; the last one to go tears the pod down. Pods live in
//! `<engine-dir>/.pods/NAME`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::isolator::Spec;
use crate::isolators::array;
use crate::isolators::network::{join_namespace, Holder};
use crate::record::Sandbox;
use crate::request::Request;

pub const POD_IN_CONTAINER: &str = "/mnt/pod";

fn engine_dir(sb: &Sandbox) -> &Path {
    sb.dir.parent().unwrap_or(Path::new("/"))
}

pub fn dir(engine_dir: &Path, name: &str) -> PathBuf {
    engine_dir.join(".pods").join(name)
}

pub fn holder(sb: &Sandbox, name: &str) -> Holder {
    Holder::new(&dir(engine_dir(sb), name))
}

/// The pod the container is in.
pub fn of(sb: &Sandbox) -> Option<String> {
    std::fs::read_to_string(sb.dir.join("pod"))
        .ok()
        .map(|s| s.trim().to_string())
}

pub fn cni_id(name: &str) -> String {
    format!("pod-{name}")
}

fn members(pd: &Path) -> Vec<String> {
    std::fs::read_dir(pd.join("members"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The networks the pod is on (or was being made on).
fn networks(pd: &Path) -> Vec<String> {
    serde_json::from_slice(&std::fs::read(pd.join("networks.json")).unwrap_or_default()).unwrap_or_default()
}

/// Marks a whole pod: written last by `make`, removed first by
/// `teardown`. A pod without it was left half-made or half-torn-down by a
/// killed launch or destroy, and nobody may join it as it is.
const READY: &str = "ready";

/// Makes the pod's namespaces, attachments and directory.
fn make(req: &Request, pd: &Path, name: &str) -> Result<()> {
    let hostname = req.hostname.clone().unwrap_or_else(|| name.to_string());
    crate::netns::create(&pd.join("ipcns"), "ipc")?;
    crate::netns::create_named(&pd.join("utsns"), "uts", Some(hostname.clone()))?;
    std::fs::create_dir_all(pd.join("shared"))?;
    std::fs::create_dir_all(pd.join("members"))?;
    hull_sys::file::write_atomic(&pd.join("networks.json"), &serde_json::to_vec(&req.networks)?, 0o600)?;
    Holder::new(pd).setup(req, &cni_id(name), &hostname)?;
    hull_sys::fault::point("pod:made");
    hull_sys::file::write_atomic(&pd.join(READY), b"", 0o600)
}

/// The pod's lock. A pod torn down while we waited is gone: `None`, or,
/// with `make`, its directory made afresh and locked.
fn lock(pd: &Path, name: &str, make: bool) -> Result<Option<hull_sys::file::Lock>> {
    for _ in 0..10 {
        if make {
            // Its members write in `shared`: out of host users' reach, as
            // a container's own directory.
            let pods = pd.parent().unwrap_or(pd);
            hull_sys::file::private_dir(pods).with_context(|| format!("--pod {name}: {}", pods.display()))?;
            std::fs::create_dir_all(pd).with_context(|| format!("--pod {name}: create {}", pd.display()))?;
        }
        match hull_sys::file::lock_dir(pd, true) {
            Ok(l) => return Ok(Some(l)),
            Err(e) if !is_not_found(&e) => return Err(e).with_context(|| format!("pod {name}")),
            Err(_) if make => continue,
            Err(_) => return Ok(None),
        }
    }
    bail!("--pod {name}: torn down and made again 10 times while we waited for it")
}

/// Joins (or makes) pod `name`: the config gets its namespaces and files.
pub fn join(req: &Request, sb: &Sandbox, name: &str, spec: &mut Spec) -> Result<()> {
    let pd = dir(engine_dir(sb), name);
    let _lock = lock(&pd, name, true)?;
    // A member means a whole pod too: pods made before the marker have none.
    if !pd.join(READY).exists() && members(&pd).is_empty() {
        let half_made = std::fs::read_dir(&pd)
            .map(|mut rd| rd.next().is_some())
            .unwrap_or(false);
        if half_made {
            // Nobody else holds the lock: a killed launch or destroy left it.
            // A launch that names no network would make it again without
            // the networks it was being made on.
            let had = networks(&pd);
            if req.networks.is_empty() && !had.is_empty() {
                bail!(
                    "--pod {name}: a killed launch left the pod half-made, on the networks {had:?}: launch into it \
                     with --network for each of them to make it again, or run `hull recover` to clear it"
                );
            }
            unmake(&pd, name).with_context(|| format!("--pod {name}: undo a half-made pod"))?;
        }
        if let Err(e) = make(req, &pd, name) {
            let _ = teardown(&pd, name);
            return Err(e).with_context(|| format!("--pod {name}: make the pod"));
        }
    } else if !req.networks.is_empty() {
        let had = networks(&pd);
        if had != req.networks {
            bail!("--pod {name}: the pod is on the networks {had:?}; a container joining it takes its networks (leave --network out)");
        }
    }
    if !req.ports.is_empty() && members(&pd).iter().any(|_| true) {
        bail!("--pod {name}: ports are published by the pod's first container");
    }
    std::fs::write(pd.join("members").join(&req.id), "").context("record the pod member")?;
    std::fs::write(sb.dir.join("pod"), name).context("record the container's pod")?;
    join_namespace(spec, "network", Some(&pd.join("netns")))?;
    join_namespace(spec, "ipc", Some(&pd.join("ipcns")))?;
    join_namespace(spec, "uts", Some(&pd.join("utsns")))?;
    if let Some(o) = spec.as_object_mut() {
        // The pod's UTS namespace has the pod's hostname already.
        o.remove("hostname");
    }
    let h = Holder::new(&pd);
    h.mounts(spec)?;
    array(spec, &["mounts"])?.push(json!({"destination": POD_IN_CONTAINER, "type": "bind",
        "source": pd.join("shared"), "options": ["rbind", "rw", "nosuid", "nodev"]}));
    Ok(())
}

/// The container leaves its pod; the last one tears it down.
pub fn leave(sb: &Sandbox, name: &str, id: &str) -> Result<()> {
    let pd = dir(engine_dir(sb), name);
    if let Some(_lock) = lock(&pd, name, false)? {
        let _ = std::fs::remove_file(pd.join("members").join(id));
        if members(&pd).is_empty() {
            teardown(&pd, name)?;
        }
    }
    let _ = std::fs::remove_file(sb.dir.join("pod"));
    Ok(())
}

/// Removes the pod, its lock held.
fn teardown(pd: &Path, name: &str) -> Result<()> {
    unmake(pd, name)?;
    crate::record::remove_unmounted(pd)
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.root_cause()
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// Undoes what `make` did, in whatever part it got done.
fn unmake(pd: &Path, name: &str) -> Result<()> {
    match std::fs::remove_file(pd.join(READY)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("remove {}", pd.join(READY).display()))
        }
        _ => {}
    }
    Holder::new(pd).teardown(&cni_id(name))?;
    hull_sys::fault::point("pod:network-down");
    for ns in ["ipcns", "utsns"] {
        crate::netns::remove(&pd.join(ns))?;
    }
    crate::record::remove_unmounted(&pd.join("shared"))
}

/// `recover`: members whose container is gone leave; empty pods go.
pub fn gc(engine_dir: &Path) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(engine_dir.join(".pods")) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pd = e.path();
        let Some(_lock) = lock(&pd, &name, false)? else {
            continue;
        };
        for m in members(&pd) {
            let gone = Sandbox::new(engine_dir, &m).load().map_or(true, |r| r.cleaned);
            if gone {
                let _ = std::fs::remove_file(pd.join("members").join(&m));
            }
        }
        if members(&pd).is_empty() {
            match teardown(&pd, &name) {
                Ok(()) => println!("pod {name}: torn down"),
                Err(e) => eprintln!("hull: recover pod {name}: {e:#}"),
            }
        }
    }
    Ok(())
}
