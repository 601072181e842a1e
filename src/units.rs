//! Sizes as people type them on command lines: bytes, or with k, m, g, t
//! or p (binary multiples, as runc, docker and podman read them with
//! go-units' RAMInBytes: "64m", "64MiB", "64 mb", fractions allowed).

/// The size in bytes; None for what is not one (negative, overflowing, junk).
pub fn bytes(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let unit = |c: char| "kmgtp".find(c).map(|i| 1u64 << (10 * (i + 1)));
    let t = t.strip_suffix('i').unwrap_or(t);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if unit(c).is_some() => (&t[..i], unit(c).unwrap_or(1)),
        _ => (t, 1),
    };
    let num = num.strip_suffix(' ').unwrap_or(num);
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult);
    }
    // A fraction, digits and one dot only ("1.5m"): no signs, exponents or NaN.
    if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let v = num.parse::<f64>().ok()? * mult as f64;
    (v < u64::MAX as f64 / 2.0).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes_as_typed() {
        assert_eq!(bytes("4096"), Some(4096));
        assert_eq!(bytes("64m"), Some(64 << 20));
        assert_eq!(bytes("2G"), Some(2 << 30));
        assert_eq!(bytes("8kb"), Some(8 << 10));
        assert_eq!(bytes("1.5m"), Some(3 << 19));
        assert_eq!(bytes("9223372036854771712"), Some(9223372036854771712));
        assert_eq!(bytes("64MiB"), Some(64 << 20));
        assert_eq!(bytes("64 mb"), Some(64 << 20));
        assert_eq!(bytes("1p"), Some(1 << 50));
        assert_eq!(bytes("3Ki"), Some(3 << 10));
        assert_eq!(bytes("5i"), Some(5), "as go-units' RAMInBytes takes it");
        for bad in [
            "",
            "-1",
            "m",
            "12q",
            "nan",
            "1e3",
            "1e30g",
            "99999999999999999999t",
            "64  m",
            "mib",
        ] {
            assert_eq!(bytes(bad), None, "{bad}");
        }
    }
}
