//! Every rule: its code, name, default severity, where it applies, its explanation, and its check.
//! Conditions follow `itms-rules.md` (§1, §2.1, §2.2, §2.4, §2.5, §2.7, §2.10); Apple's message
//! texts are paraphrased with the actual values.
//!
//! Each family of rules is one module holding its checks and its part of the table
//! (`RULES`); [`FAMILIES`] lists them and [`rules`] assembles the one table, in code order.
//! A new family is a new module plus one line in [`FAMILIES`].

use std::sync::OnceLock;

use ipagate_formats::Facts;

use crate::context::{Context, Distribution};
use crate::diagnostic::{Location, Severity};

/// Which distributions a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every distribution: the device (installd) refuses it too, or it is about the package
    /// itself (a hostile or broken archive).
    All,
    /// App Store / TestFlight uploads only: App Store Connect's validation.
    AppStore,
}

impl Scope {
    /// Whether the rule runs for `distribution`.
    pub fn applies(self, distribution: Distribution) -> bool {
        match self {
            Scope::All => true,
            Scope::AppStore => distribution == Distribution::AppStore,
        }
    }

    /// Short name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::AppStore => "app-store",
        }
    }
}

/// A rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `ITMS-9xxxx` or `IPAGATE-NNNN`.
    pub code: &'static str,
    /// kebab-case name.
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Which distributions it applies to.
    pub scope: Scope,
    /// One line: what it checks.
    pub summary: &'static str,
    /// What it checks, why Apple rejects it, how to fix it.
    pub explain: &'static str,
    /// The facts it reads beyond bundles and Info.plists (Mach-O slices and signatures; each
    /// slice's symbols): a gate reads only what its enabled rules need.
    pub needs: ipagate_formats::Tiers,
    pub(crate) check: fn(&Facts, &Context, &mut Sink),
}

/// Collects the findings of one rule.
pub(crate) struct Sink {
    pub(crate) found: Vec<Finding>,
}

pub(crate) struct Finding {
    pub(crate) location: Location,
    pub(crate) message: String,
    pub(crate) help: String,
    /// A finding may be milder than the rule's default (e.g. `_` in the main app's id).
    pub(crate) downgrade: Option<Severity>,
}

impl Sink {
    fn emit(&mut self, location: Location, message: String, help: impl Into<String>) {
        self.found.push(Finding {
            location,
            message,
            help: help.into(),
            downgrade: None,
        });
    }

    fn emit_as(
        &mut self,
        severity: Severity,
        location: Location,
        message: String,
        help: impl Into<String>,
    ) {
        self.found.push(Finding {
            location,
            message,
            help: help.into(),
            downgrade: Some(severity),
        });
    }
}

/// Every rule, in code order.
pub fn rules() -> &'static [Rule] {
    static TABLE: OnceLock<Vec<Rule>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<Rule> = FAMILIES
            .iter()
            .flat_map(|(family, tiers)| {
                family.iter().map(|r| Rule {
                    needs: r.needs.union(*tiers),
                    ..r.clone()
                })
            })
            .collect();
        // Apple's codes first, then ipagate's own, each in numeric (same-width) order.
        all.sort_by_key(|r| (r.code.starts_with("IPAGATE-"), r.code));
        all
    })
}

/// A rule by code (`ITMS-90056`, case-insensitive, `90056` also accepted) or name.
pub fn find(key: &str) -> Option<&'static Rule> {
    let key = key.trim();
    rules().iter().find(|r| {
        r.name == key
            || r.code.eq_ignore_ascii_case(key)
            || r.code.strip_prefix("ITMS-").is_some_and(|n| n == key)
            || r.code.strip_prefix("IPAGATE-").is_some_and(|n| n == key)
            || (r.code.starts_with("ITMS-") && format!("ITMS-{key}").eq_ignore_ascii_case(r.code))
    })
}

// ---------------------------------------------------------------------------------------------
// The table

