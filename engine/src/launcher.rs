//! The two launchers, made by the config given to the runtime. linux: the
//! bundle's namespaces, except the network one (without a network
//! isolator a container has the host's network, as in Mesos). posix
//! (Mesos's posix launcher): no namespace of its own and the host's
//! filesystem; only the cgroup and a session set it apart.

use anyhow::Result;
use serde_json::{json, Value};

use hull::commands::update::ENGINE_DIR_ANNOTATION;

use crate::isolator::Spec;
use crate::isolators::{array, object};
use crate::record::Sandbox;
use crate::request::{Launcher, Request};

pub fn shape(req: &Request, sb: &Sandbox, spec: &mut Spec) -> Result<()> {
    if let Some(t) = object(spec, &["process"])?.get_mut("terminal") {
        *t = json!(req.tty);
    }
    // `hull update` finds the engine's containers by it.
    let engine_dir = sb.dir.parent().map(|p| p.display().to_string()).unwrap_or_default();
    object(spec, &["annotations"])?.insert(ENGINE_DIR_ANNOTATION.into(), json!(engine_dir));
    match req.launcher {
        Launcher::Linux => {
            array(spec, &["linux", "namespaces"])?.retain(|n| n["type"] != "network");
        }
        Launcher::Posix => posix(sb, spec)?,
    }
    Ok(())
}

fn posix(sb: &Sandbox, spec: &mut Spec) -> Result<()> {
    spec["root"] = json!({"path": "/", "readonly": false});
    spec["mounts"] = json!([]);
    spec["process"]["cwd"] = json!(sb.sandbox());
    if let Some(o) = spec.as_object_mut() {
        o.remove("hostname");
        o.remove("domainname");
    }
    let linux = object(spec, &["linux"])?;
    linux.insert("namespaces".into(), Value::Array(vec![]));
    for k in [
        "maskedPaths",
        "readonlyPaths",
        "devices",
        "sysctl",
        "uidMappings",
        "gidMappings",
        "rootfsPropagation",
    ] {
        linux.remove(k);
    }
    Ok(())
}
