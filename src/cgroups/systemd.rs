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

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::LinuxResources;

use super::bpf::Rule;
use super::devices::{self, Effective};
use super::gvariant;

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
    let slice = match slice {
        "" if user_manager() => "user.slice",
        "" => "system.slice",
        s => s,
    };
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
fn fs_path(spec: &str) -> Result<String> {
    parse(spec).map(|u| u.dir)
}

/// Which systemd: the host's, or in rootless mode (anyone but the host's
/// root, unless `--rootless false`) the caller's own (its user manager, on
/// its session bus), as rootless podman and runc use it.
fn user_manager() -> bool {
    crate::privilege::rootless()
}

/// busctl `verb` on systemd's manager object; its answer.
fn busctl(verb: &str, what: &str, args: &[String]) -> Result<String> {
    let out = Command::new("busctl")
        .args([
            verb,
            if user_manager() { "--user" } else { "--system" },
            // Values such as the slice "-.slice" are no options.
            "--",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
        ])
        .args(args)
        .output()
        .context("run busctl (systemd's D-Bus tool) to reach systemd")?;
    if !out.status.success() {
        bail!("systemd {what}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn call(method: &str, signature: &str, args: &[String]) -> Result<String> {
    let mut all = vec![method.to_string(), signature.to_string()];
    all.extend_from_slice(args);
    busctl("call", method, &all)
}

/// The unit's cgroup directory below the hierarchy's root: a user's
/// systemd keeps its units below its own cgroup (user@UID.service).
pub fn cgroup_dir(spec: &str) -> Result<String> {
    let dir = fs_path(spec)?;
    if !user_manager() {
        return Ok(dir);
    }
    // Its answer: s "/user.slice/user-1000.slice/user@1000.service"
    let answer = busctl("get-property", "ControlGroup", &["ControlGroup".to_string()])
        .context("--systemd-cgroup as an unprivileged user: ask the user's own systemd (is its session bus up?)")?;
    let base = unquote(&answer).trim_matches('/');
    Ok(if base.is_empty() { dir } else { format!("{base}/{dir}") })
}

/// A unit property: its name, busctl type, and value as busctl's arguments
/// (an array is its length, then its elements).
pub type Property = (String, String, Vec<String>);

fn prop(name: &str, typ: &str, value: impl ToString) -> Property {
    (name.to_string(), typ.to_string(), vec![value.to_string()])
}

/// The unit properties the limits map to. systemd writes a unit's
/// properties to its cgroup again on every reload, and defaults for the
/// ones not set: every limit systemd has a property for is one.
fn properties(r: &LinuxResources, v2: bool) -> Vec<Property> {
    let mut out = vec![];
    // -1 is "no limit": systemd's infinity, so a limit removed stays removed.
    let amount = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit().filter(|l| *l != 0) {
            out.push(prop(if v2 { "MemoryMax" } else { "MemoryLimit" }, "t", amount(limit)));
        }
        if v2 {
            out.extend(
                m.reservation()
                    .filter(|l| *l != 0)
                    .map(|l| prop("MemoryLow", "t", amount(l))),
            );
            // v2 counts swap alone: the spec's memory+swap less the limit;
            // no memory limit and no swap limit given lifts both, as in v1.
            match (m.limit().unwrap_or(0), m.swap().unwrap_or(0)) {
                (_, -1) | (-1, 0) => out.push(prop("MemorySwapMax", "t", u64::MAX)),
                (l, s) if l > 0 && s >= l => out.push(prop("MemorySwapMax", "t", s - l)),
                _ => {}
            }
        }
    }
    match r.pids().map(|p| p.limit()) {
        // hull writes pids.max 0 itself; systemd refuses a TasksMax of 0.
        Some(0) => tracing::warn!(
            "linux.resources.pids.limit: 0 has no systemd property (TasksMax must be at least 1): a systemd reload gives the unit its default TasksMax"
        ),
        Some(limit) => out.push(prop("TasksMax", "t", amount(limit))),
        None => {}
    }
    if let Some(cpu) = r.cpu() {
        // The kernel takes no shares or weight for an idle cgroup.
        if let Some(shares) = cpu.shares().filter(|s| *s > 0 && !super::resources::idle(r)) {
            if v2 {
                // runc's conversion of shares [2, 262144] to weight [1, 10000].
                let weight = 1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142;
                out.push(prop("CPUWeight", "t", weight));
            } else {
                out.push(prop("CPUShares", "t", shares));
            }
        }
        out.extend(quota_properties(cpu.quota(), cpu.period()));
    }
    let weight = r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0);
    if v2 {
        out.extend(weight.map(|w| prop("IOWeight", "t", super::resources::io_weight(w))));
        out.extend(unified_properties(r));
        if super::resources::idle(r) {
            // CPUWeight's "idle": systemd writes cpu.idle 0 for any other
            // weight.
            out.push(prop("CPUWeight", "t", 0));
        }
    } else {
        out.extend(weight.map(|w| prop("BlockIOWeight", "t", w)));
    }
    out
}

