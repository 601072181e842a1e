//! `docker save` archives, read in place (no extraction): the classic form
//! (manifest.json naming a config and `<id>/layer.tar` files), Docker 25+'s
//! form (an OCI layout plus a manifest.json naming `blobs/sha256/...`), and
//! the legacy form (`repositories` and `<id>/json` parent chains).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::layer::Compression;
use crate::reference::parse_registry;
use crate::source::{digest_hex, digest_of, Image, Source, Verified};

const LAYER_TYPES: [&str; 3] = [
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
];

pub struct DockerArchive {
    path: PathBuf,
    /// Archive member -> (offset, size) of its data.
    entries: HashMap<String, (u64, u64)>,
    image: Image,
    /// Blob digest -> archive member.
    blobs: HashMap<String, String>,
    /// The image's RepoTags.
    pub names: Vec<String>,
}

fn normal(p: &str) -> String {
    p.trim_start_matches("./").to_string()
}

/// Two names for one image: "busybox" and "docker.io/library/busybox:latest" match.
fn same_name(a: &str, b: &str) -> bool {
    a == b || matches!((parse_registry(a), parse_registry(b)), (Ok(x), Ok(y)) if x.canonical() == y.canonical())
}

impl DockerArchive {
    pub fn open(path: &Path, name: Option<&str>) -> Result<DockerArchive> {
        let what = || format!("docker-archive {}", path.display());
        let entries = index(path).with_context(what)?;
        let mut a = DockerArchive {
            path: path.to_path_buf(),
            entries,
            image: Image::from_manifest(b"{}".to_vec(), Value::Null)?,
            blobs: HashMap::new(),
            names: vec![],
        };
        if a.entries.contains_key("manifest.json") {
            a.classic(name).with_context(what)?;
        } else if a.entries.contains_key("repositories") {
            a.legacy(name).with_context(what)?;
        } else {
            bail!(
                "{}: neither manifest.json nor repositories: not a docker save archive",
                what()
            );
        }
        Ok(a)
    }

    fn member(&self, name: &str) -> Result<std::io::Take<std::fs::File>> {
        let (off, size) = *self
            .entries
            .get(name)
            .with_context(|| format!("{name:?} is not in the archive"))?;
        let mut f = std::fs::File::open(&self.path).with_context(|| format!("{}", self.path.display()))?;
        f.seek(SeekFrom::Start(off))?;
        Ok(f.take(size))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let mut v = vec![];
        self.member(name)?
            .read_to_end(&mut v)
            .with_context(|| format!("read {name:?}"))?;
        Ok(v)
    }

    fn json(&self, name: &str) -> Result<Value> {
        serde_json::from_slice(&self.read(name)?).with_context(|| format!("{name:?}: not JSON"))
    }

