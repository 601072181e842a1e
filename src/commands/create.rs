use anyhow::Result;

use crate::cli::{CreateArgs, GlobalOpts};

pub fn run(g: &GlobalOpts, a: &CreateArgs) -> Result<()> {
    super::check_host_flags(g)?;
    let mask = crate::container::foreground::mask_for(false)?;
    crate::container::create(&g.root, &a.id, &a.opts.plain(), mask, false)?;
    Ok(())
}
