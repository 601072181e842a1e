//! cgroups/*: one cgroup per container (the runtime makes and removes it),
//! limits from --cpus, --memory and --pids, statistics, and OOM as the
//! reason a container ended.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use super::object;
use crate::isolator::{Isolator, Spec};
use crate::record::{Record, Sandbox};
use crate::request::{Limits, Request};

/// CFS period: 100 ms, as Mesos and docker use.
const CFS_PERIOD_US: u64 = 100_000;

pub struct Cgroups {
    memory: bool,
}

impl Cgroups {
    pub fn new(names: &[&str]) -> Cgroups {
        Cgroups {
            memory: names.iter().any(|n| *n == "mem" || *n == "all"),
        }
    }
}

/// Where the engine puts a container's cgroup.
pub fn path(id: &str) -> String {
    format!("/hull/{id}")
}

/// linux.resources for the limits that are set.
pub fn resources(l: &Limits) -> Value {
    let mut r = json!({});
    if let Some(c) = l.cpus {
        r["cpu"] = json!({
            "shares": ((c * 1024.0) as u64).max(2),
            "quota": (c * CFS_PERIOD_US as f64) as i64,
            "period": CFS_PERIOD_US,
        });
    }
    if let Some(m) = l.memory {
        r["memory"] = json!({"limit": m});
    }
    if let Some(p) = l.pids {
        r["pids"] = json!({"limit": p});
    }
    r
}

impl Isolator for Cgroups {
    fn prepare(&self, req: &Request, _sb: &Sandbox, spec: &mut Spec) -> Result<()> {
        let linux = object(spec, &["linux"])?;
        linux.insert("cgroupsPath".into(), json!(path(&req.id)));
        let res = object(spec, &["linux", "resources"])?;
        if let Value::Object(r) = resources(&req.limits) {
            res.extend(r);
        }
        Ok(())
    }

    fn update(&self, rec: &Record, limits: &Limits) -> Result<()> {
        let r: oci_spec::runtime::LinuxResources =
            serde_json::from_value(resources(limits)).context("the new limits as linux.resources")?;
        let dir = hull::state::ContainerDir::open(&rec.root, &rec.id)?;
        let st = dir.load()?;
        hull::container::update(&dir, &st, &r)
    }

    fn usage(&self, rec: &Record, _sb: &Sandbox, stats: &mut Map<String, Value>) {
        let Ok(s) = hull::cgroups::Cgroup::open(rec.cgroup.trim_start_matches('/')).and_then(|cg| cg.stats_json())
        else {
            return;
        };
        let ns = |v: &Value| v.as_u64().unwrap_or(0) as f64 / 1e9;
        let raw = &s["memory"]["raw"];
        let fields = [
            ("cpus_user_time_secs", json!(ns(&s["cpu"]["usage"]["user"]))),
            ("cpus_system_time_secs", json!(ns(&s["cpu"]["usage"]["kernel"]))),
            ("cpus_nr_periods", s["cpu"]["throttling"]["periods"].clone()),
            ("cpus_nr_throttled", s["cpu"]["throttling"]["throttledPeriods"].clone()),
            (
                "cpus_throttled_time_secs",
                json!(ns(&s["cpu"]["throttling"]["throttledTime"])),
            ),
            ("mem_total_bytes", s["memory"]["usage"]["usage"].clone()),
            // v1's memory.stat names, or v2's.
            ("mem_rss_bytes", raw.get("rss").unwrap_or(&raw["anon"]).clone()),
            ("mem_cache_bytes", s["memory"]["cache"].clone()),
            ("mem_limit_bytes", json!(rec.limits.memory)),
            ("mem_max_bytes", s["memory"]["usage"]["max"].clone()),
            ("processes", s["pids"]["current"].clone()),
            ("cpus_limit", json!(rec.limits.cpus)),
            ("pids_limit", json!(rec.limits.pids)),
        ];
        for (k, v) in fields {
            stats.insert(k.into(), v);
        }
    }

    fn watch(&self, rec: &Record, _sb: &Sandbox) -> Option<&'static str> {
        let cg = hull::cgroups::Cgroup::open(rec.cgroup.trim_start_matches('/')).ok()?;
        (self.memory && cg.oom_kills() > 0).then_some("oom")
    }
}
