//! What cgroups-rs does not cover on this kind of host, split off before it
//! sees the resources: controllers that are missing (an error naming them),
//! kernel memory (gone from the kernel: a warning), block-IO weights under
//! BFQ's file names, and hugetlb and `unified` keys on the cgroup2 side of a
//! hybrid host.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;

use super::{is_v2, ROOT};

const HYBRID_V2: &str = "/sys/fs/cgroup/unified";

/// One v1 file write: the first of `files` that exists in `controller`.
#[derive(Debug)]
pub struct V1Write {
    pub controller: &'static str,
    pub files: Vec<&'static str>,
    pub value: String,
    pub field: &'static str,
}

/// Writes cgroups-rs leaves to us, made after the process is in the cgroup.
#[derive(Debug, Default)]
pub struct Extras {
    pub v1: Vec<V1Write>,
    /// Writes in the cgroup2 tree: hugetlb limits, `unified` keys, and on
    /// v2 what cgroups-rs leaves.
    pub v2: Vec<V2Write>,
    /// cgroup2 writes to whichever file this kernel has (block-IO weights).
    pub v2_first: Vec<V2First>,
}

/// One cgroup2 file write, and the linux.resources field it comes from.
#[derive(Debug, PartialEq, Eq)]
pub struct V2Write {
    pub file: String,
    pub value: String,
    pub field: String,
}

impl V2Write {
    fn new(file: impl Into<String>, value: impl Into<String>, field: impl Into<String>) -> V2Write {
        V2Write {
            file: file.into(),
            value: value.into(),
            field: field.into(),
        }
    }
}

