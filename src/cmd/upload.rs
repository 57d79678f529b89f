//! `ipagate upload IPA`: the bare uploader (no gate) through App Store Connect's Build Upload API — parallel,
//! streamed, resumable parts, then the wait for processing; Apple's errors print like `preflight`'s diagnostics.
//!
//! Exit codes: 0 uploaded and processed (or a dry run); 1 App Store Connect rejected the build (duplicate build
//! number, no app record, processing FAILED with ITMS errors, still processing at `--max-processing-wait`);
//! 2 bad input or usage (unreadable Info.plist, invalid CFBundleVersion, unmappable platform, unusable journal,
//! hostile or incomplete answers) and service failures (network, retries exhausted).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ipagate_uploader::{Event, UploadError, UploadOptions, UploadOutcome};
use serde_json::json;

use super::auth::AuthArgs;
use crate::exit;
use crate::style::{Style, clean};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people, diagnostics like `preflight`'s.
    Human,
    /// One JSON object on stdout.
    Json,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// A progress bar (bytes, rate, ETA) on a terminal, nothing when stderr is not one or `CI` is set.
    Auto,
    /// One JSON object per event on stderr (`{"event": "part_sent", …}`), for CI log parsers.
    Json,
    /// Nothing.
    None,
}

/// Arguments of `ipagate upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The .ipa to upload.
    #[arg(value_name = "IPA")]
    pub ipa: PathBuf,
    /// Parts sent at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Where resume journals live (one JSON file per IPA, named after its SHA-256).
    #[arg(
        long,
        value_name = "DIR",
        env = "IPAGATE_UPLOAD_STATE_DIR",
        default_value = ".ipagate/uploads"
    )]
    pub state_dir: PathBuf,
    /// Do everything up to the first request that changes something; print what would be sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Progress,
    /// Attempts per part (the first included) before the upload stops (a rerun resumes).
    #[arg(long, default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub part_attempts: u32,
    /// Seconds to wait for App Store Connect to finish processing after the commit.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub max_processing_wait: u64,
    /// Seconds one part attempt may take.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub part_timeout: u64,
    /// Milliseconds between processing polls (hidden: for tests).
    #[arg(long, default_value_t = 2000, hide = true, value_name = "MS")]
    pub poll_interval_ms: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl UploadArgs {
    /// Whether errors print as a JSON document on stdout.
    pub fn prints_json(&self) -> bool {
        self.format == Format::Json
    }
}

/// The App Store Connect client that uploads parts (`upload` and `publish`): credentials resolved
/// (their warnings printed), `concurrency` parts in flight, each attempt bounded by `part_timeout`
/// seconds.
pub(crate) fn upload_client(
    auth: &AuthArgs,
    concurrency: u16,
    part_timeout: u64,
) -> anyhow::Result<ipagate_asc::Client> {
    let resolved = auth.resolve()?;
    for warning in &resolved.warnings {
        crate::output::eprint_line(&format!("ipagate: warning: {warning}"));
    }
    Ok(auth
        .client_builder(resolved.key)
        .part_concurrency(usize::from(concurrency))
        .part_timeout(Duration::from_secs(part_timeout.max(1)))
        .build()?)
}