/// The CFS quota as systemd keeps it: per second, and the period only when
/// given (an update of the quota alone keeps the cgroup's period).
fn quota_properties(quota: Option<i64>, period: Option<u64>) -> Vec<Property> {
    let mut out = vec![];
    match quota {
        Some(q) if q < 0 => out.push(prop("CPUQuotaPerSecUSec", "t", u64::MAX)),
        Some(q) if q > 0 => {
            let per = period.filter(|p| *p > 0).unwrap_or(100_000);
            // A percentage to systemd: rounded up to 10 ms per second.
            let per_sec = (q as u64).saturating_mul(1_000_000).div_ceil(per).div_ceil(10_000);
            out.push(prop("CPUQuotaPerSecUSec", "t", per_sec.saturating_mul(10_000)));
        }
        _ => {}
    }
    out.extend(period.filter(|p| *p > 0).map(|p| prop("CPUQuotaPeriodUSec", "t", p)));
    out
}

/// The `unified` keys systemd has a property for, written last as hull
/// writes them.
fn unified_properties(r: &LinuxResources) -> Vec<Property> {
    let keys = [
        ("memory.min", "MemoryMin"),
        ("memory.low", "MemoryLow"),
        ("memory.high", "MemoryHigh"),
        ("memory.max", "MemoryMax"),
        ("memory.swap.max", "MemorySwapMax"),
        ("pids.max", "TasksMax"),
        ("cpu.weight", "CPUWeight"),
    ];
    let Some(unified) = r.unified() else {
        return vec![];
    };
    let value = |v: &str| match v.trim() {
        "max" => Some(u64::MAX),
        v => v.parse().ok(),
    };
    // Only values systemd and the kernel both take: a weight of 0 is
    // systemd's "idle", a TasksMax of 0 fails the whole call.
    let valid = |name: &str, v: u64| match name {
        "CPUWeight" => (1..=10_000).contains(&v) && !super::resources::idle(r),
        "TasksMax" => v >= 1,
        _ => true,
    };
    let mut out: Vec<Property> = keys
        .iter()
        .filter_map(|(key, name)| Some((*name, value(unified.get(*key)?)?)))
        .filter(|(name, v)| valid(name, *v))
        .map(|(name, v)| prop(name, "t", v))
        .collect();
    if let Some((quota, period)) = unified.get("cpu.max").and_then(|m| super::resources::cpu_max(m)) {
        out.extend(quota_properties(Some(quota), period));
    }
    out
}

/// A v1 unit's device rules as DevicePolicy and DeviceAllow, made from the
/// rules themselves (the kernel's list says "a *:* rwm" for a deny list,
/// and for any rules a reload has just cleared): without them systemd's
/// next reload would allow every device.
pub fn device_properties(rules: &[Rule], proc_devices: &str) -> Vec<Property> {
    let allowed = match devices::effective(rules) {
        Effective::AllowAll => return vec![],
        Effective::Allow(list) => list,
        Effective::DenyList => {
            tracing::warn!(
                "linux.resources.devices: systemd has no form for a deny list (every device but some): after a systemd reload only the default devices stay allowed"
            );
            devices::default_allowed()
        }
    };
    let mut allow = vec![];
    for r in &allowed {
        let kind = if r.typ == 'b' { "block" } else { "char" };
        let entry = match (r.major, r.minor) {
            (None, None) => Some(format!("{kind}-*")),
            (None, Some(_)) => None,
            (Some(major), None) => driver(proc_devices, kind, major).map(|name| format!("{kind}-{name}")),
            (Some(major), Some(minor)) => Some(format!("/dev/{kind}/{major}:{minor}")),
        };
        match entry {
            Some(e) => allow.extend([e, r.access.clone()]),
            None => tracing::warn!(
                "linux.resources.devices: {:?} has no systemd DeviceAllow form (no driver of that major in /proc/devices): denied after a systemd reload",
                devices::line(r)
            ),
        }
    }
    let mut array = vec![(allow.len() / 2).to_string()];
    array.extend(allow);
    vec![
        prop("DevicePolicy", "s", "strict"),
        ("DeviceAllow".into(), "a(ss)".into(), array),
    ]
}

