use anyhow::Result;

use crate::cli::{DeleteArgs, GlobalOpts};
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &DeleteArgs) -> Result<()> {
    crate::state::check_id(&a.id)?;
    let dir = match ContainerDir::open(&g.root, &a.id) {
        Ok(d) => d,
        // runc: deleting what is not there succeeds with --force.
        Err(_) if a.force && !g.root.join(&a.id).exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = dir.load()?;
    crate::container::delete(dir, &st, a.force)
}
