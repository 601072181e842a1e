//! The bundle a case edits: its config as JSON (or raw bytes in its place),
//! its rootfs, the container id, and the mounts the case made for it.

use std::path::PathBuf;

use serde_json::Value;

pub struct Ctx {
    pub dir: PathBuf,
    pub cfg: Value,
    /// Bytes written as config.json instead of `cfg`.
    pub raw: Option<Vec<u8>>,
    pub id: String,
    /// Mounts the case made (another filesystem for the rootfs): undone after.
    pub mounts: Vec<PathBuf>,
    /// False where the case puts something of its own at config.json (or
    /// nothing).
    pub write_config: bool,
}

impl Ctx {
    pub fn new(dir: PathBuf, base: &Value, id: String) -> Ctx {
        crate::common::make_rootfs(&dir.join("rootfs"));
        Ctx {
            dir,
            cfg: base.clone(),
            raw: None,
            id,
            mounts: vec![],
            write_config: true,
        }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The value at a JSON pointer ("/process/user/uid"), made as an object
    /// (or appended to an array, for an index one past its end) where missing.
    pub fn at(&mut self, ptr: &str) -> &mut Value {
        let mut v = &mut self.cfg;
        for seg in ptr.split('/').skip(1) {
            if let Ok(i) = seg.parse::<usize>() {
                if !v.is_array() {
                    *v = Value::Array(vec![]);
                }
                let a = v.as_array_mut().unwrap();
                if a.len() <= i {
                    a.resize(i + 1, Value::Object(Default::default()));
                }
                v = &mut a[i];
            } else {
                if !v.is_object() {
                    *v = Value::Object(Default::default());
                }
                v = v.as_object_mut().unwrap().entry(seg).or_insert(Value::Null);
            }
        }
        v
    }

    pub fn set(&mut self, ptr: &str, value: Value) {
        *self.at(ptr) = value;
    }

    pub fn remove(&mut self, ptr: &str) {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        if let Some(o) = self.cfg.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            o.remove(key);
        }
    }

    /// Appends to the array at `ptr`, made where missing.
    pub fn push(&mut self, ptr: &str, value: Value) {
        let v = self.at(ptr);
        if !v.is_array() {
            *v = Value::Array(vec![]);
        }
        v.as_array_mut().unwrap().push(value);
    }

    /// Drops the namespace of this type from linux.namespaces.
    pub fn drop_ns(&mut self, typ: &str) {
        if let Some(a) = self.cfg.pointer_mut("/linux/namespaces").and_then(|a| a.as_array_mut()) {
            a.retain(|n| n["type"] != typ);
        }
    }

    pub fn write(&self) {
        if !self.write_config {
            return;
        }
        let bytes = match &self.raw {
            Some(raw) => raw.clone(),
            None => serde_json::to_vec_pretty(&self.cfg).unwrap(),
        };
        std::fs::write(self.config_path(), bytes).unwrap();
    }
}
