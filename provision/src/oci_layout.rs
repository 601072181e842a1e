//! An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/`): find an
//! image by its ref name, pick this machine's platform through nested
//! indexes, and read blobs checked against their digests.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::platform;
use crate::source::{digest_hex, Image, Source, Verified};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub struct Layout {
    pub dir: PathBuf,
}

/// One image of a layout: the layout and the ref name (None: the only one).
pub struct OciSource {
    pub layout: Layout,
    pub tag: Option<String>,
}

fn read_json(p: &Path) -> Result<Value> {
    let data = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("{}: not JSON", p.display()))
}

impl Layout {
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = dir.join("oci-layout");
        let v = read_json(&marker)?;
        if v["imageLayoutVersion"].as_str().is_none_or(|s| !s.starts_with("1.")) {
            bail!(
                "{}: imageLayoutVersion {} is not 1.x",
                marker.display(),
                v["imageLayoutVersion"]
            );
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.dir.join("blobs/sha256").join(digest_hex(digest)?))
    }

    fn raw(&self, digest: &str) -> Result<Vec<u8>> {
        let mut data = vec![];
        self.open_blob(digest, None)?
            .read_to_end(&mut data)
            .with_context(|| format!("{}", self.dir.display()))?;
        Ok(data)
    }

    fn open_blob(&self, digest: &str, size: Option<u64>) -> Result<Verified<std::fs::File>> {
        let p = self.blob_path(digest)?;
        let f = std::fs::File::open(&p).with_context(|| format!("blob {digest}: cannot open {}", p.display()))?;
        Ok(Verified::new(f, digest, size))
    }

    /// The descriptors of index.json.
    pub fn index(&self) -> Result<Vec<Value>> {
        Ok(read_json(&self.dir.join("index.json"))?["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The image named `tag` (or the only one), for this machine.
    pub fn image(&self, tag: Option<&str>) -> Result<Image> {
        let manifests = self.index()?;
        let chosen: Vec<&Value> = match tag {
            Some(t) => manifests.iter().filter(|m| m["annotations"][REF_NAME] == t).collect(),
            None => manifests.iter().collect(),
        };
        let index_path = self.dir.join("index.json");
        let desc = match chosen.as_slice() {
            [one] => (*one).clone(),
            [] => bail!("{}: no image named {:?}", index_path.display(), tag.unwrap_or("")),
            _ => bail!("{}: several images; name one with :TAG", index_path.display()),
        };
        let digest = desc["digest"]
            .as_str()
            .context("index.json: a descriptor without a digest")?;
        platform::resolve(digest, &mut |d| self.raw(d), &mut |d| {
            serde_json::from_slice(&self.raw(d)?).with_context(|| format!("blob {d}: not JSON"))
        })
    }
}

impl Source for OciSource {
    fn describe(&self) -> String {
        format!("oci:{}", self.layout.dir.display())
    }

    fn image(&self) -> Result<Image> {
        self.layout.image(self.tag.as_deref())
    }

    fn blob(&self, digest: &str, size: Option<u64>) -> Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.layout.open_blob(digest, size)?))
    }
}
