//! The systemd cgroup driver (`--systemd-cgroup`), as runc's: the config's
//! cgroupsPath `slice:prefix:name` names a transient scope `prefix-name.scope`
//! in that slice, which systemd starts with the container's init as its
//! process. The limits go to systemd as unit properties, so a daemon-reload
//! keeps them, and are written to the scope's cgroup directories by the
//! cgroupfs code as well, for what systemd has no property for. Delete stops
//! the unit.
//!
//! systemd is reached through `busctl`, which every systemd host has: a
//! D-Bus library linked into the static hull would bring glibc's NSS lookups
//! (a static binary cannot load the host's NSS modules) and 2 MB of code to
//! every run, for a driver only some hosts use.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;

static ENABLED: OnceLock<bool> = OnceLock::new();

/// Turns the driver on for this command (from `--systemd-cgroup`).
pub fn enable() {
    let _ = ENABLED.set(true);
}

pub fn enabled() -> bool {
    ENABLED.get().copied().unwrap_or(false)
}

/// The unit for a container without a cgroupsPath, as runc's `:runc:<id>`.
pub fn default_spec(id: &str) -> String {
    format!(":hull:{id}")
}

/// A unit as `slice:prefix:name` names it.
struct Unit {
    slice: String,
    name: String,
    /// Its cgroup directory below each hierarchy's root.
    dir: String,
}

fn parse(spec: &str) -> Result<Unit> {
    let field = || format!("linux.cgroupsPath: {spec:?}");
    let parts: Vec<&str> = spec.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        bail!("{}: --systemd-cgroup needs slice:prefix:name", field());
    };
    // systemd's unit-name characters, and no leading '-' that busctl could
    // take for an option.
    let unit_chars = |p: &str| p.chars().all(|c| c.is_ascii_alphanumeric() || ":_.-@\\".contains(c));
    if name.is_empty() || !unit_chars(name) || !unit_chars(prefix) || name.starts_with('-') || prefix.starts_with('-') {
        bail!(
            "{}: {prefix:?} and {name:?} must be unit-name characters (letters, digits, :_.-@), not starting with -",
            field()
        );
    }
    if name.ends_with(".slice") {
        bail!(
            "{}: a slice as the container's own unit is not supported; name a scope",
            field()
        );
    }
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let base = expand_slice(slice).with_context(field)?;
    let name = match prefix {
        "" => format!("{name}.scope"),
        p => format!("{p}-{name}.scope"),
    };
    let dir = if base.is_empty() {
        name.clone()
    } else {
        format!("{base}/{name}")
    };
    Ok(Unit {
        slice: slice.to_string(),
        name,
        dir,
    })
}

/// systemd's slice hierarchy: `a-b.slice` lives in `a.slice/a-b.slice`.
fn expand_slice(slice: &str) -> Result<String> {
    let Some(stem) = slice
        .strip_suffix(".slice")
        .filter(|s| !s.is_empty() && !s.contains('/'))
    else {
        bail!("slice {slice:?} is not a NAME.slice unit");
    };
    if stem == "-" {
        return Ok(String::new());
    }
    let mut path = Vec::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            bail!("slice {slice:?} has an empty part");
        }
        prefix = if prefix.is_empty() {
            part.to_string()
        } else {
            format!("{prefix}-{part}")
        };
        path.push(format!("{prefix}.slice"));
    }
    Ok(path.join("/"))
}

/// The cgroup directory (below each hierarchy's root) of the unit `spec` names.
pub fn fs_path(spec: &str) -> Result<String> {
    parse(spec).map(|u| u.dir)
}

