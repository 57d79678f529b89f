//! Running mutants: a pool of workers, each mutant bounded in time (a watchdog) and memory (the
//! counting allocator), every outcome counted, every failure saved with its seed and a one-line
//! reproduction command.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::mutate::{self, Mutation};
use crate::targets::{Outcome, Target};

/// One input of one reader.
#[derive(Debug, Clone)]
pub struct Input {
    /// The reader.
    pub target: Target,
    /// Where it came from (fixture name or corpus path).
    pub name: String,
    /// Its bytes.
    pub bytes: Arc<Vec<u8>>,
}

/// How many mutants, within which bounds.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Base seed: mutant `i` uses a seed derived from it and `i`.
    pub seed: u64,
    /// Mutants to run (spread over the inputs in turn).
    pub count: usize,
    /// Stop starting new mutants after this long.
    pub budget: Duration,
    /// A mutant still running after this long is a hang.
    pub per_mutant: Duration,
    /// Live bytes one mutant may add (all workers together may add this many times the worker
    /// count).
    pub memory: usize,
    /// Where failing mutants are written.
    pub failures_dir: PathBuf,
    /// Worker threads.
    pub workers: usize,
}

/// A mutant that panicked, hung, or allocated past the budget.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Reader.
    pub target: &'static str,
    /// Input name.
    pub input: String,
    /// The mutant's seed.
    pub seed: u64,
    /// What was done to the input.
    pub mutation: String,
    /// What went wrong.
    pub problem: String,
    /// The mutant's bytes on disk, if they could be written.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Mutants run to the end.
    pub ran: usize,
    /// By mutation kind.
    pub by_kind: BTreeMap<&'static str, usize>,
    /// By reader.
    pub by_target: BTreeMap<&'static str, usize>,
    /// Outcomes that were facts.
    pub facts: usize,
    /// Of which with at least one diagnostic.
    pub with_diagnostics: usize,
    /// Of which with unreadable parts (entries, blobs).
    pub with_unreadable_parts: usize,
    /// Outcomes that were one clean error.
    pub errors: usize,
    /// Failures.
    pub failures: Vec<Failure>,
    /// The budget ran out before `count` mutants ran.
    pub out_of_time: bool,
    /// Wall time.
    pub elapsed: Duration,
    /// Highest live bytes seen above the baseline.
    pub peak_extra_bytes: usize,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |m: &BTreeMap<&str, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "mutants: {} ran in {:.1} s{} — by reader: {}; by kind: {}",
            self.ran,
            self.elapsed.as_secs_f64(),
            if self.out_of_time {
                " (time budget ran out)"
            } else {
                ""
            },
            join(&self.by_target),
            join(&self.by_kind)
        )?;
        writeln!(
            f,
            "outcomes: {} facts ({} with diagnostics, {} with unreadable parts), {} clean errors, {} failures; peak extra memory {:.1} MiB",
            self.facts,
            self.with_diagnostics,
            self.with_unreadable_parts,
            self.errors,
            self.failures.len(),
            self.peak_extra_bytes as f64 / (1 << 20) as f64
        )?;
        for fail in &self.failures {
            writeln!(
                f,
                "FAILED {} on {} (seed {}, {}): {}",
                fail.target, fail.input, fail.seed, fail.mutation, fail.problem
            )?;
            if let Some(path) = &fail.saved {
                writeln!(f, "  reproduce: {}", reproduce_command(path))?;
            }
        }
        Ok(())
    }
}

/// The one-line command that replays a saved mutant.
pub fn reproduce_command(path: &Path) -> String {
    format!(
        "IPAGATE_MUTANT_REPLAY={} cargo test -p ipagate-mutants --test mutants replay -- --include-ignored --nocapture",
        path.display()
    )
}

/// The seed of mutant `index`.
pub fn mutant_seed(base: u64, index: usize) -> u64 {
    mutate::Rng::new(base ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// The mutant `index` of a plan: its input, mutation and bytes.
pub fn mutant(inputs: &[Input], base: u64, index: usize) -> (&Input, u64, Mutation, Vec<u8>) {
    let input = &inputs[index % inputs.len()];
    let seed = mutant_seed(base, index);
    let hot = (input.target.hotspots)(&input.bytes);
    let mutation = mutate::choose(seed, &input.bytes, &hot);
    let bytes = mutation.apply(&input.bytes);
    (input, seed, mutation, bytes)
}

/// Checks an outcome's shape: an error is one non-empty line.
fn judge(outcome: &Outcome) -> Result<(), String> {
    match outcome {
        Outcome::Error(text) if text.trim().is_empty() => Err("an empty error message".into()),
        Outcome::Error(text) if text.contains('\n') => {
            Err(format!("an error of more than one line: {text:?}"))
        }
        _ => Ok(()),
    }
}

thread_local! {
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs one input once, catching panics (named with their location); the caller bounds time and
/// memory.
pub fn run_one(target: &Target, bytes: &[u8]) -> Result<Outcome, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(bytes))) {
        Ok(outcome) => judge(&outcome).map(|()| outcome),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Err(format!("panicked{at}: {message}"))
        }
    }
}

