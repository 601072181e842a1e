//! The device allow/deny list: the spec's rules in order, then the devices
//! every container gets, as runc lets them through. Nodes from linux.devices
//! need their own allow rule, as in runc (containerd and podman write one).

use std::path::Path;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// (type, major, minor, access) that stay usable whatever the spec denies:
/// mknod of any node, the default devices, ptys.
const DEFAULT_ALLOW: [(&str, &str, &str, &str); 11] = [
    ("c", "*", "*", "m"),
    ("b", "*", "*", "m"),
    ("c", "1", "3", "rwm"),
    ("c", "1", "5", "rwm"),
    ("c", "1", "7", "rwm"),
    ("c", "1", "8", "rwm"),
    ("c", "1", "9", "rwm"),
    ("c", "5", "0", "rwm"),
    ("c", "5", "1", "rwm"),
    ("c", "5", "2", "rwm"),
    ("c", "136", "*", "rwm"),
];

fn num(n: Option<i64>) -> String {
    n.filter(|n| *n >= 0)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "*".into())
}

/// The spec's rules, then the defaults, for the BPF program.
fn bpf_rules(rules: &[LinuxDeviceCgroup]) -> Vec<super::bpf::Rule> {
    let parse = |n: &str| n.parse::<u32>().ok();
    let mut out: Vec<super::bpf::Rule> = rules
        .iter()
        .map(|d| super::bpf::Rule {
            typ: d
                .typ()
                .unwrap_or(LinuxDeviceType::A)
                .as_str()
                .chars()
                .next()
                .unwrap_or('a'),
            major: d.major().filter(|m| *m >= 0).map(|m| m as u32),
            minor: d.minor().filter(|m| *m >= 0).map(|m| m as u32),
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
            allow: d.allow(),
        })
        .collect();
    out.extend(DEFAULT_ALLOW.iter().map(|(t, ma, mi, a)| super::bpf::Rule {
        typ: t.chars().next().unwrap_or('a'),
        major: parse(ma),
        minor: parse(mi),
        access: a.to_string(),
        allow: true,
    }));
    out
}

fn rule(d: &LinuxDeviceCgroup) -> (bool, String) {
    let typ = d.typ().unwrap_or(LinuxDeviceType::A);
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    let line = if typ == LinuxDeviceType::A {
        "a".to_string()
    } else {
        format!("{} {}:{} {access}", typ.as_str(), num(d.major()), num(d.minor()))
    };
    (d.allow(), line)
}

pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup], v2: bool) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    if v2 {
        return super::v2::Dir(dir.to_path_buf()).devices(&bpf_rules(rules), false);
    }
    let mut lines: Vec<(bool, String)> = rules.iter().map(rule).collect();
    lines.extend(
        DEFAULT_ALLOW
            .iter()
            .map(|(t, ma, mi, a)| (true, format!("{t} {ma}:{mi} {a}"))),
    );
    for (i, (allow, line)) in lines.iter().enumerate() {
        let file = dir.join(if *allow { "devices.allow" } else { "devices.deny" });
        let field = if i < rules.len() {
            format!("linux.resources.devices[{i}]")
        } else {
            "default device rule".into()
        };
        std::fs::write(&file, line).with_context(|| format!("{field}: write {line:?} to {}", file.display()))?;
    }
    Ok(())
}
