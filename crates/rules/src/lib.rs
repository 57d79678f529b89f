//! # ipagate-rules
//!
//! App Store Connect's validation rules, offline: [`check`] takes the facts read by
//! `ipagate-formats` and returns [`Diagnostic`]s. Pure: no I/O, no clock (the date comes in the
//! [`Context`]), deterministic output order.
//!
//! ```
//! use ipagate_rules::{rules, find};
//! assert!(rules().len() > 30);
//! assert_eq!(find("90056").map(|r| r.name), Some("build-version-missing"));
//! ```
//!
//! Every rule has a code (Apple's `ITMS-9xxxx` where one exists, else `IPAGATE-NNNN`), a kebab-case
//! name, a default severity, a [`Scope`] (which distributions it applies to), a one-line summary
//! and an explanation. Later rule families (Mach-O, signing, icons, privacy) are added to the table
//! in `registry.rs` and read new facts; nothing else changes.
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod config;
mod context;
pub mod data;
mod diagnostic;
pub mod entitlements;
pub mod lint;
mod registry;

pub use config::{Config, ConfigError, Level};
pub use context::{Context, Distribution};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use registry::{Rule, Scope, find, rules};

use ipagate_formats::Facts;

/// The facts the rules that will run (they apply to `ctx.distribution` and are not turned off in
/// `config`) read: what [`check`] needs [`ipagate_formats::inspect_with`] to have read.
pub fn tiers_needed(ctx: &Context, config: &Config) -> ipagate_formats::Tiers {
    rules()
        .iter()
        .filter(|r| r.scope.applies(ctx.distribution))
        .filter(|r| config.severity(r.name, r.severity).is_some())
        .fold(ipagate_formats::Tiers::BUNDLES, |t, r| t.union(r.needs))
}

/// The required-reason API categories (`NSPrivacyAccessedAPICategory…` without the prefix) that
/// a binary's scanned symbols and selectors reveal, each with the names that revealed it, as
/// ITMS-91053 judges them (`privacy.toml`, `symbols`). Empty when the symbols tier was not read.
pub fn required_reason_categories(
    binary: &ipagate_formats::binaries::Binary,
    data: &data::Data,
) -> Vec<(String, Vec<String>)> {
    registry::categories_used(binary, data)
}

/// The paths of the privacy manifests whose declarations cover a binary, as ITMS-91053 reads
/// them: its bundle's `PrivacyInfo.xcprivacy`, and those of the resource bundles that bundle ships
/// (a statically linked SDK's manifest travels in one). Empty for a binary outside any bundle.
pub fn privacy_manifests_covering(
    facts: &Facts,
    binary: &ipagate_formats::binaries::Binary,
) -> Vec<String> {
    binary.bundle.map_or_else(Vec::new, |b| {
        registry::covering_manifests(facts, b)
            .into_iter()
            .map(|m| m.path().to_string())
            .collect()
    })
}

/// Runs every rule that applies to `ctx.distribution` and is not turned off in `config`, and
/// returns the diagnostics sorted by location, then code, then message.
pub fn check(facts: &Facts, ctx: &Context, config: &Config) -> Vec<Diagnostic> {
    check_where(facts, ctx, config, |_| true)
}

/// [`check`] with only the rules `which` selects.
pub(crate) fn check_where(
    facts: &Facts,
    ctx: &Context,
    config: &Config,
    which: impl Fn(&Rule) -> bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in rules() {
        if !rule.scope.applies(ctx.distribution) || !which(rule) {
            continue;
        }
        let Some(configured) = config.severity(rule.name, rule.severity) else {
            continue;
        };
        let overridden = config.overrides.contains_key(rule.name);
        let mut sink = registry::Sink { found: Vec::new() };
        (rule.check)(facts, ctx, &mut sink);
        for f in sink.found {
            // A per-finding downgrade applies unless the user configured the rule explicitly.
            let severity = match f.downgrade {
                Some(s) if !overridden => s,
                _ => configured,
            };
            out.push(Diagnostic {
                code: rule.code,
                rule: rule.name,
                severity,
                message: f.message,
                help: f.help,
                location: f.location,
            });
        }
    }
    out.sort_by(|a, b| (&a.location, a.code, &a.message).cmp(&(&b.location, b.code, &b.message)));
    out
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Infos.
    pub infos: usize,
    /// Whether the gate passed (no errors; no warnings either when they are denied).
    pub passed: bool,
}

