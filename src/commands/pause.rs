use anyhow::Result;

use crate::cli::{GlobalOpts, IdArg};
use crate::state::ContainerDir;

pub fn pause(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    crate::container::pause(&dir, &st)
}

pub fn resume(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    crate::container::resume(&dir, &st)
}
