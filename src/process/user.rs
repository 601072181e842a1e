//! Switching to process.user: supplementary groups, gid, uid — keeping the
//! permitted capabilities across the switch so the spec's sets can be applied after.

use anyhow::{Context, Result};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

pub fn switch(user: &User) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("PR_SET_KEEPCAPS");
    }
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match setgroups(&groups) {
        // A rootless user namespace denies setgroups(2) (its gid map was
        // written unprivileged); with no groups asked for, there is nothing to do.
        Err(nix::errno::Errno::EPERM) if groups.is_empty() => {}
        r => r.with_context(|| {
            format!(
                "process.user.additionalGids: {:?} (a rootless container with a single gid mapping cannot set groups)",
                user.additional_gids().clone().unwrap_or_default()
            )
        })?,
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid)
        .with_context(|| format!("process.user.gid: {} (is it mapped in the user namespace?)", user.gid()))?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid)
        .with_context(|| format!("process.user.uid: {} (is it mapped in the user namespace?)", user.uid()))?;
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}
