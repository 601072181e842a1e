//! Loading and checking a bundle's config.json.

mod default;
mod validate;
mod versions;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub use default::{default_spec, rootless_spec};
pub use validate::{check_process, ns_name, validate};
pub use versions::pids_without_limit;

/// A bundle with its parsed, validated config.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// Absolute path of root.path.
    pub rootfs: PathBuf,
    /// The bytes the config was parsed from.
    pub config: Vec<u8>,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        Bundle::load_from(dir, None)
    }

    /// The bundle at `dir` with the config `create` kept at `kept`, when
    /// there is one: changes to config.json after create must not affect
    /// the container (runtime-spec), so exec takes what create read. A
    /// container from an older hull kept none.
    pub fn load_kept(dir: &Path, kept: &Path) -> Result<Bundle> {
        Bundle::load_from(dir, Some(kept).filter(|k| k.exists()))
    }

    fn load_from(dir: &Path, config: Option<&Path>) -> Result<Bundle> {
        let dir = std::fs::canonicalize(dir).with_context(|| format!("bundle {}: cannot open", dir.display()))?;
        let path = config.map_or_else(|| dir.join("config.json"), Path::to_path_buf);
        let text = read_regular(&path, MAX_CONFIG).with_context(|| format!("{}: cannot read", path.display()))?;
        let spec = parse_config(&text, &path.display().to_string())?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| anyhow!("{}: root: missing", path.display()))?;
        let rootfs = dir.join(root.path());
        let rootfs = std::fs::canonicalize(&rootfs).with_context(|| {
            format!(
                "{}: root.path: {:?}: cannot open",
                path.display(),
                root.path().display().to_string()
            )
        })?;
        if !rootfs.is_dir() {
            anyhow::bail!(
                "{}: root.path: {:?} is not a directory",
                path.display(),
                rootfs.display().to_string()
            );
        }
        Ok(Bundle {
            dir,
            spec,
            rootfs,
            config: text,
        })
    }
}

/// config.json is the user's, read whole: past this size it is refused rather
/// than read into memory.
const MAX_CONFIG: u64 = 64 << 20;

/// Reads, parses and validates one config.json; every error names the file,
/// the JSON path of the field and the value.
pub fn load_config(path: &Path) -> Result<Spec> {
    let text = read_regular(path, MAX_CONFIG).with_context(|| format!("{}: cannot read", path.display()))?;
    parse_config(&text, &path.display().to_string())
}

/// Parses and validates config.json's bytes; `file` names it in errors.
pub fn parse_config(text: &[u8], file: &str) -> Result<Spec> {
    let mut value: serde_json::Value =
        serde_json::from_slice(text).with_context(|| format!("{file}: not valid JSON"))?;
    no_nul("", &value).with_context(|| file.to_string())?;
    root_path_given(&value).with_context(|| file.to_string())?;
    crate::process::caps::strip_unknown(&mut value).with_context(|| file.to_string())?;
    versions::read_as_declared(&mut value);
    let spec: Spec = serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.inner().to_string();
        // serde names a missing field in the message, at its parent's path.
        match inner.strip_prefix("missing field `").and_then(|r| r.split_once('`')) {
            Some((field, _)) if at == "." => anyhow!("{file}: {field}: missing"),
            Some((field, _)) => anyhow!("{file}: {at}.{field}: missing"),
            None => anyhow!("{file}: {at}: {inner}"),
        }
    })?;
    validate(&spec).with_context(|| file.to_string())?;
    Ok(spec)
}

/// The bytes of a regular file of at most `max` bytes. Opened non-blocking,
/// so that a FIFO or a device in its place is refused instead of waited on
/// (and a terminal never becomes the caller's).
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > max {
        return Err(std::io::Error::other(format!("{} bytes, more than {max}", meta.len())));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// No string in the config may hold a NUL: the kernel would cut it there
/// (an arg, an env entry, a path, a hostname).
fn no_nul(at: &str, v: &serde_json::Value) -> Result<()> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => bail!("{}: {s:?} holds a NUL byte", at.trim_start_matches('.')),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| no_nul(&format!("{at}[{i}]"), x)),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if k.contains('\0') {
                bail!("{}: the key {k:?} holds a NUL byte", at.trim_start_matches('.'));
            }
            no_nul(&format!("{at}.{k}"), x)
        }),
        _ => Ok(()),
    }
}

/// root.path is REQUIRED and names a directory: oci-spec would default a
/// missing one to "rootfs", and an empty one is the bundle itself.
fn root_path_given(v: &serde_json::Value) -> Result<()> {
    let Some(root) = v.get("root").filter(|r| r.is_object()) else {
        return Ok(());
    };
    match root.get("path") {
        None => bail!("root.path: missing"),
        Some(serde_json::Value::String(p)) if p.is_empty() => bail!("root.path: empty"),
        _ => Ok(()),
    }
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
