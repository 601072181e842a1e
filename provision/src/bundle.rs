//! `bundle create` and `bundle rm`: an image (from any store) becomes an OCI
//! bundle, DIR/config.json and DIR/rootfs, through one of the backends; or,
//! with no image, a bundle whose rootfs is the host's, read-only.
//!
//! DIR/.hull-bundle.json says what create made, so rm removes exactly that,
//! and its presence is what keeps the bundle's layers from the store's gc.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::backend;
use crate::convert::{self, Overrides};
use crate::layer;
use crate::source::{Layer, Source};
use crate::store::ImageStore;

const MARKER: &str = ".hull-bundle.json";

/// The backends a bundle's rootfs can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Every layer applied into the bundle's own rootfs directory.
    Copy,
    /// The cached layers as overlayfs lower dirs, with the bundle's own upper dir.
    Overlay,
    /// The one cached layer of a single-layer image, bound read-only.
    Bind,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Copy => "copy",
            Backend::Overlay => "overlay",
            Backend::Bind => "bind",
        }
    }
}

pub struct Request<'a> {
    pub dir: &'a Path,
    /// hull spec's defaults, which the image's settings go over.
    pub base: &'a Value,
    pub backend: Backend,
    pub store: &'a ImageStore,
    pub overrides: &'a Overrides,
}

fn refuse_existing(dir: &Path) -> Result<()> {
    for part in ["config.json", "rootfs", "upper", "work", MARKER] {
        if dir.join(part).exists() {
            bail!("{}: already holds a bundle ({part} exists)", dir.display());
        }
    }
    Ok(())
}

/// The bundle directory: its config.json, and for an image what the
/// container writes (the overlay's upper directory), are under it, so one
/// hull makes is root's alone; one the caller made must be a directory of
/// the caller's own, not a link, and keeps its mode, with a warning where
/// others can reach it. Answers whether it made the directory.
fn bundle_dir(dir: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return hull_sys::file::private_dir(dir).map(|()| true);
    };
    if !m.is_dir() {
        bail!("{}: not a directory (a link is not followed)", dir.display());
    }
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != me {
        bail!(
            "{}: owned by uid {}; a bundle goes in a directory of uid {me}'s own",
            dir.display(),
            m.uid()
        );
    }
    if m.mode() & 0o077 != 0 {
        tracing::warn!(
            "{}: mode {:o}: other users can reach the bundle under it (its config.json; with an image, what the container writes, setuid programs too): chmod 0700 it",
            dir.display(),
            m.mode() & 0o7777
        );
    }
    Ok(false)
}

/// After a failed create: what it made goes, the directory too if it made
/// that (one the caller made stays, empty, as `bundle rm` leaves it).
fn undo(dir: &Path, made_dir: bool) {
    let _ = remove(dir);
    if made_dir {
        let _ = std::fs::remove_dir(dir);
    }
}

/// DIR/rootfs and DIR/config.json from the image in `src`. A failure
/// removes what it made.
pub fn create(src: &dyn Source, req: &Request) -> Result<()> {
    refuse_existing(req.dir)?;
    let made_dir = bundle_dir(req.dir)?;
    let dir = std::fs::canonicalize(req.dir).with_context(|| format!("{}: cannot open", req.dir.display()))?;
    let made = (|| -> Result<()> {
        // First, so that rm (also on a failure here) knows what to remove.
        mark(&dir, req)?;
        hull_sys::fault::point("bundle:marked");
        // Held until the bundle's record is written: gc must not take the
        // layers between their unpacking and the record that keeps them.
        let _use = req.store.use_lock(false)?;
        let image = src.image()?;
        let layers = image.layers()?;
        let rootfs = dir.join("rootfs");
        let used = match req.backend {
            Backend::Copy => {
                copy(src, &layers, &rootfs)?;
                vec![]
            }
            Backend::Overlay | Backend::Bind => {
                let lower = layers
                    .iter()
                    .map(|l| req.store.layers.layer(src, l))
                    .collect::<Result<Vec<_>>>()?;
                if req.backend == Backend::Bind {
                    let [one] = lower.as_slice() else {
                        bail!(
                            "--backend bind: the image has {} layers; bind takes single-layer images only",
                            lower.len()
                        );
                    };
                    backend::bind_mount(one, &rootfs)?;
                } else {
                    backend::overlay_mount(&lower, &dir)?;
                }
                layers.iter().map(|l| l.chain_id.clone()).collect()
            }
        };
        hull_sys::fault::point("bundle:rootfs");
        if !used.is_empty() {
            req.store.add_bundle(&dir, &dir.join(MARKER), &used)?;
            hull_sys::fault::point("bundle:recorded");
        }
        let mut spec = convert::runtime_config(&image.config, req.base, &rootfs, req.overrides)?;
        if req.backend == Backend::Bind {
            spec["root"]["readonly"] = json!(true);
        }
        write_config(&dir, &spec)
    })();
    if made.is_err() {
        undo(&dir, made_dir);
    }
    made
}