macro_rules! rule {
    ($code:literal, $name:literal, $sev:ident, $scope:ident, $check:ident, $summary:literal, $explain:literal) => {
        Rule {
            code: $code,
            name: $name,
            severity: Severity::$sev,
            scope: Scope::$scope,
            summary: $summary,
            explain: $explain,
            needs: ipagate_formats::Tiers::BUNDLES,
            check: $check,
        }
    };
    // A rule that reads the binaries (Mach-O slices, signatures, entitlements).
    (binaries; $code:literal, $name:literal, $sev:ident, $scope:ident, $check:ident, $summary:literal, $explain:literal) => {
        Rule {
            needs: ipagate_formats::Tiers::BINARIES,
            ..rule!($code, $name, $sev, $scope, $check, $summary, $explain)
        }
    };
    // A rule that also reads each slice's imported symbols, selectors and class names (the
    // symbol scan runs only when such a rule is enabled).
    (symbols; $code:literal, $name:literal, $sev:ident, $scope:ident, $check:ident, $summary:literal, $explain:literal) => {
        Rule {
            needs: ipagate_formats::Tiers::ALL,
            ..rule!($code, $name, $sev, $scope, $check, $summary, $explain)
        }
    };
}

use ipagate_formats::Tiers;

mod archive;
mod bundle;
mod device;
mod helpers;
mod icons;
mod identity;
mod macho;
mod privacy;
pub(crate) use privacy::{categories_used, covering_manifests};
mod profiles;
mod signing;
mod swift;
mod watch;

/// The families' tables, each with what all its rules read (a rule may ask for more itself);
/// [`rules`] merges them.
static FAMILIES: &[(&[Rule], Tiers)] = &[
    (archive::RULES, Tiers::BUNDLES),
    (bundle::RULES, Tiers::BUNDLES),
    (device::RULES, Tiers::BUNDLES),
    (icons::RULES, Tiers::BUNDLES),
    (identity::RULES, Tiers::BUNDLES),
    (privacy::RULES, Tiers::BUNDLES),
    (macho::RULES, Tiers::BINARIES),
    (signing::RULES, Tiers::BINARIES),
    (profiles::RULES, Tiers::BINARIES),
    (swift::RULES, Tiers::BUNDLES),
    (watch::RULES, Tiers::BUNDLES),
];

#[cfg(test)]
mod tests {
    use super::helpers::{is_valid_version, os_version, version_lt};
    use super::*;

    #[test]
    fn version_regex_follows_apples_examples() {
        for ok in ["1", "1.0", "4.2.1", "3.46", "1.112.0", "0.0.0"] {
            assert!(is_valid_version(ok), "{ok}");
        }
        for bad in [
            "",
            "1.4.0.0.0.0.5",
            "GX5",
            "3.4.2b6",
            "2.6GM",
            "1.0 (Gold)",
            "-3.6",
            "1..2",
            "1.",
            ".1",
            "7.1.2.1",
            "1.0-beta",
            "1.0+2",
        ] {
            assert!(!is_valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn codes_names_and_bare_numbers_find_the_same_rule() {
        assert_eq!(
            find("2002").map(|r| r.code),
            find("IPAGATE-2002").map(|r| r.code)
        );
        assert!(find("IPAGATE-2002").is_some());
        for key in ["ITMS-90060", "itms-90060", "90060", "short-version-invalid"] {
            assert_eq!(find(key).map(|r| r.code), Some("ITMS-90060"), "{key}");
        }
        assert!(find("ITMS-1").is_none());
        // Bare numbers name the project's own codes too (issue 8: `explain 2002`); Apple's are five
        // digits starting with 9, ours four, so they never collide.
        assert_eq!(find("1001").map(|r| r.code), Some("IPAGATE-1001"));
        assert_eq!(
            find("IPAGATE-1001").map(|r| r.name),
            Some("extension-bundle-id-prefix")
        );
    }

    #[test]
    fn the_table_is_well_formed() {
        let mut codes = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for r in rules() {
            assert!(codes.insert(r.code), "duplicate code {}", r.code);
            assert!(names.insert(r.name), "duplicate name {}", r.name);
            assert!(
                r.code.starts_with("ITMS-9") || r.code.starts_with("IPAGATE-"),
                "{}",
                r.code
            );
            assert!(
                r.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                r.name
            );
            assert!(
                !r.summary.contains('\n') && !r.summary.is_empty(),
                "{}",
                r.name
            );
            assert!(r.explain.contains("Fix:"), "{} explains the fix", r.name);
        }
    }

    #[test]
    fn os_versions_compare_numerically() {
        assert!(version_lt(&[7, 0], &[8, 0]));
        assert!(!version_lt(&[8], &[8, 0]));
        assert!(version_lt(&[8, 9], &[8, 10]));
        assert_eq!(os_version("14.3"), Some(vec![14, 3]));
        assert_eq!(os_version("fourteen"), None);
    }
}
