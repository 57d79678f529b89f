//! `ipagate preflight PATH`: the gate. Reads the facts, runs the rules, prints diagnostics like a
//! compiler (or versioned JSON), and exits 1 when the gate fails.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ipagate_formats::Facts;
use ipagate_rules::{Config, Context, Diagnostic, Distribution, Severity, Summary};
use serde_json::Value;

use crate::cmd::inspect::Format;
use crate::exit;
use crate::style::{ColorChoice, Style, clean};

/// Arguments of `ipagate preflight`.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// An .ipa, a zipped .app, an .app folder or an .xcarchive folder.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// "Today" for date-dependent rules (YYYY-MM-DD); defaults to the current UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<chrono::NaiveDate>,
    /// How the build will be distributed; selects the rules that apply.
    #[arg(long, value_enum, default_value_t = DistributionArg::AppStore)]
    pub distribution: DistributionArg,
    /// Fail the gate on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// Configuration file (default: ./ipagate.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// A folder with newer rule data (`privacy.toml`, `deadlines.toml`) replacing the built-in
    /// copies (`ipagate rules` shows the dates of the data in use).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Skip the SHA-256 of the input (`input.sha256` is null): the only part of the gate whose
    /// time grows with the file's size.
    #[arg(long)]
    pub no_input_hash: bool,
    /// Also verify every signed bundle's `_CodeSignature/CodeResources`: each sealed file present
    /// with its hash, nested code by cdhash, and no unsealed file (`codesign --verify --deep`;
    /// hashes every sealed file, so it costs about one CRC pass over the archive).
    #[arg(long)]
    pub deep: bool,
    /// Tests only: verify signatures and profiles against this DER root certificate instead of
    /// Apple's pinned roots (the fixtures are signed by a test CA, `fixtures/TestRoot.der`).
    #[arg(long, value_name = "FILE", hide = true)]
    pub trust_root: Option<PathBuf>,
}

/// `--distribution` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DistributionArg {
    /// App Store / TestFlight (every rule).
    AppStore,
    /// Ad hoc.
    AdHoc,
    /// In-house (enterprise).
    Enterprise,
    /// Development.
    Development,
}

impl From<DistributionArg> for Distribution {
    fn from(d: DistributionArg) -> Distribution {
        match d {
            DistributionArg::AppStore => Distribution::AppStore,
            DistributionArg::AdHoc => Distribution::AdHoc,
            DistributionArg::Enterprise => Distribution::Enterprise,
            DistributionArg::Development => Distribution::Development,
        }
    }
}

pub fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a date of the form YYYY-MM-DD"))
}

/// Which rule data a report was judged with.
pub fn data_json(data: &ipagate_rules::data::Data) -> Value {
    serde_json::to_value(ipagate_gate::DataUsed::of(data)).unwrap_or(Value::Null)
}

/// The rule data: built in, or with the files of `--data DIR` in their place.
pub fn load_data(dir: Option<&Path>) -> anyhow::Result<ipagate_rules::data::Data> {
    Ok(match dir {
        Some(dir) => ipagate_rules::data::Data::with_dir(dir)?,
        None => ipagate_rules::data::Data::embedded()?,
    })
}

/// Loads `--config`, or `./ipagate.toml` when it exists.
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from("ipagate.toml");
            if !default.is_file() {
                return Ok(Config::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    Config::from_toml(&text).with_context(|| format!("invalid config {}", path.display()))
}

/// Runs `preflight`.
pub fn run(args: PreflightArgs) -> anyhow::Result<u8> {
    let mut config = load_config(args.config.as_deref())?;
    config.deny_warnings |= args.deny_warnings;
    let ctx = Context {
        distribution: args.distribution.into(),
        as_of: args
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        data: std::sync::Arc::new(load_data(args.data.as_deref())?),
    };
    let options = ipagate_gate::GateOptions {
        hash: !args.no_input_hash,
        deep: args.deep,
        anchors: crate::cmd::inspect::trust_anchors(args.trust_root.as_deref())?,
        ..ipagate_gate::GateOptions::new(ctx, config)
    };
    let checked = ipagate_gate::check(&args.path, &options)?;
    let summary = checked.summary;
    let mut out = crate::output::stdout();
    match args.format {
        Format::Json => {
            crate::cmd::write_json(&mut out, &serde_json::to_value(checked.report())?)?;
        }
        Format::Human => write_human(
            &mut out,
            &checked.facts,
            &checked.context,
            &checked.diagnostics,
            &summary,
            Style::for_stdout(args.color),
        )?,
    }
    out.flush()?;
    // The process ends right after this: freeing every entry of a 100,000-entry index one by
    // one would only cost time.
    std::mem::forget(checked);
    Ok(if summary.passed {
        exit::SUCCESS
    } else {
        exit::GATE_FAILED
    })
}

fn str_of(t: &Option<ipagate_formats::Text>) -> Option<&str> {
    t.as_ref().and_then(ipagate_formats::Text::as_str)
}

/// Writes diagnostics like a compiler: `error[CODE]: message`, `--> location`, `= help: …`.
pub fn write_diagnostics(
    out: &mut impl Write,
    diagnostics: &[Diagnostic],
    style: &Style,
) -> anyhow::Result<()> {
    for d in diagnostics {
        let label = format!("{}[{}]", d.severity, d.code);
        let label = match d.severity {
            Severity::Error => style.error(&label),
            Severity::Warning => style.warning(&label),
            Severity::Info => style.info(&label),
        };
        writeln!(
            out,
            "{label}{} {}",
            style.bold(":"),
            style.bold(&clean(&d.message))
        )?;
        let mut location = clean(&d.location.path);
        // `file:line:column`, the form editors and terminals turn into links.
        if let Some(p) = d.location.position {
            location.push_str(&format!(":{}:{}", p.line, p.column));
        }
        if let Some(key) = &d.location.key {
            location.push_str(": ");
            location.push_str(&clean(key));
        }
        if let Some(arch) = &d.location.arch {
            location.push_str(&format!(" [{}]", clean(arch)));
        }
        writeln!(out, "  {} {location}", style.gutter("-->"))?;
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

fn write_human(
    out: &mut impl Write,
    facts: &Facts,
    ctx: &Context,
    diagnostics: &[Diagnostic],
    summary: &Summary,
    style: Style,
) -> anyhow::Result<()> {
    write_diagnostics(out, diagnostics, &style)?;
    let app = facts.app();
    let info = app.info();
    let what = format!(
        "{} {} ({})",
        clean(info.and_then(|i| i.bundle_id_str()).unwrap_or("?")),
        clean(info.and_then(|i| str_of(&i.short_version)).unwrap_or("?")),
        clean(info.and_then(|i| str_of(&i.build_version)).unwrap_or("?")),
    );
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let verdict = if summary.passed {
        style.ok("passed")
    } else {
        style.error("failed")
    };
    // Failing with no errors means the warnings were denied: say so, or "0 errors, 1 warning" reads like a pass.
    let denied = if !summary.passed && summary.errors == 0 {
        "; failed because warnings are denied (--deny-warnings or deny-warnings in ipagate.toml)"
    } else {
        ""
    };
    writeln!(
        out,
        "preflight {verdict}: {what}, {} bundle(s); {}, {}, {} ({}, as of {}, privacy data {}, deadlines {}){denied}",
        facts.bundles.len(),
        plural(summary.errors, "error"),
        plural(summary.warnings, "warning"),
        plural(summary.infos, "info"),
        ctx.distribution,
        ctx.as_of.format("%Y-%m-%d"),
        ctx.data.privacy.version,
        ctx.data.deadlines.version,
    )?;
    Ok(())
}
