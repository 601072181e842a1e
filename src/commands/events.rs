use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use crate::cgroups::Cgroup;
use crate::cli::{EventsArgs, GlobalOpts};
use crate::state::{self, ContainerDir};

/// Go's duration syntax as runc takes it: "5s", "100ms", "1m30s".
pub fn parse_duration(s: &str) -> Result<Duration> {
    let err = || anyhow!("--interval: {s:?} is not a duration (e.g. 5s, 500ms, 1m)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(err)?;
        let n: f64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "\u{b5}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        // Go's durations end near 292 years; a longer one is no interval.
        let too_long = || anyhow!("--interval: {s:?} is longer than a duration can be");
        let part = Duration::try_from_secs_f64(n * secs).map_err(|_| too_long())?;
        total = total.checked_add(part).ok_or_else(too_long)?;
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        bail!("--interval: {s:?} must be above zero");
    }
    Ok(total)
}

fn line(v: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")
        .and_then(|_| out.flush())
        .context("write to stdout")
}

pub fn run(g: &GlobalOpts, a: &EventsArgs) -> Result<()> {
    let interval = parse_duration(&a.interval)?;
    // Read without the lock: events runs for as long as the container, and
    // must not hold up kill or delete.
    let st = {
        let dir = ContainerDir::read_only(&g.root, &a.id)?;
        let st = dir.load()?;
        if dir.status(&st) == state::Status::Stopped {
            bail!("container with id {} is not running", a.id);
        }
        st
    };
    let c = st
        .cgroup
        .as_ref()
        .with_context(|| format!("container {:?} has no cgroup", a.id))?;
    let cg = Cgroup::open(&c.path)?;
    let stats = || -> Result<serde_json::Value> { Ok(json!({"type": "stats", "id": a.id, "data": cg.stats_json()?})) };
    if a.stats {
        return line(&stats()?);
    }
    let mut ooms = cg.oom_kills();
    let mut oom = || -> Result<()> {
        let now = cg.oom_kills();
        if now > ooms {
            ooms = now;
            line(&json!({"type": "oom", "id": a.id}))?;
        }
        Ok(())
    };
    let mut next = Instant::now();
    while state::is_alive(st.pid, st.pid_start) {
        oom()?;
        if Instant::now() >= next {
            line(&stats()?)?;
            next = Instant::now() + interval;
        }
        std::thread::sleep(interval.min(Duration::from_millis(100)));
    }
    // A kill of the init itself is seen as its death first.
    oom()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "0s",
            "100000000000000000000s",
            "10000000000000000000s10000000000000000000s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