/// One cgroup2 write: to the first of the (file, value) choices that
/// exists; none: a warning, as for v1's.
#[derive(Debug)]
pub struct V2First {
    pub choices: Vec<(&'static str, String)>,
    pub field: &'static str,
    /// Whether no such file is worth a warning (not for lifting a limit
    /// the kernel does not have).
    pub warn: bool,
}

/// v1 controllers mounted on this host (a "cpu,cpuacct" mount counts for both).
fn v1_controllers() -> HashSet<String> {
    let Ok(rd) = std::fs::read_dir(ROOT) else {
        return HashSet::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .flat_map(|n| n.split(',').map(String::from).collect::<Vec<_>>())
        .collect()
}

/// Controllers the cgroup2 tree offers: the whole tree on v2, the `unified`
/// mount on a hybrid host.
pub(super) fn v2_root() -> Option<PathBuf> {
    if is_v2() {
        return Some(PathBuf::from(ROOT));
    }
    let hybrid = Path::new(HYBRID_V2);
    let is_cg2 = nix::sys::statfs::statfs(hybrid)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    is_cg2.then(|| hybrid.to_path_buf())
}

fn v2_controllers() -> HashSet<String> {
    v2_root()
        .and_then(|r| std::fs::read_to_string(r.join("cgroup.controllers")).ok())
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn need(have: &HashSet<String>, controller: &str, field: &str) -> Result<()> {
    if !have.contains(controller) {
        bail!("linux.resources.{field}: the {controller} cgroup controller is not available on this host");
    }
    Ok(())
}

/// Splits `r` into what cgroups-rs applies and what hull writes itself.
pub fn split(r: &LinuxResources) -> Result<(LinuxResources, Extras)> {
    let mut rest = r.clone();
    let mut extras = Extras::default();
    rest.set_devices(None);
    if let Some(mut cpu) = rest.cpu().clone().filter(|_| idle(r)) {
        // The kernel takes no shares (v2: weight) for an idle cgroup
        // (EINVAL), as runc knows: they are left unwritten.
        cpu.set_shares(None);
        rest.set_cpu(Some(cpu));
    }
    if is_v2() {
        // cgroups-rs drives v2 itself; `unified` and what it leaves are ours.
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
            need(&v2_controllers(), "rdma", "rdma")?;
        }
        for field in v2_leftovers(r, &mut rest, &mut extras)? {
            tracing::warn!("linux.resources.{field}: ignored (cgroup v2 has no such setting)");
        }
        rest.set_unified(None);
        unified(r, &mut extras)?;
        return Ok((rest, extras));
    }
    let have = v1_controllers();
    if let Some(m) = r.memory() {
        need(&have, "memory", "memory")?;
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            if m.kernel().is_some() {
                tracing::warn!(
                    "linux.resources.memory.kernel: ignored (kernel memory limits are gone from this kernel)"
                );
            }
            // The TCP buffer limit is still there in v1: hull writes it, as crun does.
            if let Some(tcp) = m.kernel_tcp() {
                extras.v1.push(V1Write {
                    controller: "memory",
                    files: vec!["memory.kmem.tcp.limit_in_bytes"],
                    value: tcp.to_string(),
                    field: "memory.kernelTCP",
                });
            }
            let mut m = *m;
            m.set_kernel(None);
            m.set_kernel_tcp(None);
            rest.set_memory(Some(m));
        }
    }
    if let Some(c) = r.cpu() {
        let cfs = c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some()
            || c.burst().is_some()
            || c.idle().is_some();
        if cfs {
            need(&have, "cpu", "cpu")?;
        }
        if c.cpus().is_some() || c.mems().is_some() {
            need(&have, "cpuset", "cpu.cpus")?;
        }
        if let Some(b) = c.burst() {
            extras.v1.push(V1Write {
                controller: "cpu",
                files: vec!["cpu.cfs_burst_us"],
                value: b.to_string(),
                field: "cpu.burst",
            });
        }
        if let Some(i) = c.idle() {
            extras.v1.push(V1Write {
                controller: "cpu",
                files: vec!["cpu.idle"],
                value: i.to_string(),
                field: "cpu.idle",
            });
        }
    }
    if let Some(p) = r.pids() {
        need(&have, "pids", "pids")?;
        // cgroups-rs writes "max" for 0, which the spec makes a real limit.
        if p.limit() == 0 {
            extras.v1.push(V1Write {
                controller: "pids",
                files: vec!["pids.max"],
                value: "0".into(),
                field: "pids.limit",
            });
        }
    }
    if let Some(b) = r.block_io() {
        need(&have, "blkio", "blockIO")?;
        blkio(b, &mut extras);
        rest.set_block_io(None);
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        if !have.contains("hugetlb") {
            need(&v2_controllers(), "hugetlb", "hugepageLimits")?;
            for l in h {
                let file = format!("hugetlb.{}.max", l.page_size());
                extras
                    .v2
                    .push(V2Write::new(file, l.limit().to_string(), "hugepageLimits"));
            }
            rest.set_hugepage_limits(None);
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            need(&have, "net_cls", "network.classID")?;
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            need(&have, "net_prio", "network.priorities")?;
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        need(&have, "rdma", "rdma")?;
        for v in rdma_lines(r) {
            extras.v1.push(V1Write {
                controller: "rdma",
                files: vec!["rdma.max"],
                value: v,
                field: "rdma",
            });
        }
    }
    rest.set_unified(None);
    unified(r, &mut extras)?;
    Ok((rest, extras))
}

/// Every block-IO setting: weights under whichever name this kernel's
/// scheduler uses (CFQ's or BFQ's), and the throttle lists.
fn blkio(b: &oci_spec::runtime::LinuxBlockIo, extras: &mut Extras) {
    let mut push = |files: Vec<&'static str>, value: String, field: &'static str| {
        extras.v1.push(V1Write {
            controller: "blkio",
            files,
            value,
            field,
        });
    };
    if let Some(w) = b.weight() {
        push(
            vec!["blkio.weight", "blkio.bfq.weight"],
            w.to_string(),
            "blockIO.weight",
        );
    }
    if let Some(w) = b.leaf_weight() {
        push(vec!["blkio.leaf_weight"], w.to_string(), "blockIO.leafWeight");
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            push(
                vec!["blkio.weight_device", "blkio.bfq.weight_device"],
                v,
                "blockIO.weightDevice",
            );
        }
    }
    let throttles = [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ];
    for (list, file, field) in throttles {
        for d in list.iter().flatten() {
            push(vec![file], format!("{}:{} {}", d.major(), d.minor(), d.rate()), field);
        }
    }
}

/// `unified` keys, verbatim, where a cgroup2 tree offers their controller.
fn unified(r: &LinuxResources, extras: &mut Extras) -> Result<()> {
    let Some(map) = r.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    if v2_root().is_none() {
        bail!("linux.resources.unified: needs cgroup v2, which this host does not mount");
    }
    let have = v2_controllers();
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for k in keys {
        let controller = k.split('.').next().unwrap_or_default();
        if k.contains('/') || k.starts_with('.') {
            bail!("linux.resources.unified: {k:?} is not a cgroup file name");
        }
        if controller != "cgroup" && !have.contains(controller) {
            bail!("linux.resources.unified.{k}: the {controller} controller is not available in the cgroup2 tree");
        }
        extras
            .v2
            .push(V2Write::new(k.clone(), map[k].clone(), format!("unified.{k}")));
    }
    Ok(())
}

/// rdma.max's lines, one "device hca_handle=N hca_object=M" per device (the
/// same in v1 and v2; cgroups-rs has no rdma setter).
fn rdma_lines(r: &LinuxResources) -> Vec<String> {
    let mut lines: Vec<String> = r
        .rdma()
        .iter()
        .flatten()
        .map(|(dev, l)| {
            let mut v = dev.clone();
            if let Some(h) = l.hca_handles() {
                v.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                v.push_str(&format!(" hca_object={o}"));
            }
            v
        })
        .collect();
    lines.sort();
    lines
}

/// What cgroups-rs leaves unwritten on a cgroup v2 host: hull writes what
/// has a v2 file (cpu.max.burst, cpu.idle, rdma.max, a pids limit of 0,
/// blockIO, and memory when no positive limit is given: a reservation
/// alone, or -1 for no limit, of which cgroups-rs writes nothing), refuses
/// a real-time budget, and returns the fields that have no file.
fn v2_leftovers(r: &LinuxResources, rest: &mut LinuxResources, extras: &mut Extras) -> Result<Vec<&'static str>> {
    let mut no_file = Vec::new();
    if let Some(b) = r.block_io() {
        no_file.extend(v2_block_io(b, extras));
        rest.set_block_io(None);
    }
    if let Some(c) = rest.cpu().clone() {
        rest.set_cpu(Some(v2_cpu(&c, extras)?));
    }
    for line in rdma_lines(r) {
        extras.v2.push(V2Write::new("rdma.max", line, "rdma"));
    }
    // cgroups-rs writes "max" for 0, which the spec makes a real limit.
    if r.pids().is_some_and(|p| p.limit() == 0) {
        extras.v2.push(V2Write::new("pids.max", "0", "pids.limit"));
    }
    if let Some(m) = r.memory() {
        no_file.extend(v2_memory(m, rest, extras));
    }
    Ok(no_file)
}

