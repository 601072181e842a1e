use anyhow::Result;

use crate::cli::{GlobalOpts, IdArg};
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::read_only(&g.root, &a.id)?;
    let st = dir.load()?;
    println!("{}", serde_json::to_string_pretty(&dir.oci_state(&st))?);
    Ok(())
}
