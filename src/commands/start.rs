use anyhow::Result;

use crate::cli::{GlobalOpts, IdArg};
use crate::container::notify;
use crate::state::ContainerDir;

pub fn run(g: &GlobalOpts, a: &IdArg) -> Result<()> {
    let dir = ContainerDir::open(&g.root, &a.id)?;
    let st = dir.load()?;
    let host = notify::host_socket();
    let sock = match &host {
        Some(_) => notify::bind(&dir.notify_dir())?,
        None => None,
    };
    crate::container::start(&dir, &st)?;
    // The wait for READY holds no lock: kill and state go on meanwhile.
    drop(dir);
    if let (Some(host), Some(sock)) = (host, sock) {
        notify::forward(&sock, &host, (st.pid, st.pid_start), st.pid, None)?;
    }
    Ok(())
}
