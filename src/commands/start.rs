use anyhow::Result;

use crate::cli::{GlobalOpts, IdArg};
use crate::container::notify;
use crate::state::{ContainerDir, Status};

pub fn run(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    // Only a start that will release the init takes the container's socket.
    let created = dir.status(&st) == Status::Created;
    let notify = match created && dir.notify_dir().is_dir() {
        true => notify::Host::connect()?
            .map(|host| notify::bind(&dir.notify_dir()).map(|sock| (host, sock)))
            .transpose()?,
        false => None,
    };
    if created && notify.is_none() && notify::asked() {
        tracing::warn!(
            "NOTIFY_SOCKET: container {:?} was created without it: systemd gets no READY=1 from it",
            st.id
        );
    }
    crate::container::start(&dir, &st)?;
    // The wait for READY holds no lock: kill and state go on meanwhile.
    drop(dir);
    if let Some((host, sock)) = notify {
        notify::wait_and_tell(&sock, &host, (st.pid, st.pid_start), st.pid, None)?;
    }
    Ok(())
}
