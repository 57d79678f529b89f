//! `ipagate publish IPA`: the gated path to TestFlight and the App Store, one command for a CI step.
//!
//! 1. **Gate**, offline (`preflight --distribution app-store`, its configuration) and online, read-only: the app
//!    record exists and the key may act for it, the build number is free in its version train (builds and
//!    uploads), the marketing version is above every approved one, the beta groups named exist, What to Test is
//!    acceptable, beta review's test information is complete, no App Store review is in the way. Any error stops
//!    here: diagnostics, exit 1, and not one mutating request.
//! 2. **Upload** the handle the gate checked (no second open, no second hash), resumable.
//! 3. **Wait** for the build to be VALID and its beta detail processed; answer export compliance.
//! 4. **TestFlight**: What to Test per locale, groups, beta review (expiring a build already waiting).
//! 5. **App Store**: the editable version gets the build (created when needed) and is submitted for review.
//!
//! Exit codes: 0 published; 1 the gate or App Store Connect said no (gate errors, online check errors, Apple's
//! processing errors, still processing at `--max-processing-wait`); 2 bad input, usage or a failing service.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use ipagate_asc::distribution::{self as dist, BuildStatus, VersionChanges};
use ipagate_asc::history::HistoryError;
use ipagate_asc::resources::Platform;
use ipagate_asc::{Client, RequestError};
use ipagate_gate::{Checked, GateOptions};
use ipagate_rules::{Context, Distribution};
use ipagate_uploader::{Diagnostic, Identity, Severity, UploadOptions, UploadOutcome};
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::AuthArgs;
use super::upload::{Format, Progress, Reporter};
use crate::exit;
use crate::style::{ColorChoice, Style, clean};

/// `--release-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReleaseType {
    /// Release by hand after approval.
    Manual,
    /// Release as soon as approved.
    AfterApproval,
    /// Release at `--earliest-release-date`.
    Scheduled,
}

impl ReleaseType {
    fn as_api(self) -> &'static str {
        match self {
            ReleaseType::Manual => "MANUAL",
            ReleaseType::AfterApproval => "AFTER_APPROVAL",
            ReleaseType::Scheduled => "SCHEDULED",
        }
    }
}

