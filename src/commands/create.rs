use anyhow::Result;
use nix::sys::signal::SigSet;

use crate::cli::{CreateArgs, GlobalOpts};

pub fn run(g: &GlobalOpts, a: &CreateArgs) -> Result<()> {
    super::check_host_flags(g)?;
    let mut mask = SigSet::empty();
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, None, Some(&mut mask))?;
    crate::container::create(&g.root, &a.id, &a.opts, mask, false)?;
    Ok(())
}
