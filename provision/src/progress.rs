//! What a pull shows: a bar per blob on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Read};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bars: Option<MultiProgress>,
    quiet: bool,
}

/// One blob's transfer.
pub struct Transfer {
    bar: Option<ProgressBar>,
    what: String,
}

pub fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

pub fn human(bytes: u64) -> String {
    let mut v = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if v < 1024.0 || unit == "GiB" {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{v:.1} {unit}")
            };
        }
        v /= 1024.0;
    }
    unreachable!()
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let bars = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { bars, quiet }
    }

    pub fn line(&self, msg: &str) {
        match &self.bars {
            Some(b) => {
                let _ = b.println(msg);
            }
            None if !self.quiet => eprintln!("{msg}"),
            None => {}
        }
    }

    pub fn start(&self, digest: &str, size: Option<u64>) -> Transfer {
        let what = format!("blob {}", short(digest));
        let bar = self.bars.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(size.unwrap_or(0)));
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(what.clone());
            b
        });
        if bar.is_none() && !self.quiet {
            eprintln!(
                "{what}: fetching{}",
                size.map(|s| format!(" {}", human(s))).unwrap_or_default()
            );
        }
        Transfer { bar, what }
    }

    pub fn done(&self, t: Transfer, bytes: u64) {
        match t.bar {
            Some(b) => b.finish_and_clear(),
            None if !self.quiet => eprintln!("{}: done, {}", t.what, human(bytes)),
            None => {}
        }
    }
}

/// Counts what passes through into the transfer's bar.
pub struct Counting<'a, R> {
    pub inner: R,
    pub transfer: &'a Transfer,
    pub count: u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if let Some(b) = &self.transfer.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}