/// Copy backend: every layer applied in order, each checked against its
/// digest and DiffID as it streams.
fn copy(src: &dyn Source, layers: &[Layer], rootfs: &Path) -> Result<()> {
    std::fs::create_dir_all(rootfs).with_context(|| format!("{}: cannot create", rootfs.display()))?;
    for (i, l) in layers.iter().enumerate() {
        let what = || format!("layers[{i}] {} from {}", l.digest, src.describe());
        let blob = src.blob(&l.digest, l.size).with_context(what)?;
        let a =
            layer::apply_stream(blob, l.media_type.as_deref(), rootfs, layer::Whiteouts::Apply).with_context(what)?;
        if a.diff_id != l.diff_id {
            bail!(
                "{}: DiffID {} but the image config says {}",
                what(),
                a.diff_id,
                l.diff_id
            );
        }
    }
    Ok(())
}

fn mark(dir: &Path, req: &Request) -> Result<()> {
    let m = json!({"backend": req.backend.name(), "store": req.store.root});
    hull_sys::file::write_atomic(&dir.join(MARKER), &serde_json::to_vec(&m)?, 0o644)
}

fn write_config(dir: &Path, spec: &Value) -> Result<()> {
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(spec)?)
        .with_context(|| format!("{}: cannot write", dir.join("config.json").display()))
}

/// A bundle with no image (Mesos's containers without one): the host's root
/// read-only, with the container's own /proc, /dev, /sys and /tmp.
pub fn create_without_image(dir: &Path, base: &Value, over: &Overrides) -> Result<()> {
    refuse_existing(dir)?;
    if over.cmd.is_empty() && over.entrypoint.is_none() {
        bail!("--no-image: give the command to run after the bundle directory");
    }
    let made_dir = bundle_dir(dir)?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("{}: cannot open", dir.display()))?;
    let made = (|| -> Result<()> {
        let m = json!({"backend": "host"});
        hull_sys::file::write_atomic(&dir.join(MARKER), &serde_json::to_vec(&m)?, 0o644)?;
        backend::bind_host_root(&dir.join("rootfs"))?;
        write_config(&dir, &no_image_spec(base, over)?)
    })();
    if made.is_err() {
        undo(&dir, made_dir);
    }
    made
}

fn no_image_spec(base: &Value, over: &Overrides) -> Result<Value> {
    let image = json!({"config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}});
    let mut spec = convert::runtime_config(&image, base, Path::new("/"), over)?;
    spec["root"] = json!({"path": "rootfs", "readonly": true});
    spec["mounts"].as_array_mut().context("base spec: mounts")?.push(
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}),
    );
    spec["annotations"] = json!({"org.hull.no-image": "true"});
    Ok(spec)
}

fn remove_tree(p: &Path) -> Result<()> {
    if p.exists() {
        hull_sys::file::retry_busy(|| std::fs::remove_dir_all(p)).with_context(|| format!("remove {}", p.display()))?;
    }
    Ok(())
}

/// `bundle rm`: unmounts and removes exactly what create made in DIR.
pub fn remove(dir: &Path) -> Result<()> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("{}: cannot open", dir.display()))?;
    let marker: Value = match std::fs::read(dir.join(MARKER)) {
        Ok(d) => serde_json::from_slice(&d).with_context(|| format!("{}: not JSON", dir.join(MARKER).display()))?,
        Err(_) => bail!(
            "{}: no {MARKER}: not a bundle hull made; not touching it",
            dir.display()
        ),
    };
    let rootfs = dir.join("rootfs");
    backend::unmount(&rootfs)?;
    // Only the copy backend's rootfs has content of its own; any other is an
    // empty mount point, and nothing may be mounted in any, or removing it
    // could reach the layers or the host.
    if backend::mounts_under(&rootfs) {
        bail!(
            "{}: something is still mounted there; not removing it",
            rootfs.display()
        );
    }
    let backend = marker["backend"].as_str().unwrap_or_default();
    if backend == "copy" {
        remove_tree(&rootfs)?;
    } else if rootfs.exists() {
        hull_sys::file::retry_busy(|| std::fs::remove_dir(&rootfs))
            .with_context(|| format!("remove {}", rootfs.display()))?;
    }
    if backend == "overlay" {
        for part in ["upper", "work"] {
            remove_tree(&dir.join(part))?;
        }
    }
    if let Some(store) = marker["store"].as_str() {
        ImageStore::open(Path::new(store))?.remove_bundle(&dir)?;
    }
    for f in ["config.json", MARKER] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("remove {}", p.display()))?;
        }
    }
    Ok(())
}
