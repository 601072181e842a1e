use anyhow::Result;

use crate::cli::{GlobalOpts, RunArgs};
use crate::container::{self, foreground, notify};

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
    let host = notify::host_socket();
    let started = match &host {
        Some(_) => notify::bind(&dir.notify_dir()),
        None => Ok(None),
    }
    .and_then(|sock| container::start(&dir, &st).map(|()| sock));
    let sock = match started {
        Ok(sock) => sock,
        Err(e) => {
            let _ = container::delete(dir, &st, true);
            return Err(e);
        }
    };
    drop(dir);
    if let (Some(host), Some(sock)) = (&host, &sock) {
        // In the foreground hull is the unit's main process; detached, the
        // init is. A signal stops the wait, to be passed on below.
        let (main_pid, signals) = match a.detach {
            true => (st.pid, None),
            false => (std::process::id() as i32, Some(foreground::forwarded())),
        };
        let told = notify::forward(sock, host, (st.pid, st.pid_start), main_pid, signals.as_ref());
        match told {
            Err(e) if !a.detach => tracing::warn!("{e:#}"),
            told => {
                told?;
            }
        }
    }
    if a.detach {
        return Ok(0);
    }
    let code = foreground::wait(st.pid, relay.as_ref())?;
    drop(relay);
    if !a.keep {
        let dir = crate::state::ContainerDir::open(&g.root, &a.id)?;
        container::delete(dir, &st, true)?;
    }
    Ok(code)
}
