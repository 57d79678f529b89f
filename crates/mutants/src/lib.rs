//! # ipagate-mutants
//!
//! One hostile-input harness for every reader of ipagate (zip and plist today; Mach-O, code
//! signatures, profiles, PNG and `Assets.car` as they arrive). It takes real files — the fixtures
//! built in code, and the shared corpus when `IPAGATE_CORPUS` is set — and mutates them with a
//! seeded generator: byte flips, 2/4/8-byte integer overwrites (zero, all ones, sign bits, the
//! file's length, scaled originals), truncations, deletions and duplications of ranges, leaning on
//! the ranges each format keeps its offsets in (a zip's end record and central directory, a
//! binary plist's trailer and offset table, …). Each mutant runs in-process and must end as facts
//! with diagnostics or one clean one-line error: a panic, a hang (a watchdog bounds each mutant's
//! time) or memory past the budget (a counting global allocator) is a failure, written to disk
//! with its seed and a one-line command that replays it. Failures worth keeping become regression
//! inputs under `crates/mutants/regressions/<reader>/`.
//!
//! A reader registers with one line in [`targets::all`].
//!
//! ```no_run
//! use ipagate_mutants::{inputs, run::{run, Plan}};
//! let plan = Plan {
//!     seed: 1, count: 100, budget: std::time::Duration::from_secs(60),
//!     per_mutant: std::time::Duration::from_secs(10), memory: 256 << 20,
//!     failures_dir: "target/mutants".into(), workers: 2,
//! };
//! let report = run(&inputs(None), &plan);
//! assert!(report.failures.is_empty(), "{report}");
//! ```
#![deny(missing_docs)]

pub mod alloc;
pub mod mutate;
pub mod run;
pub mod targets;

use std::path::Path;
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// Every input of every reader: the fixtures, then (sorted, so runs are reproducible) the corpus
/// files under `corpus` whose extension a reader takes.
pub fn inputs(corpus: Option<&Path>) -> Vec<run::Input> {
    let mut out = Vec::new();
    for target in targets::all() {
        for (name, bytes) in (target.fixtures)() {
            out.push(run::Input {
                target,
                name: format!("fixture:{name}"),
                bytes: Arc::new(bytes),
            });
        }
    }
    if let Some(root) = corpus {
        let mut files = Vec::new();
        walk(root, 0, &mut files);
        files.sort();
        for path in files {
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let Some(target) = targets::all()
                .into_iter()
                .find(|t| t.corpus_extensions.contains(&ext.as_str()))
            else {
                continue;
            };
            // Corpus files are small (the largest IPA is a few MB); anything huge is skipped.
            if std::fs::metadata(&path)
                .map(|m| m.len())
                .unwrap_or(u64::MAX)
                > 64 << 20
            {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&path) {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                out.push(run::Input {
                    target,
                    name: format!("corpus:{name}"),
                    bytes: Arc::new(bytes),
                });
            }
        }
    }
    out
}

pub(crate) fn walk(dir: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), depth + 1, out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}
