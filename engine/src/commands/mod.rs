//! One function per engine verb, each a thin layer over the engine's modules.

use anyhow::Result;

use crate::cli::{BundleCommand, Command};

pub mod bundle;
mod containers;
mod image;
mod launch;

pub fn dispatch(g: &hull::cli::GlobalOpts, cmd: &Command) -> Result<i32> {
    match cmd {
        Command::Bundle(BundleCommand::Create(a)) => bundle::create(a).map(|_| 0),
        Command::Bundle(BundleCommand::Rm(a)) => hull_provision::bundle::remove(&a.dir).map(|_| 0),
        Command::Image(c) => image::run(c).map(|_| 0),
        Command::Launch(a) => launch::run(g, a),
        Command::Inspect(a) => containers::inspect(g, a).map(|_| 0),
        Command::Usage(a) => containers::usage(g, a).map(|_| 0),
        Command::Update(a) => containers::update(g, a).map(|_| 0),
        Command::Destroy(a) => containers::destroy(g, a).map(|_| 0),
        Command::Containers(a) => containers::list(g, a).map(|_| 0),
        Command::Recover(a) => crate::recover::all(&g.root, &a.engine_dir).map(|_| 0),
        Command::Supervise(a) => crate::supervisor::adopt(&a.dir.engine_dir, &a.id).map(|_| 0),
    }
}
