use anyhow::{bail, Context, Result};

use hull_provision::backend;
use hull_provision::bundle::{Backend, Request};
use hull_provision::convert::Overrides;
use hull_provision::progress::Progress;
use hull_provision::reference::{self, Reference};
use hull_provision::source::Source;
use hull_provision::store::ImageStore;

use std::path::Path;

use crate::cli::{BundleCreateArgs, RegistryArgs};

/// `auto` goes in Mesos's order: overlay where the kernel has it and the
/// store's filesystem suits it, then aufs, then copy; never bind.
fn choose(name: &str, store: &ImageStore) -> Result<Backend> {
    let tmp = store.root.join("tmp");
    match name {
        "copy" => Ok(Backend::Copy),
        "bind" => Ok(Backend::Bind),
        "overlay" => match backend::overlay_unusable(&tmp) {
            None => Ok(Backend::Overlay),
            Some(why) => bail!("--backend overlay: {why}"),
        },
        "aufs" => bail!("--backend aufs: {}", backend::aufs_unusable()),
        "auto" => match backend::overlay_unusable(&tmp) {
            None => Ok(Backend::Overlay),
            Some(why) => {
                let aufs = backend::aufs_unusable();
                tracing::info!("--backend auto: not overlay ({why}); not aufs ({aufs}); using copy");
                Ok(Backend::Copy)
            }
        },
        other => bail!("--backend {other:?}: not one of auto, overlay, aufs, copy, bind"),
    }
}

fn entrypoint(e: Option<&str>) -> Result<Option<Vec<String>>> {
    Ok(match e {
        None => None,
        Some(e) if e.starts_with('[') => {
            Some(serde_json::from_str(e).with_context(|| format!("--entrypoint {e:?}: not a JSON array of strings"))?)
        }
        Some(e) => Some(vec![e.to_string()]),
    })
}

/// What a bundle is made from, in plain types (`bundle create` and `launch`).
pub struct Make<'a> {
    pub dir: &'a Path,
    pub image: Option<&'a str>,
    pub backend: &'a str,
    pub store: &'a Path,
    pub registry: &'a RegistryArgs,
    pub overrides: Overrides,
    pub quiet: bool,
}

pub fn create(a: &BundleCreateArgs) -> Result<()> {
    make(&Make {
        dir: &a.dir,
        image: a.image.as_deref(),
        backend: &a.backend,
        store: &a.store.store,
        registry: &a.registry,
        overrides: Overrides {
            cmd: a.cmd.clone(),
            entrypoint: entrypoint(a.entrypoint.as_deref())?,
            env: a.env.clone(),
            cwd: a.cwd.clone(),
            user: a.user.clone(),
        },
        quiet: false,
    })
}

pub fn make(m: &Make) -> Result<()> {
    let base = hull::spec::default_spec();
    let Some(image) = m.image else {
        return hull_provision::bundle::create_without_image(m.dir, &base, &m.overrides);
    };
    let store = ImageStore::open(m.store)?;
    let backend = choose(m.backend, &store)?;
    // A registry image is used from the store, pulled first if missing.
    let src: Box<dyn Source> = match reference::parse(image)? {
        Reference::Registry(r) => {
            let name = r.canonical();
            if !store.images()?.contains_key(&name) {
                let (remote, _) = super::image::open_source(image, m.registry)?;
                store.pull(remote.as_ref(), &name, &Progress::new(m.quiet))?;
            }
            Box::new(store.source(&name)?)
        }
        _ => super::image::open_source(image, m.registry)?.0,
    };
    let req = Request {
        dir: m.dir,
        base: &base,
        backend,
        store: &store,
        overrides: &m.overrides,
    };
    hull_provision::bundle::create(src.as_ref(), &req)
}
