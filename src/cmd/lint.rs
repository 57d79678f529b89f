//! `ipagate lint [PATH...]`: the checks that make sense on a source tree before a build (icon
//! sets, Info.plist, entitlements, privacy manifests), for editors, CI and pre-commit. Same
//! diagnostics, output formats and exit codes as `preflight`; locations are source paths with a
//! JSON pointer or plist key.

use std::io::Write;
use std::path::PathBuf;

use ipagate_formats::source::{SourceFacts, SourceTarget};
use ipagate_rules::{Context, Distribution, Summary};
use serde_json::json;

use crate::cmd::inspect::{Format, tool_json};
use crate::cmd::preflight::{load_config, load_data, write_diagnostics};
use crate::exit;
use crate::style::{ColorChoice, Style};

/// Arguments of `ipagate lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Files or folders (folders are walked; a file inside an .appiconset checks its whole set).
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Configuration file (default: ./ipagate.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Read the rules' data (privacy.toml, ...) from this folder instead of the embedded copy.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// "Today" for date-dependent rules (YYYY-MM-DD); defaults to the current UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = crate::cmd::preflight::parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
}

const FAMILY: &str = "TARGETED_DEVICE_FAMILY";
const APP_ICON: &str = "ASSETCATALOG_COMPILER_APPICON_NAME";

/// The iOS app targets of the Xcode projects above the icon sets, with the device families they
/// build for and the icon set they compile as their app icon: `ipagate-bumper` resolves the build
/// settings as it does for build numbers (xcconfig layers, `$(VAR)` references), so the formats
/// and rules crates never parse a project. A project that cannot be read, or a target whose
/// settings cannot be resolved, adds nothing: its icon sets are then checked without the
/// family-dependent sizes, as when no project is found at all.
fn source_targets(facts: &SourceFacts) -> Vec<SourceTarget> {
    let mut out: Vec<SourceTarget> = Vec::new();
    for pbxproj in ipagate_formats::source::projects_near(facts) {
        let Ok(rows) = ipagate_bumper::targets::target_settings(&pbxproj, &[FAMILY, APP_ICON])
        else {
            continue;
        };
        let srcroot = pbxproj
            .parent()
            .and_then(|xcodeproj| xcodeproj.parent())
            .unwrap_or(&pbxproj)
            .to_path_buf();
        for row in rows {
            let app = row
                .product_type
                .strip_prefix("com.apple.product-type.")
                .is_some_and(|t| t.starts_with("application"));
            let Some(icon) = row.get(APP_ICON).filter(|v| !v.value.is_empty()) else {
                continue;
            };
            if !app || row.sdk != "iphoneos" || row.problem.is_some() {
                continue;
            }
            let family = row.get(FAMILY);
            let families = SourceTarget::parse_families(family.map_or("", |f| f.value.as_str()));
            let from = family.and_then(|f| f.defined_in.clone());
            // Every configuration together: a family any of them builds for needs its icons.
            match out.iter_mut().find(|t| {
                t.project == pbxproj.display().to_string()
                    && t.name == row.target
                    && t.app_icon == icon.value
            }) {
                Some(t) => {
                    t.families.extend(families);
                    t.families.sort_unstable();
                    t.families.dedup();
                    t.families_from = t.families_from.take().or(from);
                }
                None => out.push(SourceTarget {
                    project: pbxproj.display().to_string(),
                    srcroot: srcroot.clone(),
                    name: row.target.clone(),
                    app_icon: icon.value.clone(),
                    families,
                    families_from: from,
                }),
            }
        }
    }
    out
}

/// Runs `lint`.
pub fn run(args: LintArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_deref())?;
    config.deny_warnings |= args.deny_warnings;
    let mut facts = ipagate_formats::source::scan(&args.paths);
    if let Some(missing) = facts.missing.first() {
        anyhow::bail!("cannot lint {missing}: no such file or folder");
    }
    facts.targets = source_targets(&facts);
    let ctx = Context {
        distribution: Distribution::AppStore,
        as_of: args
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        data: std::sync::Arc::new(load_data(args.data.as_deref())?),
    };
    let diagnostics = ipagate_rules::lint::lint(&facts, &ctx, &config);
    let summary = Summary::of(&diagnostics, config.deny_warnings);
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = json!({
                "schema_version": 1,
                "tool": tool_json(),
                "as_of": ctx.as_of.format("%Y-%m-%d").to_string(),
                "data": crate::cmd::preflight::data_json(&ctx.data),
                "checked": { "icon_sets": facts.icon_sets.len(), "plists": facts.plists.len(), "app_targets": facts.targets.len() },
                "diagnostics": diagnostics,
                "summary": summary,
            });
            crate::cmd::write_json(&mut out, &doc)?;
        }
        Format::Human => {
            let style = Style::for_stdout(args.color);
            write_diagnostics(&mut out, &diagnostics, &style)?;
            let verdict = if summary.passed {
                style.ok("passed")
            } else {
                style.error("failed")
            };
            writeln!(
                out,
                "lint {verdict}: {} icon set(s), {} property list(s), {} app target(s); {} error(s), {} warning(s) (as of {}, privacy data {}, deadlines {})",
                facts.icon_sets.len(),
                facts.plists.len(),
                facts.targets.len(),
                summary.errors,
                summary.warnings,
                ctx.as_of.format("%Y-%m-%d"),
                ctx.data.privacy.version,
                ctx.data.deadlines.version,
            )?;
        }
    }
    out.flush()?;
    Ok(if summary.passed {
        exit::SUCCESS
    } else {
        exit::GATE_FAILED
    })
}
