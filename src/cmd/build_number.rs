//! `ipagate build-number latest|next|apply`: the next build number App Store Connect will accept, and writing it
//! into a project.
//!
//! Requests (`--format json` reports them): with `--bundle-id`, one app lookup, then the app's build uploads and its
//! builds (concurrently); with `--app-id`, only the last two. Each list is one request per 200 entries.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use ipagate_asc::ClientStats;
use ipagate_asc::history::{AppSelector, BuildHistory, HistoryQuery, fetch_build_history};
use ipagate_asc::resources::Platform;
use ipagate_bumper::{
    ApplyOptions, ApplyReport, BuildNumber, Candidate, Decision, MarketingVersion, Policy,
    SourceKind, Strategy, TargetSelection, VersionScope, decide,
};
use serde_json::json;

use crate::exit;

/// Subcommands of `ipagate build-number`.
#[derive(Debug, Subcommand)]
pub enum BuildNumberCommand {
    /// Print the highest build number App Store Connect has seen (processed builds and uploads still processing).
    Latest(QueryArgs),
    /// Print the next build number to upload (latest + 1 by default); `--apply` also writes it into the project.
    Next(NextArgs),
    /// Write a build number where Xcode reads each shipping target's CFBundleVersion from (Info.plist, the
    /// xcconfig or pbxproj setting it refers to), and pubspec.yaml; checks every target before writing anything.
    Apply(ApplyArgs),
    /// Show each shipping target's marketing version and build number per configuration, and where each is
    /// defined (reads only).
    Show(ShowArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text: the number alone (latest, next); one line per change and note (apply).
    Text,
    /// One JSON object.
    Json,
}

/// `--platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlatformArg {
    /// iOS and iPadOS.
    Ios,
    /// macOS.
    MacOs,
    /// tvOS.
    TvOs,
    /// visionOS.
    VisionOs,
}

impl From<PlatformArg> for Platform {
    fn from(p: PlatformArg) -> Platform {
        match p {
            PlatformArg::Ios => Platform::Ios,
            PlatformArg::MacOs => Platform::MacOs,
            PlatformArg::TvOs => Platform::TvOs,
            PlatformArg::VisionOs => Platform::VisionOs,
        }
    }
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Increment the last component of the latest number.
    Increment,
    /// The current UTC time as YYYYMMDDHHMM (or latest + 1 if that is not higher).
    Timestamp,
}

pub use super::auth::AuthArgs;

/// Arguments of `latest` (and the query part of `next`).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("app").required(true).args(["bundle_id", "app_id"])))]
pub struct QueryArgs {
    /// The app's bundle identifier (matched exactly).
    #[arg(long, value_name = "ID")]
    pub bundle_id: Option<String>,
    /// The app's Apple id (numeric).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// Platform whose builds count.
    #[arg(long, value_enum, default_value = "IOS")]
    pub platform: PlatformArg,
    /// Only this marketing version's train (1.2 and 1.2.0 are the same train).
    #[arg(long, value_name = "X.Y.Z", conflicts_with = "all_versions")]
    pub version: Option<String>,
    /// Across all versions: monotonic build numbers (the default).
    #[arg(long)]
    pub all_versions: bool,
    /// Count FAILED uploads too.
    #[arg(long)]
    pub include_failed: bool,
    /// The next number when nothing was uploaded yet.
    #[arg(long, value_name = "N", default_value = "1")]
    pub initial: String,
    /// How the next number is made.
    #[arg(long, value_enum, default_value = "increment")]
    pub strategy: StrategyArg,
    /// The next number is at least N (e.g. the CI run number).
    #[arg(long, value_name = "N")]
    pub at_least: Option<String>,
    /// The time `--strategy timestamp` uses instead of the clock (RFC 3339, e.g. 2026-03-04T05:06:00Z). Hidden:
    /// for tests and reproducible pipelines.
    #[arg(long, hide = true, env = "IPAGATE_NOW", value_name = "RFC3339")]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Arguments of `next`.
#[derive(Debug, Args)]
pub struct NextArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Also write the number into the project (see `apply`).
    #[arg(long)]
    pub apply: bool,
    /// Project directory for --apply.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "apply")]
    pub project: PathBuf,
    /// With --apply: show what would change, write nothing.
    #[arg(long, requires = "apply")]
    pub dry_run: bool,
    #[command(flatten)]
    pub targets: TargetArgs,
}

