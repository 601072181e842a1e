//! One function per subcommand, each a thin layer over the library.

use anyhow::{bail, Context, Result};

use crate::cli::{Command, GlobalOpts};

mod bundle;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod image;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

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
        Command::Bundle(_) | Command::Image(_) => exec_image_tool(),
    }
}

/// hull-image's commands; anything else belongs to hull.
pub fn dispatch_images(g: &GlobalOpts, cmd: &Command) -> Result<i32> {
    match cmd {
        Command::Bundle(crate::cli::BundleCommand::Create(a)) => bundle::create(a).map(|_| 0),
        Command::Bundle(crate::cli::BundleCommand::Rm(a)) => hull_provision::bundle::remove(&a.dir).map(|_| 0),
        Command::Image(c) => image::run(c).map(|_| 0),
        other => dispatch(g, other),
    }
}

/// The provisioner's commands run in hull-image, next to this binary, with
/// the same command line.
fn exec_image_tool() -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let me = std::env::current_exe().context("find hull's own path")?;
    let tool = me.with_file_name("hull-image");
    let err = std::process::Command::new(&tool)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).with_context(|| {
        format!(
            "{}: hull's image and bundle commands live in hull-image, next to hull",
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
        crate::container::set_rootless_mode(mode);
    }
    Ok(())
}
