//! `hull image pull/ls/inspect/rm/gc`: the image store.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use hull_provision::docker_archive::DockerArchive;
use hull_provision::oci_layout::{Layout, OciSource};
use hull_provision::progress::{human, short, Progress};
use hull_provision::reference::{self, Reference};
use hull_provision::registry::{self, Registry};
use hull_provision::source::Source;
use hull_provision::store::ImageStore;

use crate::cli::{ImageCommand, ImagePullArgs, RegistryArgs};

pub fn run(c: &ImageCommand) -> Result<()> {
    match c {
        ImageCommand::Pull(a) => pull(a),
        ImageCommand::Ls(a) => ls(&ImageStore::open(&a.store.store)?, &a.format, a.quiet),
        ImageCommand::Inspect(a) => inspect(&ImageStore::open(&a.store.store)?, &a.image),
        ImageCommand::Rm(a) => {
            let store = ImageStore::open(&a.store.store)?;
            for i in &a.images {
                store.remove(&name_in_store(&store, i)?)?;
                println!("{i}");
            }
            Ok(())
        }
        ImageCommand::Gc(a) => {
            let g = ImageStore::open(&a.store)?.gc()?;
            println!(
                "removed {} blobs, {} layers, {} stale bundle records; freed {}",
                g.blobs,
                g.layers,
                g.bundle_records,
                human(g.bytes)
            );
            Ok(())
        }
    }
}

pub fn registry_options(r: &RegistryArgs) -> registry::Options {
    registry::Options {
        authfile: r.authfile.clone(),
        certs_dir: Some(r.cert_dir.clone()),
    }
}

/// A source for any reference, and the name it gets in the store.
pub fn open_source(r: &str, reg: &RegistryArgs) -> Result<(Box<dyn Source>, String)> {
    Ok(match reference::parse(r)? {
        Reference::Oci { path, tag } => {
            let src = OciSource {
                layout: Layout::open(&path)?,
                tag,
            };
            (Box::new(src), r.to_string())
        }
        Reference::DockerArchive { path, name } => {
            let a = DockerArchive::open(&path, name.as_deref())?;
            let first = name.or_else(|| a.names.first().cloned());
            let name = match first.map(|n| reference::parse_registry(&n)) {
                Some(Ok(n)) => n.canonical(),
                _ => r.to_string(),
            };
            (Box::new(a), name)
        }
        Reference::Registry(rr) => (
            Box::new(Registry::connect(&rr, &registry_options(reg))?),
            rr.canonical(),
        ),
    })
}

fn pull(a: &ImagePullArgs) -> Result<()> {
    let store = ImageStore::open(&a.store.store)?;
    let (src, name) = open_source(&a.image, &a.registry)?;
    let progress = Progress::new(a.quiet);
    let image = store
        .pull(src.as_ref(), &name, &progress)
        .with_context(|| format!("pull {}", a.image))?;
    progress.line(&format!("{name}: {}", image.digest()));
    println!("{name}");
    Ok(())
}

/// The store's name for what the user typed: as pulled, or its canonical form.
pub fn name_in_store(store: &ImageStore, r: &str) -> Result<String> {
    let images = store.images()?;
    if images.contains_key(r) {
        return Ok(r.to_string());
    }
    if let Ok(rr) = reference::parse_registry(r) {
        if images.contains_key(&rr.canonical()) {
            return Ok(rr.canonical());
        }
    }
    bail!("image {r:?} is not in the store {}", store.root.display())
}

fn ls(store: &ImageStore, format: &str, quiet: bool) -> Result<()> {
    let mut rows = vec![];
    for (name, desc) in store.images()? {
        let image = store.source(&name)?.image()?;
        let size: u64 = image.layers()?.iter().filter_map(|l| l.size).sum();
        rows.push(
            json!({"name": name, "digest": desc["digest"], "layers": image.layers()?.len(), "size": size,
            "created": image.config["created"]}),
        );
    }
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        "table" if quiet => rows
            .iter()
            .for_each(|r| println!("{}", r["name"].as_str().unwrap_or_default())),
        "table" => {
            println!("{:<50} {:<14} {:>6} {:>10}", "NAME", "DIGEST", "LAYERS", "SIZE");
            for r in &rows {
                println!(
                    "{:<50} {:<14} {:>6} {:>10}",
                    r["name"].as_str().unwrap_or_default(),
                    short(r["digest"].as_str().unwrap_or_default()),
                    r["layers"],
                    human(r["size"].as_u64().unwrap_or(0))
                );
            }
        }
        other => bail!("--format {other:?}: not table or json"),
    }
    Ok(())
}

fn inspect(store: &ImageStore, r: &str) -> Result<()> {
    let name = name_in_store(store, r)?;
    let image = store.source(&name)?.image()?;
    let refs = store.refcounts()?;
    let layers: Vec<Value> = image
        .layers()?
        .into_iter()
        .map(|l| {
            let (images, bundles) = refs.get(&l.chain_id).copied().unwrap_or_default();
            let unpacked = store.layers.dir(&l.chain_id).is_ok_and(|d| d.join("rootfs").is_dir());
            json!({"digest": l.digest, "size": l.size, "mediaType": l.media_type, "diffID": l.diff_id,
                "chainID": l.chain_id, "unpacked": unpacked, "images": images, "bundles": bundles})
        })
        .collect();
    let doc = json!({"name": name, "digest": image.digest(), "manifest": image.manifest,
        "config": image.config, "layers": layers});
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
