//! The kernel's list format for CPUs and memory nodes: `0-3,7`.

use anyhow::{bail, Result};

/// The numbers `s` lists, each below `limit`; `what` names them in errors.
pub fn parse(s: &str, limit: usize, what: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi) = (number(lo, what)?, number(hi, what)?);
        if lo > hi {
            bail!("the range {part} runs backwards");
        }
        if hi >= limit {
            bail!("{what} {hi} is beyond the {limit} this kernel interface can name");
        }
        out.extend(lo..=hi);
    }
    Ok(out)
}

fn number(s: &str, what: &str) -> Result<usize> {
    match s.parse::<usize>() {
        Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => bail!("{s:?} is not a {what} number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_ranges_and_errors() {
        assert_eq!(parse("0-2,5", 8, "CPU").unwrap(), [0, 1, 2, 5]);
        for (bad, why) in [
            ("3-1", "backwards"),
            ("1,,2", "not a CPU"),
            ("+1", "not a CPU"),
            ("5000", "beyond"),
        ] {
            let e = format!("{:#}", parse(bad, 1024, "CPU").unwrap_err());
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
