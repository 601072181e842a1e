//! GVariant's text form, as runc reads `org.systemd.property.*` annotations
//! ("uint64 123", "'inactive-or-failed'", "['a.service', 'b.service']",
//! "true", "5"), into a D-Bus signature and the arguments busctl takes for
//! it. The basic types and arrays of them: what a unit property can be.

use anyhow::{anyhow, bail, Result};

/// A value: its D-Bus signature and busctl's arguments for it (an array is
/// its length, then its elements).
#[derive(Debug, PartialEq, Eq)]
pub struct Value {
    pub signature: String,
    pub args: Vec<String>,
}

/// The type keywords GVariant's text form puts before a literal.
const KEYWORDS: [(&str, &str); 13] = [
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("handle", "h"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
    ("objectpath", "o"),
    ("signature", "g"),
];

pub fn parse(text: &str) -> Result<Value> {
    let mut p = Parser { rest: text.trim() };
    let v = p.value(None)?;
    if !p.rest.trim().is_empty() {
        bail!("unexpected {:?} after the value", p.rest.trim());
    }
    Ok(v)
}

struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    /// One value; `want` is the signature an array's elements must have.
    fn value(&mut self, want: Option<&'a str>) -> Result<Value> {
        let want = self.type_prefix(want)?;
        self.literal(want)
    }

    /// A type for the literal that follows: `@SIG` or a keyword, at most
    /// one (no recursion on input like "uint64 uint64 ...").
    fn type_prefix(&mut self, want: Option<&'a str>) -> Result<Option<&'a str>> {
        self.rest = self.rest.trim_start();
        let given = if let Some(typed) = self.rest.strip_prefix('@') {
            let (sig, rest) = typed
                .split_once(char::is_whitespace)
                .ok_or_else(|| anyhow!("a type after @"))?;
            self.rest = rest;
            sig
        } else {
            let keyword = KEYWORDS.iter().find_map(|(word, sig)| {
                let rest = self.rest.strip_prefix(word)?;
                rest.starts_with(char::is_whitespace).then_some((rest, *sig))
            });
            let Some((rest, sig)) = keyword else {
                return Ok(want);
            };
            self.rest = rest;
            sig
        };
        match want {
            Some(w) if w != given => bail!("a value of type {given} where the array holds {w}"),
            _ => Ok(Some(given)),
        }
    }

    fn literal(&mut self, want: Option<&'a str>) -> Result<Value> {
        self.rest = self.rest.trim_start();
        if self.rest.starts_with('[') {
            return self.array(want);
        }
        let v = if self.rest.starts_with(['\'', '"']) {
            Value::one("s", self.string()?)
        } else {
            let end = self
                .rest
                .find(|c: char| c == ',' || c == ']' || c.is_whitespace())
                .unwrap_or(self.rest.len());
            let (word, rest) = self.rest.split_at(end);
            self.rest = rest;
            bare(word, want)?
        };
        match want {
            Some(w) if w != v.signature && !(v.signature == "s" && (w == "o" || w == "g")) => {
                bail!("{:?} is not of type {w}", v.args[0])
            }
            Some(w) => Ok(Value::one(w, v.args.into_iter().next().unwrap_or_default())),
            None => Ok(v),
        }
    }

    /// `[a, b, ...]`: elements of one basic type (the first one's, or
    /// `want`'s).
    fn array(&mut self, want: Option<&'a str>) -> Result<Value> {
        let mut elem_sig = match want {
            Some(w) => Some(
                w.strip_prefix('a')
                    .ok_or_else(|| anyhow!("an array where type {w} is wanted"))?,
            ),
            None => None,
        };
        self.rest = &self.rest[1..];
        let mut items = Vec::new();
        loop {
            self.rest = self.rest.trim_start();
            if let Some(rest) = self.rest.strip_prefix(']') {
                self.rest = rest;
                break;
            }
            if !items.is_empty() {
                self.rest = self
                    .rest
                    .strip_prefix(',')
                    .ok_or_else(|| anyhow!("a , or ] in the array"))?
                    .trim_start();
            }
            // Checked before any recursion: "[[[[..." must not run deep.
            if self.rest.starts_with('[') || self.rest.starts_with("@a") || elem_sig.is_some_and(|s| s.starts_with('a'))
            {
                bail!("arrays of arrays are not supported");
            }
            let v = self.value(elem_sig)?;
            elem_sig = KEYWORDS.iter().map(|(_, sig)| *sig).find(|sig| *sig == v.signature);
            items.extend(v.args);
        }
        let sig = elem_sig.ok_or_else(|| anyhow!("an empty array needs its type: @as []"))?;
        let mut args = vec![items.len().to_string()];
        args.extend(items);
        Ok(Value {
            signature: format!("a{sig}"),
            args,
        })
    }

    /// A quoted string, with GVariant's backslash escapes.
    fn string(&mut self) -> Result<String> {
        let mut chars = self.rest.char_indices();
        let (_, quote) = chars.next().ok_or_else(|| anyhow!("a string"))?;
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, e) = chars.next().ok_or_else(|| anyhow!("an escape at the end"))?;
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'a' => '\x07',
                        'b' => '\x08',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        'u' | 'U' => {
                            let len = if e == 'u' { 4 } else { 8 };
                            let hex: String = chars.by_ref().take(len).map(|(_, c)| c).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == len && hex.chars().all(|c| c.is_ascii_hexdigit()))
                                .and_then(char::from_u32)
                                .ok_or_else(|| anyhow!("\\{e}{hex} is not a character"))?
                        }
                        other => other,
                    });
                }
                c if c == quote => {
                    self.rest = &self.rest[i + 1..];
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        bail!("the string has no closing {quote}")
    }
}

