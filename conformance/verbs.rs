//! Every verb on a missing, created, running, paused and stopped container,
//! under runc and hull: the exit codes must match, and hull's error must
//! carry runc's message, since clients match on it (containerd's shim takes
//! a kill error with "container not running" or "does not exist" as done;
//! one without is retried forever). See src/container/phrases.rs.

#[path = "../tests/common/mod.rs"]
mod common;

use common::Bundle;

const RUNC: &str = "/usr/sbin/runc";

/// (what was run, exit code, the error message without the runtime's prefix).
type Outcome = (String, Option<i32>, String);

fn message(runtime: &str, stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.contains("error") || l.starts_with("hull: "))
        .unwrap_or("");
    if runtime == RUNC {
        // time="..." level=error msg="..."
        // runc's own "runc create failed: " wrapper is not a phrase clients match.
        let m = line.split_once("msg=\"").map_or("", |(_, m)| m.trim_end_matches('"'));
        let m = m
            .split_once(" failed: ")
            .filter(|(p, _)| p.starts_with("runc "))
            .map_or(m, |(_, rest)| rest);
        m.replace("\\\"", "\"")
    } else {
        line.strip_prefix("hull: ").unwrap_or(line).to_string()
    }
}

fn status(b: &Bundle, id: &str) -> String {
    let o = b.out(&["state", id]);
    serde_json::from_slice::<serde_json::Value>(&o.stdout).map_or_else(|_| "gone".into(), |v| v["status"].to_string())
}

fn scenario(runtime: &str) -> Vec<Outcome> {
    let mut sleeper = Bundle::new(&["sleep", "60"]);
    sleeper.runtime = runtime.to_string();
    let mut quick = Bundle::new(&["true"]);
    quick.runtime = runtime.to_string();
    quick.root = sleeper.root.clone();
    let mut out = vec![];
    let mut step = |args: &[&str]| {
        let o = sleeper.out(args);
        out.push((args.join(" "), o.status.code(), message(runtime, &o.stderr)));
    };
    for v in [
        "kill x",
        "kill --all x KILL",
        "delete x",
        "delete -f x",
        "start x",
        "pause x",
        "resume x",
        "state x",
        "ps x",
        "exec x true",
        "update --memory 64m x",
        "events --stats x",
    ] {
        step(&v.split(' ').collect::<Vec<_>>());
    }
    assert!(sleeper.create("cr", &[]).status.success(), "{runtime}: create");
    let dir = sleeper.dir().to_str().unwrap().to_string();
    step(&["create", "--bundle", &dir, "cr"]);
    step(&["create", "--bundle", &dir, "a@b"]);
    for v in ["pause cr", "start cr", "resume cr", "exec cr true", "delete cr"] {
        step(&v.split(' ').collect::<Vec<_>>());
    }
    assert!(sleeper.run_detached("ru").status.success(), "{runtime}: run -d");
    for v in [
        "start ru",
        "resume ru",
        "delete ru",
        "pause ru",
        "pause ru",
        "start ru",
        "exec ru true",
        "delete ru",
    ] {
        step(&v.split(' ').collect::<Vec<_>>());
    }
    // SIGKILL takes a paused container down (runc thaws it).
    step(&["kill", "ru", "KILL"]);
    assert!(
        common::eventually(10, || status(&sleeper, "ru").contains("stopped")),
        "{runtime}: paused + KILL"
    );
    step(&["delete", "ru"]);
    let qdir = quick.dir();
    assert!(quick
        .out_detached(&["run", "-d", "--bundle", qdir.to_str().unwrap(), "sp"])
        .status
        .success());
    assert!(
        common::eventually(10, || status(&sleeper, "sp").contains("stopped")),
        "{runtime}: sp"
    );
    for v in [
        "kill sp",
        "kill sp KILL",
        "kill --all sp KILL",
        "start sp",
        "pause sp",
        "resume sp",
        "exec sp true",
        "ps sp",
        "update --memory 64m sp",
        "events --stats sp",
        "delete sp",
    ] {
        step(&v.split(' ').collect::<Vec<_>>());
    }
    out
}

#[test]
fn exit_codes_and_error_phrases_match_runc() {
    assert!(std::path::Path::new(RUNC).exists(), "runc is needed: run hack/setup.sh");
    let runc = scenario(RUNC);
    let hull = scenario(common::HULL);
    let mut bad = vec![];
    for ((what, rc, rmsg), (_, hc, hmsg)) in runc.iter().zip(&hull) {
        let same = rc == hc && (rmsg.is_empty() || hmsg.contains(rmsg.as_str()));
        eprintln!(
            "{:<4} {what:<28} runc {rc:?} {rmsg:?} | hull {hc:?} {hmsg:?}",
            if same { "same" } else { "DIFF" }
        );
        if !same {
            bad.push(what.clone());
        }
    }
    assert_eq!(runc.len(), hull.len());
    assert!(bad.is_empty(), "differ from runc: {bad:?}");
}

/// podman maps a failed create to 126 or 127 by matching "permission
/// denied", "no such file or directory" and "executable file not found in"
/// in the runtime's error (libpod's getOCIRuntimeError): hull's errors carry
/// the phrase runc's do.
#[test]
fn program_errors_carry_the_phrases_podman_maps_to_exit_codes() {
    for (args, phrase) in [
        (&["/etc/passwd"][..], "permission denied"),
        (&["/no/such/program"][..], "no such file or directory"),
        (&["no-such-program"][..], "executable file not found in $PATH"),
    ] {
        for runtime in [RUNC, common::HULL] {
            let mut b = Bundle::new(args);
            b.runtime = runtime.to_string();
            let o = b.create("badprog", &[]);
            let msg = message(runtime, &o.stderr).to_lowercase();
            assert!(!o.status.success(), "{runtime} {args:?}: create succeeded");
            assert!(
                msg.contains(&phrase.to_lowercase()),
                "{runtime} {args:?}: {msg:?} lacks {phrase:?}"
            );
        }
    }
}
