use std::path::PathBuf;

use anyhow::{bail, Result};

use hull_provision::bundle::Backend;

use crate::cli::BundleCreateArgs;

/// "oci:PATH[:TAG]" -> (PATH, TAG).
pub fn parse_oci_ref(r: &str) -> Result<(PathBuf, Option<String>)> {
    let Some(rest) = r.strip_prefix("oci:") else {
        bail!("--image {r:?}: only oci:PATH[:TAG] references are supported so far");
    };
    // A tag has no '/': "oci:/a/b:latest" is a tag, "oci:/a:b/c" is a path.
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => Ok((PathBuf::from(path), Some(tag.to_string()))),
        _ => Ok((PathBuf::from(rest), None)),
    }
}

/// Mesos's order: overlay where the kernel has it, then aufs, then copy.
fn choose(name: &str) -> Result<Backend> {
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let has = |n: &str| fs.lines().any(|l| l.split_whitespace().last() == Some(n));
    match name {
        "copy" => Ok(Backend::Copy),
        "overlay" if has("overlay") => Ok(Backend::Overlay),
        "overlay" => bail!("--backend overlay: overlayfs is not supported by this kernel"),
        "aufs" => bail!("--backend aufs: aufs is not supported by this kernel"),
        "auto" if has("overlay") => Ok(Backend::Overlay),
        "auto" => Ok(Backend::Copy),
        "bind" => bail!("--backend bind: not built yet"),
        other => bail!("--backend {other:?}: not one of auto, overlay, aufs, copy, bind"),
    }
}

pub fn create(a: &BundleCreateArgs) -> Result<()> {
    let backend = choose(&a.backend)?;
    let (layout, tag) = parse_oci_ref(&a.image)?;
    std::fs::create_dir_all(&a.dir)?;
    hull_provision::bundle::create(
        &layout,
        tag.as_deref(),
        &a.dir,
        &crate::spec::default_spec(),
        backend,
        &a.store,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_refs() {
        assert_eq!(
            parse_oci_ref("oci:/img:latest").unwrap(),
            (PathBuf::from("/img"), Some("latest".into()))
        );
        assert_eq!(parse_oci_ref("oci:/img").unwrap(), (PathBuf::from("/img"), None));
        assert_eq!(parse_oci_ref("oci:/a:b/c").unwrap(), (PathBuf::from("/a:b/c"), None));
        assert!(parse_oci_ref("docker.io/library/busybox").is_err());
    }
}