impl Summary {
    /// Summarises `diagnostics`.
    pub fn of(diagnostics: &[Diagnostic], deny_warnings: bool) -> Summary {
        let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
        let (errors, warnings, infos) = (
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
        );
        Summary {
            errors,
            warnings,
            infos,
            passed: errors == 0 && !(deny_warnings && warnings > 0),
        }
    }
}

#[cfg(test)]
mod tiers_tests {
    use super::*;
    use ipagate_formats::Tiers;

    fn ctx() -> Context {
        Context {
            distribution: Distribution::AppStore,
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            data: std::sync::Arc::new(data::Data::embedded().expect("data")),
        }
    }

    #[test]
    fn a_gate_reads_the_binaries_only_when_an_enabled_rule_needs_them() {
        let ctx = ctx();
        assert!(tiers_needed(&ctx, &Config::default()).binaries);
        // Every rule that reads binaries off: nothing asks for them.
        let off: String = rules()
            .iter()
            .filter(|r| r.needs.binaries)
            .map(|r| format!("{} = \"off\"\n", r.name))
            .collect();
        assert!(off.lines().count() >= 20, "{off}");
        let config = Config::from_toml(&format!("[rules]\n{off}")).expect("config");
        assert!(!tiers_needed(&ctx, &config).binaries);
        // One of them back on: read again.
        let one = off.replacen("\"off\"", "\"error\"", 1);
        let config = Config::from_toml(&format!("[rules]\n{one}")).expect("config");
        assert!(tiers_needed(&ctx, &config).binaries);
        // Bundle-only rules never ask.
        assert!(!find("ITMS-90060").expect("rule").needs.binaries);
        assert!(find("ITMS-91053").expect("rule").needs.binaries);
        assert!(find("ITMS-90087").expect("rule").needs.binaries);
    }

    /// The rules that read each slice's symbols (issue 12's privacy family).
    const SYMBOL_RULES: [&str; 4] = ["ITMS-91053", "ITMS-91061", "ITMS-90683", "ITMS-90078"];

    #[test]
    fn the_symbol_scan_runs_only_when_a_privacy_rule_that_reads_symbols_is_enabled() {
        let ctx = ctx();
        // By default: binaries and their symbols.
        assert_eq!(tiers_needed(&ctx, &Config::default()), Tiers::ALL);
        // Exactly these rules read symbols; the signing and Mach-O rules do not.
        let readers: Vec<&str> = rules()
            .iter()
            .filter(|r| r.needs.symbols)
            .map(|r| r.code)
            .collect();
        let mut expected = SYMBOL_RULES.to_vec();
        expected.sort_unstable();
        assert_eq!(readers, expected);
        assert!(!find("ITMS-90087").expect("rule").needs.symbols);
        assert!(!find("ITMS-90034").expect("rule").needs.symbols);
        // The four off: binaries are still read (signing, Mach-O), the symbol scan is not.
        let off: String = SYMBOL_RULES
            .iter()
            .map(|c| format!("{c} = \"off\"\n"))
            .collect();
        let config = Config::from_toml(&format!("[rules]\n{off}")).expect("config");
        assert_eq!(tiers_needed(&ctx, &config), Tiers::BINARIES);
        // Any one of them back on: scanned again.
        for code in SYMBOL_RULES {
            let one = off.replace(
                &format!("{code} = \"off\""),
                &format!("{code} = \"warning\""),
            );
            let config = Config::from_toml(&format!("[rules]\n{one}")).expect("config");
            assert!(tiers_needed(&ctx, &config).symbols, "{code}");
        }
        // Outside App Store distribution the privacy rules do not apply: no scan.
        let adhoc = Context {
            distribution: Distribution::AdHoc,
            ..ctx
        };
        assert!(!tiers_needed(&adhoc, &Config::default()).symbols);
    }
}
