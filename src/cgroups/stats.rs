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
