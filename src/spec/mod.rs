//! Loading and checking a bundle's config.json.

mod default;
mod validate;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub use default::{default_spec, rootless_spec};
pub use validate::{ns_name, validate};

/// A bundle with its parsed, validated config.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of root.path.
    pub rootfs: PathBuf,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::fs::canonicalize(dir).with_context(|| format!("bundle {}: cannot open", dir.display()))?;
        let spec = load_config(&dir.join("config.json"))?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| anyhow!("{}: root: missing", dir.join("config.json").display()))?;
        let rootfs = dir.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs).with_context(|| {
            format!(
                "{}: root.path: {:?}: cannot open",
                dir.join("config.json").display(),
                root.path().display().to_string()
            )
        })?;
        if !rootfs.is_dir() {
            anyhow::bail!(
                "{}: root.path: {:?} is not a directory",
                dir.join("config.json").display(),
                rootfs.display().to_string()
            );
        }
        Ok(Bundle { dir, spec, rootfs })
    }
}

/// Reads, parses and validates one config.json; every error names the file,
/// the JSON path of the field and the value.
pub fn load_config(path: &Path) -> Result<Spec> {
    let file = path.display();
    let text = std::fs::read(path).with_context(|| format!("{file}: cannot read"))?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{file}: not valid JSON"))?;
    crate::process::caps::strip_unknown(&mut value).with_context(|| file.to_string())?;
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        anyhow!("{file}: {at}: {}", e.inner())
    })?;
    validate(&spec).with_context(|| file.to_string())?;
    Ok(spec)
}

/// The namespace entries of a spec, or none.
pub fn namespaces(spec: &Spec) -> &[oci_spec::runtime::LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[])
}

/// Whether the spec asks for a namespace of this type, new or joined.
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|n| n.typ() == typ)
}

/// Whether the spec asks for a new (not joined) namespace of this type.
pub fn has_new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|n| n.typ() == typ && n.path().is_none())
}

/// Id mappings as /proc/PID/uid_map (and gid_map) take them: one
/// "inside outside count" line each.
pub fn id_map_lines(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}
