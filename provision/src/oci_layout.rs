//! An OCI image layout on disk (`oci-layout`, `index.json`, `blobs/`): find an
//! image by its ref name, pick this machine's platform through nested
//! indexes, and read blobs checked against their digests.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

pub struct Layout {
    pub dir: PathBuf,
}

/// A resolved image: its manifest and config documents.
pub struct Image {
    pub manifest: Value,
    pub config: Value,
}

fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf> {
    let (alg, hex) = digest
        .split_once(':')
        .with_context(|| format!("digest {digest:?}: no algorithm"))?;
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("digest {digest:?}: only sha256 digests are supported");
    }
    Ok(dir.join("blobs").join(alg).join(hex))
}

impl Layout {
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = dir.join("oci-layout");
        let v: Value = serde_json::from_slice(
            &std::fs::read(&marker).with_context(|| format!("{}: cannot read", marker.display()))?,
        )
        .with_context(|| format!("{}: not JSON", marker.display()))?;
        if v["imageLayoutVersion"].as_str().is_none_or(|s| !s.starts_with("1.")) {
            bail!(
                "{}: imageLayoutVersion {} is not 1.x",
                marker.display(),
                v["imageLayoutVersion"]
            );
        }
        Ok(Layout { dir: dir.to_path_buf() })
    }

    /// The path of a blob whose content was checked against its digest
    /// (streamed through sha256, so a large layer is never held in memory).
    pub fn verified_blob(&self, digest: &str) -> Result<PathBuf> {
        let p = blob_path(&self.dir, digest)?;
        let mut f = std::fs::File::open(&p).with_context(|| format!("blob {digest}: cannot open {}", p.display()))?;
        let mut hash = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).with_context(|| format!("blob {digest}: read"))?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
        }
        let got = format!("sha256:{:x}", hash.finalize());
        if got != digest {
            bail!("blob {digest}: content hashes to {got}");
        }
        Ok(p)
    }

    fn json(&self, digest: &str) -> Result<Value> {
        let data = std::fs::read(self.verified_blob(digest)?).with_context(|| format!("blob {digest}: read"))?;
        serde_json::from_slice(&data).with_context(|| format!("blob {digest}: not JSON"))
    }

    /// The image tagged `tag` (or the only one), for linux/amd64.
    pub fn image(&self, tag: Option<&str>) -> Result<Image> {
        let index_path = self.dir.join("index.json");
        let index: Value = serde_json::from_slice(
            &std::fs::read(&index_path).with_context(|| format!("{}: cannot read", index_path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", index_path.display()))?;
        let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        let chosen: Vec<&Value> = match tag {
            Some(t) => manifests
                .iter()
                .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] == t)
                .collect(),
            None => manifests.iter().collect(),
        };
        let desc = match chosen.as_slice() {
            [one] => (*one).clone(),
            [] => bail!("{}: no image named {:?}", index_path.display(), tag.unwrap_or("")),
            _ => bail!("{}: several images; name one with :TAG", index_path.display()),
        };
        self.resolve(&desc, 0)
    }

    fn resolve(&self, desc: &Value, depth: usize) -> Result<Image> {
        if depth > 8 {
            bail!("image indexes nested too deep");
        }
        let digest = desc["digest"].as_str().context("descriptor without a digest")?;
        let doc = self.json(digest)?;
        let media = desc["mediaType"]
            .as_str()
            .or(doc["mediaType"].as_str())
            .unwrap_or_default();
        if INDEX_TYPES.contains(&media) || doc["manifests"].is_array() {
            let list = doc["manifests"].as_array().cloned().unwrap_or_default();
            // The first entry for this machine wins, as the image spec suggests.
            let pick = list
                .iter()
                .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
                .with_context(|| format!("index {digest}: no linux/amd64 image"))?;
            return self.resolve(pick, depth + 1);
        }
        let config_digest = doc["config"]["digest"]
            .as_str()
            .with_context(|| format!("manifest {digest}: no config"))?;
        let config = self.json(config_digest)?;
        Ok(Image { manifest: doc, config })
    }
}
