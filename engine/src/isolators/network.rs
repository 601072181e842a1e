//! network/cni: the container's network namespace, made before create and
//! kept by a bind mount, attached to CNI networks (ADD before the user's
//! program runs, DEL at cleanup, also after a crash); --network none gives
//! it loopback only. Its hostname and its /etc/hosts, /etc/hostname and
//! /etc/resolv.conf come from the result. A container of a pod joins the
//! pod's namespaces instead (see pod.rs).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use super::{array, object};
use crate::cni::{self, Attachment};
use crate::isolator::{Isolator, Spec};
use crate::pod;
use crate::record::{Record, Sandbox};
use crate::request::Request;

/// Where one network namespace and what was attached to it live: a
/// container's own directory, or its pod's.
pub struct Holder {
    pub dir: PathBuf,
    netns: PathBuf,
}

impl Holder {
    pub fn new(dir: &Path) -> Holder {
        Holder {
            dir: dir.to_path_buf(),
            netns: dir.join("netns"),
        }
    }
    pub fn netns(&self) -> PathBuf {
        self.netns.clone()
    }
    fn attachments_file(&self) -> PathBuf {
        self.dir.join("network.json")
    }

    /// network.json: the CNI dirs, runtimeConfig and attachments ADD made.
    fn doc(&self) -> Value {
        std::fs::read(self.attachments_file())
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or(Value::Null)
    }

    pub fn attachments(&self) -> Vec<Attachment> {
        serde_json::from_value(self.doc()["attachments"].clone()).unwrap_or_default()
    }

    /// Makes the namespace and attaches it to `networks`; undoes what it
    /// did on failure.
    pub fn setup(&self, req: &Request, cni_id: &str, hostname: &str) -> Result<()> {
        crate::netns::create(&self.netns(), "net")?;
        hull_sys::fault::point("cni:netns");
        let mut done: Vec<Attachment> = vec![];
        let runtime = json!({"portMappings": req.ports});
        let attached = (|| -> Result<()> {
            let names: Vec<&String> = req.networks.iter().filter(|n| *n != "none").collect();
            if !req.ports.is_empty() && names.is_empty() {
                bail!("-p: publishing a port needs a --network whose plugins take portMappings (portmap)");
            }
            for (i, name) in names.iter().enumerate() {
                let list = cni::config::find(&req.cni.config, name)?;
                if !req.ports.is_empty() && i == 0 && !takes_ports(&list) {
                    bail!("-p: network {name:?} has no plugin with capabilities.portMappings (portmap)");
                }
                let ifname = format!("eth{i}");
                // Recorded before its ADD: a launch killed midway, or a list
                // failing at its second plugin, leaves a veth and an address
                // that only a DEL of this attachment gives back.
                done.push(cni::Attachment::pending(&list, &ifname));
                self.save(req, &done, &runtime)?;
                hull_sys::fault::point("cni:recorded");
                let t = self.target(cni_id, &ifname, &runtime);
                let a = cni::add(&req.cni, &list, &t)?;
                *done.last_mut().expect("pushed above") = a;
                self.save(req, &done, &runtime)?;
                hull_sys::fault::point("cni:added");
            }
            self.write_files(hostname, &done)
        })();
        if attached.is_err() {
            let _ = self.del_all(cni_id, true);
        }
        attached
    }

    fn target<'a>(&'a self, id: &'a str, ifname: &'a str, runtime: &'a Value) -> cni::Target<'a> {
        cni::Target {
            container_id: id,
            netns: &self.netns,
            ifname,
            runtime_config: runtime,
        }
    }

    fn save(&self, req: &Request, done: &[Attachment], runtime: &Value) -> Result<()> {
        let doc = json!({"dirs": req.cni, "runtimeConfig": runtime, "attachments": done});
        hull_sys::file::write_atomic(&self.attachments_file(), &serde_json::to_vec_pretty(&doc)?, 0o600)
    }

    /// CHECK of every attachment.
    pub fn check(&self, cni_id: &str) -> Result<()> {
        let doc = self.doc();
        let Ok(dirs) = serde_json::from_value::<cni::Dirs>(doc["dirs"].clone()) else {
            return Ok(());
        };
        let runtime = doc["runtimeConfig"].clone();
        for a in self.attachments() {
            cni::check(&dirs, &a, &self.target(cni_id, &a.ifname, &runtime))?;
        }
        Ok(())
    }

    /// DEL of every attachment (in reverse), then the namespace goes.
    pub fn teardown(&self, cni_id: &str) -> Result<()> {
        self.del_all(cni_id, false)
    }

    /// teardown; with `failed_add`, right after an ADD failed here, the DEL
    /// of that unfinished ADD only warns when it fails: it fails on what
    /// failed the ADD (a config the plugin refuses), and keeping it would
    /// make the container undeletable. After a crash it is kept for the
    /// next try, as any other.
    fn del_all(&self, cni_id: &str, failed_add: bool) -> Result<()> {
        let doc = self.doc();
        let mut first = None;
        if let (Ok(dirs), Some(list)) = (
            serde_json::from_value::<cni::Dirs>(doc["dirs"].clone()),
            doc["attachments"].as_array(),
        ) {
            let runtime = doc["runtimeConfig"].clone();
            for a in list.iter().rev() {
                let Ok(a) = serde_json::from_value::<Attachment>(a.clone()) else {
                    continue;
                };
                let t = self.target(cni_id, &a.ifname, &runtime);
                match cni::del(&dirs, &a, &t) {
                    Err(e) if failed_add && a.is_pending() => {
                        tracing::warn!("network {:?}: DEL after an unfinished ADD: {e:#}", a.network)
                    }
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                    Ok(()) => {}
                }
            }
        }
        if let Some(e) = first {
            // Kept for the next try (destroy, recover).
            return Err(e);
        }
        let _ = std::fs::remove_file(self.attachments_file());
        crate::netns::remove(&self.netns())
    }

