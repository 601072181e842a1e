use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use crate::cli::{GlobalOpts, UpdateArgs};
use crate::state::{ContainerDir, State};

/// "64m", "1g", "1024", "-1".
fn size(flag: &str, s: &str) -> Result<i64> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    crate::units::bytes(s)
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| anyhow!("{flag}: {s:?} is not a size (bytes, or with k, m, g)"))
}

fn read_resources(path: &std::path::Path) -> Result<Value> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--resources -: read stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("--resources {}: cannot read", path.display()))?;
    }
    serde_json::from_str(&text).with_context(|| format!("--resources {}: not valid JSON", path.display()))
}

/// The resources an update names: the file first, then each flag on top.
pub fn resources(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut v = match &a.resources {
        Some(p) => read_resources(p)?,
        None => json!({}),
    };
    for (flag, given) in [
        ("--l3-cache-schema", &a.l3_cache_schema),
        ("--mem-bw-schema", &a.mem_bw_schema),
    ] {
        if let Some(schema) = given {
            bail!("{flag} {schema:?}: the container has no Intel RDT group (hull refuses linux.intelRdt at create)");
        }
    }
    if !v.is_object() {
        bail!("--resources: expected a LinuxResources object");
    }
    crate::spec::pids_without_limit(&mut v);
    let mut set = |section: &str, key: &str, val: Value| {
        if !v[section].is_object() {
            v[section] = json!({});
        }
        v[section][key] = val;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", size("--memory", m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", size("--memory-reservation", m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", size("--memory-swap", m)?.into());
    }
    if let Some(s) = a.cpu_shares {
        set("cpu", "shares", s.into());
    }
    if let Some(b) = a.cpu_burst {
        set("cpu", "burst", b.into());
    }
    if let Some(i) = a.cpu_idle {
        set("cpu", "idle", i.into());
    }
    if let Some(p) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", p.into());
    }
    if let Some(r) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", r.into());
    }
    if let Some(m) = &a.kernel_memory {
        set("memory", "kernel", size("--kernel-memory", m)?.into());
    }
    if let Some(m) = &a.kernel_memory_tcp {
        set("memory", "kernelTCP", size("--kernel-memory-tcp", m)?.into());
    }
    if let Some(q) = a.cpu_quota {
        set("cpu", "quota", q.into());
    }
    if let Some(p) = a.cpu_period {
        set("cpu", "period", p.into());
    }
    if let Some(c) = &a.cpuset_cpus {
        set("cpu", "cpus", c.clone().into());
    }
    if let Some(m) = &a.cpuset_mems {
        set("cpu", "mems", m.clone().into());
    }
    if let Some(p) = a.pids_limit {
        set("pids", "limit", p.into());
    }
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", w.into());
    }
    serde_path_to_error::deserialize(v).map_err(|e| anyhow!("--resources: {}: {}", e.path(), e.inner()))
}

/// The annotation `hull launch` leaves on its containers: its engine dir.
pub const ENGINE_DIR_ANNOTATION: &str = "org.hull.engine.dir";
/// Where the engine keeps its containers unless told otherwise.
pub const DEFAULT_ENGINE_DIR: &str = "/var/lib/hull/engine";

/// Whether the container is one `hull launch` made in `engine_dir`: its
/// bundle is the engine's for its id. The annotation alone proves nothing,
/// as whoever makes a container can set it (`podman --annotation`, an
/// image's labels), and hull-engine must not be sent to a directory of
/// theirs to act on a record they wrote.
fn made_by_engine(st: &State, engine_dir: &Path) -> bool {
    let ours = std::fs::canonicalize(engine_dir.join(&st.id).join("bundle"));
    ours.is_ok_and(|b| std::fs::canonicalize(&st.bundle).is_ok_and(|s| s == b))
}

pub fn run(g: &GlobalOpts, a: &UpdateArgs) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    // A container of the engine changes through its isolators, which keep
    // its record: the engine's `update` does it.
    let engine_dir = a.engine_dir.as_deref().unwrap_or(Path::new(DEFAULT_ENGINE_DIR));
    if made_by_engine(&st, engine_dir) {
        drop(dir);
        let mut extra = vec![];
        if a.engine_dir.is_none() {
            extra = vec!["--engine-dir".into(), engine_dir.into()];
        }
        return super::exec_engine(&extra).map(|_| ());
    }
    // One the engine made elsewhere would have its cgroup changed behind
    // its record: the caller must say which engine dir, or that it is not
    // the engine's (the annotation is anyone's to set).
    if let Some(d) = st
        .annotations
        .get(ENGINE_DIR_ANNOTATION)
        .filter(|_| a.engine_dir.is_none())
    {
        bail!(
            "container {:?}: its {ENGINE_DIR_ANNOTATION} annotation names engine dir {d:?}, and the engine in {} did not make it: \
             if `hull launch` made it in {d:?}, give --engine-dir {d:?}",
            st.id,
            engine_dir.display()
        );
    }
    if a.cpus.is_some() || a.pids.is_some() {
        bail!(
            "--cpus and --pids are for containers made by `hull launch` in {}; use --cpu-quota, --cpu-period and --pids-limit",
            engine_dir.display()
        );
    }
    let r = resources(a)?;
    crate::container::update(&dir, &st, &r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size("--memory", "1024").unwrap(), 1024);
        assert_eq!(size("--memory", "64m").unwrap(), 64 << 20);
        assert_eq!(size("--memory", "2G").unwrap(), 2 << 30);
        assert_eq!(size("--memory", "8kb").unwrap(), 8 << 10);
        assert_eq!(size("--memory", "-1").unwrap(), -1);
        assert!(size("--memory", "lots").is_err());
        assert!(size("--memory", "").is_err());
    }
}