/// The driver /proc/devices names for a major number (136: "pts"), if no
/// other major has that name: systemd allows every major of the name.
fn driver<'a>(proc_devices: &'a str, kind: &str, major: u32) -> Option<&'a str> {
    let heading = if kind == "block" { "Block" } else { "Character" };
    let section = proc_devices
        .split("\n\n")
        .find(|s| s.trim_start().starts_with(heading))?;
    let entries: Vec<(&str, &str)> = section.lines().filter_map(|l| l.trim().split_once(' ')).collect();
    let name = entries.iter().find(|(m, _)| m.parse() == Ok(major))?.1;
    (entries.iter().filter(|(_, n)| *n == name).count() == 1).then_some(name)
}

fn flatten(props: &[Property]) -> Vec<String> {
    let mut args = vec![props.len().to_string()];
    for (name, typ, value) in props {
        args.extend([name.to_string(), typ.to_string()]);
        args.extend(value.iter().cloned());
    }
    args
}

/// The unit properties a config's `org.systemd.property.NAME` annotations
/// ask for, as runc reads them: a NAME of three letters or more, the value
/// in GVariant's text form, and a NAME ending in a lowercase letter and
/// "Sec" in seconds (systemd's property is NAME's "USec" form, in
/// microseconds).
pub fn annotation_properties(annotations: Option<&HashMap<String, String>>) -> Result<Vec<Property>> {
    const PREFIX: &str = "org.systemd.property.";
    let Some(annotations) = annotations else {
        return Ok(vec![]);
    };
    let mut keys: Vec<&String> = annotations.keys().filter(|k| k.starts_with(PREFIX)).collect();
    keys.sort();
    let mut out = vec![];
    for key in keys {
        let (name, value) = (&key[PREFIX.len()..], &annotations[key]);
        let field = || format!("annotations[{key:?}]");
        if name.len() < 3 || !name.chars().all(|c| c.is_ascii_alphabetic()) {
            bail!(
                "{}: {name:?} is not a systemd property name (three letters or more)",
                field()
            );
        }
        // What makes the scope the container's: where it is, what is in
        // it, and that hull may write its cgroup.
        if ["Slice", "PIDs", "PIDFDs", "Delegate"].contains(&name) {
            bail!(
                "{}: {name} is hull's to set (the slice comes from linux.cgroupsPath)",
                field()
            );
        }
        let v = gvariant::parse(value).with_context(|| format!("{}: {value:?} is not a GVariant value", field()))?;
        out.push(
            match name
                .strip_suffix("Sec")
                .filter(|n| n.ends_with(|c: char| c.is_ascii_lowercase()))
            {
                Some(stem) => {
                    let usec = gvariant::seconds_to_usec(&v)
                        .ok_or_else(|| anyhow!("{}: {value:?} is not a number of seconds", field()))?;
                    prop(&format!("{stem}USec"), "t", usec)
                }
                None => (name.to_string(), v.signature, v.args),
            },
        );
    }
    Ok(out)
}

