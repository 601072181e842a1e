//! Container statistics in runc's `events` JSON shape, from cgroups-rs.

use cgroups_rs::stats::{BlkioStat, MemoryStats};
use cgroups_rs::CgroupStats;
use serde_json::{json, Value};

fn mem(m: &Option<MemoryStats>) -> Value {
    match m {
        Some(m) => json!({"limit": m.limit.max(0), "usage": m.usage, "max": m.max_usage, "failcnt": m.fail_cnt}),
        None => json!({}),
    }
}

fn blkio(list: &[BlkioStat]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| json!({"major": s.major, "minor": s.minor, "op": s.op, "value": s.value}))
            .collect(),
    )
}

pub fn to_json(s: &CgroupStats) -> Value {
    let acct = s.cpu.cpu_acct.as_ref();
    let thr = s.cpu.cpu_throttling.as_ref();
    let m = &s.memory;
    let hugetlb: serde_json::Map<String, Value> = s
        .hugetlb
        .iter()
        .map(|(size, h)| {
            (
                size.clone(),
                json!({"usage": h.usage, "max": h.max_usage, "failcnt": h.fail_cnt}),
            )
        })
        .collect();
    json!({
        "cpu": {
            "usage": {
                "total": acct.map(|a| a.total_usage).unwrap_or(0),
                "percpu": acct.map(|a| a.usage_percpu.clone()).unwrap_or_default(),
                "kernel": acct.map(|a| a.system_usage).unwrap_or(0),
                "user": acct.map(|a| a.user_usage).unwrap_or(0),
            },
            "throttling": {
                "periods": thr.map(|t| t.periods).unwrap_or(0),
                "throttledPeriods": thr.map(|t| t.throttled_periods).unwrap_or(0),
                "throttledTime": thr.map(|t| t.throttled_time).unwrap_or(0),
            }
        },
        "memory": {
            "cache": m.cache,
            "usage": mem(&m.memory),
            "swap": mem(&m.memory_swap),
            "kernel": mem(&m.kernel_memory),
            "raw": {
                "cache": m.cache, "rss": m.rss, "rss_huge": m.rss_huge, "shmem": m.shmem,
                "mapped_file": m.mapped_file, "dirty": m.dirty, "writeback": m.writeback, "swap": m.swap,
                "pgfault": m.pgfault, "pgmajfault": m.pgmajfault, "active_anon": m.active_anon,
                "inactive_anon": m.inactive_anon, "active_file": m.active_file,
                "inactive_file": m.inactive_file, "unevictable": m.unevictable,
            }
        },
        "pids": {"current": s.pids.current, "limit": s.pids.limit.max(0)},
        "blkio": {
            "ioServiceBytesRecursive": blkio(&s.blkio.io_service_bytes_recursive),
            "ioServicedRecursive": blkio(&s.blkio.io_serviced_recursive),
            "ioQueueRecursive": blkio(&s.blkio.io_queued_recursive),
            "ioServiceTimeRecursive": blkio(&s.blkio.io_service_time_recursive),
            "ioWaitTimeRecursive": blkio(&s.blkio.io_wait_time_recursive),
            "ioMergedRecursive": blkio(&s.blkio.io_merged_recursive),
            "ioTimeRecursive": blkio(&s.blkio.io_time_recursive),
            "sectorsRecursive": blkio(&s.blkio.sectors_recursive),
        },
        "hugetlb": hugetlb,
    })
}