/// Arguments of `ipagate publish`. Option names follow codemagic-cli-tools' `app-store-connect publish` where it
/// has one (its spelling is accepted as an alias).
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The .ipa to gate, upload and distribute.
    #[arg(value_name = "IPA")]
    pub ipa: PathBuf,

    /// Skip the offline gate (loud warning; recorded in the JSON report). The online checks still run.
    #[arg(long)]
    pub skip_preflight: bool,
    /// Configuration of the offline gate (default: ./ipagate.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fail the gate on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// "Today" for date-dependent rules (YYYY-MM-DD); defaults to the current UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = super::preflight::parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
    /// A folder with newer rule data (see `preflight --data`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Gate with `preflight --deep`: also verify every signed bundle's sealed resources.
    #[arg(long)]
    pub deep: bool,
    /// Tests only: verify signatures and profiles against this DER root instead of Apple's pinned roots.
    #[arg(long, value_name = "FILE", hide = true)]
    pub trust_root: Option<PathBuf>,

    /// What to Test (TestFlight), for `--locale`.
    #[arg(long, value_name = "TEXT", conflicts_with_all = ["whats_new_file", "whats_new_json"])]
    pub whats_new: Option<String>,
    /// What to Test read from a file (UTF-8), for `--locale`.
    #[arg(long, value_name = "FILE", conflicts_with = "whats_new_json")]
    pub whats_new_file: Option<PathBuf>,
    /// What to Test per locale: a JSON object {"en-US": "…", "de-DE": "…"}.
    #[arg(long, value_name = "FILE")]
    pub whats_new_json: Option<PathBuf>,
    /// Locale of `--whats-new` / `--whats-new-file` (default: the app's primary locale).
    #[arg(long, value_name = "LOCALE")]
    pub locale: Option<String>,
    /// Add the build to this TestFlight group (repeatable; exact name).
    #[arg(long = "beta-group", value_name = "NAME")]
    pub beta_groups: Vec<String>,
    /// Submit the build for TestFlight beta review (external testing) once processed.
    #[arg(long, visible_alias = "testflight", alias = "submit-to-testflight")]
    pub submit_beta_review: bool,
    /// Expire a build of the app already waiting for (or in) beta review, which would block this one.
    #[arg(long, alias = "expire-build-submitted-for-review")]
    pub expire_previous: bool,

    /// Attach the build to the editable App Store version (created when needed) and submit it for review.
    #[arg(long, alias = "submit-to-app-store")]
    pub app_store: bool,
    /// Version string of the App Store version (default: the IPA's CFBundleShortVersionString).
    #[arg(long, value_name = "VERSION", requires = "app_store")]
    pub version_string: Option<String>,
    /// How the approved version is released.
    #[arg(long, value_enum, requires = "app_store")]
    pub release_type: Option<ReleaseType>,
    /// Earliest release date (ISO 8601) for `--release-type scheduled`.
    #[arg(long, value_name = "DATE", requires = "app_store")]
    pub earliest_release_date: Option<String>,
    /// Copyright line of the App Store version.
    #[arg(long, value_name = "TEXT", requires = "app_store")]
    pub copyright: Option<String>,
    /// Cancel review submissions of the app still in progress before submitting.
    #[arg(long, requires = "app_store")]
    pub cancel_previous_submissions: bool,

    /// Export compliance answer when the Info.plist has no ITSAppUsesNonExemptEncryption.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub uses_non_exempt_encryption: Option<bool>,
    /// Seconds to wait for processing (upload, build VALID, beta detail) before giving up (a rerun resumes).
    #[arg(
        long,
        default_value_t = 1800,
        value_name = "SECS",
        alias = "max-build-processing-wait"
    )]
    pub max_processing_wait: u64,
    /// Milliseconds between processing polls (hidden: for tests).
    #[arg(long, default_value_t = 10_000, hide = true, value_name = "MS")]
    pub poll_interval_ms: u64,

    /// Parts sent at once.
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Where resume journals live.
    #[arg(
        long,
        value_name = "DIR",
        env = "IPAGATE_UPLOAD_STATE_DIR",
        default_value = ".ipagate/uploads"
    )]
    pub state_dir: PathBuf,
    /// Attempts per part before the upload stops (a rerun resumes).
    #[arg(long, default_value_t = 6, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub part_attempts: u32,
    /// Seconds one part attempt may take.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub part_timeout: u64,
    /// Run the offline and online gate, print what would be done, change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: Progress,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl PublishArgs {
    /// Whether errors print as a JSON document on stdout.
    pub fn prints_json(&self) -> bool {
        self.format == Format::Json
    }
}

/// How far publishing got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// Everything asked for was done.
    Published,
    /// Only the checks ran (`--dry-run`).
    DryRun,
    /// The offline gate failed: nothing was sent.
    GateFailed,
    /// An online check failed: nothing was changed.
    Refused,
    /// App Store Connect rejected the build after the upload.
    Rejected,
    /// Still processing at `--max-processing-wait`.
    NotProcessed,
}

