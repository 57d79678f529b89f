//! `ipagate rules` (every rule, one line each) and `ipagate explain CODE`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::anyhow;
use serde_json::json;

use crate::exit;

/// Output format of `ipagate rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RulesFormat {
    /// Aligned columns.
    Human,
    /// A JSON array.
    Json,
    /// A Markdown table (the README's rule list is this output).
    Markdown,
}

/// Arguments of `ipagate rules`.
#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Human)]
    pub format: RulesFormat,
    /// A folder with newer rule data (`privacy.toml`, `deadlines.toml`), as for `preflight`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// Arguments of `ipagate explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A rule code (`ITMS-90060`, `90060`, `IPAGATE-1001`) or name (`short-version-invalid`).
    pub code: String,
}

/// One line of the rule list: the package rules, then the rules only `lint` runs (on source trees).
struct Listed {
    code: &'static str,
    name: &'static str,
    severity: ipagate_rules::Severity,
    scope: &'static str,
    summary: &'static str,
}

/// Every rule: `preflight`'s (scope = the distributions they apply to), then `lint`'s own ones (scope `source`).
fn listed() -> Vec<Listed> {
    let package = ipagate_rules::rules();
    let mut all: Vec<Listed> = package
        .iter()
        .map(|r| Listed {
            code: r.code,
            name: r.name,
            severity: r.severity,
            scope: r.scope.as_str(),
            summary: r.summary,
        })
        .collect();
    all.extend(
        ipagate_rules::lint::lint_rules()
            .iter()
            .filter(|l| !package.iter().any(|r| r.name == l.name))
            .map(|l| Listed {
                code: l.code,
                name: l.name,
                severity: l.severity,
                scope: "source",
                summary: l.summary,
            }),
    );
    all
}

/// Runs `rules`.
pub fn run_rules(args: RulesArgs) -> anyhow::Result<u8> {
    let mut out = crate::output::stdout();
    let rules = listed();
    match args.format {
        RulesFormat::Json => {
            let list: Vec<_> = rules
                .iter()
                .map(|r| json!({"code": r.code, "rule": r.name, "severity": r.severity, "scope": r.scope, "summary": r.summary}))
                .collect();
            let data = crate::cmd::preflight::load_data(args.data.as_deref())?;
            crate::cmd::write_json(
                &mut out,
                &serde_json::json!({"schema_version": 1, "rules": list, "data": crate::cmd::preflight::data_json(&data)}),
            )?;
        }
        RulesFormat::Markdown => write!(out, "{}", markdown_table())?,
        RulesFormat::Human => {
            for r in rules {
                writeln!(
                    out,
                    "{:<13} {:<8} {:<9} {:<36} {}",
                    r.code,
                    r.severity.as_str(),
                    r.scope,
                    r.name,
                    r.summary
                )?;
            }
            let data = crate::cmd::preflight::load_data(args.data.as_deref())?;
            writeln!(out, "\ndata: {}", data.describe())?;
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// The rule list as a Markdown table.
pub fn markdown_table() -> String {
    let mut s =
        String::from("| code | rule | severity | applies to | checks |\n|---|---|---|---|---|\n");
    for r in listed() {
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            r.code,
            r.name,
            r.severity.as_str(),
            r.scope,
            r.summary.replace('|', "\\|")
        ));
    }
    s
}

/// Runs `explain`.
pub fn run_explain(args: ExplainArgs) -> anyhow::Result<u8> {
    if ipagate_rules::find(&args.code).is_none()
        && let Some(rule) = ipagate_rules::lint::find(&args.code)
    {
        let mut out = crate::output::stdout();
        writeln!(
            out,
            "{} {} ({}, applies to: source trees, `ipagate lint`)",
            rule.code,
            rule.name,
            rule.severity.as_str()
        )?;
        writeln!(out)?;
        writeln!(out, "{}", rule.summary)?;
        out.flush()?;
        return Ok(exit::SUCCESS);
    }
    let rule = ipagate_rules::find(&args.code).ok_or_else(|| {
        let near = nearest_rules(&args.code);
        if near.is_empty() {
            anyhow!(
                "unknown rule {:?}; `ipagate rules` lists every code and name",
                args.code
            )
        } else {
            anyhow!(
                "unknown rule {:?}; did you mean {}? (`ipagate rules` lists every code and name)",
                args.code,
                near.join(", ")
            )
        }
    })?;
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "{} {} ({}, applies to: {})",
        rule.code,
        rule.name,
        rule.severity.as_str(),
        rule.scope.as_str()
    )?;
    writeln!(out)?;
    writeln!(out, "{}", rule.summary)?;
    writeln!(out)?;
    writeln!(out, "{}", rule.explain)?;
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// Up to three rule names nearest to `key`: most shared words (`short-version` → `short-version-invalid`), then
/// fewest edits.
fn nearest_rules(key: &str) -> Vec<&'static str> {
    let key = key.trim().to_ascii_lowercase();
    let words: Vec<&str> = key
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1)
        .collect();
    let mut scored: Vec<(usize, usize, &'static str)> = ipagate_rules::rules()
        .iter()
        .filter_map(|r| {
            let shared = words
                .iter()
                .filter(|w| r.name.split('-').any(|n| n == **w))
                .count();
            let distance = edit_distance(&key, r.name);
            (shared > 0 || distance <= 3).then_some((shared, distance, r.name))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(b.2)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, _, name)| name)
        .collect()
}

/// Levenshtein distance (rule names are short; the input is bounded to 200 characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(200).collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
