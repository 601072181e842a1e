//! The Container Device Interface (the modern form of Mesos's gpu/nvidia
//! isolator): spec files (JSON or YAML) in /etc/cdi and /var/run/cdi, each
//! a `kind` (vendor.com/class) with named devices; `--device
//! vendor.com/class=name` applies the spec's and the device's container
//! edits: device nodes (with their cgroup rule), mounts, environment,
//! hooks and additional groups.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::isolator::Spec;
use crate::isolators::array;

pub const DEFAULT_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

/// The spec versions this reader knows, up to the current one.
const VERSIONS: [&str; 9] = [
    "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "0.9.0", "1.0.0", "1.1.0",
];

/// One spec file, read.
struct SpecFile {
    path: PathBuf,
    doc: Value,
}

fn load(path: &Path) -> Result<SpecFile> {
    let text = std::fs::read(path).with_context(|| format!("CDI spec {}", path.display()))?;
    let doc: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_slice(&text).with_context(|| format!("CDI spec {}: not JSON", path.display()))?
    } else {
        serde_yaml::from_slice(&text).with_context(|| format!("CDI spec {}: not YAML", path.display()))?
    };
    let version = doc["cdiVersion"].as_str().unwrap_or_default();
    if !VERSIONS.contains(&version) {
        bail!(
            "CDI spec {}: cdiVersion {version:?} is not one of {}",
            path.display(),
            VERSIONS.join(", ")
        );
    }
    if doc["kind"].as_str().is_none_or(|k| !k.contains('/')) {
        bail!(
            "CDI spec {}: kind {} is not vendor.com/class",
            path.display(),
            doc["kind"]
        );
    }
    Ok(SpecFile {
        path: path.to_path_buf(),
        doc,
    })
}

/// Every spec in `dirs` (a missing directory is none).
fn specs(dirs: &[PathBuf]) -> Result<Vec<SpecFile>> {
    let mut out = vec![];
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else { continue };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files {
            out.push(load(&f)?);
        }
    }
    Ok(out)
}

/// `vendor.com/class=name` as (kind, name).
fn parse_name(full: &str) -> Result<(&str, &str)> {
    match full.split_once('=') {
        Some((kind, name)) if kind.contains('/') && !name.is_empty() => Ok((kind, name)),
        _ => bail!("--device {full:?}: not a CDI device name (vendor.com/class=name)"),
    }
}

/// The edits for each device asked for, applied to `spec`.
pub fn apply(devices: &[String], dirs: &[PathBuf], spec: &mut Spec) -> Result<()> {
    let all = specs(dirs)?;
    for full in devices {
        let (kind, name) = parse_name(full)?;
        let mut found: Vec<(&SpecFile, &Value)> = vec![];
        let mut kind_files = vec![];
        for f in all.iter().filter(|f| f.doc["kind"] == kind) {
            kind_files.push(f.path.display().to_string());
            if let Some(d) = f.doc["devices"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["name"] == name))
            {
                found.push((f, d));
            }
        }
        let (file, dev) = match found.as_slice() {
            [one] => *one,
            [] if kind_files.is_empty() => bail!(
                "--device {full:?}: no CDI spec of kind {kind:?} in {}",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            [] => bail!("--device {full:?}: {} has no device {name:?}", kind_files.join(", ")),
            many => bail!(
                "--device {full:?}: the CDI specs {} all define it",
                many.iter()
                    .map(|(f, _)| f.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        };
        let what = format!("CDI spec {} (device {full})", file.path.display());
        edit(&file.doc["containerEdits"], spec).with_context(|| what.clone())?;
        edit(&dev["containerEdits"], spec).with_context(|| what.clone())?;
    }
    Ok(())
}

/// One set of container edits.
fn edit(e: &Value, spec: &mut Spec) -> Result<()> {
    for v in e["env"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let name = v.split('=').next().unwrap_or_default();
        let env = array(spec, &["process", "env"])?;
        env.retain(|x| x.as_str().is_none_or(|x| x.split('=').next() != Some(name)));
        env.push(json!(v));
    }
    for (i, n) in e["deviceNodes"].as_array().into_iter().flatten().enumerate() {
        device_node(n, spec).with_context(|| format!("deviceNodes[{i}]"))?;
    }
    for (i, m) in e["mounts"].as_array().into_iter().flatten().enumerate() {
        let (Some(host), Some(ctr)) = (m["hostPath"].as_str(), m["containerPath"].as_str()) else {
            bail!("mounts[{i}]: hostPath and containerPath are required");
        };
        let options = m["options"].as_array().cloned().unwrap_or_else(|| vec![json!("bind")]);
        array(spec, &["mounts"])?.push(json!({"destination": ctr, "source": host,
            "type": m["type"].as_str().unwrap_or("bind"), "options": options}));
    }
    for (i, h) in e["hooks"].as_array().into_iter().flatten().enumerate() {
        let phase = h["hookName"].as_str().unwrap_or_default();
        const PHASES: [&str; 6] = [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ];
        if !PHASES.contains(&phase) || h["path"].as_str().is_none() {
            bail!("hooks[{i}]: hookName {phase:?} is not an OCI hook, or it has no path");
        }
        let mut hook = json!({"path": h["path"]});
        for k in ["args", "env", "timeout"] {
            if !h[k].is_null() {
                hook[k] = h[k].clone();
            }
        }
        array(spec, &["hooks", phase])?.push(hook);
    }
    for g in e["additionalGIDs"].as_array().into_iter().flatten() {
        array(spec, &["process", "user", "additionalGids"])?.push(g.clone());
    }
    Ok(())
}

/// A device node in the container, and the cgroup rule that lets it be used.
fn device_node(n: &Value, spec: &mut Spec) -> Result<()> {
    let path = n["path"].as_str().context("no path")?;
    let host = n["hostPath"].as_str().unwrap_or(path);
    let meta = std::fs::metadata(host).with_context(|| format!("the device node {host} is missing on this host"))?;
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        bail!("{host} is not a device node");
    };
    let rdev = meta.rdev();
    let major = n["major"].as_i64().unwrap_or(libc::major(rdev) as i64);
    let minor = n["minor"].as_i64().unwrap_or(libc::minor(rdev) as i64);
    let mut dev = json!({"path": path, "type": n["type"].as_str().unwrap_or(kind), "major": major, "minor": minor,
        "fileMode": n["fileMode"].as_u64().unwrap_or((meta.mode() & 0o777) as u64)});
    for k in ["uid", "gid"] {
        if !n[k].is_null() {
            dev[k] = n[k].clone();
        }
    }
    let devices = array(spec, &["linux", "devices"])?;
    devices.retain(|d| d["path"] != path);
    devices.push(dev);
    let rule = json!({"allow": true, "type": n["type"].as_str().unwrap_or(kind), "major": major, "minor": minor,
        "access": n["permissions"].as_str().unwrap_or("rwm")});
    array(spec, &["linux", "resources", "devices"])?.push(rule);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        assert_eq!(parse_name("vendor.com/gpu=0").unwrap(), ("vendor.com/gpu", "0"));
        for bad in ["gpu0", "vendor.com/gpu", "vendor=0", "vendor.com/gpu="] {
            assert!(parse_name(bad).unwrap_err().to_string().contains(bad));
        }
    }
}
