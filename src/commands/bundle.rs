use std::path::PathBuf;

use anyhow::{bail, Result};

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

pub fn create(a: &BundleCreateArgs) -> Result<()> {
    if a.backend != "copy" {
        bail!("--backend {:?}: only the copy backend exists so far", a.backend);
    }
    let (layout, tag) = parse_oci_ref(&a.image)?;
    std::fs::create_dir_all(&a.dir)?;
    hull_provision::bundle::create_copy(&layout, tag.as_deref(), &a.dir, &crate::spec::default_spec())
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
