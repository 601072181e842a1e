use anyhow::Result;

use crate::cli::{GlobalOpts, KillArgs};
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &KillArgs) -> Result<()> {
    let sig = crate::container::parse_signal(&a.signal)?;
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    crate::container::signal(&dir, &st, sig, a.all)
}
