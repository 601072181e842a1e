//! Following image indexes (OCI) and manifest lists (Docker) down to the
//! manifest for this machine, the same for every store.

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::source::{digest_of, Image};

pub const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

pub const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// This machine's platform as the image spec names it.
pub fn this_machine() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    ("linux", arch)
}

/// The first entry for this machine wins, as the image spec suggests; a
/// variant is only compared where this machine has one (arm).
pub fn pick(list: &[Value]) -> Option<&Value> {
    let (os, arch) = this_machine();
    list.iter()
        .find(|m| m["platform"]["os"] == os && m["platform"]["architecture"] == arch)
}

pub fn is_index(doc: &Value) -> bool {
    doc["mediaType"].as_str().is_some_and(|m| INDEX_TYPES.contains(&m))
        || (doc["manifests"].is_array() && !doc["layers"].is_array())
}

/// The image whose manifest or index has `digest`: `raw` reads a blob
/// (checked against its digest), `json` reads and parses one.
pub fn resolve(
    digest: &str,
    raw: &mut dyn FnMut(&str) -> Result<Vec<u8>>,
    json: &mut dyn FnMut(&str) -> Result<Value>,
) -> Result<Image> {
    let mut digest = digest.to_string();
    for _ in 0..8 {
        let data = raw(&digest)?;
        if digest_of(&data) != digest {
            bail!("manifest {digest}: its content hashes to {}", digest_of(&data));
        }
        let doc: Value = serde_json::from_slice(&data).with_context(|| format!("manifest {digest}: not JSON"))?;
        if is_index(&doc) {
            let list = doc["manifests"].as_array().cloned().unwrap_or_default();
            let (os, arch) = this_machine();
            let next = pick(&list).with_context(|| format!("index {digest}: no {os}/{arch} image"))?;
            digest = next["digest"]
                .as_str()
                .with_context(|| format!("index {digest}: an entry without a digest"))?
                .to_string();
            continue;
        }
        if doc["schemaVersion"] == 1 {
            bail!("manifest {digest}: Docker schema 1 manifests are not supported");
        }
        let config_digest = doc["config"]["digest"]
            .as_str()
            .with_context(|| format!("manifest {digest}: no config"))?;
        let config = json(config_digest)?;
        return Image::from_manifest(data, config);
    }
    bail!("image indexes nested too deep (more than 8)")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn an_index_resolves_to_this_machines_manifest() {
        let config = json!({"rootfs": {"diff_ids": []}});
        let cfg_raw = serde_json::to_vec(&config).unwrap();
        let manifest = |arch: &str| {
            serde_json::to_vec(
                &json!({"schemaVersion": 2, "mediaType": MANIFEST_TYPES[0], "arch": arch,
                "config": {"digest": digest_of(&cfg_raw)}, "layers": []}),
            )
            .unwrap()
        };
        let (arm, amd) = (manifest("arm64"), manifest("amd64"));
        let (os, arch) = this_machine();
        let entry = |raw: &[u8], a: &str| json!({"digest": digest_of(raw), "platform": {"os": os, "architecture": a}});
        let inner = serde_json::to_vec(
            &json!({"mediaType": INDEX_TYPES[1], "manifests": [entry(&arm, "arm64-not-this"), entry(&amd, arch)]}),
        )
        .unwrap();
        let outer =
            serde_json::to_vec(&json!({"mediaType": INDEX_TYPES[0], "manifests": [entry(&inner, arch)]})).unwrap();
        let blobs: HashMap<String, Vec<u8>> = [&arm, &amd, &inner, &outer, &cfg_raw]
            .iter()
            .map(|b| (digest_of(b), b.to_vec()))
            .collect();
        let mut raw = |d: &str| blobs.get(d).cloned().context("missing");
        let mut js = |d: &str| Ok(serde_json::from_slice(&blobs[d])?);
        let img = resolve(&digest_of(&outer), &mut raw, &mut js).unwrap();
        assert_eq!(img.manifest["arch"], "amd64");
        let mut bad = |d: &str| {
            let mut v = blobs.get(d).cloned().context("missing")?;
            v.push(b' ');
            Ok(v)
        };
        assert!(
            resolve(&digest_of(&outer), &mut bad, &mut js).is_err(),
            "a manifest must match its digest"
        );
    }
}
