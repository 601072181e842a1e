//! Writing a new user namespace's uid_map and gid_map, from the parent (which
//! holds the rights in the namespace's parent).

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

fn lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else { return Ok(()) };
    let uid = lines(linux.uid_mappings().as_deref().unwrap_or(&[]));
    let gid = lines(linux.gid_mappings().as_deref().unwrap_or(&[]));
    std::fs::write(format!("/proc/{pid}/uid_map"), &uid)
        .with_context(|| format!("linux.uidMappings: write {uid:?}"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), &gid)
        .with_context(|| format!("linux.gidMappings: write {gid:?}"))?;
    Ok(())
}
