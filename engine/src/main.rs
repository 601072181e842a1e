//! hull-engine: the image and bundle commands and Mesos's containerizer
//! (`launch` and the verbs around it). `hull` execs this binary, next to
//! itself, with its own command line for every verb that is not runc's.

use std::process::ExitCode;

use clap::Parser;
use hull_engine::{cli, commands};

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let g = &cli.global;
    if let Err(e) = hull::logging::init(g.log.as_deref(), g.log_format, g.debug) {
        eprintln!("{e:#}");
        return ExitCode::FAILURE;
    }
    match commands::dispatch(g, &cli.command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            if g.log.is_some() {
                tracing::error!("{e:#}");
            }
            eprintln!("hull: {e:#}");
            ExitCode::from(125)
        }
    }
}
