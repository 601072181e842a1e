//! Network configuration lists: `.conflist` files, and `.conf`/`.json`
//! files of one plugin (wrapped in a list, as libcni does), found by their
//! `name` in a directory.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct NetworkList {
    pub name: String,
    pub version: String,
    pub disable_check: bool,
    pub plugins: Vec<Value>,
    /// The list as loaded (a single plugin's file already wrapped).
    pub raw: Value,
}

impl NetworkList {
    pub fn from_value(mut v: Value, what: &str) -> Result<NetworkList> {
        if v.get("plugins").is_none() {
            // A single plugin's config: the list around it.
            let name = v["name"].clone();
            let version = v["cniVersion"].clone();
            v = json!({"cniVersion": version, "name": name, "plugins": [v]});
        }
        let name = v["name"]
            .as_str()
            .with_context(|| format!("{what}: no \"name\""))?
            .to_string();
        let version = v["cniVersion"]
            .as_str()
            .with_context(|| format!("{what}: network {name:?} has no \"cniVersion\""))?
            .to_string();
        let plugins = v["plugins"]
            .as_array()
            .with_context(|| format!("{what}: network {name:?}: \"plugins\" is not a list"))?
            .clone();
        for (i, p) in plugins.iter().enumerate() {
            if p["type"].as_str().is_none_or(|t| t.is_empty() || t.contains('/')) {
                bail!("{what}: network {name:?}: plugins[{i}] has no plugin \"type\" (a file name in the plugin dir)");
            }
        }
        Ok(NetworkList {
            disable_check: v["disableCheck"].as_bool().unwrap_or(false),
            name,
            version,
            plugins,
            raw: v,
        })
    }

    /// The config one plugin gets on stdin: its own object, with the list's
    /// name and version, the previous result, and the runtime's capability
    /// arguments that it asks for.
    pub fn plugin_config(&self, plugin: &Value, prev: Option<&Value>, runtime: &Value) -> Value {
        let mut c = plugin.clone();
        c["name"] = json!(self.name);
        c["cniVersion"] = json!(self.version);
        if let Some(p) = prev {
            c["prevResult"] = p.clone();
        }
        let asked: serde_json::Map<String, Value> = plugin["capabilities"]
            .as_object()
            .map(|caps| {
                caps.iter()
                    .filter(|(k, on)| on.as_bool() == Some(true) && runtime.get(k.as_str()).is_some())
                    .map(|(k, _)| (k.clone(), runtime[k.as_str()].clone()))
                    .collect()
            })
            .unwrap_or_default();
        if !asked.is_empty() {
            c["runtimeConfig"] = Value::Object(asked);
        }
        c
    }
}

/// The list named `name` in `dir`: files in name order, the first that
/// holds it wins (as libcni).
pub fn find(dir: &Path, name: &str) -> Result<NetworkList> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("--cni-config-dir {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "conf" || x == "conflist" || x == "json")
        })
        .collect();
    files.sort();
    for f in &files {
        let Ok(text) = std::fs::read(f) else { continue };
        let Ok(v) = serde_json::from_slice::<Value>(&text) else {
            tracing::warn!("{}: not JSON; skipped", f.display());
            continue;
        };
        if v["name"].as_str() == Some(name) {
            return NetworkList::from_value(v, &f.display().to_string());
        }
    }
    bail!("--network {name:?}: no network of that name in {}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_plugin_becomes_a_list_and_capabilities_go_to_the_plugins_asking() {
        let one = json!({"cniVersion": "0.4.0", "name": "n", "type": "bridge"});
        let l = NetworkList::from_value(one, "f").unwrap();
        assert_eq!(l.plugins.len(), 1);
        let list = json!({"cniVersion": "1.0.0", "name": "n", "plugins": [
            {"type": "bridge"}, {"type": "portmap", "capabilities": {"portMappings": true}}]});
        let l = NetworkList::from_value(list, "f").unwrap();
        let rt = json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]});
        let prev = json!({"ips": []});
        let c0 = l.plugin_config(&l.plugins[0], None, &rt);
        assert!(c0.get("runtimeConfig").is_none() && c0.get("prevResult").is_none());
        assert_eq!(c0["name"], "n");
        let c1 = l.plugin_config(&l.plugins[1], Some(&prev), &rt);
        assert_eq!(c1["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
        assert_eq!(c1["prevResult"], prev);
        assert_eq!(c1["cniVersion"], "1.0.0");
        for bad in [
            json!({"name": "n"}),
            json!({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../x"}]}),
        ] {
            assert!(NetworkList::from_value(bad, "f").is_err());
        }
    }
}
