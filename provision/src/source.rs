//! What every image store (an OCI layout, a `docker save` archive, a
//! registry) gives: the image's manifest and config, and its blobs as
//! streams checked against their digests as they are read.

use std::io::Read;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A resolved image (this machine's platform, indexes followed).
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest exactly as stored, so its digest can be checked and kept.
    pub manifest_raw: Vec<u8>,
    pub manifest: Value,
    pub config: Value,
}

/// One layer of an image, with the ids the cache and the checks need.
#[derive(Debug, Clone)]
pub struct Layer {
    pub digest: String,
    pub size: Option<u64>,
    pub media_type: Option<String>,
    pub diff_id: String,
    pub chain_id: String,
}

impl Image {
    pub fn from_manifest(raw: Vec<u8>, config: Value) -> Result<Image> {
        let manifest = serde_json::from_slice(&raw).context("manifest: not JSON")?;
        Ok(Image {
            manifest_raw: raw,
            manifest,
            config,
        })
    }

    pub fn digest(&self) -> String {
        digest_of(&self.manifest_raw)
    }

    pub fn config_digest(&self) -> Result<&str> {
        self.manifest["config"]["digest"]
            .as_str()
            .context("manifest: no config.digest")
    }

    /// The layers, bottom first, each with its DiffID and ChainID; the
    /// manifest and the config must agree on how many there are.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let descs = self.manifest["layers"].as_array().cloned().unwrap_or_default();
        let diffs: Vec<String> = self.config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if diffs.len() != descs.len() {
            bail!(
                "image: the manifest has {} layers but the config's rootfs.diff_ids has {}",
                descs.len(),
                diffs.len()
            );
        }
        let chains = crate::cache::chain_ids(&diffs);
        descs
            .iter()
            .zip(diffs)
            .zip(chains)
            .enumerate()
            .map(|(i, ((d, diff_id), chain_id))| {
                Ok(Layer {
                    digest: d["digest"]
                        .as_str()
                        .with_context(|| format!("manifest layers[{i}]: no digest"))?
                        .to_string(),
                    size: d["size"].as_u64(),
                    media_type: d["mediaType"].as_str().map(String::from),
                    diff_id,
                    chain_id,
                })
            })
            .collect()
    }
}

pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// The hex part of a sha256 digest, refused unless well formed (digests
/// become file names).
pub fn digest_hex(digest: &str) -> Result<&str> {
    let h = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("digest {digest:?}: only sha256 digests are supported"))?;
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        bail!("digest {digest:?}: not sha256:<64 lowercase hex digits>");
    }
    Ok(h)
}

pub trait Source: Sync {
    /// Where the image comes from, for messages.
    fn describe(&self) -> String;
    fn image(&self) -> Result<Image>;
    /// Whether a failed read is worth retrying (a network store).
    fn remote(&self) -> bool {
        false
    }
    /// The blob's bytes, checked against `digest` (and `size` if known) when
    /// the stream ends: a reader that gets to the end without an error has
    /// read exactly the blob.
    fn blob(&self, digest: &str, size: Option<u64>) -> Result<Box<dyn Read + Send + '_>>;

    /// A small blob (a config) read whole and checked.
    fn json_blob(&self, digest: &str) -> Result<Value> {
        const LIMIT: u64 = 64 << 20;
        let mut data = vec![];
        self.blob(digest, None)?
            .take(LIMIT + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("blob {digest}"))?;
        if data.len() as u64 > LIMIT {
            bail!("blob {digest}: over {LIMIT} bytes, too large for a JSON document");
        }
        serde_json::from_slice(&data).with_context(|| format!("blob {digest}: not JSON"))
    }
}

/// Checks a stream against a digest and size as it is read: the end of the
/// stream is an InvalidData error unless both match.
pub struct Verified<R> {
    inner: R,
    hash: Sha256,
    read: u64,
    digest: String,
    size: Option<u64>,
}

impl<R: Read> Verified<R> {
    pub fn new(inner: R, digest: &str, size: Option<u64>) -> Verified<R> {
        Verified {
            inner,
            hash: Sha256::new(),
            read: 0,
            digest: digest.to_string(),
            size,
        }
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.size.is_some_and(|s| self.read > s) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("blob {}: longer than its {} bytes", self.digest, self.size.unwrap_or(0)),
            ));
        }
        if n > 0 {
            self.hash.update(&buf[..n]);
            return Ok(n);
        }
        if let Some(s) = self.size.filter(|s| *s != self.read) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("blob {}: {} bytes where {s} were expected", self.digest, self.read),
            ));
        }
        let got = format!("sha256:{:x}", self.hash.clone().finalize());
        if got != self.digest {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("blob {}: its content hashes to {got}", self.digest),
            ));
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_reads_check_digest_and_size() {
        let data = b"hello".to_vec();
        let d = digest_of(&data);
        let mut out = vec![];
        Verified::new(&data[..], &d, Some(5)).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        let e = Verified::new(&b"hellx"[..], &d, None)
            .read_to_end(&mut vec![])
            .unwrap_err();
        assert!(e.to_string().contains("hashes to"), "{e}");
        let e = Verified::new(&b"hell"[..], &d, Some(5))
            .read_to_end(&mut vec![])
            .unwrap_err();
        assert!(e.to_string().contains("4 bytes where 5"), "{e}");
        assert!(digest_hex("sha256:../../etc").is_err());
    }
}