/// Whether the cgroup is to be idle (SCHED_IDLE as a whole), by the spec's
/// field or a `unified` key.
pub fn idle(r: &LinuxResources) -> bool {
    r.cpu().as_ref().and_then(|c| c.idle()) == Some(1)
        || r.unified()
            .as_ref()
            .and_then(|u| u.get("cpu.idle"))
            .is_some_and(|v| v.trim() == "1")
}

/// cpu.max's "QUOTA|max [PERIOD]", whole or not at all: a value the kernel
/// refuses (a quota under 1 ms, a period outside 1 ms to 1 s) goes to no
/// property, and the file write refuses it; the kernel's own file always
/// reads.
pub fn cpu_max(value: &str) -> Option<(i64, Option<u64>)> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let quota = match *f.first()? {
        "max" => -1,
        q => q.parse().ok().filter(|q| *q >= 1000)?,
    };
    let period = match f.get(1) {
        Some(p) => Some(p.parse().ok().filter(|p| (1000..=1_000_000).contains(p))?),
        None => None,
    };
    (f.len() <= 2).then_some((quota, period))
}

/// cpu.max.burst and cpu.idle; a real-time budget refused. Returns the cpu
/// settings left for cgroups-rs.
fn v2_cpu(c: &oci_spec::runtime::LinuxCpu, extras: &mut Extras) -> Result<oci_spec::runtime::LinuxCpu> {
    if let Some(b) = c.burst() {
        extras
            .v2
            .push(V2Write::new("cpu.max.burst", b.to_string(), "cpu.burst"));
    }
    if let Some(i) = c.idle() {
        extras.v2.push(V2Write::new("cpu.idle", i.to_string(), "cpu.idle"));
    }
    let rt = [
        ("cpu.realtimeRuntime", c.realtime_runtime().unwrap_or(0)),
        ("cpu.realtimePeriod", c.realtime_period().map_or(0, |p| p as i64)),
    ];
    if let Some((field, v)) = rt.iter().find(|(_, v)| *v != 0) {
        bail!("linux.resources.{field}: {v}: cgroup v2 has no real-time CPU budget (cpu.rt_runtime_us is v1's)");
    }
    let mut cpu = c.clone();
    cpu.set_realtime_runtime(None);
    cpu.set_realtime_period(None);
    Ok(cpu)
}

