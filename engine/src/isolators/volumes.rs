//! volume/host_path (`-v HOST:CTR[:OPTS]`) and volume/sandbox_path
//! (`-v sandbox:NAME:CTR[:OPTS]`: a directory the engine keeps by name,
//! shared by every container that names it) and volume/image
//! (`--image-volume IMAGE:CTR`: another image's rootfs, read-only).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::array;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox};
use crate::request::{Request, Volume, VolumeSource};

pub fn bind(spec: &mut Spec, source: &Path, v: &Volume) -> Result<()> {
    let mut options = vec!["rbind".to_string()];
    if !v.options.iter().any(|o| o == "ro" || o == "rw") {
        options.push("rw".into());
    }
    options.extend(v.options.iter().cloned());
    array(spec, &["mounts"])?.push(json!({
        "destination": v.target, "type": "bind", "source": source, "options": options
    }));
    Ok(())
}

pub struct HostPath;

impl Isolator for HostPath {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        for v in &req.volumes {
            if let VolumeSource::Host(p) = &v.source {
                bind(spec, p, v)?;
            }
        }
        Ok(())
    }
}

/// Where the engine keeps the named sandbox volumes.
pub fn shared_dir(sb: &Sandbox, name: &str) -> PathBuf {
    let engine_dir = sb.dir.parent().unwrap_or(Path::new("/"));
    engine_dir.join(".volumes").join(name)
}

pub struct SandboxPath;

impl Isolator for SandboxPath {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        for v in &req.volumes {
            if let VolumeSource::Sandbox(name) = &v.source {
                let dir = shared_dir(sb, name);
                // What containers write there: out of host users' reach, as
                // a container's own directory.
                let volumes = dir.parent().unwrap_or(&dir);
                hull_sys::file::private_dir(volumes)
                    .with_context(|| format!("-v sandbox:{name}: {}", volumes.display()))?;
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("-v sandbox:{name}: create {}", dir.display()))?;
                bind(spec, &dir, v)?;
            }
        }
        Ok(())
    }
}

/// The bundle that holds the `i`th image volume's rootfs.
fn image_bundle(sb: &Sandbox, i: usize) -> PathBuf {
    sb.dir.join(format!("image-volume-{i}"))
}

pub struct Image;

impl Isolator for Image {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        for (i, (image, target)) in req.image_volumes.iter().enumerate() {
            let dir = image_bundle(sb, i);
            crate::commands::bundle::make(&crate::commands::bundle::Make {
                dir: &dir,
                image: Some(image),
                backend: "auto",
                store: &req.store,
                registry: &req.registry,
                overrides: Default::default(),
                quiet: true,
            })
            .with_context(|| format!("--image-volume {image}:{target}"))?;
            let v = Volume {
                source: VolumeSource::Host(dir.join("rootfs")),
                target: target.clone(),
                options: vec!["ro".into()],
            };
            bind(spec, &dir.join("rootfs"), &v)?;
        }
        Ok(())
    }

    fn cleanup(&self, _rec: &Record, sb: &Sandbox) -> Result<()> {
        for i in 0.. {
            let dir = image_bundle(sb, i);
            if !dir.exists() {
                return Ok(());
            }
            hull_provision::bundle::remove(&dir)?;
        }
        Ok(())
    }
}