/// While a run lasts, panics are recorded (location only) instead of printed with a backtrace
/// each: a reader that panics on thousands of mutants must not bury the report.
type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

struct QuietPanics(Option<PanicHook>);

impl QuietPanics {
    fn install() -> QuietPanics {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
        }));
        QuietPanics(Some(previous))
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            std::panic::set_hook(previous);
        }
    }
}

fn save(dir: &Path, input: &Input, seed: u64, bytes: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let stem: String = input
        .name
        .rsplit('/')
        .next()
        .unwrap_or("input")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{}-{stem}-{seed:016x}.bin", input.target.name));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

struct Running {
    index: usize,
    started: Instant,
}

/// Runs the plan over the inputs. Workers are plain threads: a hung one is left behind (and
/// reported) instead of being waited for.
pub fn run(inputs: &[Input], plan: &Plan) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    if inputs.is_empty() || plan.count == 0 {
        return report;
    }
    let shared = Arc::new(Shared {
        inputs: inputs.to_vec(),
        plan: plan.clone(),
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        slots: (0..plan.workers.max(1)).map(|_| Mutex::new(None)).collect(),
        results: Mutex::new(Vec::new()),
    });
    let quiet = QuietPanics::install();
    let baseline = crate::alloc::current();
    crate::alloc::take_peak();
    let handles: Vec<_> = (0..shared.slots.len())
        .map(|w| {
            let shared = shared.clone();
            std::thread::spawn(move || shared.work(w))
        })
        .collect();
    let mut suspects: Vec<(usize, String)> = Vec::new();
    // The watchdog: hangs, memory, the time budget.
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let extra = crate::alloc::take_peak().saturating_sub(baseline);
        report.peak_extra_bytes = report.peak_extra_bytes.max(extra);
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
        let running: Vec<(usize, Duration)> = shared
            .slots
            .iter()
            .filter_map(|s| {
                s.lock()
                    .ok()?
                    .as_ref()
                    .map(|r| (r.index, r.started.elapsed()))
            })
            .collect();
        if extra > plan.memory.saturating_mul(shared.slots.len()) {
            suspects.extend(running.iter().map(|(index, _)| {
                (
                    *index,
                    format!(
                        "live memory reached {} MiB above the baseline while it ran",
                        extra >> 20
                    ),
                )
            }));
        }
        suspects.extend(
            running
                .iter()
                .filter(|(_, t)| *t > plan.per_mutant)
                .map(|(index, t)| {
                    (
                        *index,
                        format!("still running after {:.1} s (a hang)", t.as_secs_f64()),
                    )
                }),
        );
        if !suspects.is_empty() {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        if started.elapsed() > plan.budget && !report.out_of_time {
            report.out_of_time = true;
            shared.stop.store(true, Ordering::Relaxed);
        }
    }
    if suspects.is_empty() {
        for h in handles {
            let _ = h.join();
        }
    }
    drop(quiet);
    suspects.sort();
    suspects.dedup_by_key(|(index, _)| *index);
    collect(inputs, plan, &shared.results, &suspects, started, report)
}

struct Shared {
    inputs: Vec<Input>,
    plan: Plan,
    next: AtomicUsize,
    stop: AtomicBool,
    slots: Vec<Mutex<Option<Running>>>,
    results: Mutex<Vec<(usize, Result<Outcome, String>)>>,
}

impl Shared {
    fn work(&self, slot: usize) {
        while !self.stop.load(Ordering::Relaxed) {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.plan.count {
                return;
            }
            let (input, _, _, bytes) = mutant(&self.inputs, self.plan.seed, index);
            let target = input.target;
            if let Ok(mut s) = self.slots[slot].lock() {
                *s = Some(Running {
                    index,
                    started: Instant::now(),
                });
            }
            let result = run_one(&target, &bytes);
            drop(bytes);
            if let Ok(mut s) = self.slots[slot].lock() {
                *s = None;
            }
            if let Ok(mut r) = self.results.lock() {
                r.push((index, result));
            }
        }
    }
}