/// `busctl call` on systemd's manager object; its answer.
fn call(method: &str, signature: &str, args: &[String]) -> Result<String> {
    let out = Command::new("busctl")
        .args([
            "call",
            "--system",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
        ])
        .args(["org.freedesktop.systemd1.Manager", method, signature])
        .args(args)
        .output()
        .context("run busctl (systemd's D-Bus tool) to reach systemd")?;
    if !out.status.success() {
        bail!("systemd {method}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// (name, busctl type, value) of each unit property the limits map to.
fn properties(r: &LinuxResources, v2: bool) -> Vec<(&'static str, &'static str, String)> {
    let mut out = vec![];
    // -1 is "no limit": systemd's infinity, so a limit removed stays removed.
    let amount = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if let Some(limit) = r.memory().as_ref().and_then(|m| m.limit()).filter(|l| *l != 0) {
        out.push((
            if v2 { "MemoryMax" } else { "MemoryLimit" },
            "t",
            amount(limit).to_string(),
        ));
    }
    if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
        let max = if p.limit() < 0 { u64::MAX } else { p.limit() as u64 };
        out.push(("TasksMax", "t", max.to_string()));
    }
    if let Some(cpu) = r.cpu() {
        if let Some(shares) = cpu.shares().filter(|s| *s > 0) {
            if v2 {
                // runc's conversion of shares [2, 262144] to weight [1, 10000].
                let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                out.push(("CPUWeight", "t", weight.to_string()));
            } else {
                out.push(("CPUShares", "t", shares.to_string()));
            }
        }
        if cpu.quota().is_some_and(|q| q < 0) {
            out.push(("CPUQuotaPerSecUSec", "t", u64::MAX.to_string()));
        }
        if let Some(quota) = cpu.quota().filter(|q| *q > 0) {
            let period = cpu.period().filter(|p| *p > 0).unwrap_or(100_000);
            // systemd keeps the quota as a percentage: round up to 10 ms per second.
            let per_sec = (quota as u64 * 1_000_000).div_ceil(period).div_ceil(10_000) * 10_000;
            out.push(("CPUQuotaPerSecUSec", "t", per_sec.to_string()));
            out.push(("CPUQuotaPeriodUSec", "t", period.to_string()));
        }
    }
    out
}

fn flatten(props: &[(&str, &str, String)]) -> Vec<String> {
    let mut args = vec![props.len().to_string()];
    for (name, typ, value) in props {
        args.extend([name.to_string(), typ.to_string(), value.clone()]);
    }
    args
}

/// Starts the transient unit with `pid` in it and waits until systemd has
/// moved it there.
pub fn start(spec: &str, pid: i32, r: Option<&LinuxResources>, v2: bool) -> Result<()> {
    let unit = parse(spec)?;
    let mut props = vec![
        ("Description", "s", format!("hull container {}", unit.name)),
        ("Slice", "s", unit.slice.clone()),
        ("Delegate", "b", "true".to_string()),
        ("DefaultDependencies", "b", "false".to_string()),
        ("MemoryAccounting", "b", "true".to_string()),
        ("CPUAccounting", "b", "true".to_string()),
        ("TasksAccounting", "b", "true".to_string()),
    ];
    props.extend(r.map(|r| properties(r, v2)).unwrap_or_default());
    let mut args = vec![unit.name.clone(), "replace".to_string()];
    args.extend(flatten(&props));
    // PIDs is an array: its own shape on busctl's command line.
    let n: usize = args[2].parse().unwrap_or(0);
    args[2] = (n + 1).to_string();
    args.extend(["PIDs".into(), "au".into(), "1".into(), pid.to_string(), "0".into()]);
    call("StartTransientUnit", "ssa(sv)a(sa(sv))", &args)
        .with_context(|| format!("start the systemd unit {}", unit.name))?;
    wait_placed(pid, &unit)
}

/// StartTransientUnit returns once the job is queued: wait for the move.
fn wait_placed(pid: i32, unit: &Unit) -> Result<()> {
    let want = format!("/{}", unit.dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let placed = cgroups
            .lines()
            .filter(|l| l.contains(":name=systemd:") || l.starts_with("0::"))
            .any(|l| l.ends_with(&want));
        if placed {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(anyhow!("systemd did not put pid {pid} in {} within 10 s", unit.name));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The limits as the unit's properties (update).
pub fn set(spec: &str, r: &LinuxResources, v2: bool) -> Result<()> {
    let unit = parse(spec)?;
    let props = properties(r, v2);
    if props.is_empty() {
        return Ok(());
    }
    let mut args = vec![unit.name.clone(), "true".to_string()];
    args.extend(flatten(&props));
    call("SetUnitProperties", "sba(sv)", &args)
        .map(|_| ())
        .with_context(|| format!("set the properties of {}", unit.name))
}

/// Stops the unit (systemd removes its cgroups); one already gone is fine.
pub fn stop(spec: &str) -> Result<()> {
    let unit = parse(spec)?;
    match call("StopUnit", "ss", &[unit.name.clone(), "replace".to_string()]) {
        Ok(_) => {}
        Err(e) if e.to_string().contains("not loaded") || e.to_string().contains("NoSuchUnit") => return Ok(()),
        Err(e) => return Err(e.context(format!("stop {}", unit.name))),
    }
    let _ = call("ResetFailedUnit", "s", std::slice::from_ref(&unit.name));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_runcs_directories() {
        assert_eq!(fs_path("system.slice:hull:ct1").unwrap(), "system.slice/hull-ct1.scope");
        assert_eq!(fs_path(":hull:ct1").unwrap(), "system.slice/hull-ct1.scope");
        assert_eq!(
            fs_path("kubepods-besteffort.slice:cri-containerd:abc").unwrap(),
            "kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope"
        );
        assert_eq!(fs_path("user.slice::x").unwrap(), "user.slice/x.scope");
        assert_eq!(fs_path("-.slice:p:n").unwrap(), "p-n.scope");
        assert!(fs_path("/a/b").unwrap_err().to_string().contains("slice:prefix:name"));
        assert!(format!("{:#}", fs_path("notaslice:p:n").unwrap_err()).contains("NAME.slice"));
        assert!(fs_path("system.slice::-Mfoo").is_err());
        assert!(fs_path("system.slice:-:host=evil").is_err());
        assert!(fs_path("system.slice::user.slice").is_err());
    }

    #[test]
    fn limits_become_properties() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864}, "pids": {"limit": 50},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000}
        }))
        .unwrap();
        let p = properties(&r, false);
        assert!(p.contains(&("MemoryLimit", "t", "67108864".into())));
        assert!(p.contains(&("TasksMax", "t", "50".into())));
        assert!(p.contains(&("CPUShares", "t", "512".into())));
        assert!(p.contains(&("CPUQuotaPerSecUSec", "t", "500000".into())));
        assert!(properties(&r, true).contains(&("MemoryMax", "t", "67108864".into())));
        assert_eq!(
            flatten(&[("TasksMax", "t", "5".into())]),
            ["1", "TasksMax", "t", "5"].map(String::from)
        );
    }
}
