//! The built-in isolators, one concern per module.

pub mod cgroups;
pub mod csi;
pub mod devices;
pub mod disk;
pub mod filesystem;
pub mod namespaces;
pub mod network;
pub mod process;
pub mod secrets;
pub mod volumes;

use anyhow::{Context, Result};
use serde_json::Value;

/// `spec[a][b]...` as an object, made where missing.
pub fn object<'a>(spec: &'a mut Value, path: &[&str]) -> Result<&'a mut serde_json::Map<String, Value>> {
    let mut v = spec;
    for k in path {
        let o = v
            .as_object_mut()
            .with_context(|| format!("config.json: {k}'s parent is not an object"))?;
        v = o
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    v.as_object_mut()
        .with_context(|| format!("config.json: {} is not an object", path.join(".")))
}

/// `spec[a][b]...` as an array, made where missing.
pub fn array<'a>(spec: &'a mut Value, path: &[&str]) -> Result<&'a mut Vec<Value>> {
    let (last, parent) = path.split_last().context("empty path")?;
    let o = object(spec, parent)?;
    o.entry(last.to_string())
        .or_insert_with(|| Value::Array(vec![]))
        .as_array_mut()
        .with_context(|| format!("config.json: {} is not an array", path.join(".")))
}