fn collect(
    inputs: &[Input],
    plan: &Plan,
    results: &Mutex<Vec<(usize, Result<Outcome, String>)>>,
    suspects: &[(usize, String)],
    started: Instant,
    mut report: Report,
) -> Report {
    let mut failed: Vec<(usize, String)> = suspects.to_vec();
    let results = results.lock().map(|r| r.clone()).unwrap_or_default();
    for (index, result) in results {
        let (input, _, mutation, _) = mutant(inputs, plan.seed, index);
        report.ran += 1;
        *report.by_kind.entry(mutation.kind()).or_default() += 1;
        *report.by_target.entry(input.target.name).or_default() += 1;
        match result {
            Ok(Outcome::Facts {
                diagnostics,
                unreadable_parts,
            }) => {
                report.facts += 1;
                report.with_diagnostics += usize::from(diagnostics > 0);
                report.with_unreadable_parts += usize::from(unreadable_parts > 0);
            }
            Ok(Outcome::Error(_)) => report.errors += 1,
            Err(problem) => failed.push((index, problem)),
        }
    }
    failed.sort();
    for (index, problem) in failed {
        let (input, seed, mutation, bytes) = mutant(inputs, plan.seed, index);
        report.failures.push(Failure {
            target: input.target.name,
            input: input.name.clone(),
            seed,
            mutation: format!("{mutation:?}"),
            problem,
            saved: save(&plan.failures_dir, input, seed, &bytes),
        });
    }
    report.elapsed = started.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Target;

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        vec![("x".into(), vec![0u8; 64])]
    }
    fn none(_: &[u8]) -> Vec<std::ops::Range<usize>> {
        Vec::new()
    }
    fn panics(b: &[u8]) -> Outcome {
        if b.len() != 64 {
            panic!("boom on {} bytes", b.len());
        }
        Outcome::Error("fine".into())
    }
    fn hangs(_: &[u8]) -> Outcome {
        std::thread::sleep(Duration::from_secs(3));
        Outcome::Error("late".into())
    }
    fn hogs(_: &[u8]) -> Outcome {
        let big = vec![1u8; 96 << 20];
        std::thread::sleep(Duration::from_millis(100));
        Outcome::Facts {
            diagnostics: big.len() % 7,
            unreadable_parts: 0,
        }
    }
    fn two_lines(_: &[u8]) -> Outcome {
        Outcome::Error("one\ntwo".into())
    }

    /// The allocator's counters are global: these tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn plan(dir: &Path, count: usize) -> Plan {
        Plan {
            seed: 7,
            count,
            budget: Duration::from_secs(30),
            per_mutant: Duration::from_millis(500),
            memory: 16 << 20,
            failures_dir: dir.to_path_buf(),
            workers: 2,
        }
    }

    fn inputs(run: fn(&[u8]) -> Outcome) -> Vec<Input> {
        let target = Target::new("selftest", &[], fixtures, none, run);
        vec![Input {
            target,
            name: "fixture:x".into(),
            bytes: Arc::new(vec![0u8; 64]),
        }]
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ipagate-mutants-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_panic_is_a_failure_saved_with_its_reproduction() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempdir("panic");
        let report = run(&inputs(panics), &plan(&dir, 40));
        assert!(!report.failures.is_empty(), "{report}");
        let f = &report.failures[0];
        assert!(
            f.problem
                .starts_with("panicked at crates/mutants/src/run.rs:"),
            "{f:?}"
        );
        assert!(f.problem.contains(": boom on "), "{f:?}");
        let saved = f.saved.as_ref().expect("saved");
        assert!(saved.starts_with(&dir) && saved.exists());
        assert!(
            report
                .to_string()
                .contains("reproduce: IPAGATE_MUTANT_REPLAY="),
            "{report}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hang_is_reported_without_waiting_for_it() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempdir("hang");
        let started = Instant::now();
        let report = run(&inputs(hangs), &plan(&dir, 10));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "waited for the hung worker"
        );
        assert!(
            report.failures.iter().any(|f| f.problem.contains("a hang")),
            "{report}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn memory_past_the_budget_is_a_failure() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempdir("memory");
        let report = run(&inputs(hogs), &plan(&dir, 4));
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.problem.contains("live memory")),
            "{report}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_error_of_two_lines_is_not_clean() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempdir("lines");
        let report = run(&inputs(two_lines), &plan(&dir, 3));
        assert_eq!(report.failures.len(), 3, "{report}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
