//! The image store: `<store>` is itself an OCI image layout (index.json
//! names every pulled image by its full reference, blobs/ holds what they
//! are made of), plus the layer cache (`layers/`) and a record per live
//! bundle (`bundles/`), which is what keeps layers from `gc`.
//!
//! Every entry appears complete or not at all: blobs are written in tmp/,
//! checked against their digest and renamed into place; two processes
//! fetching the same blob take turns on its lock, so it is fetched once.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cache;
use crate::oci_layout::{Layout, OciSource, REF_NAME};
use crate::progress::{Counting, Progress};
use crate::source::{digest_hex, digest_of, Image, Source};
use hull_sys::file::{lock, write_atomic, Lock};

const PARALLEL_FETCHES: usize = 3;
const ATTEMPTS: u32 = 4;

pub struct ImageStore {
    pub root: PathBuf,
    pub layers: cache::Store,
}

/// What `gc` removed.
#[derive(Debug, Default)]
pub struct Collected {
    pub blobs: usize,
    pub layers: usize,
    pub bundle_records: usize,
    pub bytes: u64,
}

fn du(p: &Path) -> u64 {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p)
            .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

impl ImageStore {
    pub fn open(root: &Path) -> Result<ImageStore> {
        let layers = cache::Store::open(root)?;
        // The image's blobs, pulled maybe with credentials, as private as
        // their unpacked layers.
        let blobs = root.join("blobs");
        hull_sys::file::private_dir(&blobs).with_context(|| format!("--store {}", blobs.display()))?;
        for d in ["blobs/sha256", "bundles"] {
            std::fs::create_dir_all(root.join(d))
                .with_context(|| format!("--store {}: cannot create", root.display()))?;
        }
        if !root.join("oci-layout").exists() {
            write_atomic(&root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;
        }
        if !root.join("index.json").exists() {
            write_atomic(
                &root.join("index.json"),
                br#"{"schemaVersion":2,"manifests":[]}"#,
                0o644,
            )?;
        }
        Ok(ImageStore {
            root: root.to_path_buf(),
            layers,
        })
    }

    fn layout(&self) -> Layout {
        Layout { dir: self.root.clone() }
    }

    /// Held (shared) by whatever adds to the store, (exclusive) by gc.
    pub fn use_lock(&self, exclusive: bool) -> Result<Lock> {
        lock(&self.root.join("locks/store"), exclusive)
    }

    /// The images, name -> manifest descriptor.
    pub fn images(&self) -> Result<BTreeMap<String, Value>> {
        Ok(self
            .layout()
            .index()?
            .into_iter()
            .filter_map(|d| Some((d["annotations"][REF_NAME].as_str()?.to_string(), d)))
            .collect())
    }

    /// The image called `name`, readable as a source.
    pub fn source(&self, name: &str) -> Result<OciSource> {
        if !self.images()?.contains_key(name) {
            bail!(
                "image {name:?} is not in the store {} (hull image pull it first)",
                self.root.display()
            );
        }
        Ok(OciSource {
            layout: self.layout(),
            tag: Some(name.to_string()),
        })
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.layout().blob_path(digest).is_ok_and(|p| p.exists())
    }

    /// Stores a blob from `src` unless present, retrying a remote source
    /// with backoff; a blob that fails its digest or size is never stored.
    pub fn put_blob(&self, src: &dyn Source, digest: &str, size: Option<u64>, progress: &Progress) -> Result<()> {
        let hex = digest_hex(digest)?.to_string();
        let dest = self.layout().blob_path(digest)?;
        if dest.exists() {
            return Ok(());
        }
        let _lock = lock(&self.root.join("locks").join(format!("blob-{hex}")), true)?;
        if dest.exists() {
            return Ok(());
        }
        // What a pull killed midway left of this blob: nobody else writes it
        // while we hold its lock.
        remove_stale(&self.root.join("tmp"), &hex, true);
        let tmp = self.root.join("tmp").join(format!("{hex}.{}.part", std::process::id()));
        let attempts = if src.remote() { ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            match self.fetch_to(src, digest, size, &tmp, progress) {
                Ok(()) => {
                    hull_sys::fault::point("pull:blob-fetched");
                    std::fs::rename(&tmp, &dest).with_context(|| format!("store blob {digest}"))?;
                    hull_sys::fault::point("pull:blob-stored");
                    return Ok(());
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    progress.line(&format!("blob {digest}: attempt {} failed: {e:#}", attempt + 1));
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
    }

    fn fetch_to(
        &self,
        src: &dyn Source,
        digest: &str,
        size: Option<u64>,
        tmp: &Path,
        progress: &Progress,
    ) -> Result<()> {
        let transfer = progress.start(digest, size);
        let mut r = Counting {
            inner: src.blob(digest, size)?,
            transfer: &transfer,
            count: 0,
        };
        let mut f = std::fs::File::create(tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        std::io::copy(&mut r, &mut f).with_context(|| format!("blob {digest} from {}", src.describe()))?;
        f.flush()?;
        let n = r.count;
        progress.done(transfer, n);
        Ok(())
    }

    fn put_bytes(&self, data: &[u8]) -> Result<String> {
        let digest = digest_of(data);
        let p = self.layout().blob_path(&digest)?;
        if !p.exists() {
            write_atomic(&p, data, 0o644)?;
        }
        Ok(digest)
    }

    /// Copies the image from `src` into the store under `name`, unpacking
    /// its layers into the cache; the name appears only once all is there.
    pub fn pull(&self, src: &dyn Source, name: &str, progress: &Progress) -> Result<Image> {
        let _use = self.use_lock(false)?;
        let image = src.image()?;
        let layers = image.layers()?;
        let config_digest = image.config_digest()?.to_string();
        self.put_blob(src, &config_digest, image.manifest["config"]["size"].as_u64(), progress)?;
        let todo: Vec<_> = layers.iter().filter(|l| !self.has_blob(&l.digest)).collect();
        for chunk in todo.chunks(PARALLEL_FETCHES) {
            std::thread::scope(|s| {
                let jobs: Vec<_> = chunk
                    .iter()
                    .map(|l| s.spawn(|| self.put_blob(src, &l.digest, l.size, progress)))
                    .collect();
                jobs.into_iter()
                    .map(|j| {
                        j.join()
                            .unwrap_or_else(|_| Err(anyhow::anyhow!("a fetch thread panicked")))
                    })
                    .collect::<Result<Vec<()>>>()
            })?;
        }
        let digest = self.put_bytes(&image.manifest_raw)?;
        let stored = OciSource {
            layout: self.layout(),
            tag: None,
        };
        for l in &layers {
            self.layers.layer(&stored, l)?;
        }
        hull_sys::fault::point("pull:layers-unpacked");
        let media = image.manifest["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json");
        self.tag(
            name,
            json!({"mediaType": media, "digest": digest, "size": image.manifest_raw.len(), "annotations": {REF_NAME: name}}),
        )?;
        Ok(image)
    }

    fn edit_index(&self, edit: impl FnOnce(&mut Vec<Value>)) -> Result<()> {
        let _lock = lock(&self.root.join("locks/index"), true)?;
        let mut list = self.layout().index()?;
        edit(&mut list);
        let doc =
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": list});
        write_atomic(&self.root.join("index.json"), &serde_json::to_vec_pretty(&doc)?, 0o644)
    }

    fn tag(&self, name: &str, desc: Value) -> Result<()> {
        self.edit_index(|list| {
            list.retain(|d| d["annotations"][REF_NAME] != name);
            list.push(desc);
        })
    }

    /// Forgets the name; what only it used goes at the next gc.
    pub fn remove(&self, name: &str) -> Result<()> {
        if !self.images()?.contains_key(name) {
            bail!("image {name:?} is not in the store {}", self.root.display());
        }
        self.edit_index(|list| list.retain(|d| d["annotations"][REF_NAME] != name))
    }

    fn record_path(&self, bundle: &Path) -> PathBuf {
        let key = digest_of(bundle.as_os_str().as_encoded_bytes());
        self.root.join("bundles").join(format!("{}.json", &key[7..]))
    }

    /// Notes that the bundle in `dir` uses these layers; `marker` is the file
    /// in the bundle whose presence says the bundle is still there.
    pub fn add_bundle(&self, dir: &Path, marker: &Path, chain_ids: &[String]) -> Result<()> {
        let rec = json!({"dir": dir, "marker": marker, "layers": chain_ids});
        write_atomic(&self.record_path(dir), &serde_json::to_vec(&rec)?, 0o644)
    }

    pub fn remove_bundle(&self, dir: &Path) -> Result<()> {
        match std::fs::remove_file(self.record_path(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).context("remove the bundle's record"),
            _ => Ok(()),
        }
    }

    /// The bundle records, each with whether its bundle is still there.
    fn bundles(&self) -> Result<Vec<(PathBuf, Value, bool)>> {
        let mut out = vec![];
        for e in std::fs::read_dir(self.root.join("bundles"))?.flatten() {
            let Ok(rec) = serde_json::from_slice::<Value>(&std::fs::read(e.path()).unwrap_or_default()) else {
                out.push((e.path(), Value::Null, false));
                continue;
            };
            let live = rec["marker"].as_str().is_some_and(|m| Path::new(m).exists());
            out.push((e.path(), rec, live));
        }
        Ok(out)
    }

    /// Per layer (ChainID): how many images and how many live bundles use it.
    pub fn refcounts(&self) -> Result<BTreeMap<String, (usize, usize)>> {
        let mut refs: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for name in self.images()?.keys() {
            for l in self.source(name)?.image()?.layers()? {
                refs.entry(l.chain_id).or_default().0 += 1;
            }
        }
        for (_, rec, live) in self.bundles()? {
            for c in rec["layers"].as_array().into_iter().flatten().filter(|_| live) {
                refs.entry(c.as_str().unwrap_or_default().to_string()).or_default().1 += 1;
            }
        }
        Ok(refs)
    }

    /// Removes every blob no image names, every layer no image and no live
    /// bundle uses, stale bundle records and leftovers of dead pulls.
    pub fn gc(&self) -> Result<Collected> {
        let _excl = self.use_lock(true)?;
        let mut done = Collected::default();
        let mut blobs = HashSet::new();
        for (name, desc) in self.images()? {
            blobs.insert(desc["digest"].as_str().unwrap_or_default().to_string());
            let image = self.source(&name)?.image().with_context(|| format!("image {name}"))?;
            blobs.insert(image.digest());
            blobs.insert(image.config_digest()?.to_string());
            blobs.extend(image.layers()?.into_iter().map(|l| l.digest));
        }
        for (path, _, live) in self.bundles()? {
            if !live {
                let _ = std::fs::remove_file(path);
                done.bundle_records += 1;
            }
        }
        let used: HashSet<String> = self
            .refcounts()?
            .into_keys()
            .filter_map(|c| digest_hex(&c).ok().map(String::from))
            .collect();
        for e in std::fs::read_dir(self.root.join("blobs/sha256"))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !blobs.contains(&format!("sha256:{name}")) {
                done.bytes += du(&e.path());
                std::fs::remove_file(e.path()).with_context(|| format!("remove {}", e.path().display()))?;
                done.blobs += 1;
            }
        }
        for e in std::fs::read_dir(self.root.join("layers"))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !used.contains(&name) {
                done.bytes += du(&e.path());
                // Out of layers/ first, whole: a removal that fails or is
                // cut short half-way must not leave a part of the layer
                // where the next pull takes it for all of it.
                let doomed = self.root.join("tmp").join(format!("gc-{}-{name}", std::process::id()));
                std::fs::rename(e.path(), &doomed).with_context(|| format!("move {} out", e.path().display()))?;
                std::fs::remove_dir_all(&doomed).with_context(|| format!("remove {}", doomed.display()))?;
                done.layers += 1;
            }
        }
        // Nothing else holds the store: whatever is in tmp/ is a dead pull's,
        // and no blob or layer lock is taken.
        for e in std::fs::read_dir(self.root.join("tmp"))?.flatten() {
            done.bytes += du(&e.path());
            let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
        }
        for e in std::fs::read_dir(self.root.join("locks"))?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("blob-") || n.starts_with("layer-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(done)
    }
}

/// Removes what a process killed while writing blob `hex` (`blob`: a
/// `.part` file) or unpacking layer `hex` (a directory) left in tmp/; the
/// caller holds that blob's or layer's lock.
pub(crate) fn remove_stale(dir: &Path, hex: &str, blob: bool) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{hex}.")) && name.ends_with(".part") == blob {
            let p = e.path();
            let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
        }
    }
}