    /// Docker's layer media type, from the layer's first bytes (Docker 25+
    /// keeps the compressed blobs it pulled).
    fn layer_type(&self, member: &str) -> Result<&'static str> {
        let mut head = [0u8; 4];
        let n = self.member(member)?.read(&mut head)?;
        Ok(match Compression::sniff(&head[..n]) {
            Compression::None => LAYER_TYPES[0],
            Compression::Gzip => LAYER_TYPES[1],
            Compression::Zstd => LAYER_TYPES[2],
        })
    }

    fn classic(&mut self, name: Option<&str>) -> Result<()> {
        let list = self.json("manifest.json")?;
        let list = list.as_array().context("manifest.json: not a list")?;
        let tags = |m: &Value| -> Vec<String> {
            m["RepoTags"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let chosen: Vec<&Value> = match name {
            Some(n) => list
                .iter()
                .filter(|m| tags(m).iter().any(|t| same_name(t, n)))
                .collect(),
            None => list.iter().collect(),
        };
        let m = match chosen.as_slice() {
            [one] => *one,
            [] => bail!("manifest.json: no image tagged {:?}", name.unwrap_or("")),
            _ => bail!("manifest.json: several images; name one with :NAME:TAG"),
        };
        self.names = tags(m);
        let config_path = normal(m["Config"].as_str().context("manifest.json: no Config")?);
        let config_raw = self.read(&config_path)?;
        let config: Value =
            serde_json::from_slice(&config_raw).with_context(|| format!("{config_path:?}: not JSON"))?;
        let diffs = config["rootfs"]["diff_ids"].as_array().cloned().unwrap_or_default();
        let paths: Vec<String> = m["Layers"]
            .as_array()
            .context("manifest.json: no Layers")?
            .iter()
            .map(|l| {
                l.as_str()
                    .map(normal)
                    .context("manifest.json: a layer that is not a path")
            })
            .collect::<Result<_>>()?;
        let mut layers = vec![];
        for (i, p) in paths.iter().enumerate() {
            // Layers named by digest (skopeo, Docker 25+) are checked against
            // it; `<id>/layer.tar` is an uncompressed tar, so its DiffID is its digest.
            let file = p.rsplit('/').next().unwrap_or(p).trim_end_matches(".tar");
            let digest = match digest_hex(&format!("sha256:{file}")) {
                Ok(h) => format!("sha256:{h}"),
                Err(_) => diffs
                    .get(i)
                    .and_then(|d| d.as_str())
                    .with_context(|| format!("{config_path:?}: no rootfs.diff_ids[{i}]"))?
                    .to_string(),
            };
            let size = self
                .entries
                .get(p)
                .with_context(|| format!("layer {p:?} is not in the archive"))?
                .1;
            self.blobs.insert(digest.clone(), p.clone());
            layers.push(json!({"digest": digest, "size": size, "mediaType": self.layer_type(p)?}));
        }
        let config_digest = digest_of(&config_raw);
        self.blobs.insert(config_digest.clone(), config_path);
        self.image = synthesized(config, &config_digest, config_raw.len(), layers)?;
        Ok(())
    }

    fn legacy(&mut self, name: Option<&str>) -> Result<()> {
        let repos = self.json("repositories")?;
        let mut all = vec![];
        for (repo, tags) in repos.as_object().context("repositories: not an object")? {
            for (tag, id) in tags.as_object().into_iter().flatten() {
                all.push((format!("{repo}:{tag}"), id.as_str().unwrap_or_default().to_string()));
            }
        }
        let chosen: Vec<&(String, String)> = match name {
            Some(n) => all.iter().filter(|(t, _)| same_name(t, n)).collect(),
            None => all.iter().collect(),
        };
        let (tag, top) = match chosen.as_slice() {
            [one] => (*one).clone(),
            [] => bail!("repositories: no image tagged {:?}", name.unwrap_or("")),
            _ => bail!("repositories: several images; name one with :NAME:TAG"),
        };
        self.names = vec![tag];
        let mut chain = vec![];
        let mut id = top.clone();
        while !id.is_empty() {
            if chain.len() > 256 || chain.contains(&id) {
                bail!("{id}/json: the parent chain loops or is too long");
            }
            let j = self.json(&format!("{id}/json"))?;
            chain.push(id.clone());
            id = j["parent"].as_str().unwrap_or_default().to_string();
        }
        chain.reverse();
        let top_json = self.json(&format!("{top}/json"))?;
        let mut layers = vec![];
        let mut diffs = vec![];
        for id in &chain {
            let p = format!("{id}/layer.tar");
            let mut hash = Sha256::new();
            let mut r = self.member(&p)?;
            let size = std::io::copy(&mut r, &mut HashWriter(&mut hash)).with_context(|| format!("read {p:?}"))?;
            let digest = format!("sha256:{:x}", hash.finalize());
            self.blobs.insert(digest.clone(), p);
            diffs.push(json!(digest));
            layers.push(json!({"digest": digest, "size": size, "mediaType": LAYER_TYPES[0]}));
        }
        let mut config = json!({"rootfs": {"type": "layers", "diff_ids": diffs}});
        for k in ["architecture", "os", "created", "author", "config"] {
            if !top_json[k].is_null() {
                config[k] = top_json[k].clone();
            }
        }
        let config_raw = serde_json::to_vec(&config)?;
        let config_digest = digest_of(&config_raw);
        self.image = synthesized(config, &config_digest, config_raw.len(), layers)?;
        Ok(())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Docker v2 manifest for what the archive holds, so the rest of hull
/// sees the same image whatever store it came from.
fn synthesized(config: Value, config_digest: &str, config_size: usize, layers: Vec<Value>) -> Result<Image> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    Image::from_manifest(serde_json::to_vec(&manifest)?, config)
}

/// Every regular file of the archive, with where its data starts.
fn index(path: &Path) -> Result<HashMap<String, (u64, u64)>> {
    let f = std::fs::File::open(path).context("cannot open")?;
    let mut ar = tar::Archive::new(std::io::BufReader::new(f));
    let mut out = HashMap::new();
    for e in ar.entries_with_seek().context("not a tar archive")? {
        let e = e.context("not a tar archive")?;
        if e.header().entry_type().is_file() {
            let name = normal(&e.path().context("entry path")?.to_string_lossy());
            out.insert(name, (e.raw_file_position(), e.size()));
        }
    }
    Ok(out)
}

impl Source for DockerArchive {
    fn describe(&self) -> String {
        format!("docker-archive:{}", self.path.display())
    }

    fn image(&self) -> Result<Image> {
        Ok(self.image.clone())
    }

    fn blob(&self, digest: &str, size: Option<u64>) -> Result<Box<dyn Read + Send + '_>> {
        if digest == self.image.digest() {
            return Ok(Box::new(std::io::Cursor::new(self.image.manifest_raw.clone())));
        }
        if self.image.config_digest().ok() == Some(digest) && !self.blobs.contains_key(digest) {
            let raw = serde_json::to_vec(&self.image.config)?;
            return Ok(Box::new(Verified::new(std::io::Cursor::new(raw), digest, size)));
        }
        let member = self
            .blobs
            .get(digest)
            .with_context(|| format!("{}: no blob {digest}", self.describe()))?;
        Ok(Box::new(Verified::new(self.member(member)?, digest, size)))
    }
}
