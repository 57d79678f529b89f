//! The mutation harness over every registered reader.
//!
//! `cargo test` runs a few hundred mutants of the fixtures; `.ci/run` runs at least 10,000 across
//! the fixtures and the shared corpus (`IPAGATE_MUTANTS=10000 IPAGATE_CORPUS=…`) and prints the
//! counts. Settings: `IPAGATE_MUTANTS` (count), `IPAGATE_MUTANTS_SEED`, `IPAGATE_MUTANTS_SECONDS`
//! (time budget), `IPAGATE_MUTANTS_OUT` (where failing mutants are written).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipagate_mutants::run::{Plan, run, run_one};
use ipagate_mutants::targets;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn failures_dir() -> PathBuf {
    std::env::var_os("IPAGATE_MUTANTS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/mutants-failures")
        })
}

#[test]
fn every_mutant_ends_as_facts_or_one_clean_error() {
    let corpus = std::env::var_os("IPAGATE_CORPUS").map(PathBuf::from);
    let inputs = ipagate_mutants::inputs(corpus.as_deref());
    let plan = Plan {
        seed: env_or("IPAGATE_MUTANTS_SEED", 0x019A_6A7E),
        count: env_or("IPAGATE_MUTANTS", 300),
        budget: Duration::from_secs(env_or("IPAGATE_MUTANTS_SECONDS", 300)),
        per_mutant: Duration::from_secs(20),
        memory: 512 << 20,
        failures_dir: failures_dir(),
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    let corpus_inputs = inputs
        .iter()
        .filter(|i| i.name.starts_with("corpus:"))
        .count();
    println!(
        "inputs: {} ({} from the corpus{}), seed {:#x}",
        inputs.len(),
        corpus_inputs,
        if corpus.is_none() {
            ", IPAGATE_CORPUS not set: corpus SKIPPED"
        } else {
            ""
        },
        plan.seed
    );
    let report = run(&inputs, &plan);
    println!("{report}");
    assert!(report.failures.is_empty(), "{report}");
    assert!(!report.out_of_time, "the time budget ran out: {report}");
    assert_eq!(report.ran, plan.count, "{report}");
    // Every reader was exercised, and mutants did not all end the same way.
    assert_eq!(report.by_target.len(), targets::all().len(), "{report}");
    assert!(report.facts > 0 && report.errors > 0, "{report}");
}

/// Runs `bytes` on a thread and waits at most `limit`.
fn bounded(
    target: targets::Target,
    bytes: Vec<u8>,
    limit: Duration,
) -> Result<targets::Outcome, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_one(&target, &bytes));
    });
    rx.recv_timeout(limit)
        .map_err(|_| format!("still running after {limit:?}"))?
}

fn target_of(file: &Path) -> targets::Target {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let prefix = name.split('-').next().unwrap_or_default();
    targets::by_name(prefix)
        .unwrap_or_else(|| panic!("{}: no reader called {prefix:?}", file.display()))
}

/// Mutants that once failed, kept as regression inputs: `regressions/<anything>/<reader>-….bin`.
#[test]
fn kept_failures_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bin"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    for file in &files {
        let bytes = std::fs::read(file).expect("read regression");
        let outcome = bounded(target_of(file), bytes, Duration::from_secs(20));
        assert!(outcome.is_ok(), "{}: {outcome:?}", file.display());
    }
    println!("{} kept mutants replayed", files.len());
}

/// Replays one saved mutant: the command a failure prints.
#[test]
#[ignore = "replays one saved mutant: set IPAGATE_MUTANT_REPLAY=<file> and pass --include-ignored"]
fn replay() {
    let Some(file) = std::env::var_os("IPAGATE_MUTANT_REPLAY").map(PathBuf::from) else {
        panic!("set IPAGATE_MUTANT_REPLAY to a saved mutant");
    };
    let bytes = std::fs::read(&file).expect("read the mutant");
    let outcome = bounded(target_of(&file), bytes, Duration::from_secs(60));
    println!("{}: {outcome:?}", file.display());
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// The streamed-reading target reads its unmutated inputs to facts (so its mutants exercise the
/// streaming path, not an early error) and agrees with the whole-file read on each.
#[test]
fn the_streamed_macho_target_reads_its_fixtures() {
    let target = targets::by_name("macho_stream").expect("registered");
    let fixtures = (target.fixtures)();
    assert!(!fixtures.is_empty());
    for (name, bytes) in fixtures {
        match (target.run)(&bytes) {
            targets::Outcome::Facts {
                unreadable_parts, ..
            } => assert_eq!(unreadable_parts, 0, "{name}"),
            targets::Outcome::Error(e) => panic!("{name}: {e}"),
        }
    }
}
