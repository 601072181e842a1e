//! Sizes and CPU counts as people type them on the command line.

use anyhow::{bail, Result};

/// `32m`, `1g`, `512k`, `4096`, `1.5m`: a size above zero (hull::units).
pub fn bytes(flag: &str, s: &str) -> Result<u64> {
    match hull::units::bytes(s) {
        Some(n) if n > 0 => Ok(n),
        _ => bail!("{flag} {s:?}: not a size above zero (e.g. 32m, 1g, 4096)"),
    }
}

/// A fractional number of CPUs, at least one millicpu.
pub fn cpus(s: &str) -> Result<f64> {
    match s.trim().parse::<f64>() {
        Ok(n) if (0.001..=4096.0).contains(&n) => Ok(n),
        _ => bail!("--cpus {s:?}: not a number of CPUs between 0.001 and 4096"),
    }
}

/// A positive count.
pub fn count(flag: &str, s: &str) -> Result<i64> {
    match s.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} {s:?}: not a whole number above zero"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_typed() {
        assert_eq!(bytes("--memory", "32m").unwrap(), 32 << 20);
        assert_eq!(bytes("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(bytes("--memory", "512kb").unwrap(), 512 << 10);
        assert_eq!(bytes("--memory", "4096").unwrap(), 4096);
        assert_eq!(bytes("--disk", "1.5m").unwrap(), 3 << 19);
        for bad in ["", "-1m", "0", "m", "12q", "nan", "1e30g"] {
            let e = bytes("--disk", bad).unwrap_err().to_string();
            assert!(e.contains("--disk"), "{e}");
        }
        assert_eq!(cpus("0.5").unwrap(), 0.5);
        assert!(cpus("0").is_err() && cpus("x").is_err());
        assert!(count("--pids", "0").is_err());
    }
}