/// The JSON report: one object, every step's outcome.
#[derive(Debug, Serialize)]
struct Report {
    schema_version: u32,
    tool: ipagate_gate::Tool,
    input: String,
    outcome: Outcome,
    /// The offline gate's report (`preflight --format json`), or null when `--skip-preflight`.
    preflight: Option<ipagate_gate::Report>,
    skipped_preflight: bool,
    /// Online checks and anything App Store Connect refused, in `preflight`'s diagnostic shape.
    diagnostics: Vec<Diagnostic>,
    online: Option<Online>,
    upload: Option<UploadOutcome>,
    processing: Option<Processing>,
    testflight: Option<TestFlight>,
    app_store: Option<AppStore>,
    /// What would be done (`--dry-run`).
    plan: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Online {
    app_id: String,
    primary_locale: Option<String>,
    train: Option<ipagate_uploader::precheck::TrainStatus>,
    beta_groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Processing {
    build_id: String,
    processing_state: Option<String>,
    internal_build_state: Option<String>,
    external_build_state: Option<String>,
    waited_ms: u64,
    /// The export compliance answer sent (`null`: none sent, already answered or unknown).
    uses_non_exempt_encryption_set: Option<bool>,
    /// Where that answer came from: `info_plist`, `flag`, `already_answered`, `unknown`.
    export_compliance: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
struct TestFlight {
    whats_new_locales: Vec<String>,
    beta_groups: Vec<String>,
    expired_builds: Vec<String>,
    beta_review_submitted: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
struct AppStore {
    version_id: String,
    version_string: String,
    version_created: bool,
    canceled_submissions: Vec<String>,
    review_submission_id: String,
}

/// What to Test per locale, from the flags (`None` locale: the app's primary one, known after the app is found).
fn whats_new(args: &PublishArgs) -> anyhow::Result<Vec<(Option<String>, String)>> {
    if let Some(text) = &args.whats_new {
        return Ok(vec![(args.locale.clone(), text.clone())]);
    }
    if let Some(path) = &args.whats_new_file {
        let text = read_bounded(path)?;
        return Ok(vec![(args.locale.clone(), text)]);
    }
    if let Some(path) = &args.whats_new_json {
        let text = read_bounded(path)?;
        let map: serde_json::Map<String, Value> =
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a JSON object of locale → text ({{\"en-US\": \"…\"}})",
                    path.display()
                )
            })?;
        let mut out = Vec::new();
        for (locale, value) in map {
            let Value::String(text) = value else {
                anyhow::bail!(
                    "{}: the value for {locale:?} is not a string",
                    path.display()
                );
            };
            out.push((Some(locale), text));
        }
        if out.is_empty() {
            anyhow::bail!("{} has no locale", path.display());
        }
        return Ok(out);
    }
    Ok(Vec::new())
}

/// Reads a small text file (What to Test); refuses anything over 64 KiB rather than reading it whole.
fn read_bounded(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut text = String::new();
    file.take(64 * 1024 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    if text.len() > 64 * 1024 {
        anyhow::bail!(
            "{} is larger than 64 KiB; What to Test holds at most 4000 characters",
            path.display()
        );
    }
    Ok(text)
}

fn problem(code: &str, message: String, help: &str) -> Diagnostic {
    Diagnostic {
        code: code.to_owned(),
        severity: Severity::Error,
        message,
        help: help.to_owned(),
        location: "App Store Connect".to_owned(),
    }
}

/// A 403 names the role publishing needs; anything else stays an error of the service.
fn forbidden(e: &RequestError) -> Option<Diagnostic> {
    (e.status() == Some(403)).then(|| {
        problem(
            "ASC-FORBIDDEN",
            format!("the API key may not do this: {e}"),
            "publishing needs a team key with the App Manager or Admin role (Users and Access → Integrations)",
        )
    })
}

/// Runs `ipagate publish`.
#[allow(clippy::too_many_lines)]
pub fn run(args: PublishArgs) -> anyhow::Result<u8> {
    let mut report = Report {
        schema_version: 1,
        tool: ipagate_gate::Tool::current(),
        input: args.ipa.display().to_string(),
        outcome: Outcome::Published,
        preflight: None,
        skipped_preflight: args.skip_preflight,
        diagnostics: Vec::new(),
        online: None,
        upload: None,
        processing: None,
        testflight: None,
        app_store: None,
        plan: Vec::new(),
    };
    let style = Style::for_stdout(args.color);
    // Offline inputs first: a bad What to Test file is a usage error before anything else runs.
    let notes = whats_new(&args)?;
    for (locale, text) in &notes {
        if let Err(why) = dist::check_whats_new(locale.as_deref().unwrap_or("en-US"), text) {
            anyhow::bail!("{why}");
        }
    }

    // 1. The offline gate.
    let (identity, checked) = if args.skip_preflight {
        crate::output::eprint_line(
            "ipagate: warning: --skip-preflight: the offline gate did NOT run; a build App Store Connect will reject \
             may be uploaded (this is recorded in the report)",
        );
        (ipagate_uploader::read_identity(&args.ipa)?, None)
    } else {
        let mut config = super::preflight::load_config(args.config.as_deref())?;
        config.deny_warnings |= args.deny_warnings;
        let context = Context {
            distribution: Distribution::AppStore,
            as_of: args
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            data: std::sync::Arc::new(super::preflight::load_data(args.data.as_deref())?),
        };
        let options = GateOptions {
            anchors: super::inspect::trust_anchors(args.trust_root.as_deref())?,
            deep: args.deep,
            ..GateOptions::new(context, config)
        };
        let checked = ipagate_gate::check(&args.ipa, &options)?;
        report.preflight = Some(checked.report());
        if !checked.summary.passed {
            report.outcome = Outcome::GateFailed;
            return finish(&args, &report, Some(&checked), &style);
        }
        let identity =
            ipagate_uploader::identity_of(&args.ipa.display().to_string(), &checked.facts)?;
        (identity, Some(checked))
    };

    // 2. The online gate: reads only.
    let client =
        crate::cmd::upload::upload_client(&args.auth, args.concurrency, args.part_timeout)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let reporter = Reporter::new(args.progress);
    let result = runtime.block_on(flow(
        &args,
        &client,
        &identity,
        checked.as_ref(),
        &notes,
        &reporter,
        &mut report,
    ));
    reporter.finish();
    result?;
    finish(&args, &report, checked.as_ref(), &style)
}

/// Everything after the offline gate.
#[allow(clippy::too_many_lines, clippy::too_many_arguments)]
async fn flow(
    args: &PublishArgs,
    client: &Client,
    identity: &Identity,
    checked: Option<&Checked>,
    notes: &[(Option<String>, String)],
    reporter: &Reporter,
    report: &mut Report,
) -> anyhow::Result<()> {
    let refuse = |report: &mut Report, d: Diagnostic| {
        report.diagnostics.push(d);
        report.outcome = Outcome::Refused;
    };
    reporter.step("online_checks", json!({}));
    let app_id = match ipagate_asc::history::find_app(client, &identity.bundle_id).await {
        Ok((id, _)) => id,
        Err(HistoryError::AppNotFound { bundle_id, .. }) => {
            refuse(
                report,
                problem(
                    "ASC-NO-APP",
                    format!(
                        "no app with bundle id {bundle_id} in App Store Connect (or the key cannot see it)"
                    ),
                    "create the app record in App Store Connect first (Apps → +), with exactly this bundle id",
                ),
            );
            return Ok(());
        }
        Err(HistoryError::Request(e)) if forbidden(&e).is_some() => {
            refuse(
                report,
                forbidden(&e).unwrap_or_else(|| problem("ASC-FORBIDDEN", e.to_string(), "")),
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let online = async {
        let app: ipagate_asc::jsonapi::Document<
            ipagate_asc::jsonapi::ResourceOf<ipagate_asc::resources::App>,
        > = client
            .get(
                &format!("/v1/apps/{app_id}"),
                &ipagate_asc::Query::new().fields("apps", &["primaryLocale", "bundleId"]),
            )
            .await?;
        let primary = app.data.attributes.and_then(|a| a.primary_locale);
        let train = ipagate_uploader::precheck::train_status(client, identity, &app_id).await?;
        let groups = if args.beta_groups.is_empty() {
            Vec::new()
        } else {
            dist::beta_groups(client, &app_id).await?
        };
        let review_missing = if args.submit_beta_review {
            dist::beta_review_missing(client, &app_id).await?
        } else {
            Vec::new()
        };
        let in_review = if args.submit_beta_review {
            dist::builds_in_beta_review(client, &app_id).await?
        } else {
            Vec::new()
        };
        let open = if args.app_store {
            dist::open_submissions(client, &app_id, identity.platform.clone()).await?
        } else {
            Vec::new()
        };
        Ok::<_, anyhow::Error>((primary, train, groups, review_missing, in_review, open))
    }
    .await;
    let (primary, train, groups, review_missing, in_review, open) = match online {
        Ok(v) => v,
        Err(e) => {
            let forbidden = e.chain().find_map(|c| {
                c.downcast_ref::<RequestError>()
                    .and_then(forbidden)
                    .or_else(|| match c.downcast_ref::<HistoryError>() {
                        Some(HistoryError::Request(r)) => forbidden(r),
                        _ => None,
                    })
            });
            if let Some(d) = forbidden {
                refuse(report, d);
                return Ok(());
            }
            return Err(e);
        }
    };
    let mut online = Online {
        app_id: app_id.clone(),
        primary_locale: primary.clone(),
        train: Some(train.clone()),
        beta_groups: Vec::new(),
    };
    if let Some(by) = &train.taken_by {
        refuse(
            report,
            problem(
                "ITMS-90189",
                format!(
                    "build number {} is already used for version {} ({}) of {} (by {by})",
                    identity.build_number,
                    identity.version,
                    identity.platform.as_str(),
                    identity.bundle_id
                ),
                &format!(
                    "set CFBundleVersion to {} (`ipagate build-number next --bundle-id {} --version {}`, then \
                     `ipagate build-number apply`) and rebuild",
                    train.next, identity.bundle_id, identity.version
                ),
            ),
        );
    }
    if train.version_closed(&identity.version) {
        refuse(
            report,
            problem(
                "ITMS-90062",
                format!(
                    "version {} is not higher than {}, already approved for the App Store: its train is closed",
                    identity.version,
                    train.highest_approved.as_deref().unwrap_or("?")
                ),
                "raise CFBundleShortVersionString (MARKETING_VERSION) above the approved version",
            ),
        );
    }
    for name in &args.beta_groups {
        match groups.iter().find(|g| &g.name == name) {
            Some(g) => online.beta_groups.push(g.id.clone()),
            None => {
                let known: Vec<String> = groups.iter().map(|g| format!("{:?}", g.name)).collect();
                refuse(
                    report,
                    problem(
                        "ASC-BETA-GROUP",
                        format!(
                            "no TestFlight group named {name:?} for {}",
                            identity.bundle_id
                        ),
                        &if known.is_empty() {
                            "the app has no TestFlight groups yet; create one in App Store Connect → TestFlight"
                                .to_owned()
                        } else {
                            format!("existing groups: {}", known.join(", "))
                        },
                    ),
                );
            }
        }
    }
    if !review_missing.is_empty() {
        refuse(
            report,
            problem(
                "ASC-BETA-REVIEW-INFO",
                format!(
                    "beta review needs test information the app lacks: {}",
                    review_missing.join(", ")
                ),
                &format!(
                    "fill in TestFlight → Test Information: https://appstoreconnect.apple.com/apps/{app_id}/testflight/test-info"
                ),
            ),
        );
    }
    if !in_review.is_empty() && !args.expire_previous {
        refuse(
            report,
            problem(
                "ASC-BETA-REVIEW-BUSY",
                format!(
                    "build(s) {} of the app are already waiting for or in beta review",
                    in_review.join(", ")
                ),
                "pass --expire-previous to expire them, or wait for their review",
            ),
        );
    }
    if !open.is_empty() && !args.cancel_previous_submissions {
        refuse(
            report,
            problem(
                "ASC-REVIEW-IN-PROGRESS",
                format!(
                    "App Store review submission(s) {} are still in progress",
                    open.join(", ")
                ),
                "pass --cancel-previous-submissions to cancel them first",
            ),
        );
    }
    report.online = Some(online.clone());
    if report.outcome == Outcome::Refused {
        return Ok(());
    }
    let locale_of = |l: &Option<String>| {
        l.clone()
            .or_else(|| primary.clone())
            .unwrap_or_else(|| "en-US".to_owned())
    };
    if args.dry_run {
        report.outcome = Outcome::DryRun;
        let mut plan = vec![format!(
            "upload {} {} ({}) for {} to app {app_id}",
            identity.bundle_id,
            identity.version,
            identity.build_number,
            identity.platform.as_str()
        )];
        plan.push("wait for processing; answer export compliance".to_owned());
        for (locale, _) in notes {
            plan.push(format!("set What to Test ({})", locale_of(locale)));
        }
        if !args.beta_groups.is_empty() {
            plan.push(format!("add to groups {}", args.beta_groups.join(", ")));
        }
        for b in &in_review {
            plan.push(format!("expire build {b} (waiting for beta review)"));
        }
        if args.submit_beta_review {
            plan.push("submit for beta review".to_owned());
        }
        for s in &open {
            plan.push(format!("cancel review submission {s}"));
        }
        if args.app_store {
            plan.push("attach to the editable App Store version and submit for review".to_owned());
        }
        report.plan = plan;
        return Ok(());
    }

    // 3. Upload the bytes the gate passed.
    let options = UploadOptions {
        concurrency: usize::from(args.concurrency),
        state_dir: args.state_dir.clone(),
        dry_run: false,
        part_timeout: Duration::from_secs(args.part_timeout.max(1)),
        max_processing_wait: Duration::from_secs(args.max_processing_wait),
        poll_interval: Duration::from_millis(args.poll_interval_ms.max(1)),
        part_attempts: args.part_attempts,
        ..UploadOptions::default()
    };
    let started = Instant::now();
    let on_event = |e| reporter.event(e);
    let uploaded = match checked.and_then(|c| c.file.clone().zip(c.sha256.clone())) {
        Some((file, sha256)) => {
            let handle = ipagate_uploader::Checked {
                file,
                identity: identity.clone(),
                sha256,
            };
            ipagate_uploader::upload_checked(client, &args.ipa, handle, &options, &on_event).await
        }
        None => ipagate_uploader::upload(client, &args.ipa, &options, &on_event).await,
    };
    let outcome = match uploaded {
        Ok(o) => o,
        Err(e) if super::upload::rejected(&e) => {
            let d = match &e {
                ipagate_uploader::UploadError::Request(r) => forbidden(r),
                _ => None,
            };
            report.diagnostics.push(d.unwrap_or_else(|| {
                problem(
                    "ASC-REJECTED",
                    crate::output::redact(&e.to_string()),
                    "see the message",
                )
            }));
            report.outcome = Outcome::Rejected;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let state = outcome.state.clone();
    let failed = outcome.failed();
    report
        .diagnostics
        .extend(outcome.diagnostics.iter().cloned());
    let build_id = outcome.build_id.clone();
    report.upload = Some(outcome);
    if failed {
        report.outcome = Outcome::Rejected;
        return Ok(());
    }
    let Some(build_id) = build_id.filter(|_| state == "COMPLETE") else {
        report.outcome = Outcome::NotProcessed;
        return Ok(());
    };

    // 4. Processing and export compliance.
    let left = Duration::from_secs(args.max_processing_wait).saturating_sub(started.elapsed());
    let poll = Duration::from_millis(args.poll_interval_ms.max(1));
    let on_state = |s: &BuildStatus| {
        reporter.step(
            "processing",
            json!({"build_id": build_id, "processing_state": s.processing_state,
                "internal_build_state": s.internal_state, "external_build_state": s.external_state}),
        );
    };
    let mut status = dist::wait_processed(client, &build_id, left, poll, &on_state).await?;
    let plist_answer = checked.and_then(|c| {
        c.facts
            .app()
            .info()
            .and_then(|i| i.uses_non_exempt_encryption)
    });
    let (answer, source) = match (
        status.uses_non_exempt_encryption,
        plist_answer,
        args.uses_non_exempt_encryption,
    ) {
        (Some(_), _, _) => (None, "already_answered"),
        (None, Some(v), _) => (Some(v), "info_plist"),
        (None, None, Some(v)) => (Some(v), "flag"),
        (None, None, None) => (None, "unknown"),
    };
    if let Some(v) = answer
        && !status.failed()
    {
        reporter.step(
            "export_compliance",
            json!({"uses_non_exempt_encryption": v}),
        );
        dist::set_uses_non_exempt_encryption(client, &build_id, v).await?;
        status = dist::build_status(client, &build_id).await?;
    }
    report.processing = Some(Processing {
        build_id: build_id.clone(),
        processing_state: status.processing_state.clone(),
        internal_build_state: status.internal_state.clone(),
        external_build_state: status.external_state.clone(),
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        uses_non_exempt_encryption_set: answer,
        export_compliance: source,
    });
    if status.failed() {
        report.diagnostics.push(problem(
            "ASC-PROCESSING",
            format!(
                "App Store Connect marked build {build_id} {}",
                status.processing_state.as_deref().unwrap_or("?")
            ),
            "see the email App Store Connect sent for the build, or its page in App Store Connect",
        ));
        report.outcome = Outcome::Rejected;
        return Ok(());
    }
    if !status.processed() {
        report.outcome = Outcome::NotProcessed;
        return Ok(());
    }
    if source == "unknown"
        && (args.submit_beta_review || args.app_store || !args.beta_groups.is_empty())
    {
        crate::output::eprint_line(
            "ipagate: warning: export compliance is unanswered (no ITSAppUsesNonExemptEncryption in the Info.plist, \
             no --uses-non-exempt-encryption): testers will not get the build until it is answered in App Store Connect",
        );
    }

    // 5. TestFlight.
    let mut tf = TestFlight::default();
    for (locale, text) in notes {
        let locale = locale_of(locale);
        reporter.step("whats_new", json!({"locale": locale}));
        dist::set_whats_new(client, &build_id, &locale, text).await?;
        tf.whats_new_locales.push(locale);
    }
    if !online.beta_groups.is_empty() {
        reporter.step("beta_groups", json!({"groups": args.beta_groups}));
        dist::add_to_groups(client, &build_id, &online.beta_groups).await?;
        tf.beta_groups = args.beta_groups.clone();
    }
    if args.submit_beta_review {
        for b in &in_review {
            reporter.step("expire_build", json!({"build_id": b}));
            dist::expire_build(client, b).await?;
            tf.expired_builds.push(b.clone());
        }
        reporter.step("beta_review", json!({"build_id": build_id}));
        dist::submit_beta_review(client, &build_id).await?;
        tf.beta_review_submitted = true;
    }
    report.testflight = Some(tf);

    // 6. App Store.
    if args.app_store {
        let mut store = AppStore::default();
        for s in &open {
            reporter.step("cancel_submission", json!({"review_submission_id": s}));
            dist::cancel_submission(client, s).await?;
            store.canceled_submissions.push(s.clone());
        }
        let changes = VersionChanges {
            version_string: args
                .version_string
                .clone()
                .unwrap_or_else(|| identity.version.clone()),
            release_type: args.release_type.map(|r| r.as_api().to_owned()),
            earliest_release_date: args.earliest_release_date.clone(),
            copyright: args.copyright.clone(),
        };
        reporter.step(
            "app_store_version",
            json!({"version_string": changes.version_string}),
        );
        let platform: Platform = identity.platform.clone();
        let (version_id, created) =
            dist::prepare_version(client, &app_id, platform.clone(), &build_id, &changes).await?;
        reporter.step(
            "submit_for_review",
            json!({"app_store_version_id": version_id}),
        );
        let submission = dist::submit_for_review(client, &app_id, platform, &version_id).await?;
        store.version_id = version_id;
        store.version_string = changes.version_string;
        store.version_created = created;
        store.review_submission_id = submission;
        report.app_store = Some(store);
    }
    Ok(())
}

fn finish(
    args: &PublishArgs,
    report: &Report,
    checked: Option<&Checked>,
    style: &Style,
) -> anyhow::Result<u8> {
    let mut out = crate::output::stdout();
    if args.format == Format::Json {
        super::write_json(&mut out, &serde_json::to_value(report)?)?;
    } else {
        if let Some(c) = checked
            && (!c.diagnostics.is_empty())
        {
            super::preflight::write_diagnostics(&mut out, &c.diagnostics, style)?;
        }
        super::upload::write_diagnostics(&mut out, &report.diagnostics, style)?;
        write_summary(&mut out, report, style)?;
    }
    out.flush()?;
    Ok(match report.outcome {
        Outcome::Published | Outcome::DryRun => exit::SUCCESS,
        _ => exit::GATE_FAILED,
    })
}

fn write_summary(out: &mut impl Write, report: &Report, style: &Style) -> anyhow::Result<()> {
    let what = clean(&report.input);
    if report.skipped_preflight {
        writeln!(
            out,
            "{} the offline gate was skipped (--skip-preflight)",
            style.warning("warning:")
        )?;
    }
    match report.outcome {
        Outcome::GateFailed => writeln!(
            out,
            "{} {what}: the preflight gate failed; nothing was sent to App Store Connect",
            style.error("error:")
        )?,
        Outcome::Refused => writeln!(
            out,
            "{} {what}: App Store Connect's current state refuses this build; nothing was changed",
            style.error("error:")
        )?,
        Outcome::Rejected => writeln!(
            out,
            "{} {what}: App Store Connect rejected the build",
            style.error("error:")
        )?,
        Outcome::NotProcessed => writeln!(
            out,
            "{} {what}: still processing after --max-processing-wait; rerun the same command to continue",
            style.error("error:")
        )?,
        Outcome::DryRun => {
            writeln!(out, "Dry run: {what} passed the gate; would:")?;
            for step in &report.plan {
                writeln!(out, "  {}", clean(step))?;
            }
        }
        Outcome::Published => {
            let build = report
                .processing
                .as_ref()
                .map(|p| clean(&p.build_id))
                .unwrap_or_default();
            writeln!(
                out,
                "{} {what}: build {build} is processed",
                style.ok("ok:")
            )?;
            if let Some(u) = &report.upload {
                writeln!(
                    out,
                    "  uploaded {} {} ({}) {}: build upload {}, {} of {} parts sent{} ({} bytes, SHA-256 {})",
                    clean(&u.identity.bundle_id),
                    clean(&u.identity.version),
                    clean(&u.identity.build_number),
                    u.identity.platform.as_str(),
                    clean(&u.build_upload_id),
                    u.parts_sent,
                    u.parts_total,
                    if u.parts_skipped > 0 {
                        format!(", {} already confirmed", u.parts_skipped)
                    } else {
                        String::new()
                    },
                    u.bytes_sent,
                    u.sha256
                )?;
            }
            if let Some(tf) = &report.testflight {
                if !tf.whats_new_locales.is_empty() {
                    writeln!(
                        out,
                        "  What to Test set for {}",
                        clean(&tf.whats_new_locales.join(", "))
                    )?;
                }
                if !tf.beta_groups.is_empty() {
                    writeln!(
                        out,
                        "  added to TestFlight groups {}",
                        clean(&tf.beta_groups.join(", "))
                    )?;
                }
                for b in &tf.expired_builds {
                    writeln!(
                        out,
                        "  expired build {} (was waiting for beta review)",
                        clean(b)
                    )?;
                }
                if tf.beta_review_submitted {
                    writeln!(out, "  submitted for beta review")?;
                }
            }
            if let Some(s) = &report.app_store {
                writeln!(
                    out,
                    "  App Store version {} ({}) submitted for review: submission {}",
                    clean(&s.version_string),
                    if s.version_created {
                        "created"
                    } else {
                        "updated"
                    },
                    clean(&s.review_submission_id)
                )?;
            }
        }
    }
    Ok(())
}