/// Starts the transient unit with `pid` in it, with hull's properties and
/// then the config's own (`extra`, from its annotations), and waits until
/// systemd has moved the pid there.
pub fn start(spec: &str, pid: i32, extra: &[Property]) -> Result<()> {
    let unit = parse(spec)?;
    let props = [
        prop("Description", "s", format!("hull container {}", unit.name)),
        prop("Slice", "s", &unit.slice),
        prop("Delegate", "b", true),
        prop("DefaultDependencies", "b", false),
        prop("MemoryAccounting", "b", true),
        prop("CPUAccounting", "b", true),
        prop("TasksAccounting", "b", true),
        ("PIDs".into(), "au".into(), vec!["1".into(), pid.to_string()]),
    ];
    let mut args = vec![unit.name.clone(), "replace".to_string()];
    args.extend(flatten(&[&props[..], extra].concat()));
    args.push("0".into());
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

/// Sets the limits (and `extra`, the device rules) as the unit's
/// properties, and returns once systemd has written them, with its
/// defaults for the rest, to the cgroup: the caller's own writes go after.
pub fn set(spec: &str, r: Option<&LinuxResources>, v2: bool, extra: Vec<Property>) -> Result<()> {
    let unit = parse(spec)?;
    let mut props = r.map(|r| properties(r, v2)).unwrap_or_default();
    props.extend(extra);
    if props.iter().any(|p| newer_than(p) > 0) {
        // One unknown property or value fails the whole call: those this
        // systemd lacks are left to hull's own file writes, as runc does.
        let version = version().unwrap_or(u32::MAX);
        props.retain(|p| newer_than(p) <= version);
    }
    if props.is_empty() {
        return Ok(());
    }
    let mut args = vec![unit.name.clone(), "true".to_string()];
    args.extend(flatten(&props));
    call("SetUnitProperties", "sba(sv)", &args).with_context(|| format!("set the properties of {}", unit.name))?;
    // systemd writes them from its cgroup realize queue, which its main
    // loop empties before it reads the next message (systemd 252, as in
    // Debian 12): one more call waits for that.
    call("GetUnit", "s", std::slice::from_ref(&unit.name)).map(|_| ())
}

/// The systemd version a property (or value) first came in, of those
/// younger than the systemd of RHEL 8 and Ubuntu 18.04 (239, 237); 0 for
/// the rest.
fn newer_than((name, _, value): &Property) -> u32 {
    match (name.as_str(), value.as_slice()) {
        ("CPUQuotaPeriodUSec", _) => 242,
        ("MemoryMin", _) => 240,
        ("CPUWeight", [idle]) if idle == "0" => 252,
        _ => 0,
    }
}

/// systemd's version, from its Version property.
fn version() -> Option<u32> {
    parse_version(&busctl("get-property", "Version", &["Version".to_string()]).ok()?)
}

/// `s "252.22-1~deb12u1"`: 252.
fn parse_version(answer: &str) -> Option<u32> {
    let digits: String = unquote(answer).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The value of busctl's answer for a string property: `s "VALUE"`.
fn unquote(answer: &str) -> &str {
    answer.trim().trim_start_matches("s ").trim_matches('"')
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
            "memory": {"limit": 67108864, "swap": 100663296, "reservation": 33554432},
            "pids": {"limit": 50},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000},
            "blockIO": {"weight": 500},
            "unified": {"memory.high": "62914560", "memory.min": "max", "io.max": "8:0 rbps=1"}
        }))
        .unwrap();
        let v1 = properties(&r, false);
        for p in [
            prop("MemoryLimit", "t", 67108864),
            prop("TasksMax", "t", 50),
            prop("CPUShares", "t", 512),
            prop("CPUQuotaPerSecUSec", "t", 500000),
            prop("BlockIOWeight", "t", 500),
        ] {
            assert!(v1.contains(&p), "{p:?} not in {v1:?}");
        }
        assert_eq!(v1.len(), 6, "v1 has none of v2's: {v1:?}");
        let v2 = properties(&r, true);
        for p in [
            prop("MemoryMax", "t", 67108864),
            prop("MemorySwapMax", "t", 33554432),
            prop("MemoryLow", "t", 33554432),
            prop("CPUWeight", "t", 20),
            prop("IOWeight", "t", 4950),
            prop("MemoryHigh", "t", 62914560),
            prop("MemoryMin", "t", u64::MAX),
        ] {
            assert!(v2.contains(&p), "{p:?} not in {v2:?}");
        }
        assert_eq!(
            flatten(&[prop("TasksMax", "t", 5)]),
            ["1", "TasksMax", "t", "5"].map(String::from)
        );
        // A quota alone keeps the cgroup's period; no limits lift swap too.
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": -1}, "cpu": {"quota": 25000},
            "unified": {"cpu.max": "max 50000"}
        }))
        .unwrap();
        let p = properties(&r, true);
        assert!(p.contains(&prop("MemorySwapMax", "t", u64::MAX)), "{p:?}");
        assert_eq!(
            p.iter().filter(|p| p.0 == "CPUQuotaPeriodUSec").count(),
            1,
            "only cpu.max's: {p:?}"
        );
        assert_eq!(p.last(), Some(&prop("CPUQuotaPeriodUSec", "t", 50000)));
        assert!(p.contains(&prop("CPUQuotaPerSecUSec", "t", 250000)), "{p:?}");
        assert_eq!(
            quota_properties(Some(i64::MAX), None),
            [prop("CPUQuotaPerSecUSec", "t", 184467440740000u64)],
            "saturates, no overflow"
        );
        for bad in [
            "abc 50000",
            "max x",
            "10000 50000 1",
            "",
            "-5",
            "10000 0",
            "max 0",
            "999 100000",
        ] {
            let r: LinuxResources = serde_json::from_value(serde_json::json!({"unified": {"cpu.max": bad}})).unwrap();
            assert_eq!(properties(&r, true), [], "{bad:?}");
        }
        // Values systemd would take for something else, or refuse.
        let r: LinuxResources =
            serde_json::from_value(serde_json::json!({"unified": {"cpu.weight": "0", "pids.max": "0"}})).unwrap();
        assert_eq!(properties(&r, true), []);
        // An idle cgroup is CPUWeight's "idle", whatever the weights say.
        for r in [
            serde_json::json!({"cpu": {"shares": 512, "idle": 1}}),
            serde_json::json!({"unified": {"cpu.idle": "1", "cpu.weight": "50"}}),
            serde_json::json!({"cpu": {"shares": 512}, "unified": {"cpu.idle": "1"}}),
        ] {
            let r: LinuxResources = serde_json::from_value(r).unwrap();
            assert_eq!(properties(&r, true), [prop("CPUWeight", "t", 0)]);
            assert!(
                !properties(&r, false).iter().any(|p| p.0 == "CPUShares"),
                "v1: no shares for an idle cgroup"
            );
        }
    }

    #[test]
    fn annotations_become_properties_as_in_runc() {
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let a = map(&[
            ("org.systemd.property.TimeoutStopSec", "1.5"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.After", "['a.service']"),
            ("org.other", "x"),
        ]);
        assert_eq!(
            annotation_properties(Some(&a)).unwrap(),
            [
                ("After".into(), "as".into(), vec!["1".into(), "a.service".into()]),
                prop("CollectMode", "s", "inactive-or-failed"),
                prop("TimeoutStopUSec", "t", 1_500_000),
            ]
        );
        for (key, value, needle) in [
            ("org.systemd.property.Ab", "1", "not a systemd property name"),
            ("org.systemd.property.Slice", "'x.slice'", "hull's to set"),
            (
                "org.systemd.property.TimeoutStopSec",
                "'soon'",
                "not a number of seconds",
            ),
            ("org.systemd.property.CollectMode", "inactive", "not a GVariant value"),
        ] {
            let e = format!("{:#}", annotation_properties(Some(&map(&[(key, value)]))).unwrap_err());
            assert!(
                e.contains(&format!("annotations[{key:?}]")) && e.contains(needle),
                "{e}"
            );
        }
    }

    #[test]
    fn versions_as_busctl_gives_them() {
        assert_eq!(parse_version("s \"252.22-1~deb12u1\"\n"), Some(252));
        assert_eq!(parse_version("s \"239 (239-58.el8)\""), Some(239));
        assert_eq!(parse_version("garbage"), None);
        assert!(newer_than(&prop("CPUQuotaPeriodUSec", "t", 1)) > 239 && newer_than(&prop("MemoryMax", "t", 1)) == 0);
        assert_eq!(newer_than(&prop("CPUWeight", "t", 0)), 252);
        assert_eq!(newer_than(&prop("CPUWeight", "t", 100)), 0);
    }

    #[test]
    fn v1_device_rules_become_a_strict_allow_list() {
        let rule = |typ, major, minor, access: &str| Rule {
            typ,
            major,
            minor,
            access: access.into(),
            allow: true,
        };
        let deny_all = Rule {
            allow: false,
            ..rule('a', None, None, "rwm")
        };
        let rules = [
            deny_all,
            rule('c', None, None, "m"),
            rule('c', Some(1), Some(3), "rwm"),
            rule('c', Some(136), None, "rwm"),
            rule('b', Some(8), Some(0), "r"),
            rule('c', Some(4095), None, "rwm"),
        ];
        let proc_devices = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n 65 sd\n  7 loop\n";
        let props = device_properties(&rules, proc_devices);
        assert_eq!(props[0], prop("DevicePolicy", "s", "strict"));
        let (name, typ, allow) = &props[1];
        assert_eq!((name.as_str(), typ.as_str()), ("DeviceAllow", "a(ss)"));
        // 4095 has no driver: left out, so denied.
        let want = [
            "4",
            "char-*",
            "m",
            "/dev/char/1:3",
            "rwm",
            "char-pts",
            "rwm",
            "/dev/block/8:0",
            "r",
        ];
        assert_eq!(allow, &want.map(String::from));
        assert!(
            device_properties(&[rule('a', None, None, "rwm")], proc_devices).is_empty(),
            "all allowed: systemd's default"
        );
        let deny_list = [
            rule('a', None, None, "rwm"),
            Rule {
                allow: false,
                ..rule('b', Some(8), Some(0), "rwm")
            },
        ];
        assert_eq!(
            device_properties(&deny_list, proc_devices)[0],
            prop("DevicePolicy", "s", "strict")
        );
        assert_eq!(driver(proc_devices, "block", 7), Some("loop"));
        assert_eq!(driver(proc_devices, "block", 8), None, "sd names 65 too");
        assert_eq!(driver(proc_devices, "char", 7), None);
    }
}
