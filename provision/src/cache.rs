//! Unpacked layers shared between images, keyed by ChainID
//! (`<store>/layers/<hex>/rootfs`), each unpacked once with overlay-style
//! whiteouts. A layer appears under its key only when complete: it is
//! unpacked in `<store>/tmp` and renamed into place, so a crash leaves no
//! half-written entry.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::layer::{self, Whiteouts};
use crate::source::{digest_hex, Layer, Source};

pub struct Store {
    pub root: PathBuf,
}

/// ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(n)).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!("sha256:{:x}", Sha256::digest(format!("{prev} {d}").as_bytes())),
        };
        out.push(next);
    }
    out
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        // An image's setuid programs, unpacked, out of host users' reach.
        for d in ["layers", "tmp"] {
            let dir = root.join(d);
            hull_sys::file::private_dir(&dir).with_context(|| format!("--store {}", dir.display()))?;
        }
        for d in ["layers", "tmp", "locks"] {
            std::fs::create_dir_all(root.join(d))
                .with_context(|| format!("--store {}: cannot create", root.display()))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn dir(&self, chain_id: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers").join(digest_hex(chain_id)?))
    }

    /// The unpacked directory of `layer`, made from its blob in `src` if
    /// missing; its DiffID must match. Two processes wanting the same layer
    /// unpack it once: the second waits for the first.
    pub fn layer(&self, src: &dyn Source, layer: &Layer) -> Result<PathBuf> {
        let dir = self.dir(&layer.chain_id)?;
        let rootfs = dir.join("rootfs");
        if rootfs.is_dir() {
            return Ok(rootfs);
        }
        let hex = digest_hex(&layer.chain_id)?;
        let _lock = hull_sys::file::lock(&self.root.join("locks").join(format!("layer-{hex}")), true)?;
        if rootfs.is_dir() {
            return Ok(rootfs);
        }
        crate::store::remove_stale(&self.root.join("tmp"), hex, false);
        let tmp = self.root.join("tmp").join(format!("{hex}.{}", std::process::id()));
        std::fs::create_dir_all(tmp.join("rootfs"))?;
        let made = src.blob(&layer.digest, layer.size).and_then(|blob| {
            let a = layer::apply_stream(
                blob,
                layer.media_type.as_deref(),
                &tmp.join("rootfs"),
                Whiteouts::Overlay,
            )?;
            if a.diff_id != layer.diff_id {
                bail!(
                    "its content has DiffID {}, the image config says {}",
                    a.diff_id,
                    layer.diff_id
                );
            }
            Ok(())
        });
        let placed = made.and_then(|()| {
            hull_sys::fault::point("pull:layer-unpacked");
            std::fs::rename(&tmp, &dir).with_context(|| format!("rename into {}", dir.display()))
        });
        if let Err(e) = placed {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e).with_context(|| format!("layer {} from {}", layer.digest, src.describe()));
        }
        Ok(rootfs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        assert_eq!(
            ids[1],
            format!("sha256:{:x}", Sha256::digest(format!("{a} {b}").as_bytes()))
        );
    }
}
