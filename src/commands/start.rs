use anyhow::Result;

use crate::cli::{GlobalOpts, IdArg};
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    crate::container::start(&dir, &st)
}
