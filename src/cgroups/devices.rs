//! The device allow/deny list: the spec's rules in order, then the devices
//! every container gets, as runc lets them through. With no rules at all, the
//! default is runc's: deny everything else, and let the container's own
//! linux.devices through. Written to devices.allow/deny on v1, compiled into
//! a BPF program on v2.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType as T};

use super::bpf::Rule;

/// (type, major, minor, access) that stay usable whatever the spec denies:
/// mknod of any node, the default devices, ptys.
const DEFAULT_ALLOW: [(char, Option<u32>, Option<u32>, &str); 11] = [
    ('c', None, None, "m"),
    ('b', None, None, "m"),
    ('c', Some(1), Some(3), "rwm"),
    ('c', Some(1), Some(5), "rwm"),
    ('c', Some(1), Some(7), "rwm"),
    ('c', Some(1), Some(8), "rwm"),
    ('c', Some(1), Some(9), "rwm"),
    ('c', Some(5), Some(0), "rwm"),
    ('c', Some(5), Some(1), "rwm"),
    ('c', Some(5), Some(2), "rwm"),
    ('c', Some(136), None, "rwm"),
];

fn number(n: Option<i64>) -> Option<u32> {
    n.filter(|n| *n >= 0).and_then(|n| u32::try_from(n).ok())
}

/// One spec rule; FIFOs are not devices the cgroup controls.
fn from_spec(d: &LinuxDeviceCgroup) -> Option<Rule> {
    let typ = match d.typ().unwrap_or(T::A) {
        T::A => 'a',
        T::B => 'b',
        T::C | T::U => 'c',
        T::P => return None,
    };
    Some(Rule {
        typ,
        major: number(d.major()),
        minor: number(d.minor()),
        access: d.access().clone().unwrap_or_else(|| "rwm".into()),
        allow: d.allow(),
    })
}

/// The whole list, in the order it takes effect (last match wins).
pub fn rules(spec_rules: &[LinuxDeviceCgroup], devices: &[LinuxDevice]) -> Vec<Rule> {
    let mut out: Vec<Rule> = if spec_rules.is_empty() {
        let deny_all = Rule {
            typ: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
            allow: false,
        };
        let own = devices.iter().filter(|d| d.typ() != T::P).map(|d| Rule {
            typ: if d.typ() == T::B { 'b' } else { 'c' },
            major: number(Some(d.major())),
            minor: number(Some(d.minor())),
            access: "rwm".into(),
            allow: true,
        });
        std::iter::once(deny_all).chain(own).collect()
    } else {
        spec_rules.iter().filter_map(from_spec).collect()
    };
    out.extend(DEFAULT_ALLOW.iter().map(|(typ, major, minor, access)| Rule {
        typ: *typ,
        major: *major,
        minor: *minor,
        access: access.to_string(),
        allow: true,
    }));
    out
}

fn line(r: &Rule) -> String {
    if r.typ == 'a' {
        return "a".into();
    }
    let n = |x: Option<u32>| x.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
    format!("{} {}:{} {}", r.typ, n(r.major), n(r.minor), r.access)
}

pub fn apply(dir: &Path, rules: &[Rule], v2: bool) -> Result<()> {
    if v2 {
        return super::v2::Dir(dir.to_path_buf()).devices(rules, false);
    }
    // Each write(2) is one rule to the kernel, so a file is opened once for
    // all its rules; the order of the rules is kept.
    let mut open: [Option<(PathBuf, std::fs::File)>; 2] = [None, None];
    for r in rules {
        let (file, f) = match &mut open[usize::from(r.allow)] {
            Some(opened) => opened,
            slot => {
                let file = dir.join(if r.allow { "devices.allow" } else { "devices.deny" });
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .with_context(|| format!("linux.resources.devices: open {}", file.display()))?;
                slot.insert((file, f))
            }
        };
        let l = line(r);
        f.write_all(l.as_bytes())
            .with_context(|| format!("linux.resources.devices: write {l:?} to {}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rules_means_deny_all_but_defaults_and_own_devices() {
        let dev: LinuxDevice =
            serde_json::from_value(serde_json::json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}))
                .unwrap();
        let r = rules(&[], &[dev]);
        assert_eq!(line(&r[0]), "a");
        assert!(!r[0].allow);
        assert_eq!(line(&r[1]), "c 10:229 rwm");
        assert_eq!(line(r.last().unwrap()), "c 136:* rwm");
    }

    #[test]
    fn unbuffered_is_char_and_fifos_are_skipped() {
        let spec: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": true, "type": "u", "major": 4, "minor": 1, "access": "r"},
            {"allow": true, "type": "p", "access": "rwm"}
        ]))
        .unwrap();
        let r = rules(&spec, &[]);
        assert_eq!(line(&r[0]), "c 4:1 r");
        assert_eq!(r.len(), 1 + DEFAULT_ALLOW.len());
    }
}