/// Which targets get the number, and what is allowed.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Also the test targets and every other target with a CFBundleVersion (default: the targets that ship —
    /// app, extensions, watch app, App Clip).
    #[arg(long, conflicts_with = "target")]
    pub all_targets: bool,
    /// Only this target (repeatable).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Allow a number lower than the project's current one.
    #[arg(long)]
    pub allow_lower: bool,
    /// Allow a Flutter build number above 2100000000, Google Play's largest versionCode.
    #[arg(long)]
    pub allow_over_android_max: bool,
}

impl TargetArgs {
    fn selection(&self) -> TargetSelection {
        if self.all_targets {
            TargetSelection::All
        } else if !self.target.is_empty() {
            TargetSelection::Named(self.target.clone())
        } else {
            TargetSelection::Shipping
        }
    }

    fn options(&self, dry_run: bool) -> ApplyOptions {
        ApplyOptions {
            dry_run,
            allow_lower: self.allow_lower,
            allow_over_android_max: self.allow_over_android_max,
            targets: self.selection(),
        }
    }
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The build number to write.
    #[arg(value_name = "N")]
    pub number: String,
    /// Project directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,
    /// Show what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format: text prints one line per change and note; json prints {number, changes, notes, written,
    /// targets}.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub targets: TargetArgs,
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Project directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project: PathBuf,
    /// Also the test targets and every other target.
    #[arg(long, conflicts_with = "target")]
    pub all_targets: bool,
    /// Only this target (repeatable).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Output format: text prints one line per target and configuration; json prints {targets, pubspec_version,
    /// notes}.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs `build-number`.
pub fn run(args: BuildNumberCommand) -> anyhow::Result<u8> {
    match args {
        BuildNumberCommand::Latest(query) => run_query(&query, Mode::Latest, None),
        BuildNumberCommand::Next(next) => {
            let apply = next
                .apply
                .then(|| (next.project.clone(), next.targets.options(next.dry_run)));
            run_query(&next.query, Mode::Next, apply)
        }
        BuildNumberCommand::Apply(args) => run_apply(&args),
        BuildNumberCommand::Show(args) => run_show(&args),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Latest,
    Next,
}

fn parse_number(flag: &str, text: &str) -> anyhow::Result<BuildNumber> {
    BuildNumber::parse(text).with_context(|| format!("invalid {flag}"))
}

fn policy(args: &QueryArgs) -> anyhow::Result<Policy> {
    let scope = match &args.version {
        Some(v) => {
            // The same check as ITMS-90060: a train App Store Connect would never accept is a typo.
            if !ipagate_formats::info_plist::is_valid_bundle_version(v.trim()) {
                bail!(
                    "invalid --version {}: App Store Connect accepts at most three period-separated integers as \
                     a marketing version (ITMS-90060), e.g. 1.2.3",
                    ipagate_bumper::printable(v)
                );
            }
            VersionScope::Version(MarketingVersion::parse(v).context("invalid --version")?)
        }
        None => VersionScope::AllVersions,
    };
    let strategy = match args.strategy {
        StrategyArg::Increment => Strategy::Increment,
        StrategyArg::Timestamp => {
            let now = match &args.now {
                Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
                    .with_context(|| {
                        format!("invalid --now / IPAGATE_NOW {text:?} (expected RFC 3339, e.g. 2026-03-04T05:06:00Z)")
                    })?
                    .with_timezone(&chrono::Utc),
                None => chrono::Utc::now(),
            };
            Strategy::Timestamp(timestamp(now)?)
        }
    };
    Ok(Policy {
        scope,
        include_failed: args.include_failed,
        initial: parse_number("--initial", &args.initial)?,
        strategy,
        at_least: args
            .at_least
            .as_deref()
            .map(|n| parse_number("--at-least", n))
            .transpose()?,
    })
}

/// `YYYYMMDDHHMM` in UTC: what `--strategy timestamp` proposes (the bumper takes latest + 1 when it is not higher).
fn timestamp(now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<BuildNumber> {
    parse_number("timestamp", &now.format("%Y%m%d%H%M").to_string())
}

fn run_query(
    args: &QueryArgs,
    mode: Mode,
    apply: Option<(PathBuf, ApplyOptions)>,
) -> anyhow::Result<u8> {
    // Credentials first: once the key is known, an option value that quotes a piece of it is redacted in the errors
    // below (the bumper's messages echo the value they refuse).
    // The options are judged first (an invalid --version is the error to report, before a missing
    // key), but the error is raised only after the credentials are resolved: by then every key the
    // run knows is registered with the redactor, so an option that echoes pasted key material
    // cannot leak it.
    let policy = policy(args);
    let resolved = args.auth.resolve();
    let policy = policy?;
    let resolved = resolved?;
    // Check the project before asking the network, so bad input fails fast and nothing is written.
    if let Some((project, options)) = &apply {
        ipagate_bumper::apply(
            project,
            &BuildNumber::from_u64(1),
            &ApplyOptions {
                dry_run: true,
                allow_lower: true,
                ..options.clone()
            },
        )?;
    }
    let mut stderr = crate::output::stderr();
    for warning in &resolved.warnings {
        let _ = writeln!(stderr, "ipagate: warning: {warning}");
    }
    let timeout = std::time::Duration::from_secs(args.auth.timeout.max(1));
    let client = args.auth.client_builder(resolved.key).build()?;
    let query = HistoryQuery {
        app: match (&args.bundle_id, &args.app_id) {
            (Some(bundle_id), _) => AppSelector::BundleId(bundle_id.clone()),
            (None, Some(app_id)) => AppSelector::AppId(app_id.clone()),
            (None, None) => bail!("pass --bundle-id or --app-id"),
        },
        platform: args.platform.into(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The whole conversation, every page, retry and wait included, ends within --timeout.
    let history = runtime
        .block_on(async {
            tokio::time::timeout(timeout, fetch_build_history(&client, &query)).await
        })
        .map_err(|_| {
            anyhow::anyhow!(
                "App Store Connect did not answer within {}s in all (--timeout)",
                timeout.as_secs()
            )
        })??;
    let stats = client.stats();
    let decision = decide(&candidates(&history), &policy)?;
    if mode == Mode::Next {
        // The history is parsed permissively (`1.2.3.4` exists on the server); what is proposed must be uploadable.
        decision.valid_next()?;
    }
    for skipped in &decision.skipped {
        if matches!(
            skipped.reason,
            ipagate_bumper::decide::SkipReason::NotNumeric
        ) {
            let _ = writeln!(stderr, "ipagate: note: {skipped}");
        }
    }
    let report = match &apply {
        Some((project, options)) => Some(ipagate_bumper::apply(project, &decision.next, options)?),
        None => None,
    };
    drop(stderr);
    print_query(
        args,
        mode,
        &query,
        &history,
        &policy,
        &decision,
        &stats,
        report.as_ref(),
    )?;
    Ok(exit::SUCCESS)
}

/// The server's values as candidates. Every string is the server's text, so it is made fit for output here, once:
/// redacted, one line, printable, bounded (a valid build number or version is far shorter than the bound).
fn candidates(history: &BuildHistory) -> Vec<Candidate> {
    let text = |s: &str| crate::output::untrusted(s, SERVER_VALUE_CHARS);
    let version = |v: Option<&str>| v.map(text);
    let builds = history.builds.iter().map(|b| {
        Candidate::new(
            SourceKind::Build,
            &text(&b.build_number),
            version(b.marketing_version.as_deref()).as_deref(),
            &text(
                b.processing_state
                    .as_ref()
                    .map_or("UNKNOWN", |s| s.as_str()),
            ),
        )
    });
    let uploads = history.uploads.iter().map(|u| {
        Candidate::new(
            SourceKind::BuildUpload,
            &text(&u.build_number),
            version(u.marketing_version.as_deref()).as_deref(),
            &text(u.state.as_ref().map_or("UNKNOWN", |s| s.as_str())),
        )
    });
    builds.chain(uploads).collect()
}

/// Longest server value printed.
const SERVER_VALUE_CHARS: usize = 128;

#[allow(clippy::too_many_arguments)]
fn print_query(
    args: &QueryArgs,
    mode: Mode,
    query: &HistoryQuery,
    history: &BuildHistory,
    policy: &Policy,
    decision: &Decision,
    stats: &ClientStats,
    report: Option<&ApplyReport>,
) -> anyhow::Result<()> {
    let mut stdout = crate::output::stdout();
    match args.format {
        Format::Json => {
            let sources: Vec<_> = decision
                .sources
                .iter()
                .map(|s| {
                    json!({"kind": s.kind, "build_number": s.build_number, "version": s.marketing_version, "state": s.state})
                })
                .collect();
            let mut out = json!({
                "app_id": crate::output::untrusted(&history.app_id, SERVER_VALUE_CHARS),
                "bundle_id": history.bundle_id.as_deref().map(|b| crate::output::untrusted(b, SERVER_VALUE_CHARS)),
                "platform": query.platform.as_str(),
                "version_scope": policy.scope.to_string(),
                "latest": decision.latest,
                "next": decision.next,
                "requests": stats.requests,
                "sources": sources,
            });
            if let Some(report) = report {
                // The same shape as `apply --format json`.
                out["changes"] = json!(report.changes);
                out["notes"] = json!(report.notes);
                out["written"] = json!(report.written);
                out["targets"] = json!(report.targets);
            }
            writeln!(stdout, "{out}")?;
        }
        Format::Text => {
            match mode {
                Mode::Latest => match &decision.latest {
                    Some(latest) => writeln!(stdout, "{latest}")?,
                    None => {
                        let _ = writeln!(
                            crate::output::stderr(),
                            "ipagate: note: no builds or uploads found for this app and platform"
                        );
                    }
                },
                Mode::Next => writeln!(stdout, "{}", decision.next)?,
            }
            if let Some(report) = report {
                // The number stays alone on stdout (for `$(ipagate build-number next --apply)`); changes go to stderr.
                let mut stderr = crate::output::stderr();
                print_report(&mut stderr, report)?;
            }
        }
    }
    Ok(())
}

fn print_report(out: &mut dyn Write, report: &ApplyReport) -> std::io::Result<()> {
    let verb = if report.written {
        "changed"
    } else {
        "would change"
    };
    for change in &report.changes {
        writeln!(out, "{verb} {change}")?;
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    if report.changes.is_empty() {
        if report.targets.is_empty() {
            writeln!(
                out,
                "nothing to change: the build number is already {}",
                report.number
            )?;
        } else {
            let names: Vec<&str> = report.targets.iter().map(|t| t.target.as_str()).collect();
            writeln!(
                out,
                "nothing to change: every chosen target already has build number {} ({})",
                report.number,
                names.join(", ")
            )?;
        }
    }
    Ok(())
}

fn run_apply(args: &ApplyArgs) -> anyhow::Result<u8> {
    let number = parse_number("build number", &args.number)?;
    let report =
        ipagate_bumper::apply(&args.project, &number, &args.targets.options(args.dry_run))?;
    let mut stdout = crate::output::stdout();
    match args.format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string(&report)?)?,
        Format::Text => print_report(&mut stdout, &report)?,
    }
    Ok(exit::SUCCESS)
}

fn run_show(args: &ShowArgs) -> anyhow::Result<u8> {
    let selection = if args.all_targets {
        TargetSelection::All
    } else if !args.target.is_empty() {
        TargetSelection::Named(args.target.clone())
    } else {
        TargetSelection::Shipping
    };
    let report = ipagate_bumper::show(&args.project, &selection)?;
    let mut stdout = crate::output::stdout();
    match args.format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string(&report)?)?,
        Format::Text => {
            for t in &report.targets {
                writeln!(
                    stdout,
                    "{}: {} [{}] {}: version {}, build {}",
                    t.project.display(),
                    t.target,
                    t.product_type,
                    t.configuration,
                    t.marketing_version,
                    t.build_number
                )?;
            }
            if let Some(version) = &report.pubspec_version {
                writeln!(stdout, "pubspec.yaml: version {version}")?;
            }
            for note in &report.notes {
                writeln!(stdout, "note: {note}")?;
            }
        }
    }
    Ok(exit::SUCCESS)
}
