//! What `hull launch` was asked for, in plain types: the flags checked and
//! parsed, each error naming its flag.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::cli::LaunchArgs;
use crate::size;

/// The limits the cgroups and disk isolators enforce (and `update` changes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub pids: Option<i64>,
    pub disk: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Launcher {
    /// New namespaces, the image's rootfs (Mesos's linux launcher).
    Linux,
    /// The host's namespaces and filesystem, a session and a cgroup of its own.
    Posix,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VolumeSource {
    Host(PathBuf),
    /// A directory the engine keeps by name, shared by the containers naming it.
    Sandbox(String),
    /// A CSI volume: the node plugin's socket and the volume's id.
    Csi {
        socket: PathBuf,
        volume_id: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub source: VolumeSource,
    pub target: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub file: PathBuf,
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub image: Option<String>,
    pub detach: bool,
    pub tty: bool,
    pub interactive: bool,
    pub limits: Limits,
    pub isolation: Option<Vec<String>>,
    pub launcher: Launcher,
    pub volumes: Vec<Volume>,
    pub secrets: Vec<Secret>,
    /// CDI devices by their full names, and where their specs are.
    pub devices: Vec<String>,
    pub cdi_dirs: Vec<PathBuf>,
    /// CNI networks by name; ["none"] for loopback only.
    pub networks: Vec<String>,
    pub cni: crate::cni::Dirs,
    /// runtimeConfig.portMappings entries.
    pub ports: Vec<serde_json::Value>,
    pub hostname: Option<String>,
    pub pod: Option<String>,
    /// (image, path in the container)
    pub image_volumes: Vec<(String, String)>,
    /// Where images are kept, and how registries are reached (volume/image).
    pub store: PathBuf,
    pub registry: crate::cli::RegistryArgs,
    pub env_secrets: Vec<(String, PathBuf)>,
    pub rlimits: Vec<(String, u64, u64)>,
    pub capabilities: Option<Vec<String>>,
    pub shm_size: Option<u64>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub cmd: Vec<String>,
}

impl Request {
    pub fn from_args(a: &LaunchArgs) -> Result<Request> {
        let launcher = match a.launcher.as_str() {
            "linux" => Launcher::Linux,
            "posix" => Launcher::Posix,
            other => bail!("--launcher {other:?}: not linux or posix"),
        };
        if launcher == Launcher::Posix && a.image.is_some() {
            bail!("--launcher posix runs in the host's filesystem: it takes --no-image, not --image");
        }
        if a.detach && a.tty {
            bail!("-t with -d: a detached container has no terminal to be given");
        }
        if a.no_image && a.cmd.is_empty() {
            bail!("--no-image: give the command to run after --");
        }
        let id = match &a.name {
            Some(n) => {
                hull::state::check_id(n).with_context(|| format!("--name {n:?}"))?;
                n.clone()
            }
            None => fresh_id(),
        };
        Ok(Request {
            id,
            image: a.image.clone(),
            detach: a.detach,
            tty: a.tty,
            interactive: a.interactive,
            limits: Limits {
                cpus: a.cpus.as_deref().map(size::cpus).transpose()?,
                memory: a.memory.as_deref().map(|s| size::bytes("--memory", s)).transpose()?,
                pids: a.pids.as_deref().map(|s| size::count("--pids", s)).transpose()?,
                disk: a.disk.as_deref().map(|s| size::bytes("--disk", s)).transpose()?,
            },
            isolation: a.isolation.as_deref().map(|l| {
                l.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }),
            launcher,
            volumes: a.volumes.iter().map(|v| volume(v)).collect::<Result<_>>()?,
            secrets: a.secrets.iter().map(|s| secret(s)).collect::<Result<_>>()?,
            devices: a.devices.clone(),
            cdi_dirs: if a.cdi_spec_dirs.is_empty() {
                crate::cdi::DEFAULT_DIRS.iter().map(PathBuf::from).collect()
            } else {
                a.cdi_spec_dirs.clone()
            },
            networks: networks(&a.networks)?,
            cni: crate::cni::Dirs {
                config: a.cni_config_dir.clone(),
                plugins: a.cni_plugin_dir.clone(),
            },
            ports: a.ports.iter().map(|p| port(p)).collect::<Result<_>>()?,
            hostname: a.hostname.clone(),
            pod: match &a.pod {
                Some(p) => {
                    hull::state::check_id(p).with_context(|| format!("--pod {p:?}"))?;
                    Some(p.clone())
                }
                None => None,
            },
            image_volumes: a.image_volumes.iter().map(|v| image_volume(v)).collect::<Result<_>>()?,
            store: a.store.store.clone(),
            registry: a.registry.clone(),
            env_secrets: a.env_secrets.iter().map(|s| env_secret(s)).collect::<Result<_>>()?,
            rlimits: a.rlimits.iter().map(|s| rlimit(s)).collect::<Result<_>>()?,
            capabilities: a.capabilities.as_deref().map(capabilities).transpose()?,
            shm_size: a
                .shm_size
                .as_deref()
                .map(|s| size::bytes("--shm-size", s))
                .transpose()?,
            env: a.env.clone(),
            workdir: a.workdir.clone(),
            user: a.user.clone(),
            cmd: a.cmd.clone(),
        })
    }
}

/// 12 hex digits from the kernel's random source, as short container ids go.
fn fresh_id() -> String {
    let mut b = [0u8; 6];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn absolute_target(flag: &str, whole: &str, t: &str) -> Result<String> {
    if !t.starts_with('/') || t.split('/').any(|c| c == "..") {
        bail!("{flag} {whole:?}: the container path {t:?} must be absolute, without ..");
    }
    Ok(t.to_string())
}

/// HOST:CTR[:OPTS] or sandbox:NAME:CTR[:OPTS]; OPTS: ro, rw and the
/// propagation modes, comma separated.
fn volume(v: &str) -> Result<Volume> {
    let parts: Vec<&str> = v.split(':').collect();
    let (source, rest) = match parts.as_slice() {
        ["csi", socket, id, rest @ ..] => {
            if id.is_empty() || !socket.starts_with('/') {
                bail!("-v {v:?}: not csi:/PLUGIN/SOCKET:VOLUME_ID:CTR[:OPTIONS]");
            }
            let source = VolumeSource::Csi {
                socket: PathBuf::from(socket),
                volume_id: id.to_string(),
            };
            (source, rest)
        }
        ["sandbox", name, rest @ ..] => {
            if name.is_empty() || name.contains('/') || *name == "." || *name == ".." {
                bail!("-v {v:?}: the sandbox volume's name {name:?} must be one path component");
            }
            (VolumeSource::Sandbox(name.to_string()), rest)
        }
        [host, rest @ ..] => {
            let p = std::fs::canonicalize(host).with_context(|| format!("-v {v:?}: the host path {host:?}"))?;
            (VolumeSource::Host(p), rest)
        }
        [] => bail!("-v: empty"),
    };
    let (target, opts) = match rest {
        [t] => (*t, ""),
        [t, o] => (*t, *o),
        _ => {
            bail!("-v {v:?}: not HOST:CTR[:OPTIONS], sandbox:NAME:CTR[:OPTIONS] or csi:SOCKET:VOLUME_ID:CTR[:OPTIONS]")
        }
    };
    let target = absolute_target("-v", v, target)?;
    let options: Vec<String> = opts.split(',').filter(|o| !o.is_empty()).map(String::from).collect();
    for o in &options {
        const KNOWN: [&str; 8] = [
            "ro", "rw", "private", "rprivate", "slave", "rslave", "shared", "rshared",
        ];
        if !KNOWN.contains(&o.as_str()) {
            bail!("-v {v:?}: unknown option {o:?} (ro, rw, or a propagation: rprivate, rslave, rshared...)");
        }
    }
    Ok(Volume {
        source,
        target,
        options,
    })
}

fn secret(s: &str) -> Result<Secret> {
    let Some((file, target)) = s.split_once(':') else {
        bail!("--secret {s:?}: not FILE:CTR");
    };
    let meta = std::fs::metadata(file).with_context(|| format!("--secret {s:?}: the file {file:?}"))?;
    if !meta.is_file() {
        bail!("--secret {s:?}: {file:?} is not a regular file");
    }
    if meta.len() > 1 << 20 {
        bail!("--secret {s:?}: {file:?} is over 1 MiB");
    }
    Ok(Secret {
        file: PathBuf::from(file),
        target: absolute_target("--secret", s, target)?,
    })
}

fn networks(names: &[String]) -> Result<Vec<String>> {
    if names.iter().any(|n| n == "none") && names.len() > 1 {
        bail!("--network none: a container with no network takes no other --network");
    }
    for n in names {
        if n.is_empty() || n.contains('/') {
            bail!("--network {n:?}: not a network name");
        }
    }
    Ok(names.to_vec())
}

/// [IP:]HOST:CTR[/PROTO] as a CNI portMappings entry.
fn port(p: &str) -> Result<serde_json::Value> {
    let err = || anyhow::anyhow!("-p {p:?}: not [IP:]HOST:CTR[/tcp|udp]");
    let (ports, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    if proto != "tcp" && proto != "udp" && proto != "sctp" {
        bail!("-p {p:?}: the protocol {proto:?} is not tcp, udp or sctp");
    }
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let (ctr, host, ip) = match parts.as_slice() {
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(err()),
    };
    let num = |s: &str| s.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(err);
    let mut m = serde_json::json!({"hostPort": num(host)?, "containerPort": num(ctr)?, "protocol": proto});
    if !ip.is_empty() {
        let ip: std::net::IpAddr = ip.parse().map_err(|_| err())?;
        m["hostIP"] = serde_json::json!(ip.to_string());
    }
    Ok(m)
}

/// IMAGE:CTR, the image being everything before the last colon.
fn image_volume(v: &str) -> Result<(String, String)> {
    match v.rsplit_once(':') {
        Some((image, target)) if !image.is_empty() => {
            Ok((image.to_string(), absolute_target("--image-volume", v, target)?))
        }
        _ => bail!("--image-volume {v:?}: not IMAGE:CTR"),
    }
}

fn env_secret(s: &str) -> Result<(String, PathBuf)> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => Ok((name.to_string(), PathBuf::from(file))),
        _ => bail!("--env-secret {s:?}: not NAME=FILE"),
    }
}

fn rlimit(s: &str) -> Result<(String, u64, u64)> {
    let err = || anyhow::anyhow!("--rlimit {s:?}: not NAME=SOFT[:HARD] (e.g. nofile=1024:4096)");
    let (name, vals) = s.split_once('=').ok_or_else(err)?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let soft: u64 = soft.parse().map_err(|_| err())?;
    let hard: u64 = hard.parse().map_err(|_| err())?;
    if soft > hard {
        bail!("--rlimit {s:?}: the soft limit is above the hard one");
    }
    let name = format!("RLIMIT_{}", name.to_ascii_uppercase().trim_start_matches("RLIMIT_"));
    Ok((name, soft, hard))
}

fn capabilities(s: &str) -> Result<Vec<String>> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let c = c.to_ascii_uppercase();
            let c = if c.starts_with("CAP_") { c } else { format!("CAP_{c}") };
            if c.len() < 5 || !c[4..].chars().all(|x| x.is_ascii_uppercase() || x == '_') {
                bail!("--capabilities {s:?}: {c:?} is not a capability name");
            }
            Ok(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_as_typed() {
        let v = volume("/tmp:/data:ro").unwrap();
        assert_eq!(v.target, "/data");
        assert_eq!(v.options, ["ro"]);
        let v = volume("csi:/run/csi.sock:vol-1:/data:ro").unwrap();
        assert_eq!(v.options, ["ro"]);
        assert!(matches!(v.source, VolumeSource::Csi { ref volume_id, .. } if volume_id == "vol-1"));
        let v = volume("sandbox:cache:/cache").unwrap();
        assert_eq!(v.source, VolumeSource::Sandbox("cache".into()));
        for bad in [
            "/tmp",
            "/tmp:data",
            "/tmp:/a/../b",
            "/tmp:/d:rx",
            "sandbox:a/b:/c",
            "/no/such:/d",
        ] {
            let e = volume(bad).unwrap_err();
            assert!(format!("{e:#}").contains(bad), "{e:#}");
        }
    }

    #[test]
    fn ports_and_networks() {
        assert_eq!(
            port("8080:80").unwrap(),
            serde_json::json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"})
        );
        assert_eq!(port("127.0.0.1:53:5353/udp").unwrap()["hostIP"], "127.0.0.1");
        for bad in ["80", "0:80", "a:80", "1:2/icmp", "x:1:2"] {
            assert!(port(bad).unwrap_err().to_string().contains(bad), "{bad}");
        }
        assert!(networks(&["none".into(), "a".into()]).is_err());
    }

    #[test]
    fn rlimits_and_capabilities() {
        assert_eq!(rlimit("nofile=10:20").unwrap(), ("RLIMIT_NOFILE".into(), 10, 20));
        assert_eq!(rlimit("NPROC=5").unwrap(), ("RLIMIT_NPROC".into(), 5, 5));
        assert!(rlimit("nofile=20:10").is_err());
        assert_eq!(capabilities("chown, CAP_KILL").unwrap(), ["CAP_CHOWN", "CAP_KILL"]);
        assert!(capabilities("cap-x").is_err());
    }
}
