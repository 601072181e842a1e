use anyhow::Result;

use crate::cli::{GlobalOpts, RunArgs};
use crate::container::{self, foreground, notify};

/// create + start; without --detach, waits and returns the container's exit code.
pub fn run(g: &GlobalOpts, a: &RunArgs) -> Result<i32> {
    super::check_host_flags(g)?;
    // A NOTIFY_SOCKET that cannot be reached fails before anything is made.
    let host = notify::Host::connect()?;
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
    let sock = match &host {
        Some(_) if dir.notify_dir().is_dir() => notify::bind(&dir.notify_dir()).map(Some),
        _ => Ok(None),
    }
    .and_then(|sock| container::start(&dir, &st).map(|()| sock));
    let sock = match sock {
        Ok(sock) => sock,
        Err(e) => {
            let _ = container::delete(dir, &st, true);
            return Err(e);
        }
    };
    drop(dir);
    if let (Some(host), Some(sock)) = (&host, sock) {
        // In the foreground hull is the unit's main process, and passes on
        // the signals that come meanwhile; detached, the init is.
        let init = (st.pid, st.pid_start);
        let told = match a.detach {
            true => notify::wait_and_tell(&sock, host, init, st.pid, None),
            false => {
                let mut pass_on = |sig| foreground::pass_on(sig, st.pid, relay.as_ref());
                notify::Signals::new(&foreground::forwarded(), &mut pass_on).and_then(|signals| {
                    notify::wait_and_tell(&sock, host, init, std::process::id() as i32, Some(signals))
                })
            }
        };
        // Closed now: a process that goes on sending gets ECONNREFUSED
        // instead of filling a queue nobody reads.
        drop(sock);
        // The container runs either way; as runc, run says so and goes on.
        if let Err(e) = told {
            tracing::warn!("{e:#}");
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
