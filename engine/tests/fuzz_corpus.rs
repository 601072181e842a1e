//! The fuzz targets' checks (fuzz/checks.rs) on stable Rust, so that CI
//! runs them without libFuzzer: every committed input (fuzz/corpus/TARGET
//! and fuzz/regressions/TARGET, where inputs that once broke a rule are
//! kept) and then a fixed budget of mutations of them, from a fixed seed so
//! that a failure comes back on the next run. A failing mutation is saved
//! under target/tmp/fuzz-found/ to be added to fuzz/regressions. `hack/fuzz`
//! runs the same checks under libFuzzer for as long as one likes.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 8] = [
    ("cdi_spec", checks::cdi_spec),
    ("cni_result", checks::cni_result),
    ("config", checks::config),
    ("docker_archive", checks::docker_archive),
    ("manifest", checks::manifest),
    ("reference", checks::reference),
    ("state", checks::state),
    ("tar_layer", checks::tar_layer),
];

/// Mutations per target, unless its time runs out first.
const MUTATIONS: usize = 20_000;
const TIME: Duration = Duration::from_secs(5);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = vec![];
    for dir in ["corpus", "regressions"] {
        let Ok(rd) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for e in rd.flatten() {
            all.push((e.path(), std::fs::read(e.path()).unwrap()));
        }
    }
    all.sort();
    all
}

/// xorshift64: the same mutations every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that sit on the edges parsers get wrong.
const TOKENS: [&[u8]; 14] = [
    b"0",
    b"-1",
    b"4294967295",
    b"18446744073709551616",
    b"\n",
    b"\t",
    b"\0",
    b"\"",
    b"{",
    b"[",
    b"../",
    b"/",
    b"null",
    b"\xff",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(d.len() + 1);
        match rng.below(5) {
            0 if !d.is_empty() => {
                let i = at.min(d.len() - 1);
                d[i] ^= 1 << rng.below(8);
            }
            1 => d
                .splice(at..at, TOKENS[rng.below(TOKENS.len())].iter().copied())
                .for_each(drop),
            2 if at < d.len() => {
                let end = (at + 1 + rng.below(16)).min(d.len());
                d.drain(at..end);
            }
            3 if at < d.len() => {
                let end = (at + 1 + rng.below(64)).min(d.len());
                let chunk = d[at..end].to_vec();
                d.splice(at..at, chunk).for_each(drop);
            }
            _ => d.truncate(at),
        }
    }
    d
}

/// Runs `check` on `data`; a panic is the check failing.
fn passes(check: Check, data: &[u8]) -> bool {
    catch_unwind(AssertUnwindSafe(|| check(data))).is_ok()
}

fn keep(target: &str, data: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-found").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    // FNV-1a: the same input keeps the same name.
    let name = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let f = dir.join(format!("{name:016x}"));
    std::fs::write(&f, data).unwrap();
    f
}

#[test]
fn fuzz_targets_hold_on_their_corpus_and_mutations_of_it() {
    let mut failures = vec![];
    for (i, (target, check)) in TARGETS.iter().enumerate() {
        let seeds = inputs(target);
        assert!(!seeds.is_empty(), "no corpus for {target}");
        for (path, data) in &seeds {
            if !passes(*check, data) {
                failures.push(format!("{target}: {}", path.display()));
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
        let started = Instant::now();
        let mut runs = 0;
        while runs < MUTATIONS && started.elapsed() < TIME {
            let seed = &seeds[rng.below(seeds.len())].1;
            let data = mutate(&mut rng, seed);
            runs += 1;
            if !passes(*check, &data) {
                failures.push(format!("{target}: mutation kept in {}", keep(target, &data).display()));
            }
        }
        println!(
            "[fuzz-replay] {target}: {} committed inputs, {runs} mutations",
            seeds.len()
        );
    }
    assert!(failures.is_empty(), "fuzz checks failed:\n{}", failures.join("\n"));
}
