//! disk/du: the sandbox and what the container wrote to its rootfs (the
//! overlay backend's upper dir), measured as du measures, polled; past the
//! quota the container ends with reason `disk` (Mesos's disk/du with
//! enforcement on). With the copy backend the writes are not told apart
//! from the image's files, so only the sandbox counts.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::isolator::Isolator;
use crate::record::{Record, Sandbox};

pub struct Du;

/// Bytes allocated under `dir`, on its filesystem only.
pub fn used(dir: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = top.blocks() * 512;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.dev() != top.dev() {
                continue;
            }
            total += m.blocks() * 512;
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

fn sandbox_usage(sb: &Sandbox) -> u64 {
    used(&sb.sandbox()) + used(&sb.upper())
}

impl Isolator for Du {
    fn usage(&self, rec: &Record, sb: &Sandbox, stats: &mut Map<String, Value>) {
        stats.insert("disk_used_bytes".into(), json!(sandbox_usage(sb)));
        stats.insert("disk_limit_bytes".into(), json!(rec.limits.disk));
    }

    fn watch(&self, rec: &Record, sb: &Sandbox) -> Option<&'static str> {
        let limit = rec.limits.disk?;
        (sandbox_usage(sb) > limit).then_some("disk")
    }
}