/// Memory without a swap limit (cgroups-rs writes swap.max 0 for a limit
/// alone, no swap at all, and nothing for the rest); returns the fields v2
/// has no file for.
fn v2_memory(m: &oci_spec::runtime::LinuxMemory, rest: &mut LinuxResources, extras: &mut Extras) -> Vec<&'static str> {
    let mut no_file = Vec::new();
    no_file.extend(m.kernel().map(|_| "memory.kernel"));
    no_file.extend(m.kernel_tcp().map(|_| "memory.kernelTCP"));
    no_file.extend(m.swappiness().map(|_| "memory.swappiness"));
    if m.disable_oom_killer() == Some(true) {
        no_file.push("memory.disableOOMKiller");
    }
    let (limit, swap) = (m.limit().unwrap_or(0), m.swap().unwrap_or(0));
    if let Some(low) = m.reservation() {
        // -1 is "max" (cgroups-rs would write "-1").
        let low = if low == -1 { "max".to_string() } else { low.to_string() };
        extras.v2.push(V2Write::new("memory.low", low, "memory.reservation"));
    }
    if swap > 0 {
        // cgroups-rs subtracts the limit from the swap limit.
        if let Some(mut left) = *rest.memory() {
            left.set_reservation(None);
            rest.set_memory(Some(left));
        }
        return no_file;
    }
    // A limit alone leaves swap as it is, as runc does (and as v1 does).
    match limit {
        -1 => extras.v2.push(V2Write::new("memory.max", "max", "memory.limit")),
        l if l > 0 => extras
            .v2
            .push(V2Write::new("memory.max", l.to_string(), "memory.limit")),
        _ => {}
    }
    // No limit and no swap limit given: both unlimited, as in v1; a kernel
    // without swap accounting has no file, and nothing to lift.
    if swap == -1 || (limit == -1 && swap == 0) {
        extras.v2_first.push(V2First {
            choices: vec![("memory.swap.max", "max".into())],
            field: "memory.swap",
            warn: false,
        });
    }
    rest.set_memory(None);
    no_file
}

