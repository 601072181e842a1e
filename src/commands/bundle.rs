use anyhow::{bail, Context, Result};

use hull_provision::backend;
use hull_provision::bundle::{Backend, Request};
use hull_provision::convert::Overrides;
use hull_provision::progress::Progress;
use hull_provision::reference::{self, Reference};
use hull_provision::source::Source;
use hull_provision::store::ImageStore;

use crate::cli::BundleCreateArgs;

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

fn overrides(a: &BundleCreateArgs) -> Result<Overrides> {
    let entrypoint = match a.entrypoint.as_deref() {
        None => None,
        Some(e) if e.starts_with('[') => {
            Some(serde_json::from_str(e).with_context(|| format!("--entrypoint {e:?}: not a JSON array of strings"))?)
        }
        Some(e) => Some(vec![e.to_string()]),
    };
    Ok(Overrides {
        cmd: a.cmd.clone(),
        entrypoint,
        env: a.env.clone(),
        cwd: a.cwd.clone(),
        user: a.user.clone(),
    })
}

pub fn create(a: &BundleCreateArgs) -> Result<()> {
    let over = overrides(a)?;
    let base = crate::spec::default_spec();
    let Some(image) = a.image.as_deref() else {
        return hull_provision::bundle::create_without_image(&a.dir, &base, &over);
    };
    let store = ImageStore::open(&a.store.store)?;
    let backend = choose(&a.backend, &store)?;
    // A registry image is used from the store, pulled first if missing.
    let src: Box<dyn Source> = match reference::parse(image)? {
        Reference::Registry(r) => {
            let name = r.canonical();
            if !store.images()?.contains_key(&name) {
                let (remote, _) = super::image::open_source(image, &a.registry)?;
                store.pull(remote.as_ref(), &name, &Progress::new(false))?;
            }
            Box::new(store.source(&name)?)
        }
        _ => super::image::open_source(image, &a.registry)?.0,
    };
    let req = Request {
        dir: &a.dir,
        base: &base,
        backend,
        store: &store,
        overrides: &over,
    };
    hull_provision::bundle::create(src.as_ref(), &req)
}
