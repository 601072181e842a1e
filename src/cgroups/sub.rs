//! `exec --cgroup`: an exec'd process in an existing sub-cgroup of its
//! container (a systemd in the container moves its own processes down, and
//! on cgroup v2 the container's top cgroup may then take none).

use anyhow::{bail, Result};

/// Where under the container's cgroup an exec'd process goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubCgroup {
    /// `PATH`: the same sub-cgroup in every hierarchy (the cgroup v2 form).
    All(String),
    /// `CONTROLLER[,CONTROLLER]:PATH`, cgroup v1: per hierarchy.
    PerController(Vec<(String, String)>),
}

/// runc's `--cgroup` arguments: one PATH, or CONTROLLER[,...]:PATH each.
pub fn parse(args: &[String]) -> Result<Option<SubCgroup>> {
    let Some(first) = args.first() else { return Ok(None) };
    if !first.contains(':') {
        if args.len() != 1 {
            bail!("--cgroup {first:?}: a path without CONTROLLER: must be the only --cgroup");
        }
        return Ok(Some(SubCgroup::All(clean(first, first)?)));
    }
    let mut per = Vec::new();
    for arg in args {
        let Some((controllers, path)) = arg.split_once(':') else {
            bail!("--cgroup {arg:?}: CONTROLLER:PATH expected, as in the other --cgroup flags");
        };
        let path = clean(arg, path)?;
        for c in controllers.split(',') {
            let name = c.strip_prefix("name=").unwrap_or(c);
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                bail!("--cgroup {arg:?}: {c:?} is not a controller name");
            }
            if per
                .iter()
                .any(|(known, _): &(String, String)| known.strip_prefix("name=").unwrap_or(known) == name)
            {
                bail!("--cgroup {arg:?}: controller {c} is given twice");
            }
            per.push((c.to_string(), path.clone()));
        }
    }
    if super::is_v2() {
        bail!(
            "--cgroup {first:?}: CONTROLLER:PATH is for cgroup v1; this host has one cgroup v2 tree: give PATH alone"
        );
    }
    Ok(Some(SubCgroup::PerController(per)))
}

/// A path below the container's cgroup: relative, no `.` or `..`.
fn clean(arg: &str, path: &str) -> Result<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        bail!("--cgroup {arg:?}: no sub-cgroup path");
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        bail!("--cgroup {arg:?}: the path must stay below the container's cgroup (no . or ..)");
    }
    Ok(parts.join("/"))
}

/// The container's directory in a controller's hierarchy; a named one
/// (`name=systemd`) is mounted under its name.
fn hierarchy(container: &str, controller: &str) -> std::path::PathBuf {
    super::hierarchy_dir(container, controller.strip_prefix("name=").unwrap_or(controller))
}

impl SubCgroup {
    /// The cgroup path the process is placed at directly: the sub-cgroup
    /// of the `All` form, or the container's for the per-controller form.
    /// Each sub-cgroup must exist (hull makes none: it would not know to
    /// remove it).
    pub fn placement(&self, container: &str) -> Result<String> {
        let sub = match self {
            SubCgroup::All(sub) => sub,
            SubCgroup::PerController(per) => {
                for (controller, sub) in per {
                    let top = hierarchy(container, controller);
                    if !top.is_dir() {
                        bail!(
                            "--cgroup {controller}:{sub}: the container has no {controller} cgroup ({} is missing)",
                            top.display()
                        );
                    }
                    if !top.join(sub).is_dir() {
                        bail!(
                            "--cgroup {controller}:{sub}: no such sub-cgroup: {} is missing",
                            top.join(sub).display()
                        );
                    }
                }
                return Ok(container.to_string());
            }
        };
        let joined = format!("{container}/{sub}");
        for root in super::hierarchy_roots() {
            if root.join(container).is_dir() && !root.join(&joined).is_dir() {
                bail!(
                    "--cgroup {sub:?}: no such sub-cgroup: {} is missing",
                    root.join(&joined).display()
                );
            }
        }
        Ok(joined)
    }

    /// Moves a process already in the container's cgroup into the named
    /// controllers' sub-cgroups (the `PerController` form).
    pub fn move_into(&self, container: &str, pid: i32) -> Result<()> {
        let SubCgroup::PerController(per) = self else {
            return Ok(());
        };
        for (controller, sub) in per {
            let procs = hierarchy(container, controller).join(sub).join("cgroup.procs");
            std::fs::write(&procs, pid.to_string()).map_err(|e| {
                anyhow::anyhow!(
                    "--cgroup {controller}:{sub}: write pid {pid} to {}: {e}",
                    procs.display()
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn forms_and_refusals() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&args(&["/a//b/"])).unwrap(), Some(SubCgroup::All("a/b".into())));
        for bad in [
            &["../x"][..],
            &["a/../../x"],
            &["."],
            &["/"],
            &["a", "b"],
            &["cpu:a", "b"],
            &[":a"],
            &["cpu,:a"],
            &["c/d:a"],
            &["cpu:a", "cpu:b"],
            &["systemd,name=systemd:p"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
        if !crate::cgroups::is_v2() {
            assert_eq!(
                parse(&args(&["cpu,memory:sub", "pids,name=systemd:p"])).unwrap(),
                Some(SubCgroup::PerController(vec![
                    ("cpu".into(), "sub".into()),
                    ("memory".into(), "sub".into()),
                    ("pids".into(), "p".into()),
                    ("name=systemd".into(), "p".into())
                ]))
            );
        }
    }
}