/// blkio's weight (10-1000) on io.weight's scale (1-10000).
pub(super) fn io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// blockIO on cgroup v2, as runc writes it: a weight to BFQ's
/// io.bfq.weight, or else to io.weight on its 1-10000 scale; the throttles
/// to io.max. Returns the fields v2 has no file for.
fn v2_block_io(b: &oci_spec::runtime::LinuxBlockIo, extras: &mut Extras) -> Vec<&'static str> {
    let mut weight = |dev: String, w: u16, field: &'static str| {
        extras.v2_first.push(V2First {
            choices: vec![
                ("io.bfq.weight", format!("{dev}{w}")),
                ("io.weight", format!("{dev}{}", io_weight(w))),
            ],
            field,
            warn: true,
        })
    };
    // 0 is "not set", as runc reads it.
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        weight(String::new(), w, "blockIO.weight");
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            weight(format!("{}:{} ", d.major(), d.minor()), w, "blockIO.weightDevice");
        }
    }
    let throttles = [
        (b.throttle_read_bps_device(), "rbps", "blockIO.throttleReadBpsDevice"),
        (b.throttle_write_bps_device(), "wbps", "blockIO.throttleWriteBpsDevice"),
        (b.throttle_read_iops_device(), "riops", "blockIO.throttleReadIOPSDevice"),
        (
            b.throttle_write_iops_device(),
            "wiops",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ];
    for (list, key, field) in throttles {
        for d in list.iter().flatten() {
            let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
            extras.v2.push(V2Write::new("io.max", line, field));
        }
    }
    let leaf = b.leaf_weight().is_some() || b.weight_device().iter().flatten().any(|d| d.leaf_weight().is_some());
    leaf.then_some("blockIO.leafWeight").into_iter().collect()
}

/// Writes tried before cgroups-rs writes the CPU limits, their refusal left
/// to the write after. The kernel refuses a CFS quota below the burst and a
/// burst above the quota, so when both change one order fails whichever way
/// they move: the burst is also tried before the quota (as runc does). And
/// an idle cgroup takes no weight: cpu.idle 0 goes before the weight.
pub fn write_first(path: &str, extras: &Extras) {
    let first = |file: &str, value: &str| {
        file == "cpu.max.burst" || file == "cpu.cfs_burst_us" || (file == "cpu.idle" && value.trim() == "0")
    };
    let v1 = extras.v1.iter().filter(|w| first(w.files[0], &w.value)).map(|w| {
        let f = Path::new(ROOT).join(w.controller).join(path).join(w.files[0]);
        (f, &w.value)
    });
    let v2 = extras.v2.iter().filter(|w| first(&w.file, &w.value));
    let v2 = v2.filter_map(|w| Some((v2_root()?.join(path).join(&w.file), &w.value)));
    for (file, value) in v1.chain(v2) {
        let _ = std::fs::write(file, value);
    }
}

/// Applies the extras to a cgroup `path` that holds `pid`.
pub fn apply(path: &str, pid: Option<i32>, extras: &Extras) -> Result<()> {
    for w in &extras.v1 {
        let dir = Path::new(ROOT).join(w.controller).join(path);
        let value = &w.value;
        match w.files.iter().map(|f| dir.join(f)).find(|f| f.exists()) {
            Some(f) => std::fs::write(&f, value)
                .with_context(|| format!("linux.resources.{}: write {value:?} to {}", w.field, f.display()))?,
            None => tracing::warn!(
                "linux.resources.{}: {} does not exist in this kernel; skipped",
                w.field,
                w.files.join(" / ")
            ),
        }
    }
    if extras.v2.is_empty() && extras.v2_first.is_empty() {
        return Ok(());
    }
    let root = v2_root().context("no cgroup2 tree")?;
    let files = extras.v2.iter().map(|w| w.file.as_str());
    let choices = extras.v2_first.iter().flat_map(|w| w.choices.iter().map(|(f, _)| *f));
    let dir = enter_v2(&root, path, files.chain(choices), pid)?;
    let write = |file: &str, value: &str, field: &str| {
        let f = dir.join(file);
        std::fs::write(&f, value)
            .with_context(|| format!("linux.resources.{field}: write {value:?} to {}", f.display()))
    };
    for w in &extras.v2 {
        write(&w.file, &w.value, &w.field)?;
    }
    for w in &extras.v2_first {
        match w.choices.iter().find(|(f, _)| dir.join(f).exists()) {
            Some((file, value)) => write(file, value, w.field)?,
            None if !w.warn => {}
            None => {
                let files: Vec<&str> = w.choices.iter().map(|(f, _)| *f).collect();
                tracing::warn!(
                    "linux.resources.{}: {} does not exist in this kernel; skipped",
                    w.field,
                    files.join(" / ")
                )
            }
        }
    }
    Ok(())
}

