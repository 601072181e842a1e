use anyhow::Result;

use crate::cli::{GlobalOpts, RunArgs};
use crate::container::{self, foreground};

/// create + start; without --detach, waits and returns the container's exit code.
pub fn run(g: &GlobalOpts, a: &RunArgs) -> Result<i32> {
    super::check_host_flags(g)?;
    let mask = foreground::mask_for(!a.detach)?;
    let (dir, st, master) = container::create(&g.root, &a.id, &a.opts.plain(), mask, !a.detach)?;
    // The relay (and the window size it sets) is up before the process runs.
    let relay = match master.map(crate::console::relay::Relay::start).transpose() {
        Ok(r) => r,
        Err(e) => {
            let _ = container::delete(dir, &st, true);
            return Err(e);
        }
    };
    if let Err(e) = container::start(&dir, &st) {
        let _ = container::delete(dir, &st, true);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    drop(dir);
    let code = foreground::wait(st.pid, relay.as_ref())?;
    drop(relay);
    if !a.keep {
        let dir = crate::state::ContainerDir::open(&g.root, &a.id)?;
        container::delete(dir, &st, true)?;
    }
    Ok(code)
}
