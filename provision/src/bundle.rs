//! An image config turned into a runtime config (the image spec's
//! conversion rules), and a bundle made from an OCI layout with the copy
//! backend: every layer applied, in order, into the bundle's rootfs.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::layer;
use crate::oci_layout::Layout;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// (uid, gid, additional gids) for Config.User, names looked up in the
/// image's own /etc/passwd and /etc/group. An unknown user is an error.
pub fn user(spec: &str, rootfs: &Path) -> Result<(u32, u32, Vec<u32>)> {
    let read = |f: &str| std::fs::read_to_string(rootfs.join(f)).unwrap_or_default();
    let passwd = read("etc/passwd");
    let group = read("etc/group");
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, name, primary) = match u.parse::<u32>() {
        Ok(n) => {
            let gid = passwd.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[2] == u).then(|| f[3].parse().ok()).flatten()
            });
            (n, None, gid)
        }
        Err(_) => {
            let f = passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[0] == u)
                .with_context(|| format!("Config.User: user {u:?} is not in the image's /etc/passwd"))?;
            (
                f[2].parse().context("Config.User: bad uid in /etc/passwd")?,
                Some(u.to_string()),
                f[3].parse().ok(),
            )
        }
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .with_context(|| format!("Config.User: group {g:?} is not in the image's /etc/group"))?,
        },
        None => primary.unwrap_or(0),
    };
    // Supplementary groups only when the user was named and no group given.
    let extra = match (&name, g) {
        (Some(n), None) => group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() > 3 && f[3].split(',').any(|m| m == n))
            .filter_map(|f| f[2].parse().ok())
            .filter(|x| *x != gid)
            .collect(),
        _ => vec![],
    };
    Ok((uid, gid, extra))
}

/// The runtime config for an image: `base` (hull spec's defaults) with the
/// process, annotations and volumes the image config asks for.
pub fn runtime_config(image: &Value, base: &Value, rootfs: &Path) -> Result<Value> {
    let c = &image["config"];
    let mut spec = base.clone();
    let mut args = strings(&c["Entrypoint"]);
    args.extend(strings(&c["Cmd"]));
    if args.is_empty() {
        bail!("image config: neither Entrypoint nor Cmd: nothing to run");
    }
    let p = &mut spec["process"];
    p["args"] = json!(args);
    p["terminal"] = json!(false);
    let env = strings(&c["Env"]);
    if !env.is_empty() {
        p["env"] = json!(env);
    }
    if let Some(wd) = c["WorkingDir"].as_str().filter(|w| !w.is_empty()) {
        p["cwd"] = json!(wd);
    }
    if let Some(u) = c["User"].as_str().filter(|u| !u.is_empty()) {
        let (uid, gid, extra) = user(u, rootfs)?;
        p["user"] = json!({"uid": uid, "gid": gid});
        if !extra.is_empty() {
            p["user"]["additionalGids"] = json!(extra);
        }
    }
    let mut ann = serde_json::Map::new();
    for (field, key) in [
        ("os", "org.opencontainers.image.os"),
        ("architecture", "org.opencontainers.image.architecture"),
        ("variant", "org.opencontainers.image.variant"),
        ("os.version", "org.opencontainers.image.os.version"),
        ("author", "org.opencontainers.image.author"),
        ("created", "org.opencontainers.image.created"),
    ] {
        if let Some(v) = image[field].as_str() {
            ann.insert(key.into(), json!(v));
        }
    }
    if let Some(f) = image["os.features"].as_array() {
        let joined: Vec<&str> = f.iter().filter_map(|x| x.as_str()).collect();
        ann.insert("org.opencontainers.image.os.features".into(), json!(joined.join(",")));
    }
    if let Some(s) = c["StopSignal"].as_str() {
        ann.insert("org.opencontainers.image.stopSignal".into(), json!(s));
    }
    if let Some(ports) = c["ExposedPorts"].as_object() {
        let list: Vec<&str> = ports.keys().map(|k| k.as_str()).collect();
        ann.insert("org.opencontainers.image.exposedPorts".into(), json!(list.join(",")));
    }
    // Labels win over the implicit annotations.
    if let Some(labels) = c["Labels"].as_object() {
        for (k, v) in labels {
            ann.insert(k.clone(), v.clone());
        }
    }
    spec["annotations"] = Value::Object(ann);
    if let Some(vols) = c["Volumes"].as_object() {
        let mounts = spec["mounts"].as_array_mut().context("base spec: mounts")?;
        for dest in vols.keys() {
            mounts
                .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}));
        }
    }
    spec["root"] = json!({"path": "rootfs", "readonly": false});
    Ok(spec)
}

/// The backends a bundle's rootfs can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Every layer applied into the bundle's own rootfs directory.
    Copy,
    /// The cached layers as overlayfs lower dirs, with the bundle's own upper dir.
    Overlay,
}

fn diff_ids(config: &Value) -> Vec<String> {
    strings(&config["rootfs"]["diff_ids"])
}

