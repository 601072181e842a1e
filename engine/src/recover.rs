//! Recovery after a crash of `launch` or of a supervisor: a container whose
//! init still runs gets a new supervisor; one whose init is gone is cleaned
//! up (runtime container, isolators' setup, bundle) and recorded as exited.
//! Every engine verb runs the same check for the id it touches.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::record::{self, Sandbox};
use crate::supervisor;

fn alive(p: Option<(i32, u64)>) -> bool {
    p.is_some_and(|(pid, start)| hull::state::is_alive(pid, start))
}

/// Brings one container's record in line with what runs. Returns what it did.
pub fn check(root: &Path, engine_dir: &Path, id: &str) -> Result<&'static str> {
    let sb = Sandbox::new(engine_dir, id);
    let rec = sb.locked(|| sb.load())?;
    if rec.status != "running" || alive(rec.supervisor) {
        return Ok("as it is");
    }
    if rec.pid > 0 && hull::state::is_alive(rec.pid, rec.pid_start) && !never_started(&rec) {
        supervisor::spawn_adopter(root, engine_dir, id)?;
        // The record says who supervises before any verb goes on.
        for _ in 0..100 {
            if alive(sb.load()?.supervisor) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for i in crate::isolator::build(&rec.isolators) {
            if let Err(e) = i.recover(&rec, &sb) {
                tracing::warn!("container {id}: after adoption: {e:#}");
                eprintln!("hull: container {id}: {e:#}");
            }
        }
        return Ok("adopted");
    }
    let isolators = Arc::new(crate::isolator::build(&rec.isolators));
    supervisor::finish(&sb, &isolators, None, None);
    Ok("cleaned up")
}

/// A launch killed between the runtime's create and start leaves an init
/// waiting on its exec fifo: nobody will start it, and an adopter would
/// show it running with its program never run.
fn never_started(rec: &crate::record::Record) -> bool {
    hull::state::ContainerDir::open(&rec.root, &rec.id)
        .and_then(|dir| dir.load().map(|st| dir.status(&st)))
        .is_ok_and(|s| s == hull::state::Status::Created)
}

/// `recover`: every container of the engine.
pub fn all(root: &Path, engine_dir: &Path) -> Result<()> {
    for sb in record::all(engine_dir)? {
        let id = sb.id();
        if !sb.record_path().exists() {
            // A launch killed before its first record: nothing was set up
            // that the sandbox directory does not hold.
            let _ = sb.remove();
            println!("{id}: removed a half-made sandbox");
            continue;
        }
        match check(root, engine_dir, &id) {
            Ok(what) => println!("{id}: {what}"),
            Err(e) => eprintln!("hull: recover {id}: {e:#}"),
        }
    }
    crate::pod::gc(engine_dir)
}
