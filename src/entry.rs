//! What both binaries do around their commands: parse the command line, set
//! up logging, run, and report an error the way runc does.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GlobalOpts, LogFormat};

pub type Dispatch = fn(&GlobalOpts, &Command) -> anyhow::Result<i32>;

pub fn main(dispatch: Dispatch) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    if cli.version {
        println!(
            "hull version {}\ncommit: {}\nspec: {}",
            crate::VERSION,
            crate::COMMIT,
            crate::SPEC_VERSION
        );
        return ExitCode::SUCCESS;
    }
    let g = &cli.global;
    if let Err(e) = crate::logging::init(g.log.as_deref(), g.log_format, g.debug) {
        eprintln!("{e:#}");
        return ExitCode::FAILURE;
    }
    let Some(cmd) = &cli.command else {
        eprintln!("hull: no command given; see hull --help");
        return ExitCode::FAILURE;
    };
    match dispatch(g, cmd) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // runc's exec exits 255 for its own failures, "exec failed: ..."
            // (the container's program owns every other code).
            let (msg, code) = match cmd {
                Command::Exec(_) => (format!("{}: {e:#}", crate::container::phrases::EXEC_FAILED), 255),
                _ => (format!("{e:#}"), 1),
            };
            // containerd and podman read the last error line of --log; people read stderr.
            if g.log.is_some() || g.log_format == LogFormat::Json {
                tracing::error!("{msg}");
            }
            if g.log.is_some() || g.log_format == LogFormat::Text {
                eprintln!("hull: {msg}");
            }
            ExitCode::from(code)
        }
    }
}