/// Makes `path` in the cgroup2 tree with the controllers the files need
/// enabled all the way down, and moves `pid` into it (on a hybrid host; on v2
/// cgroups-rs already did).
fn enter_v2<'a>(root: &Path, path: &str, files: impl Iterator<Item = &'a str>, pid: Option<i32>) -> Result<PathBuf> {
    let mut controllers: Vec<&str> = files
        .filter_map(|f| f.split('.').next())
        .filter(|c| *c != "cgroup")
        .collect();
    controllers.sort_unstable();
    controllers.dedup();
    let dir = super::v2::Dir::new(root, path);
    dir.create(root, &controllers)?;
    if let (Some(pid), false) = (pid, is_v2()) {
        dir.add(pid)?;
    }
    Ok(dir.0)
}

/// The linux.resources field each cgroup file is written from, v1 and v2.
const FIELDS: &[(&str, &str)] = &[
    ("memory.limit_in_bytes", "memory.limit"),
    ("memory.memsw.limit_in_bytes", "memory.swap"),
    ("memory.soft_limit_in_bytes", "memory.reservation"),
    ("memory.swappiness", "memory.swappiness"),
    ("memory.kmem.tcp.limit_in_bytes", "memory.kernelTCP"),
    ("memory.oom_control", "memory.disableOOMKiller"),
    ("memory.max", "memory.limit"),
    ("memory.low", "memory.reservation"),
    ("memory.swap.max", "memory.swap"),
    ("cpu.shares", "cpu.shares"),
    ("cpu.weight", "cpu.shares"),
    ("cpu.cfs_quota_us", "cpu.quota"),
    ("cpu.cfs_period_us", "cpu.period"),
    ("cpu.max", "cpu.quota"),
    ("cpu.rt_runtime_us", "cpu.realtimeRuntime"),
    ("cpu.rt_period_us", "cpu.realtimePeriod"),
    ("cpu.idle", "cpu.idle"),
    ("cpuset.cpus", "cpu.cpus"),
    ("cpuset.mems", "cpu.mems"),
    ("pids.max", "pids.limit"),
    ("blkio.weight", "blockIO.weight"),
    ("blkio.leaf_weight", "blockIO.leafWeight"),
    ("io.weight", "blockIO.weight"),
];

