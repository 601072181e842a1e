//! Terminals: the pty master handed over --console-socket as runc does it,
//! consoleSize, /dev/console, and exec --tty.

mod common;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{stderr, Bundle};
use serde_json::json;

/// Everything the pty's master reads until the other side closes or `until` shows up.
fn read_master(master: OwnedFd, until: &str) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 || tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(10)) {
        out.push_str(&chunk);
        if out.contains(until) {
            break;
        }
    }
    out
}

#[test]
fn create_hands_the_pty_over_the_console_socket() {
    let b = Bundle::new(&["sh", "-c", "tty; stty size; ls -l /dev/console; echo the-end"]);
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    let sock = b.tmp.path().join("console.sock");
    let rx = common::fd_receiver(&sock);
    let o = b.create("tty1", &["--console-socket", sock.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (name, master) = rx.recv_timeout(Duration::from_secs(5)).expect("no pty master arrived");
    assert!(name.starts_with("/dev/pts/"), "payload is the pty name: {name:?}");
    assert!(b.out(&["start", "tty1"]).status.success());
    let out = read_master(master, "the-end");
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("30 100"), "consoleSize: {out}");
    let console = out
        .lines()
        .find(|l| l.contains("/dev/console"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        console.starts_with('c') && console.contains("136,"),
        "/dev/console is the pty: {console}"
    );
}

#[test]
fn console_socket_needs_a_terminal_and_a_terminal_needs_a_socket() {
    let b = Bundle::new(&["true"]);
    let sock = b.tmp.path().join("unused.sock");
    let _l = UnixListener::bind(&sock).unwrap();
    let o = b.create("t2", &["--console-socket", sock.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("process.terminal"), "{}", stderr(&o));
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let o = b.create("t3", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--console-socket"), "{}", stderr(&o));
    assert!(b.leftovers().is_empty());
}

#[test]
fn exec_tty_gets_its_own_pty() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.run_detached("tty4").status.success());
    let sock = b.tmp.path().join("exec.sock");
    let rx = common::fd_receiver(&sock);
    let mut child = b
        .cmd(&[
            "exec",
            "--tty",
            "--console-socket",
            sock.to_str().unwrap(),
            "tty4",
            "sh",
            "-c",
            "tty; echo exec-end",
        ])
        .spawn()
        .unwrap();
    let (_, master) = rx.recv_timeout(Duration::from_secs(5)).expect("no pty master arrived");
    let out = read_master(master, "exec-end");
    assert!(child.wait().unwrap().success());
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("exec-end"), "{out}");
}

/// `cmd` run by sh in a terminal of its own (script(1)): its exit code and
/// what the terminal showed.
fn in_a_terminal(cmd: &str) -> (Option<i32>, String) {
    let o = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).replace('\r', ""))
}

#[test]
fn run_relays_the_callers_terminal() {
    let b = Bundle::new(&["sh", "-c", "tty; stty size; echo run-tty-done; exit 3"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let cmd = format!(
        "stty rows 40 cols 120; {} --root {} run --bundle {} rt",
        common::HULL,
        b.root.display(),
        b.dir().display()
    );
    let (code, out) = in_a_terminal(&cmd);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("/dev/pts/0"), "{out}");
    assert!(out.contains("40 120"), "window size relayed: {out}");
    assert!(out.contains("run-tty-done"), "{out}");
    assert!(b.leftovers().is_empty());
}

/// `exec -t` in the foreground without --console-socket relays the caller's
/// terminal, as `run` does and as runc's exec does (before, it was refused);
/// detached it still needs a socket to hand the pty to.
#[test]
fn exec_tty_in_the_foreground_relays_the_callers_terminal() {
    let b = Bundle::new(&["sleep", "60"]);
    assert!(b.run_detached("tty5").status.success());
    let cmd = format!(
        "stty rows 41 cols 121; {} --root {} exec -t tty5 sh -c 'tty; stty size; echo exec-tty-done; exit 4'",
        common::HULL,
        b.root.display(),
    );
    let (code, out) = in_a_terminal(&cmd);
    assert_eq!(code, Some(4), "{out}");
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("41 121"), "window size relayed: {out}");
    assert!(out.contains("exec-tty-done"), "{out}");
    let o = b.out(&["exec", "-t", "-d", "tty5", "true"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--console-socket"),
        "{}",
        stderr(&o)
    );
}
