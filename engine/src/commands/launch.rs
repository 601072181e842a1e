//! `launch`: a container assembled from an image (or none), resources and
//! isolators, supervised to its end (Mesos's containerizer).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use hull::cli::GlobalOpts;
use hull_provision::convert::Overrides;

use crate::cli::LaunchArgs;
use crate::isolator::{self, Spec};
use crate::record::{Record, Sandbox};
use crate::request::{Launcher, Request};
use crate::supervisor::{self, Isolators};

pub fn run(g: &GlobalOpts, a: &LaunchArgs) -> Result<i32> {
    let req = Request::from_args(a)?;
    let names = isolator::select(&req)?;
    if req.launcher == Launcher::Posix {
        // The init will join the host's pid namespace, where a container
        // could reach this binary: the runtime's defence re-execs from a
        // sealed view first, and the whole command runs again from here.
        let mut mask = nix::sys::signal::SigSet::empty();
        nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, None, Some(&mut mask))
            .context("read the signal mask")?;
        hull::launcher::sealed_exe::ensure(&mask)?;
    }
    let engine_dir = std::path::absolute(&a.dir.engine_dir)
        .with_context(|| format!("--engine-dir {}", a.dir.engine_dir.display()))?;
    let sb = Sandbox::create(&engine_dir, &req.id)?;
    hull_sys::fault::point("launch:sandbox");
    let rec = Record {
        id: req.id.clone(),
        image: req.image.clone(),
        status: "running".into(),
        pid: 0,
        pid_start: 0,
        supervisor: supervisor::me(),
        exit_code: None,
        reason: None,
        isolators: names.clone(),
        limits: req.limits.clone(),
        launcher: req.launcher,
        root: std::path::absolute(&g.root).context("--root")?,
        cgroup: crate::isolators::cgroups::path(&req.id),
        started: crate::record::now(),
        finished: None,
        cleaned: false,
    };
    let rec_root = rec.root.clone();
    let isolators: Isolators = Arc::new(isolator::build(&names));
    let prepared = sb.save(&rec).and_then(|()| {
        hull_sys::fault::point("launch:recorded");
        prepare(a, &req, &sb, &isolators)
    });
    hull_sys::fault::point("launch:prepared");
    if let Err(e) = prepared {
        let _ = supervisor::cleanup(&rec, &sb, &isolators);
        let _ = sb.remove();
        return Err(e);
    }
    if req.detach {
        let run = || {
            sb.locked(|| {
                let mut r = sb.load()?;
                r.supervisor = supervisor::me();
                sb.save(&r)?;
                Ok(r)
            })
            .and_then(|rec| supervisor::supervise(&rec_root, &req, &sb, rec, isolators.clone()))
        };
        if let Err(e) = supervisor::detach(run, &sb) {
            let _ = supervisor::cleanup(&rec, &sb, &isolators);
            let _ = sb.remove();
            return Err(e);
        }
        println!("{}", req.id);
        return Ok(0);
    }
    if !req.interactive {
        let null = std::fs::File::open("/dev/null").context("open /dev/null")?;
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0).context("dup2")?;
    }
    let code = supervisor::supervise(&rec_root, &req, &sb, rec, isolators);
    // In the foreground nothing stays: the caller has the exit code.
    if let Err(e) = sb.remove() {
        tracing::warn!("container {}: {e:#}", req.id);
    }
    code
}

/// The bundle from the provisioner, then the launcher's and each isolator's
/// edits to its config.json.
fn prepare(a: &LaunchArgs, req: &Request, sb: &Sandbox, isolators: &Isolators) -> Result<()> {
    super::bundle::make(&super::bundle::Make {
        dir: &sb.bundle(),
        image: req.image.as_deref(),
        backend: &a.backend,
        store: &a.store.store,
        registry: &a.registry,
        overrides: Overrides {
            cmd: req.cmd.clone(),
            entrypoint: None,
            env: req.env.clone(),
            cwd: req.workdir.clone(),
            user: req.user.clone(),
        },
        quiet: true,
    })?;
    let config = sb.bundle().join("config.json");
    let mut spec = load(&config)?;
    crate::launcher::shape(req, sb, &mut spec)?;
    for i in isolators.iter() {
        i.prepare(req, sb, &mut spec)?;
    }
    hull_sys::file::write_atomic(&config, &serde_json::to_vec_pretty(&spec)?, 0o644)
}

fn load(path: &Path) -> Result<Spec> {
    let data = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("{}: not JSON", path.display()))
}
