//! The Container Network Interface, as a runtime drives it (CNI spec 1.0,
//! and the 0.3/0.4 plugins Debian ships): network configuration lists found
//! by name, plugins run with the protocol's environment and their config on
//! stdin, ADD through a list with `prevResult` chaining, DEL in reverse with
//! the result ADD gave, CHECK and VERSION; a plugin's error is its JSON
//! `code` and `msg`.

pub mod config;
pub mod files;
pub mod plugin;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use config::NetworkList;

/// Where configs and plugins are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dirs {
    pub config: PathBuf,
    pub plugins: PathBuf,
}

/// What ADD made of one network, kept for DEL (the config as it was, so
/// that later edits to the file do not change what is torn down).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub ifname: String,
    pub config: Value,
    pub result: Value,
}

impl Attachment {
    /// An ADD not known to have finished: no result, so its DEL gives the
    /// plugins no prevResult (they clean up by container id and ifname).
    pub fn pending(list: &NetworkList, ifname: &str) -> Attachment {
        Attachment {
            network: list.name.clone(),
            ifname: ifname.to_string(),
            config: list.raw.clone(),
            result: Value::Null,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.result.is_null()
    }

    fn prev_result(&self) -> Option<&Value> {
        (!self.is_pending()).then_some(&self.result)
    }
}

/// The runtime's side of one attachment: the container, its netns, its
/// interface, and capability arguments (portMappings...).
pub struct Target<'a> {
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub ifname: &'a str,
    pub runtime_config: &'a Value,
}

/// ADD through the list; the last plugin's result is the attachment's.
pub fn add(dirs: &Dirs, list: &NetworkList, t: &Target) -> Result<Attachment> {
    let mut prev: Option<Value> = None;
    for (i, p) in list.plugins.iter().enumerate() {
        let conf = list.plugin_config(p, prev.as_ref(), t.runtime_config);
        let out = plugin::run(dirs, "ADD", &conf, t)
            .map_err(|e| match version_mismatch(dirs, p, &list.version) {
                Some(why) => e.context(why),
                None => e,
            })
            .with_context(|| format!("network {:?}: plugins[{i}] ({}) ADD", list.name, plugin::kind(p)))?;
        prev = Some(out);
        hull_sys::fault::point(&format!("cni:plugin-{i}-added"));
    }
    Ok(Attachment {
        network: list.name.clone(),
        ifname: t.ifname.to_string(),
        config: list.raw.clone(),
        // A plugin may print nothing; null is what marks an unfinished ADD.
        result: prev
            .filter(|r| !r.is_null())
            .unwrap_or_else(|| json!({"cniVersion": list.version})),
    })
}

/// Why a plugin that failed may have: the versions it speaks (VERSION)
/// leave out the network's.
fn version_mismatch(dirs: &Dirs, p: &Value, version: &str) -> Option<String> {
    let supported = plugin::versions(dirs, p).ok()?;
    (!supported.iter().any(|v| v == version)).then(|| {
        format!(
            "the plugin speaks CNI {} and the network's cniVersion is {version}",
            supported.join(", ")
        )
    })
}

/// CHECK through the list (CNI 0.4.0 and later, unless the list disables it).
pub fn check(dirs: &Dirs, a: &Attachment, t: &Target) -> Result<()> {
    let list = NetworkList::from_value(a.config.clone(), "the attachment's config")?;
    if list.disable_check || list.version.starts_with("0.3") || list.version.starts_with("0.2") {
        return Ok(());
    }
    for (i, p) in list.plugins.iter().enumerate() {
        let conf = list.plugin_config(p, Some(&a.result), t.runtime_config);
        plugin::run(dirs, "CHECK", &conf, t)
            .with_context(|| format!("network {:?}: plugins[{i}] ({}) CHECK", list.name, plugin::kind(p)))?;
    }
    Ok(())
}

/// DEL through the list in reverse, every plugin run even after a failure
/// (so that IPAM reservations go); the first failure is returned.
pub fn del(dirs: &Dirs, a: &Attachment, t: &Target) -> Result<()> {
    let list = NetworkList::from_value(a.config.clone(), "the attachment's config")?;
    let mut first = None;
    for (i, p) in list.plugins.iter().enumerate().rev() {
        let conf = list.plugin_config(p, a.prev_result(), t.runtime_config);
        if let Err(e) = plugin::run(dirs, "DEL", &conf, t) {
            let e = e.context(format!(
                "network {:?}: plugins[{i}] ({}) DEL",
                list.name,
                plugin::kind(p)
            ));
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}