/// The same document from a cgroup2 directory's own files, where
/// cgroups-rs's stats are v1's (no CPU time, no memory limit, no
/// memory.stat): as runc reports v2, times in ns, "max" as u64::MAX, the
/// swap figures memory and swap together (v1's memsw), memory.stat's own
/// keys under raw.
pub fn from_v2(dir: &std::path::Path) -> Value {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let num = |f: &str| -> u64 {
        match read(f).trim() {
            "max" => u64::MAX,
            v => v.parse().unwrap_or(0),
        }
    };
    let cpu = keyed(&read("cpu.stat"));
    let mem = keyed(&read("memory.stat"));
    let fails = keyed(&read("memory.events")).get("max").copied().unwrap_or(0);
    let usec = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    let (current, limit) = (num("memory.current"), num("memory.max"));
    let (swap, swap_max) = (num("memory.swap.current"), num("memory.swap.max"));
    json!({
        "cpu": {
            "usage": {"total": usec("usage_usec"), "percpu": [], "kernel": usec("system_usec"), "user": usec("user_usec")},
            "throttling": {
                "periods": cpu.get("nr_periods").copied().unwrap_or(0),
                "throttledPeriods": cpu.get("nr_throttled").copied().unwrap_or(0),
                "throttledTime": usec("throttled_usec"),
            }
        },
        "memory": {
            "cache": mem.get("file").copied().unwrap_or(0),
            "usage": {"limit": limit, "usage": current, "max": num("memory.peak"), "failcnt": fails},
            "swap": {"limit": limit.saturating_add(swap_max), "usage": current + swap, "max": 0, "failcnt": 0},
            "kernel": {"limit": 0, "usage": 0, "max": 0, "failcnt": 0},
            "raw": mem,
        },
        "pids": {"current": num("pids.current"), "limit": match num("pids.max") { u64::MAX => 0, n => n }},
        "blkio": io_stat(&read("io.stat")),
        "hugetlb": hugetlb_v2(dir),
    })
}

/// "key value" lines (cpu.stat, memory.stat, memory.events, memory.oom_control).
pub(super) fn keyed(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// io.stat's "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." lines as v1's
/// byte and operation lists.
fn io_stat(text: &str) -> Value {
    let (mut bytes, mut ops) = (vec![], vec![]);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        for (k, v) in words.filter_map(|w| w.split_once('=')) {
            let value: u64 = v.parse().unwrap_or(0);
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ops, "Read"),
                "wios" => (&mut ops, "Write"),
                _ => continue,
            };
            list.push(json!({"major": major, "minor": minor, "op": op, "value": value}));
        }
    }
    let empty = || Value::Array(vec![]);
    json!({
        "ioServiceBytesRecursive": bytes, "ioServicedRecursive": ops,
        "ioQueueRecursive": empty(), "ioServiceTimeRecursive": empty(), "ioWaitTimeRecursive": empty(),
        "ioMergedRecursive": empty(), "ioTimeRecursive": empty(), "sectorsRecursive": empty(),
    })
}

/// hugetlb.<size>.current and the times its max was hit, per page size.
fn hugetlb_v2(dir: &std::path::Path) -> Value {
    let sizes = super::hugepage_sizes();
    let per_size = sizes.iter().map(|size| {
        let read = |f: String| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let usage: u64 = read(format!("hugetlb.{size}.current")).trim().parse().unwrap_or(0);
        let failcnt = keyed(&read(format!("hugetlb.{size}.events")))
            .get("max")
            .copied()
            .unwrap_or(0);
        (size.clone(), json!({"usage": usage, "max": 0, "failcnt": failcnt}))
    });
    Value::Object(per_size.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The VM of conformance/cgroup-v2.sh has no disk: io.stat's reading is
    /// pinned here, on the kernel's format (cgroup-v2.rst).
    #[test]
    fn io_stat_becomes_v1_lists() {
        let v = io_stat("8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n253:0 rbytes=4096\n");
        assert_eq!(
            v["ioServiceBytesRecursive"],
            json!([
                {"major": 8, "minor": 16, "op": "Read", "value": 1459200},
                {"major": 8, "minor": 16, "op": "Write", "value": 314773504},
                {"major": 253, "minor": 0, "op": "Read", "value": 4096}
            ])
        );
        assert_eq!(
            v["ioServicedRecursive"][1],
            json!({"major": 8, "minor": 16, "op": "Write", "value": 353})
        );
    }
}