/// `bundle create`: DIR/rootfs and DIR/config.json from an OCI layout. A
/// failure removes what it made.
pub fn create(
    layout: &Path,
    tag: Option<&str>,
    dir: &Path,
    base: &Value,
    backend: Backend,
    store: &Path,
) -> Result<()> {
    if dir.join("config.json").exists() || dir.join("rootfs").exists() {
        bail!("{}: already holds a bundle", dir.display());
    }
    let made = (|| -> Result<()> {
        let l = Layout::open(layout)?;
        let img = l.image(tag)?;
        let layers = img.manifest["layers"].as_array().cloned().unwrap_or_default();
        let diffs = diff_ids(&img.config);
        if diffs.len() != layers.len() {
            bail!("image: {} layers but {} rootfs.diff_ids", layers.len(), diffs.len());
        }
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).with_context(|| format!("{}: cannot create", rootfs.display()))?;
        match backend {
            Backend::Copy => {
                for (i, d) in layers.iter().enumerate() {
                    let digest = d["digest"]
                        .as_str()
                        .with_context(|| format!("manifest layers[{i}]: no digest"))?;
                    let path = l.verified_blob(digest)?;
                    let a = layer::apply_file(&path, d["mediaType"].as_str(), &rootfs, layer::Whiteouts::Apply)
                        .with_context(|| format!("layers[{i}] {digest}"))?;
                    if a.diff_id != diffs[i] {
                        bail!(
                            "layers[{i}] {digest}: DiffID {} but the image config says {}",
                            a.diff_id,
                            diffs[i]
                        );
                    }
                }
            }
            Backend::Overlay => {
                let cache = crate::cache::Store::open(store)?;
                let chains = crate::cache::chain_ids(&diffs);
                let mut lower = vec![];
                for (i, d) in layers.iter().enumerate() {
                    let digest = d["digest"]
                        .as_str()
                        .with_context(|| format!("manifest layers[{i}]: no digest"))?;
                    let path = l.verified_blob(digest)?;
                    lower.push(cache.layer(&chains[i], &diffs[i], &path, d["mediaType"].as_str())?);
                }
                crate::backend::overlay_mount(&lower, dir)?;
            }
        }
        let spec = runtime_config(&img.config, base, &rootfs)?;
        std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?).context("write config.json")
    })();
    if made.is_err() {
        let _ = remove(dir);
    }
    made
}

/// `bundle rm`: unmounts and removes exactly what create made in DIR.
pub fn remove(dir: &Path) -> Result<()> {
    crate::backend::unmount(&dir.join("rootfs"))?;
    for part in ["rootfs", "upper", "work"] {
        let p = dir.join(part);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("remove {}", p.display()))?;
        }
    }
    let cfg = dir.join("config.json");
    if cfg.exists() {
        std::fs::remove_file(&cfg).with_context(|| format!("remove {}", cfg.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            t.path().join("etc/group"),
            "root:x:0:\napp:x:1000:\nvideo:x:44:app\nwheel:x:10:root,app\n",
        )
        .unwrap();
        t
    }

    #[test]
    fn user_forms() {
        let r = rootfs();
        assert_eq!(user("app", r.path()).unwrap(), (1000, 1000, vec![44, 10]));
        assert_eq!(user("1000", r.path()).unwrap(), (1000, 1000, vec![]));
        assert_eq!(user("app:video", r.path()).unwrap(), (1000, 44, vec![]));
        assert_eq!(user("1000:44", r.path()).unwrap(), (1000, 44, vec![]));
        assert_eq!(user("4242", r.path()).unwrap(), (4242, 0, vec![]));
        assert!(user("nobody-here", r.path()).is_err());
        assert!(user("app:nogroup", r.path()).is_err());
    }

    #[test]
    fn conversion_rules() {
        let r = rootfs();
        let image = json!({
            "os": "linux", "architecture": "amd64", "created": "2024-01-01T00:00:00Z", "author": "me",
            "config": {
                "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hi"], "Env": ["A=1"], "WorkingDir": "/data",
                "User": "app", "StopSignal": "SIGINT", "ExposedPorts": {"80/tcp": {}},
                "Labels": {"org.opencontainers.image.author": "label wins"}, "Volumes": {"/vol": {}}
            }
        });
        let base = json!({"process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}, "mounts": []});
        let s = runtime_config(&image, &base, r.path()).unwrap();
        assert_eq!(s["process"]["args"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(s["process"]["cwd"], "/data");
        assert_eq!(s["process"]["env"], json!(["A=1"]));
        assert_eq!(s["process"]["user"]["uid"], 1000);
        assert_eq!(s["annotations"]["org.opencontainers.image.author"], "label wins");
        assert_eq!(s["annotations"]["org.opencontainers.image.stopSignal"], "SIGINT");
        assert_eq!(s["annotations"]["org.opencontainers.image.exposedPorts"], "80/tcp");
        assert_eq!(s["mounts"][0]["destination"], "/vol");
        let empty = json!({"config": {}});
        assert!(runtime_config(&empty, &base, r.path()).is_err());
    }
}
