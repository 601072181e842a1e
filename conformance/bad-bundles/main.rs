//! Invalid and hostile bundles, run as a user would run them: each must end
//! where the spec says (create fails, start fails, or it runs), hull's error
//! must name the field, and nothing may be left (state, mounts, cgroups,
//! processes, files, the caller's fds).
//!
//! `results_table` (ignored; `hack/bad-bundles` runs it) runs the same cases
//! against runc and crun and writes RESULTS.md beside this file.

#[path = "../../tests/common/mod.rs"]
mod common;

mod cases;
mod ctx;
mod leaks;
mod runner;

use std::fmt::Write as _;

use cases::{Case, Expect};
use runner::{Outcome, Report, Runtime};
use serde_json::Value;

/// The config every case starts from: `hull spec`, args `true`, no terminal,
/// ociVersion 1.0.2.
fn base_config() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::HULL)
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "hull spec: {}", common::stderr(&out));
    let mut c: Value = serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    // What runc 1.1 and crun 1.8 also take (crun refuses a version it does not know).
    c["ociVersion"] = serde_json::json!("1.0.2");
    c["process"]["terminal"] = Value::Bool(false);
    c["process"]["args"] = serde_json::json!(["true"]);
    c
}

/// What is wrong with hull's report for this case, if anything.
fn judge(case: &Case, r: &Report) -> Vec<String> {
    let mut bad = vec![];
    let matches = match case.expect {
        Expect::Create => r.outcome == Outcome::CreateFailed,
        Expect::Start => r.outcome == Outcome::StartFailed,
        Expect::Fails => matches!(r.outcome, Outcome::CreateFailed | Outcome::StartFailed),
        Expect::Runs | Expect::Checked => r.outcome == Outcome::Ran,
    };
    if !matches {
        bad.push(format!(
            "expected: {}, got: {} ({})",
            case.expect.word(),
            r.outcome.word(),
            r.error
        ));
    }
    let failed = matches!(r.outcome, Outcome::CreateFailed | Outcome::StartFailed);
    if matches && failed && !r.error.contains(&case.needle) {
        bad.push(format!("the error does not name {:?}: {}", case.needle, r.error));
    }
    if case.expect == Expect::Checked && r.verdict.as_deref() != Some("ok") {
        bad.push(format!("the check inside the container failed ({:?})", r.verdict));
    }
    if r.panicked {
        bad.push(format!("panicked: {}", r.error));
    }
    bad.extend(r.leaks.iter().map(|l| format!("left: {l}")));
    for p in &case.host_absent {
        if p.symlink_metadata().is_ok() {
            bad.push(format!("escaped: {} exists on the host", p.display()));
            let _ = std::fs::remove_dir_all(p);
        }
    }
    bad
}

#[test]
fn every_bad_bundle_ends_as_the_spec_says_and_leaves_nothing() {
    let all = cases::all();
    assert!(all.len() >= 150, "{} cases", all.len());
    let base = base_config();
    let hull = Runtime::hull();
    let only = std::env::var("BAD_BUNDLE").ok();
    let mut failures = vec![];
    for (i, case) in all.iter().enumerate() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let report = runner::run(&hull, case, &base, i);
        for why in judge(case, &report) {
            failures.push(format!("[{}] {}: {why}", case.group, case.name));
        }
    }
    let leaked = failures.iter().filter(|f| f.contains(": left: ")).count();
    println!(
        "[bad-bundles] {} cases against hull: {} problem(s), {leaked} leak(s)",
        all.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// hull, runc and crun on every case; the table goes to RESULTS.md (or to
/// the file BAD_BUNDLES_RESULTS names).
#[test]
#[ignore]
fn results_table() {
    let all = cases::all();
    let base = base_config();
    let runtimes = [Runtime::hull(), Runtime::runc(), Runtime::crun()];
    let mut rows = String::new();
    let mut tally = vec![(0usize, 0usize); runtimes.len()];
    let mut group = "";
    for (i, case) in all.iter().enumerate() {
        if case.group != group {
            group = case.group;
            let _ = writeln!(rows, "| **{group}** | | | | | |");
        }
        let mut cells = vec![];
        for (n, rt) in runtimes.iter().enumerate() {
            let r = runner::run(rt, case, &base, i);
            let ok = judge_outcome(case, &r);
            tally[n].0 += ok as usize;
            tally[n].1 += !r.leaks.is_empty() as usize;
            cells.push(cell(&r, ok));
            if n == 0 {
                cells.push(error_cell(&r));
            }
        }
        let _ = writeln!(
            rows,
            "| {} | {} | {} |",
            md(&case.name),
            case.expect.word(),
            cells.join(" | ")
        );
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(all.len(), &runtimes, &tally));
    out += "| case | the spec | hull | hull's error | runc | crun |\n|---|---|---|---|---|---|\n";
    out += &rows;
    let path = std::env::var("BAD_BUNDLES_RESULTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/bad-bundles/RESULTS.md").into());
    std::fs::write(&path, out).unwrap();
}

/// Whether the outcome is the spec's (the error's wording aside).
fn judge_outcome(case: &Case, r: &Report) -> bool {
    judge(case, r)
        .iter()
        .all(|w| w.starts_with("the error does not name") || w.starts_with("left:"))
}

fn cell(r: &Report, ok: bool) -> String {
    let mark = if ok { "" } else { " ✗" };
    let mut s = format!("{}{mark}", r.outcome.word());
    if !r.leaks.is_empty() {
        s += &format!("; left: {}", md(&r.leaks.join(", ")));
    }
    s
}

fn error_cell(r: &Report) -> String {
    let line = r.error.lines().last().unwrap_or("");
    let line: String = line.chars().take(160).collect();
    md(&line)
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "\\n").replace('\0', "\\0")
}

fn header(n: usize, runtimes: &[Runtime], tally: &[(usize, usize)]) -> String {
    let mut h = String::from("# Invalid and hostile bundles: hull, runc and crun\n\n");
    let _ = writeln!(
        h,
        "{} cases, run by `hack/bad-bundles` (`cargo test --test bad_bundles -- --ignored results_table`) on {}. \
         Each case is a fresh busybox bundle from `hull spec` with one thing wrong (conformance/bad-bundles/cases.rs), \
         run as a user would: create, start, wait for it to stop, delete (with --force only if delete is refused). \
         After each, the harness looks for anything left: a state entry, a mount, a cgroup directory in any hierarchy, \
         a process in another namespace or naming the case's directory, a file beside the bundle, an fd of its own. \
         ✗ marks an outcome other than the spec's (or the safe one, where the spec is silent).\n",
        n,
        today(),
    );
    for (rt, (ok, leaked)) in runtimes.iter().zip(tally) {
        let _ = writeln!(
            h,
            "- **{}** ({}): {ok} of {n} as expected, {leaked} leaving something behind",
            rt.name,
            version(rt.name)
        );
    }
    h
}

/// The first line of `NAME --version`.
fn version(name: &str) -> String {
    let bin = if name == "hull" { common::HULL } else { name };
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

fn today() -> String {
    let out = std::process::Command::new("date").arg("+%Y-%m-%d").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