impl Value {
    fn one(signature: &str, arg: String) -> Value {
        Value {
            signature: signature.to_string(),
            args: vec![arg],
        }
    }
}

/// An unquoted literal: true/false, a number (an integer is int32 unless
/// the type says otherwise, one with a point or exponent a double).
fn bare(word: &str, want: Option<&str>) -> Result<Value> {
    if word == "true" || word == "false" {
        return Ok(Value::one("b", word.to_string()));
    }
    let hex = word
        .trim_start_matches(['-', '+'])
        .to_ascii_lowercase()
        .starts_with("0x");
    let sig = want.unwrap_or(if word.contains(['.', 'e', 'E']) && !hex {
        "d"
    } else {
        "i"
    });
    if sig == "d" {
        word.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| anyhow!("{word:?} is not a value of type d"))?;
        return Ok(Value::one("d", word.to_string()));
    }
    let (lo, hi): (i128, i128) = match sig {
        "y" => (0, u8::MAX.into()),
        "n" => (i16::MIN.into(), i16::MAX.into()),
        "q" => (0, u16::MAX.into()),
        "i" | "h" => (i32::MIN.into(), i32::MAX.into()),
        "u" => (0, u32::MAX.into()),
        "x" => (i64::MIN.into(), i64::MAX.into()),
        "t" => (0, u64::MAX.into()),
        "s" | "o" | "g" => bail!("{word:?} needs quotes to be a string"),
        other => bail!("{word:?} is not a value of type {other}"),
    };
    let n = integer(word)
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| anyhow!("{word:?} is not a value of type {sig}"))?;
    // busctl takes decimal only.
    Ok(Value::one(sig, n.to_string()))
}

/// An integer as godbus reads one for runc: 0x is hex, a leading 0 octal.
fn integer(word: &str) -> Option<i128> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, word.strip_prefix('+').unwrap_or(word)),
    };
    let (radix, digits) = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(h) => (16, h),
        None if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        None => (10, digits),
    };
    if !digits.starts_with(|c: char| c.is_ascii_hexdigit()) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    Some(if negative { -n } else { n })
}

/// A number as a whole count of microseconds, from seconds (runc's rule for
/// a property named ...Sec).
pub fn seconds_to_usec(v: &Value) -> Option<u64> {
    let n = v.args.first()?;
    let secs = match v.signature.as_str() {
        "d" => n.parse::<f64>().ok().filter(|s| *s >= 0.0)?,
        "y" | "n" | "q" | "i" | "u" | "x" | "t" => n.parse::<u64>().ok()? as f64,
        _ => return None,
    };
    let usec = secs * 1e6;
    (usec < u64::MAX as f64).then_some(usec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, sig: &str, args: &[&str]) {
        let v = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            (
                v.signature.as_str(),
                v.args.iter().map(String::as_str).collect::<Vec<_>>()
            ),
            (sig, args.to_vec()),
            "{text:?}"
        );
    }

    #[test]
    fn values_as_runc_annotations_write_them() {
        ok("uint64 123456789", "t", &["123456789"]);
        ok("'inactive-or-failed'", "s", &["inactive-or-failed"]);
        ok("\"it's\"", "s", &["it's"]);
        ok("'a\\'b'", "s", &["a'b"]);
        ok("true", "b", &["true"]);
        ok("5", "i", &["5"]);
        ok("-5", "i", &["-5"]);
        ok("1.5", "d", &["1.5"]);
        ok("['a.service', 'b.service']", "as", &["2", "a.service", "b.service"]);
        ok("[uint32 1, 2]", "au", &["2", "1", "2"]);
        ok("@as []", "as", &["0"]);
        ok("objectpath '/org/x'", "o", &["/org/x"]);
        ok("  int64 -7  ", "x", &["-7"]);
        // Numbers as godbus reads them for runc, to busctl in decimal.
        ok("010", "i", &["8"]);
        ok("uint32 0x10", "u", &["16"]);
        ok("0X1E", "i", &["30"]);
        ok("0", "i", &["0"]);
        ok("[1,\t2]", "ai", &["2", "1", "2"]);
        ok("'\\u00e9\\t'", "s", &["\u{e9}\t"]);
    }

    #[test]
    fn bad_values_are_errors() {
        for bad in [
            "",
            "abc",
            "uint64 -1",
            "uint64",
            "byte 300",
            "'open",
            "[1, 'a']",
            "[]",
            "[[1]]",
            "5 6",
            "1e999",
            "[1 2]",
            "@as",
            "boolean 1",
            "uint64 uint64 5",
            "@as @as []",
            "[@as []]",
            "[ [1]]",
            "'\u{e9}",
            "\u{e9}",
            "09",
            "0x",
            "- 5",
            "+-5",
            "'\\u12'",
            "'\\u+0e9'",
            "@ttt 5",
            "@og 'x'",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed as {:?}", parse(bad));
        }
    }

    #[test]
    fn deep_input_is_refused_without_deep_recursion() {
        for deep in ["[".repeat(100_000), "@as ".repeat(100_000), "uint64 ".repeat(100_000)] {
            assert!(parse(&deep).is_err());
        }
    }

    #[test]
    fn seconds_become_microseconds() {
        assert_eq!(seconds_to_usec(&parse("10").unwrap()), Some(10_000_000));
        assert_eq!(seconds_to_usec(&parse("1.5").unwrap()), Some(1_500_000));
        assert_eq!(seconds_to_usec(&parse("'10'").unwrap()), None);
        assert_eq!(seconds_to_usec(&parse("-1").unwrap()), None);
    }
}
