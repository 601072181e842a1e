//! filesystem/linux and filesystem/posix: the provisioned rootfs (or the
//! host's, read-only) is the bundle launch made; this isolator gives the
//! container its sandbox at /mnt/sandbox and removes the bundle at cleanup.

use anyhow::Result;
use serde_json::json;

use super::array;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox, SANDBOX_IN_CONTAINER};
use crate::request::{Launcher, Request};

pub struct Filesystem;

impl Isolator for Filesystem {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let inside = match req.launcher {
            Launcher::Linux => {
                array(spec, &["mounts"])?.push(json!({
                    "destination": SANDBOX_IN_CONTAINER, "type": "bind",
                    "source": sb.sandbox(), "options": ["rbind", "rw", "nosuid", "nodev"]
                }));
                SANDBOX_IN_CONTAINER.to_string()
            }
            Launcher::Posix => sb.sandbox().display().to_string(),
        };
        array(spec, &["process", "env"])?.push(json!(format!("HULL_SANDBOX={inside}")));
        Ok(())
    }

    fn cleanup(&self, _rec: &Record, sb: &Sandbox) -> Result<()> {
        if sb.bundle().exists() {
            hull_provision::bundle::remove(&sb.bundle())?;
        }
        Ok(())
    }
}
