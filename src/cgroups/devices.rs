//! The device allow/deny list: the spec's rules in order, then the devices
//! every container gets, as runc lets them through. With no rules at all, the
//! default is runc's: deny everything else, and let the container's own
//! linux.devices through. Written to devices.allow/deny on v1, compiled into
//! a BPF program on v2.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType as T};

pub use super::bpf::Rule;

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

/// A major or minor; None is any (absent, -1, or the kernel's own ~0).
fn number(n: Option<i64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n != u32::MAX)
}

/// One spec rule; FIFOs are not devices the cgroup controls.
fn from_spec(d: &LinuxDeviceCgroup) -> Option<Rule> {
    let typ = match d.typ().unwrap_or(T::A) {
        T::A => 'a',
        T::B => 'b',
        T::C | T::U => 'c',
        T::P => return None,
    };
    // Each of r, w, m once: the v1 kernel reads no more than three letters,
    // and systemd takes an empty access for all three. Empty, the rule
    // grants and denies nothing.
    let given = d.access().clone().unwrap_or_else(|| "rwm".into());
    let mut access = String::new();
    for c in given.chars() {
        if !access.contains(c) {
            access.push(c);
        }
    }
    (!access.is_empty()).then_some(Rule {
        typ,
        major: number(d.major()),
        minor: number(d.minor()),
        access,
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
    out.extend(default_allowed());
    out
}

/// What a list of rules leaves, as v1's devices cgroup keeps it: a
/// default and the exceptions to it.
#[derive(Debug, PartialEq, Eq)]
pub enum Effective {
    AllowAll,
    /// Every device but some: systemd has no form for it.
    DenyList,
    /// Only these, the default denied.
    Allow(Vec<Rule>),
}

/// The rules played in order as the v1 kernel plays them: an "a" rule sets
/// the default and clears the exceptions; a rule against the default adds
/// its access to the exception of the same type and numbers, one with it
/// takes its access away from that exception.
pub fn effective(rules: &[Rule]) -> Effective {
    let played = play(rules);
    match (played.default_allow, played.exceptions.is_empty()) {
        (true, true) => Effective::AllowAll,
        (true, false) => Effective::DenyList,
        (false, _) => Effective::Allow(played.exceptions.into_iter().map(|(e, _)| e).collect()),
    }
}

struct Played {
    default_allow: bool,
    /// Each exception with the index of the rule that made it.
    exceptions: Vec<(Rule, usize)>,
    /// The first rule that took access from only part of an exception
    /// (which the kernel ignores), and the rule that made the exception.
    hole: Option<(usize, usize)>,
}

fn play(rules: &[Rule]) -> Played {
    let mut p = Played {
        default_allow: true,
        exceptions: vec![],
        hole: None,
    };
    for (i, r) in rules.iter().enumerate() {
        if r.typ == 'a' {
            (p.default_allow, p.exceptions, p.hole) = (r.allow, vec![], None);
            continue;
        }
        let same = |e: &Rule| (e.typ, e.major, e.minor) == (r.typ, r.major, r.minor);
        if r.allow == p.default_allow {
            // Only an allow list fails open: a deny list that keeps an
            // exception is stricter than asked.
            if p.hole.is_none() && !p.default_allow {
                p.hole = p
                    .exceptions
                    .iter()
                    .find(|(e, _)| overlaps_partly(e, r))
                    .map(|(_, made)| (i, *made));
            }
            for (e, _) in p.exceptions.iter_mut().filter(|(e, _)| same(e)) {
                e.access.retain(|c| !r.access.contains(c));
            }
            p.exceptions.retain(|(e, _)| !e.access.is_empty());
        } else if let Some((e, _)) = p.exceptions.iter_mut().find(|(e, _)| same(e)) {
            let more: String = r.access.chars().filter(|c| !e.access.contains(*c)).collect();
            e.access.push_str(&more);
        } else {
            p.exceptions.push((r.clone(), i));
        }
    }
    p
}

/// Whether `e` and `r` share a device and read or write access without
/// naming the same devices: taking `r` from `e` then changes nothing in the
/// kernel. (mknod stays allowed for every node anyway: `DEFAULT_ALLOW`.)
fn overlaps_partly(e: &Rule, r: &Rule) -> bool {
    let meet = |a: Option<u32>, b: Option<u32>| a.is_none() || b.is_none() || a == b;
    e.typ == r.typ
        && meet(e.major, r.major)
        && meet(e.minor, r.minor)
        && (e.major, e.minor) != (r.major, r.minor)
        && e.access.chars().any(|c| c != 'm' && r.access.contains(c))
}

/// On cgroup v1, refuses spec rules the kernel would not honour: a deny
/// that takes access away from part of an earlier allow (a device of an
/// allowed major, or a major with one device allowed) is silently ignored,
/// so a device the config denies would stay open. runc refuses the first
/// kind too; v2's program plays either as written.
pub fn check_v1(spec_rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let given: Vec<(usize, Rule)> = spec_rules
        .iter()
        .enumerate()
        .filter_map(|(i, d)| from_spec(d).map(|r| (i, r)))
        .collect();
    let list: Vec<Rule> = given.iter().map(|(_, r)| r.clone()).collect();
    let Some((hole, made)) = play(&list).hole else {
        return Ok(());
    };
    let name = |k: usize| {
        let (i, r) = &given[k];
        format!(
            "linux.resources.devices[{i}] ({} {})",
            if r.allow { "allow" } else { "deny" },
            line(r)
        )
    };
    // The deny names every device of the allow (c 10:* after c 10:200), or
    // some of them.
    let (deny, allow) = (&given[hole].1, &given[made].1);
    let covers = |d: Option<u32>, a: Option<u32>| d.is_none() || d == a;
    let (what, fix) = if covers(deny.major, allow.major) && covers(deny.minor, allow.minor) {
        ("keeps the earlier", "drop that allow, or deny its devices exactly")
    } else {
        ("cannot deny part of the earlier", "allow the devices one by one")
    };
    bail!(
        "{}: cgroup v1 {what} {}, as the kernel changes only a rule with the same type and numbers; {fix}",
        name(hole),
        name(made)
    )
}

/// The devices every container keeps, as rules.
pub fn default_allowed() -> Vec<Rule> {
    DEFAULT_ALLOW
        .iter()
        .map(|(typ, major, minor, access)| Rule {
            typ: *typ,
            major: *major,
            minor: *minor,
            access: access.to_string(),
            allow: true,
        })
        .collect()
}

pub(super) fn line(r: &Rule) -> String {
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
    fn rules_leave_what_the_v1_kernel_keeps() {
        let spec = |v: serde_json::Value| -> Vec<LinuxDeviceCgroup> { serde_json::from_value(v).unwrap() };
        let Effective::Allow(list) = effective(&rules(&[], &[])) else {
            panic!("the default is an allow list");
        };
        assert_eq!(list, default_allowed());
        let all = spec(serde_json::json!([{"allow": true, "access": "rwm"}]));
        assert_eq!(effective(&rules(&all, &[])), Effective::AllowAll);
        let but = spec(serde_json::json!([{"allow": true}, {"allow": false, "type": "b", "major": 8, "minor": 0}]));
        assert_eq!(effective(&rules(&but, &[])), Effective::DenyList);
        // An allow narrowed by a later deny of some of its access.
        let narrowed = spec(serde_json::json!([
            {"allow": false},
            {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
            {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"},
            {"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"},
            {"allow": false, "type": "b", "major": 7, "minor": 0, "access": "r"}
        ]));
        let Effective::Allow(list) = effective(&rules(&narrowed, &[])) else {
            panic!("an allow list");
        };
        assert_eq!(line(&list[0]), "c 10:200 rm");
        assert!(!list.iter().any(|r| r.major == Some(7)), "{list:?}");
    }

    #[test]
    fn v1_refuses_a_rule_that_changes_part_of_an_exception() {
        let spec = |v: serde_json::Value| -> Vec<LinuxDeviceCgroup> { serde_json::from_value(v).unwrap() };
        let err = |v| check_v1(&spec(v)).unwrap_err().to_string();
        // Different access, another device, or an exact match: the kernel keeps these.
        for fine in [
            serde_json::json!([{"allow": false}, {"allow": true, "type": "c", "major": 10, "access": "r"},
                {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "w"}]),
            serde_json::json!([{"allow": false}, {"allow": true, "type": "c", "major": 10},
                {"allow": false, "type": "b", "major": 10, "minor": 200}, {"allow": false, "type": "c", "major": 10}]),
            // A later "a" starts over; mknod alone stays allowed anyway.
            serde_json::json!([{"allow": false}, {"allow": true, "type": "c", "major": 10},
                {"allow": false, "type": "c", "major": 10, "minor": 200}, {"allow": false},
                {"allow": true, "type": "c", "access": "m"},
                {"allow": false, "type": "c", "major": 10, "minor": 200, "access": "m"}]),
            // A deny list the kernel keeps stricter than asked: 1:3 stays denied.
            serde_json::json!([{"allow": true}, {"allow": false, "type": "c", "major": 1},
                {"allow": true, "type": "c", "major": 1, "minor": 3}]),
        ] {
            assert!(check_v1(&spec(fine.clone())).is_ok(), "{fine}");
        }
        let e = err(serde_json::json!([{"allow": false}, {"allow": true, "type": "p"},
            {"allow": true, "type": "c", "minor": 3}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]));
        let want = "linux.resources.devices[3] (deny c 1:3 w): cgroup v1 cannot deny part of the earlier linux.resources.devices[2] (allow c *:3 rwm)";
        assert!(e.starts_with(want), "{e}");
        let e = err(
            serde_json::json!([{"allow": false}, {"allow": true, "type": "c", "major": 10, "minor": 200},
            {"allow": false, "type": "c", "major": 10, "access": "wm"}]),
        );
        let want = "linux.resources.devices[2] (deny c 10:* wm): cgroup v1 keeps the earlier linux.resources.devices[1] (allow c 10:200 rwm)";
        assert!(e.starts_with(want), "{e}");
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
        // Access letters once each; none at all is no rule; ~0 is any.
        let spec: Vec<LinuxDeviceCgroup> = serde_json::from_value(serde_json::json!([
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rrrw"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": ""},
            {"allow": true, "type": "b", "major": 4294967295_u64, "access": "m"}
        ]))
        .unwrap();
        let r = rules(&spec, &[]);
        assert_eq!(line(&r[0]), "c 1:3 rw");
        assert_eq!(line(&r[1]), "b *:* m");
        assert_eq!(r.len(), 2 + DEFAULT_ALLOW.len());
    }
}
