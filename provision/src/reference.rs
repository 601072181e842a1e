//! Image references: `oci:PATH[:TAG]`, `docker-archive:PATH[:NAME:TAG]`, and
//! registry references (`registry/repo:tag`, `repo@sha256:...`, Docker's
//! short names such as `busybox`).

use std::path::PathBuf;

use anyhow::{bail, Result};

const DEFAULT_REGISTRY: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// An OCI image layout directory, and the image's ref name in it.
    Oci {
        path: PathBuf,
        tag: Option<String>,
    },
    /// A `docker save` archive, and which of its images (a RepoTag).
    DockerArchive {
        path: PathBuf,
        name: Option<String>,
    },
    Registry(RegistryRef),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// host[:port]
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl RegistryRef {
    /// What the manifest endpoint takes: the digest if given, else the tag.
    pub fn reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The full name, as images are listed in the store.
    pub fn canonical(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}/{}@{d}", self.registry, self.repository),
            (None, t) => format!(
                "{}/{}:{}",
                self.registry,
                self.repository,
                t.as_deref().unwrap_or("latest")
            ),
        }
    }
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !t.starts_with(['.', '-'])
}

/// A registry reference as Docker reads it: the first component is a
/// registry when it has a dot or a port or is `localhost`.
pub fn parse_registry(r: &str) -> Result<RegistryRef> {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) if valid_digest(d) => (n, Some(d.to_string())),
        Some((_, d)) => bail!("image reference {r:?}: digest {d:?} is not sha256:<64 hex digits>"),
        None => (r, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(name[last_slash + i + 1..].to_string())),
        None => (name, None),
    };
    if let Some(t) = tag.as_deref().filter(|t| !valid_tag(t)) {
        bail!("image reference {r:?}: tag {t:?} is not valid");
    }
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
    };
    if let Some((_, port)) = registry
        .rsplit_once(':')
        .filter(|(h, _)| !h.ends_with(']') || registry.starts_with('['))
    {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            bail!("image reference {r:?}: registry {registry:?}: port {port:?} is not a number");
        }
    }
    let repository = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo
    };
    if !valid_repository(&repository) {
        bail!("image reference {r:?}: repository {repository:?} is not valid (lowercase letters, digits, . _ - and /)");
    }
    let tag = if tag.is_none() && digest.is_none() {
        Some("latest".to_string())
    } else {
        tag
    };
    Ok(RegistryRef {
        registry,
        repository,
        tag,
        digest,
    })
}

/// Any reference hull takes on its command line.
pub fn parse(r: &str) -> Result<Reference> {
    if let Some(rest) = r.strip_prefix("oci:") {
        // A tag has no '/': "oci:/a/b:latest" is a tag, "oci:/a:b/c" is a path.
        return Ok(match rest.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') && !path.is_empty() => Reference::Oci {
                path: PathBuf::from(path),
                tag: Some(tag.to_string()),
            },
            _ if rest.is_empty() => bail!("image reference {r:?}: oci: needs a path"),
            _ => Reference::Oci {
                path: PathBuf::from(rest),
                tag: None,
            },
        });
    }
    if let Some(rest) = r.strip_prefix("docker-archive:") {
        // As skopeo reads it: the path ends at the first ':'.
        let (path, name) = match rest.split_once(':') {
            Some((p, n)) => (p, Some(n.to_string())),
            None => (rest, None),
        };
        if path.is_empty() {
            bail!("image reference {r:?}: docker-archive: needs a path");
        }
        if let Some(n) = &name {
            parse_registry(n).map_err(|e| anyhow::anyhow!("image reference {r:?}: the name after the path: {e}"))?;
        }
        return Ok(Reference::DockerArchive {
            path: PathBuf::from(path),
            name,
        });
    }
    // skopeo's other transports look like tags ("dir:x"); name them instead of guessing.
    let scheme = r.split_once(':').map(|(s, _)| s).unwrap_or_default();
    if r.contains("://") || ["docker", "dir", "oci-archive", "containers-storage", "docker-daemon"].contains(&scheme) {
        bail!("image reference {r:?}: unknown transport (use oci:PATH, docker-archive:PATH or a registry name)");
    }
    parse_registry(r).map(Reference::Registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(r: &str) -> String {
        parse_registry(r).unwrap().canonical()
    }

    #[test]
    fn registry_forms() {
        assert_eq!(reg("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(reg("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(reg("me/app"), "docker.io/me/app:latest");
        assert_eq!(reg("127.0.0.1:5000/hull/busybox:v1"), "127.0.0.1:5000/hull/busybox:v1");
        assert_eq!(reg("localhost/debian:bookworm"), "localhost/debian:bookworm");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse_registry(&format!("127.0.0.1:5000/x@{d}")).unwrap();
        assert_eq!(r.reference(), d);
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert!(parse_registry("Busybox").is_err());
        assert!(parse_registry("x@sha256:abc").is_err());
        assert!(parse_registry("x:bad/tag").is_err());
    }

    #[test]
    fn transports() {
        assert_eq!(
            parse("oci:/img:latest").unwrap(),
            Reference::Oci {
                path: "/img".into(),
                tag: Some("latest".into())
            }
        );
        assert_eq!(
            parse("oci:/a:b/c").unwrap(),
            Reference::Oci {
                path: "/a:b/c".into(),
                tag: None
            }
        );
        assert_eq!(
            parse("docker-archive:/d.tar:localhost/debian:bookworm").unwrap(),
            Reference::DockerArchive {
                path: "/d.tar".into(),
                name: Some("localhost/debian:bookworm".into())
            }
        );
        assert!(matches!(parse("127.0.0.1:5000/x").unwrap(), Reference::Registry(_)));
        assert!(parse("docker://busybox").is_err());
        assert!(parse("docker:busybox").is_err());
        assert_eq!(
            parse("busybox:latest").unwrap(),
            Reference::Registry(parse_registry("busybox").unwrap())
        );
    }
}
