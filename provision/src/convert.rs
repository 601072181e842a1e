//! An image config turned into a runtime config: the image spec's
//! conversion rules, then what the caller overrides.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// Annotations hull acts on, which an image's labels must not set: the
/// systemd unit's properties (`org.systemd.property.*`, runc's) and hull's
/// own (`org.hull.*`: which engine made a container).
const ACTED_ON: &[&str] = &["org.systemd.property.", "org.hull."];

/// The most of an image's /etc/passwd or /etc/group that is read.
const ACCOUNTS_MAX: u64 = 4 << 20;

/// An image's account file, read inside its rootfs: the image may make it a
/// link to a host file, a FIFO or /dev/zero.
fn accounts(rootfs: &Path, file: &str) -> Result<String> {
    let read = hull_sys::inroot::read_small(rootfs, Path::new(file), ACCOUNTS_MAX);
    let text = read.with_context(|| format!("Config.User: the image's {file}"))?;
    Ok(text.unwrap_or_default())
}

/// (uid, gid, additional gids) for Config.User, names looked up in the
/// image's own /etc/passwd and /etc/group. An unknown user is an error.
pub fn user(spec: &str, rootfs: &Path) -> Result<(u32, u32, Vec<u32>)> {
    let passwd = accounts(rootfs, "/etc/passwd")?;
    let group = accounts(rootfs, "/etc/group")?;
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

/// What the caller of `bundle create` says instead of the image.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Replaces the image's Cmd (the Entrypoint stays), as `docker run IMAGE ARGS` does.
    pub cmd: Vec<String>,
    /// Replaces the image's Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// NAME=VALUE, replacing the image's value of NAME.
    pub env: Vec<String>,
    pub cwd: Option<String>,
    /// As Config.User: name or uid, optionally :group.
    pub user: Option<String>,
}

/// `env` with each NAME=VALUE of `over` replacing the entry of that NAME.
fn merge_env(mut env: Vec<String>, over: &[String]) -> Result<Vec<String>> {
    for kv in over {
        let Some((k, _)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            bail!("--env {kv:?}: not NAME=VALUE");
        };
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != k);
        env.push(kv.clone());
    }
    Ok(env)
}

/// The runtime config for an image: `base` (hull spec's defaults) with the
/// process, annotations and volumes the image config asks for, and then
/// what `over` says.
pub fn runtime_config(image: &Value, base: &Value, rootfs: &Path, over: &Overrides) -> Result<Value> {
    let c = &image["config"];
    let mut spec = base.clone();
    let mut args = over.entrypoint.clone().unwrap_or_else(|| strings(&c["Entrypoint"]));
    args.extend(if over.cmd.is_empty() {
        strings(&c["Cmd"])
    } else {
        over.cmd.clone()
    });
    if args.is_empty() {
        bail!("image config: neither Entrypoint nor Cmd, and no command given: nothing to run");
    }
    let p = &mut spec["process"];
    p["args"] = json!(args);
    p["terminal"] = json!(false);
    let env = merge_env(strings(&c["Env"]), &over.env)?;
    if !env.is_empty() {
        p["env"] = json!(env);
    }
    if let Some(wd) = over
        .cwd
        .as_deref()
        .or(c["WorkingDir"].as_str())
        .filter(|w| !w.is_empty())
    {
        if !wd.starts_with('/') {
            bail!("working directory {wd:?}: not an absolute path");
        }
        p["cwd"] = json!(wd);
    }
    if let Some(u) = over.user.as_deref().or(c["User"].as_str()).filter(|u| !u.is_empty()) {
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
            match v.as_str() {
                _ if ACTED_ON.iter().any(|p| k.starts_with(p)) => {
                    tracing::warn!("image config: Labels: {k:?} left out: the runtime acts on it, and an image may not choose that")
                }
                Some(v) => _ = ann.insert(k.clone(), json!(v)),
                None => tracing::warn!("image config: Labels: {k:?} left out: not a string"),
            }
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
                "Labels": {"org.opencontainers.image.author": "label wins", "org.systemd.property.DeviceAllow": "['/dev/sda rwm']",
                           "org.hull.engine.dir": "/tmp/mine", "n": 1}, "Volumes": {"/vol": {}}
            }
        });
        let base = json!({"process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}, "mounts": []});
        let s = runtime_config(&image, &base, r.path(), &Overrides::default()).unwrap();
        assert_eq!(s["process"]["args"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(s["process"]["cwd"], "/data");
        assert_eq!(s["process"]["env"], json!(["A=1"]));
        assert_eq!(s["process"]["user"]["uid"], 1000);
        assert_eq!(s["annotations"]["org.opencontainers.image.author"], "label wins");
        for left_out in ["org.systemd.property.DeviceAllow", "org.hull.engine.dir", "n"] {
            assert!(s["annotations"].get(left_out).is_none(), "{left_out}");
        }
        assert_eq!(s["annotations"]["org.opencontainers.image.stopSignal"], "SIGINT");
        assert_eq!(s["annotations"]["org.opencontainers.image.exposedPorts"], "80/tcp");
        assert_eq!(s["mounts"][0]["destination"], "/vol");
        let empty = json!({"config": {}});
        assert!(runtime_config(&empty, &base, r.path(), &Overrides::default()).is_err());
        let over = Overrides {
            cmd: vec!["echo bye".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/".into()),
            user: Some("0:44".into()),
            ..Overrides::default()
        };
        let s = runtime_config(&image, &base, r.path(), &over).unwrap();
        assert_eq!(s["process"]["args"], json!(["/bin/sh", "-c", "echo bye"]));
        assert_eq!(s["process"]["env"], json!(["A=2", "B=3"]));
        assert_eq!(s["process"]["cwd"], "/");
        assert_eq!(s["process"]["user"], json!({"uid": 0, "gid": 44}));
        let bad = Overrides {
            env: vec!["=x".into()],
            ..Overrides::default()
        };
        assert!(runtime_config(&image, &base, r.path(), &bad).is_err());
    }
}
