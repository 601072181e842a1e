//! `run` with a terminal and no console socket: hull holds the pty master and
//! relays the caller's terminal to it (raw mode, window size), as runc does.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::sys::termios::{self, SetArg, Termios};

pub struct Relay {
    master: std::sync::Arc<std::fs::File>,
    saved: Option<Termios>,
    /// Closed by the output thread once the pty has nothing more to say.
    output_done: std::sync::mpsc::Receiver<()>,
}

fn copy(mut from: impl Read, mut to: impl Write) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() {
            break;
        }
    }
}

impl Relay {
    /// Puts the caller's terminal (if stdin is one) in raw mode and starts
    /// copying stdin -> master and master -> stdout.
    pub fn start(master: OwnedFd) -> Result<Relay> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(&stdin).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(&stdin, SetArg::TCSANOW, &raw).context("raw mode on the terminal")?;
        }
        let master = std::sync::Arc::new(std::fs::File::from(master));
        let (done_tx, output_done) = std::sync::mpsc::channel();
        let relay = Relay {
            master: master.clone(),
            saved,
            output_done,
        };
        relay.resize();
        let out = master.clone();
        std::thread::spawn(move || {
            copy(&*out, std::io::stdout());
            drop(done_tx);
        });
        std::thread::spawn(move || copy(std::io::stdin(), &*master));
        Ok(relay)
    }

    /// The caller's window size onto the pty.
    pub fn resize(&self) {
        let mut ws: libc::winsize = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize that lives across both calls.
        unsafe {
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Let the output thread drain what the container wrote last; a
        // process still holding the pty must not keep run from returning.
        let _ = self.output_done.recv_timeout(std::time::Duration::from_secs(1));
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
    }
}
