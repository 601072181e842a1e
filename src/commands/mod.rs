//! One function per subcommand, each a thin layer over the library.

use anyhow::{bail, Context, Result};

use crate::cli::{Command, GlobalOpts};

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
pub mod update;

pub fn dispatch(g: &GlobalOpts, cmd: &Command) -> Result<i32> {
    match cmd {
        Command::Create(a) => create::run(g, a).map(|_| 0),
        Command::Start(a) => start::run(g, a).map(|_| 0),
        Command::State(a) => state::run(g, a).map(|_| 0),
        Command::Kill(a) => kill::run(g, a).map(|_| 0),
        Command::Delete(a) => delete::run(g, a).map(|_| 0),
        Command::Run(a) => run::run(g, a),
        Command::List(a) => list::run(g, a).map(|_| 0),
        Command::Spec(a) => spec::run(a).map(|_| 0),
        Command::Pause(a) => pause::pause(g, a).map(|_| 0),
        Command::Resume(a) => pause::resume(g, a).map(|_| 0),
        Command::Ps(a) => ps::run(g, a).map(|_| 0),
        Command::Update(a) => update::run(g, a).map(|_| 0),
        Command::Events(a) => events::run(g, a).map(|_| 0),
        Command::Exec(a) => exec::run(g, a),
        Command::Features => features::run().map(|_| 0),
        Command::Engine(_) => exec_engine(&[]),
    }
}

/// Every verb that is not runc's runs in hull-engine, next to this binary,
/// with the same command line: the runtime carries no provisioner code.
/// `extra` goes after the command line.
pub fn exec_engine(extra: &[std::ffi::OsString]) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe().context("find hull's own path")?;
    let tool = me.with_file_name("hull-engine");
    let err = std::process::Command::new(&tool)
        .args(std::env::args_os().skip(1))
        .args(extra)
        .exec();
    Err(err).with_context(|| {
        format!(
            "{}: hull's image, bundle and engine commands live in hull-engine, next to hull",
            tool.display()
        )
    })
}

/// Flags this host cannot honour are refused where they would matter.
fn check_host_flags(g: &GlobalOpts) -> Result<()> {
    if g.systemd_cgroup {
        if !std::path::Path::new("/run/systemd/system").exists() {
            bail!(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the cgroupfs driver"
            );
        }
        crate::cgroups::systemd::enable();
    }
    if let Some(r) = g.rootless.as_deref() {
        let mode = match r {
            "true" => Some(true),
            "false" => Some(false),
            "auto" => None,
            _ => bail!("--rootless: {r:?} is not true, false or auto"),
        };
        crate::privilege::set_rootless_mode(mode);
    }
    Ok(())
}
