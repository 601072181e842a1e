use anyhow::Result;

use crate::cli::{DeleteArgs, GlobalOpts};
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &DeleteArgs) -> Result<()> {
    crate::state::check_id(&a.id)?;
    let dir = match ContainerDir::open(&g.root, &a.id) {
        Ok(d) => d,
        // runc: deleting what is not there succeeds with --force; so does
        // clearing what a create that was killed midway left.
        Err(_) if a.force => return crate::container::clear_leftover(&g.root, &a.id),
        Err(e) => return Err(e),
    };
    let st = dir.load()?;
    crate::container::delete(dir, &st, a.force)
}
