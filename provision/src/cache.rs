//! Unpacked layers shared between images, keyed by ChainID
//! (`<store>/layers/<hex>/rootfs`), each unpacked once with overlay-style
//! whiteouts. A layer appears under its key only when complete: it is
//! unpacked in `<store>/tmp` and renamed into place, so a crash leaves no
//! half-written entry and two pulls at once both end with one copy.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::layer::{self, Whiteouts};

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

fn hex(id: &str) -> Result<&str> {
    let h = id
        .strip_prefix("sha256:")
        .with_context(|| format!("{id:?}: not a sha256 id"))?;
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{id:?}: not a sha256 id");
    }
    Ok(h)
}

impl Store {
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["layers", "tmp"] {
            std::fs::create_dir_all(root.join(d))
                .with_context(|| format!("--store {}: cannot create", root.display()))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// The unpacked directory of the layer with this ChainID, made from
    /// `blob` if missing; its DiffID must match.
    pub fn layer(&self, chain_id: &str, diff_id: &str, blob: &Path, media_type: Option<&str>) -> Result<PathBuf> {
        let dir = self.root.join("layers").join(hex(chain_id)?);
        if dir.join("rootfs").is_dir() {
            return Ok(dir.join("rootfs"));
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{}", hex(chain_id)?, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("rootfs"))?;
        let made = layer::apply_file(blob, media_type, &tmp.join("rootfs"), Whiteouts::Overlay).and_then(|a| {
            if a.diff_id != diff_id {
                bail!(
                    "layer {}: its content has DiffID {}, the image config says {diff_id}",
                    blob.display(),
                    a.diff_id
                );
            }
            Ok(())
        });
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        match std::fs::rename(&tmp, &dir) {
            Ok(()) => {}
            // Another pull finished the same layer first: keep theirs.
            Err(_) if dir.join("rootfs").is_dir() => {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            Err(e) => return Err(e).with_context(|| format!("store layer {chain_id}")),
        }
        Ok(dir.join("rootfs"))
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