/// cgroups-rs's "unable to write to a control group file F, value V caused
/// by: Os { .. message: M }" as "linux.resources.<field>: cgroup P: F: the
/// kernel refused V: M", the field found by the file's name.
pub fn explain(path: &str, err: &str) -> anyhow::Error {
    let between = |from: &str, to: &str| {
        let rest = &err[err.find(from)? + from.len()..];
        Some(rest[..rest.find(to).unwrap_or(rest.len())].to_string())
    };
    let Some(file) = between("control group file ", ",") else {
        return anyhow::anyhow!("linux.resources: cgroup {path}: {err}");
    };
    // The file comes as a name or as a whole path.
    let name = file.rsplit('/').next().unwrap_or(&file);
    let field = FIELDS.iter().find(|(f, _)| *f == name).map_or("", |(_, field)| field);
    let value = between("value ", " caused by").unwrap_or_default();
    let why = between("message: \"", "\"").unwrap_or_else(|| err.to_string());
    anyhow::anyhow!("linux.resources.{field}: cgroup {path}: {file}: the kernel refused {value}: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files themselves are checked on a real cgroup v2 kernel by
    /// conformance/cgroup-v2.sh; this pins which field goes where.
    #[test]
    fn what_cgroups_rs_leaves_on_v2_is_written_or_named() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "cpu": {"burst": 1000, "idle": 1, "shares": 512},
            "rdma": {"mlx5_0": {"hcaHandles": 3}},
            "memory": {"reservation": 1000000, "swappiness": 10, "disableOOMKiller": false, "kernel": 1}
        }))
        .unwrap();
        let (mut rest, mut extras) = (r.clone(), Extras::default());
        let no_file = v2_leftovers(&r, &mut rest, &mut extras).unwrap();
        assert_eq!(no_file, ["memory.kernel", "memory.swappiness"]);
        let files: Vec<String> = extras
            .v2
            .iter()
            .map(|w| format!("{}={} ({})", w.file, w.value, w.field))
            .collect();
        assert_eq!(
            files,
            [
                "cpu.max.burst=1000 (cpu.burst)",
                "cpu.idle=1 (cpu.idle)",
                "rdma.max=mlx5_0 hca_handle=3 (rdma)",
                "memory.low=1000000 (memory.reservation)"
            ]
        );
        assert!(rest.memory().is_none(), "cgroups-rs would write part of it");

        let r: LinuxResources = serde_json::from_value(serde_json::json!({"memory": {"limit": -1}})).unwrap();
        let (mut rest, mut extras) = (r.clone(), Extras::default());
        v2_leftovers(&r, &mut rest, &mut extras).unwrap();
        assert_eq!(extras.v2, [V2Write::new("memory.max", "max", "memory.limit")]);
        assert_eq!(extras.v2_first[0].choices, [("memory.swap.max", "max".to_string())]);

        // A limit alone: swap stays as it is (cgroups-rs would write 0).
        let r: LinuxResources =
            serde_json::from_value(serde_json::json!({"memory": {"limit": 1000000, "reservation": 10000}})).unwrap();
        let (mut rest, mut extras) = (r.clone(), Extras::default());
        assert!(v2_leftovers(&r, &mut rest, &mut extras).unwrap().is_empty());
        assert!(rest.memory().is_none() && extras.v2_first.is_empty());
        assert_eq!(extras.v2[1], V2Write::new("memory.max", "1000000", "memory.limit"));

        let r: LinuxResources = serde_json::from_value(
            serde_json::json!({"memory": {"limit": 1000000, "swap": 2000000, "reservation": -1}}),
        )
        .unwrap();
        let (mut rest, mut extras) = (r.clone(), Extras::default());
        v2_leftovers(&r, &mut rest, &mut extras).unwrap();
        assert_eq!(extras.v2, [V2Write::new("memory.low", "max", "memory.reservation")]);
        let left = rest.memory().expect("cgroups-rs writes a limit with swap");
        assert_eq!(
            (left.limit(), left.swap(), left.reservation()),
            (Some(1000000), Some(2000000), None)
        );
    }

    /// Weights and throttles as runc writes them on v2 (the VM of
    /// conformance/cgroup-v2.sh has no block device for the throttles).
    #[test]
    fn block_io_on_v2() {
        let b: oci_spec::runtime::LinuxBlockIo = serde_json::from_value(serde_json::json!({
            "weight": 500, "leafWeight": 300,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]
        }))
        .unwrap();
        let mut extras = Extras::default();
        assert_eq!(v2_block_io(&b, &mut extras), ["blockIO.leafWeight"]);
        let choices: Vec<_> = extras.v2_first.iter().map(|w| (w.field, w.choices.clone())).collect();
        assert_eq!(
            choices,
            [
                (
                    "blockIO.weight",
                    vec![("io.bfq.weight", "500".into()), ("io.weight", "4950".into())]
                ),
                (
                    "blockIO.weightDevice",
                    vec![("io.bfq.weight", "8:0 1000".into()), ("io.weight", "8:0 10000".into())]
                )
            ]
        );
        assert_eq!(
            extras.v2,
            [
                V2Write::new("io.max", "8:0 rbps=1048576", "blockIO.throttleReadBpsDevice"),
                V2Write::new("io.max", "8:16 wiops=100", "blockIO.throttleWriteIOPSDevice")
            ]
        );
    }
}
