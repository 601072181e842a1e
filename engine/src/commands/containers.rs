//! The verbs on engine containers: inspect, usage, update, destroy, and the
//! listing. Each first brings the container's record in line with what runs
//! (`recover::check`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use hull::cli::GlobalOpts;
use serde_json::{json, Map, Value};

use crate::cli::{EngineIdArgs, EngineListArgs, EngineUpdateArgs};
use crate::record::{self, Sandbox};
use crate::size;

fn checked(g: &GlobalOpts, a: &EngineIdArgs) -> Result<Sandbox> {
    hull::state::check_id(&a.id)?;
    let sb = Sandbox::new(&a.dir.engine_dir, &a.id);
    crate::recover::check(&g.root, &a.dir.engine_dir, &a.id)?;
    Ok(sb)
}

pub fn inspect(g: &GlobalOpts, a: &EngineIdArgs) -> Result<()> {
    let sb = checked(g, a)?;
    let rec = sb.load()?;
    let mut doc = match serde_json::to_value(&rec)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for i in crate::isolator::build(&rec.isolators) {
        i.describe(&rec, &sb, &mut doc);
    }
    println!("{}", serde_json::to_string_pretty(&Value::Object(doc))?);
    Ok(())
}

pub fn usage(g: &GlobalOpts, a: &EngineIdArgs) -> Result<()> {
    let sb = checked(g, a)?;
    let rec = sb.load()?;
    let mut stats = Map::new();
    stats.insert("timestamp".into(), json!(hull::logging::rfc3339_now()));
    if rec.status == "running" {
        for i in crate::isolator::build(&rec.isolators) {
            i.usage(&rec, &sb, &mut stats);
        }
    }
    println!("{}", serde_json::to_string_pretty(&Value::Object(stats))?);
    Ok(())
}

pub fn update(g: &GlobalOpts, a: &EngineUpdateArgs) -> Result<()> {
    let sb = checked(
        g,
        &EngineIdArgs {
            dir: a.dir.clone(),
            id: a.id.clone(),
        },
    )?;
    sb.locked(|| {
        let mut rec = sb.load()?;
        if rec.status != "running" {
            bail!("container {:?} has exited: there is nothing to update", rec.id);
        }
        let mut limits = rec.limits.clone();
        if let Some(c) = &a.cpus {
            limits.cpus = Some(size::cpus(c)?);
        }
        if let Some(m) = &a.memory {
            limits.memory = Some(size::bytes("--memory", m)?);
        }
        if let Some(p) = &a.pids {
            limits.pids = Some(size::count("--pids", p)?);
        }
        let has = |n: &str| rec.isolators.iter().any(|i| i == n || i == "cgroups/all");
        for (asked, flag, iso) in [
            (a.cpus.is_some(), "--cpus", "cgroups/cpu"),
            (a.memory.is_some(), "--memory", "cgroups/mem"),
            (a.pids.is_some(), "--pids", "cgroups/pids"),
        ] {
            if asked && !has(iso) {
                bail!("{flag}: container {:?} was launched without the {iso} isolator", rec.id);
            }
        }
        for i in crate::isolator::build(&rec.isolators) {
            i.update(&rec, &limits)?;
        }
        rec.limits = limits;
        sb.save(&rec)
    })
}

pub fn destroy(g: &GlobalOpts, a: &EngineIdArgs) -> Result<()> {
    let sb = checked(g, a)?;
    let rec = sb.locked(|| {
        let mut rec = sb.load()?;
        if rec.status == "running" {
            rec.reason = Some("destroyed".into());
            sb.save(&rec)?;
        }
        Ok(rec)
    })?;
    if rec.status == "running" {
        crate::supervisor::kill_init(&rec);
        // The supervisor records the end and cleans up; wait for it.
        for _ in 0..500 {
            match sb.load() {
                Ok(r) if r.status == "running" => std::thread::sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
    }
    // Whatever a supervisor could not do (it was gone, or it is slow) is done here.
    if let Ok(rec) = sb.load() {
        if !rec.cleaned {
            let isolators = Arc::new(crate::isolator::build(&rec.isolators));
            crate::supervisor::cleanup(&rec, &sb, &isolators)?;
        }
    }
    sb.remove()?;
    println!("{}", a.id);
    Ok(())
}

pub fn list(g: &GlobalOpts, a: &EngineListArgs) -> Result<()> {
    let mut rows = vec![];
    for sb in record::all(&a.dir.engine_dir)? {
        let id = sb.id();
        let _ = crate::recover::check(&g.root, &a.dir.engine_dir, &id);
        if let Ok(r) = sb.load() {
            rows.push(
                json!({"id": r.id, "image": r.image, "status": r.status, "reason": r.reason,
                "exit_code": r.exit_code, "pid": r.pid, "started": r.started}),
            );
        }
    }
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&rows)?),
        "table" => {
            println!("{:<20} {:<40} {:<8} {:<10}", "ID", "IMAGE", "STATUS", "REASON");
            for r in &rows {
                let s = |k: &str| r[k].as_str().unwrap_or("-").to_string();
                println!(
                    "{:<20} {:<40} {:<8} {:<10}",
                    s("id"),
                    s("image"),
                    s("status"),
                    s("reason")
                );
            }
        }
        other => bail!("--format {other:?}: not table or json"),
    }
    Ok(())
}