/// Runs `ipagate upload`.
pub fn run(args: UploadArgs) -> anyhow::Result<u8> {
    // The package first: an IPA whose Info.plist cannot be read is refused before anything else happens.
    if let Err(e) = ipagate_uploader::read_identity(&args.ipa) {
        return Err(anyhow::Error::new(e));
    }
    let client = upload_client(&args.auth, args.concurrency, args.part_timeout)?;
    let options = UploadOptions {
        concurrency: usize::from(args.concurrency),
        state_dir: args.state_dir.clone(),
        dry_run: args.dry_run,
        part_timeout: Duration::from_secs(args.part_timeout.max(1)),
        max_processing_wait: Duration::from_secs(args.max_processing_wait),
        poll_interval: Duration::from_millis(args.poll_interval_ms.max(1)),
        part_attempts: args.part_attempts,
        ..UploadOptions::default()
    };
    let progress = Reporter::new(args.progress);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(ipagate_uploader::upload(
        &client,
        &args.ipa,
        &options,
        &|event| progress.event(event),
    ));
    progress.finish();
    let would = progress
        .would
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(outcome) => {
            print_outcome(&args, &outcome, &would)?;
            Ok(
                if outcome.dry_run || outcome.state == "COMPLETE" && !outcome.failed() {
                    exit::SUCCESS
                } else {
                    exit::GATE_FAILED
                },
            )
        }
        Err(e) if rejected(&e) => {
            let message = clean(&crate::output::redact(&super::error_chain(
                &anyhow::anyhow!("{e}"),
            )));
            if args.format == Format::Json {
                let doc =
                    json!({"schema_version": 1, "error": {"kind": "rejected", "message": message}});
                super::write_json(&mut crate::output::stdout(), &doc)?;
            }
            crate::output::eprint_line(&format!("ipagate: error: {message}"));
            Ok(exit::GATE_FAILED)
        }
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// App Store Connect said no (as opposed to bad input or a failing service).
pub(crate) fn rejected(e: &UploadError) -> bool {
    matches!(
        e,
        UploadError::BuildNumberTaken { .. } | UploadError::AppNotFound { .. }
    ) || matches!(e, UploadError::Request(r) if matches!(r.status(), Some(403 | 409 | 422)))
}

/// Shows events: a bar on a terminal, JSON lines, or nothing. Collects dry-run lines for the report.
pub(crate) struct Reporter {
    mode: Progress,
    bar: Option<indicatif::ProgressBar>,
    pub(crate) would: Mutex<Vec<serde_json::Value>>,
}

impl Reporter {
    pub(crate) fn new(mode: Progress) -> Reporter {
        let animated = mode == Progress::Auto
            && std::io::stderr().is_terminal()
            && std::env::var_os("CI").is_none();
        let bar = animated.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Reporter {
            mode,
            bar,
            would: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn event(&self, event: Event) {
        if let Event::WouldSend { method, path, what } = &event {
            self.would
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(json!({"method": method, "path": path, "what": what}));
        }
        match self.mode {
            Progress::Json => {
                if let Ok(line) = serde_json::to_string(&event) {
                    crate::output::eprint_line(&line);
                }
            }
            Progress::None => {}
            Progress::Auto => {
                let Some(bar) = &self.bar else { return };
                match event {
                    Event::Started {
                        total_bytes,
                        confirmed_bytes,
                        ..
                    } => {
                        bar.set_length(total_bytes);
                        bar.set_position(confirmed_bytes);
                        bar.set_message("uploading");
                    }
                    Event::PartSent { bytes, .. } => bar.inc(bytes),
                    Event::Committed => bar.set_message("committed"),
                    Event::Processing { state } => {
                        bar.set_message(clean(&crate::output::redact(&state)));
                        bar.tick();
                    }
                    _ => {}
                }
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// A step of `publish` after the upload: a JSON line `{"event": name, …fields}`, or the spinner's message.
    pub(crate) fn step(&self, name: &str, fields: serde_json::Value) {
        match self.mode {
            Progress::Json => {
                let mut line = json!({"event": name});
                if let (Some(obj), serde_json::Value::Object(extra)) =
                    (line.as_object_mut(), fields)
                {
                    obj.extend(extra);
                }
                crate::output::eprint_line(&line.to_string());
            }
            Progress::None => {}
            Progress::Auto => {
                if let Some(bar) = &self.bar {
                    bar.set_message(clean(&crate::output::redact(&name.replace('_', " "))));
                    bar.tick();
                }
            }
        }
    }
}

fn print_outcome(
    args: &UploadArgs,
    outcome: &UploadOutcome,
    would: &[serde_json::Value],
) -> anyhow::Result<()> {
    let mut out = crate::output::stdout();
    if args.format == Format::Json {
        let mut doc = json!({
            "schema_version": 1,
            "tool": {"name": "ipagate", "version": env!("CARGO_PKG_VERSION")},
            "input": args.ipa.display().to_string(),
            "upload": outcome,
        });
        if outcome.dry_run {
            doc["would_send"] = json!(would);
        }
        super::write_json(&mut out, &doc)?;
        out.flush()?;
        return Ok(());
    }
    let style = Style::for_stdout(crate::style::ColorChoice::Auto);
    let id = &outcome.identity;
    let name = clean(&args.ipa.display().to_string());
    if outcome.dry_run {
        writeln!(
            out,
            "Dry run: {name} is {} {} ({}) for {}, app {}, {} bytes, SHA-256 {}",
            clean(&id.bundle_id),
            clean(&id.version),
            clean(&id.build_number),
            id.platform.as_str(),
            clean(&outcome.app_id),
            outcome.size,
            outcome.sha256
        )?;
        for w in would {
            writeln!(
                out,
                "  would {} {}: {}",
                w["method"].as_str().unwrap_or_default(),
                w["path"].as_str().unwrap_or_default(),
                clean(w["what"].as_str().unwrap_or_default())
            )?;
        }
        out.flush()?;
        return Ok(());
    }
    writeln!(
        out,
        "{} {name}: {} {} ({}) {}, build upload {}, {} of {} parts sent{} ({} bytes)",
        if outcome.resumed {
            "Resumed"
        } else {
            "Uploaded"
        },
        clean(&id.bundle_id),
        clean(&id.version),
        clean(&id.build_number),
        id.platform.as_str(),
        clean(&outcome.build_upload_id),
        outcome.parts_sent,
        outcome.parts_total,
        if outcome.parts_skipped > 0 {
            format!(", {} already confirmed", outcome.parts_skipped)
        } else {
            String::new()
        },
        outcome.bytes_sent
    )?;
    let errors = outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == ipagate_uploader::Severity::Error)
        .count();
    let warnings = outcome.diagnostics.len() - errors;
    write_diagnostics(&mut out, &outcome.diagnostics, &style)?;
    match outcome.state.as_str() {
        "COMPLETE" if errors == 0 => writeln!(
            out,
            "{} processing COMPLETE{}{}",
            style.ok("ok:"),
            outcome
                .build_id
                .as_deref()
                .map(|b| format!(", build {}", clean(b)))
                .unwrap_or_default(),
            if warnings > 0 {
                format!(" ({warnings} warning(s))")
            } else {
                String::new()
            }
        )?,
        "AWAITING_UPLOAD" | "PROCESSING" => writeln!(
            out,
            "{} still {} after --max-processing-wait {}s; rerun the same command to keep waiting",
            style.error("error:"),
            clean(&outcome.state),
            args.max_processing_wait
        )?,
        state => writeln!(
            out,
            "{} App Store Connect rejected the build: upload {} ({errors} error(s), {warnings} warning(s))",
            style.error("error:"),
            clean(state)
        )?,
    }
    out.flush()?;
    Ok(())
}

/// `error[ITMS-90062]: message` / `--> where` / `= help: …`, as `preflight` prints its diagnostics.
pub(crate) fn write_diagnostics(
    out: &mut impl Write,
    diagnostics: &[ipagate_uploader::Diagnostic],
    style: &Style,
) -> anyhow::Result<()> {
    for d in diagnostics {
        let label = format!("{}[{}]", d.severity, clean(&d.code));
        let label = match d.severity {
            ipagate_uploader::Severity::Error => style.error(&label),
            ipagate_uploader::Severity::Warning => style.warning(&label),
        };
        writeln!(
            out,
            "{label}{} {}",
            style.bold(":"),
            style.bold(&clean(&d.message))
        )?;
        writeln!(out, "  {} {}", style.gutter("-->"), clean(&d.location))?;
        writeln!(
            out,
            "  {} {}: {}",
            style.gutter("="),
            style.bold("help"),
            clean(&d.help)
        )?;
        writeln!(out)?;
    }
    Ok(())
}