    /// /etc/hosts, /etc/hostname and /etc/resolv.conf for the container.
    fn write_files(&self, hostname: &str, done: &[Attachment]) -> Result<()> {
        hull_sys::file::private_dir(&self.dir.join("etc"))?;
        let results: Vec<&Value> = done.iter().map(|a| &a.result).collect();
        let hosts = cni::files::hosts(hostname, &results)?;
        let dns = done
            .iter()
            .map(|a| &a.result["dns"])
            .find(|d| d["nameservers"].as_array().is_some_and(|n| !n.is_empty()));
        let resolv = match dns {
            Some(d) => cni::files::resolv_conf(d)?,
            None => std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        };
        for (name, text) in [
            ("hosts", hosts),
            ("hostname", format!("{hostname}\n")),
            ("resolv.conf", resolv),
        ] {
            hull_sys::file::write_atomic(&self.etc_file(name), text.as_bytes(), 0o644)?;
        }
        Ok(())
    }

    /// Where the container's /etc/NAME is kept: a directory of its own,
    /// private, since the container's directory may be open for its user to
    /// pass (a sandbox reached by its host path) and the files name its
    /// addresses. The bind mounts reach them whatever the directory's mode.
    fn etc_file(&self, name: &str) -> PathBuf {
        self.dir.join("etc").join(name)
    }

    /// The mounts of the three files, onto the container's /etc.
    pub fn mounts(&self, spec: &mut Spec) -> Result<()> {
        let mounts = array(spec, &["mounts"])?;
        for name in ["hosts", "hostname", "resolv.conf"] {
            let dest = format!("/etc/{name}");
            mounts.retain(|m| m["destination"] != dest.as_str());
            mounts.push(
                json!({"destination": dest, "type": "bind", "source": self.etc_file(name),
                "options": ["bind", "rw", "nosuid", "nodev", "noexec"]}),
            );
        }
        Ok(())
    }

    /// Interfaces and addresses, as `inspect` shows them.
    pub fn describe(&self) -> Value {
        Value::Array(
            self.attachments()
                .iter()
                .map(|a| {
                    json!({"network": a.network, "ifname": a.ifname,
                    "ips": cni::files::addresses(&a.result).unwrap_or_default(), "interfaces": a.result["interfaces"]})
                })
                .collect(),
        )
    }
}

fn takes_ports(list: &cni::NetworkList) -> bool {
    list.plugins
        .iter()
        .any(|p| p["capabilities"]["portMappings"] == json!(true))
}

/// Replaces the namespace of `kind` in the config by the one at `path`.
pub fn join_namespace(spec: &mut Spec, kind: &str, path: Option<&Path>) -> Result<()> {
    let ns = array(spec, &["linux", "namespaces"])?;
    ns.retain(|n| n["type"] != kind);
    ns.push(match path {
        Some(p) => json!({"type": kind, "path": p}),
        None => json!({"type": kind}),
    });
    Ok(())
}

pub struct Cni;

impl Isolator for Cni {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        if let Some(name) = &req.pod {
            return pod::join(req, sb, name, spec);
        }
        let hostname = req.hostname.clone().unwrap_or_else(|| req.id.clone());
        let holder = Holder::new(&sb.dir);
        holder.setup(req, &req.id, &hostname)?;
        join_namespace(spec, "network", Some(&holder.netns()))?;
        join_namespace(spec, "uts", None)?;
        // ping without CAP_NET_RAW, through ICMP datagram sockets, in a
        // network namespace of the container's own (as docker sets it).
        object(spec, &["linux", "sysctl"])?.insert("net.ipv4.ping_group_range".into(), json!("0 2147483647"));
        object(spec, &[])?.insert("hostname".into(), json!(hostname));
        holder.mounts(spec)
    }

    fn usage(&self, rec: &Record, _sb: &Sandbox, stats: &mut Map<String, Value>) {
        let (rx, tx) = net_bytes(rec.pid);
        stats.insert("net_rx_bytes".into(), json!(rx));
        stats.insert("net_tx_bytes".into(), json!(tx));
    }

    fn cleanup(&self, rec: &Record, sb: &Sandbox) -> Result<()> {
        if let Some(name) = pod::of(sb) {
            return pod::leave(sb, &name, &rec.id);
        }
        Holder::new(&sb.dir).teardown(&rec.id)
    }

    /// CHECK of each attachment (CNI 0.4.0 on) once a running container is adopted.
    fn recover(&self, rec: &Record, sb: &Sandbox) -> Result<()> {
        let (holder, id) = match pod::of(sb) {
            Some(name) => (pod::holder(sb, &name), pod::cni_id(&name)),
            None => (Holder::new(&sb.dir), rec.id.clone()),
        };
        holder.check(&id)
    }

    fn describe(&self, _rec: &Record, sb: &Sandbox, out: &mut Map<String, Value>) {
        let holder = match pod::of(sb) {
            Some(name) => {
                out.insert("pod".into(), json!(name));
                pod::holder(sb, &name)
            }
            None => Holder::new(&sb.dir),
        };
        out.insert("networks".into(), holder.describe());
    }
}

/// Bytes received and sent on the container's interfaces, loopback aside.
fn net_bytes(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut rx = 0;
    let mut tx = 0;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}
