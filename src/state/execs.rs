//! The processes `exec` put into a container that has neither a cgroup nor
//! a pid namespace of its own (rootless on cgroup v1, in a pod's or the
//! host's pid namespace): `kill --all` has nothing else to tell them from
//! their neighbours' by. Each is an empty file `exec-PID-START` in the
//! state directory, its start time keeping a reused pid from passing for it.

use std::path::Path;

use anyhow::{Context, Result};

const PREFIX: &str = "exec-";

fn parse(name: &str) -> Option<(i32, u64)> {
    let (pid, start) = name.strip_prefix(PREFIX)?.split_once('-')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
}

/// Records `pid` as the container's, and forgets those that have ended.
pub fn record(dir: &Path, pid: i32) -> Result<()> {
    let start = super::start_time(pid).with_context(|| format!("exec: process {pid} ended before it was recorded"))?;
    let _ = recorded(dir);
    let path = dir.join(format!("{PREFIX}{pid}-{start}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{}: cannot record the exec'd process", path.display()))?;
    // A delete that read the records before this one came would leave the
    // process behind: the container must still be there.
    if !dir.join(super::STATE_FILE).exists() {
        let _ = std::fs::remove_file(&path);
        anyhow::bail!(
            "{}: the container was deleted while the process joined it",
            dir.display()
        );
    }
    Ok(())
}

/// The recorded processes still running; the records of those that ended
/// are removed.
pub fn recorded(dir: &Path) -> Vec<(i32, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut live = vec![];
    for e in entries.flatten() {
        let Some((pid, start)) = e.file_name().to_str().and_then(parse) else {
            continue;
        };
        if super::is_alive(pid, start) {
            live.push((pid, start));
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse("exec-42-1234"), Some((42, 1234)));
        assert_eq!(parse("exec-42"), None);
        assert_eq!(parse("state.json"), None);
        assert_eq!(parse("exec-x-1"), None);
    }
}
