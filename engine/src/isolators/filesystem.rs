//! filesystem/linux and filesystem/posix: the provisioned rootfs (or the
//! host's, read-only) is the bundle launch made; this isolator gives the
//! container its sandbox (at /mnt/sandbox in an image, at its own path on
//! the host's root) and removes the bundle at cleanup.

use anyhow::{Context, Result};
use serde_json::json;

use super::array;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox, SANDBOX_IN_CONTAINER};
use crate::request::{Launcher, Request};

pub struct Filesystem;

impl Isolator for Filesystem {
    fn prepare(&self, req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        // With an image the sandbox has a place of its own; without one
        // (the host's root, read-only) it is where it is on the host, as in
        // Mesos, and the working directory unless -w says otherwise.
        let host = sb.sandbox().display().to_string();
        let inside = match (req.launcher, req.image.is_some()) {
            (Launcher::Linux, true) => SANDBOX_IN_CONTAINER.to_string(),
            (Launcher::Linux, false) => host.clone(),
            (Launcher::Posix, _) => host.clone(),
        };
        if req.launcher == Launcher::Linux {
            array(spec, &["mounts"])?.push(json!({
                "destination": inside, "type": "bind",
                "source": host, "options": ["rbind", "rw", "nosuid", "nodev"]
            }));
        }
        if inside == host && spec["process"]["user"]["uid"].as_u64().is_some_and(|u| u != 0) {
            open_the_way(sb, spec)?;
        }
        if req.image.is_none() && req.workdir.is_none() {
            spec["process"]["cwd"] = json!(inside);
        }
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

/// A sandbox reached by its host path by a user other than root: that user
/// goes through the container's directory (0711: no listing; what else is
/// in it is private) into a sandbox that is its own alone, as Mesos gives
/// the task's user its sandbox, so that no other host user reaches what
/// the container leaves there.
fn open_the_way(sb: &Sandbox, spec: &Spec) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let id = |k: &str| {
        spec["process"]["user"][k]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    let sandbox = sb.sandbox();
    std::os::unix::fs::chown(&sandbox, Some(id("uid")), Some(id("gid")))
        .and_then(|()| std::fs::set_permissions(&sandbox, std::fs::Permissions::from_mode(0o700)))
        .and_then(|()| std::fs::set_permissions(&sb.dir, std::fs::Permissions::from_mode(0o711)))
        .with_context(|| format!("give {} to the container's user", sandbox.display()))
}
