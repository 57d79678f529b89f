//! Rules for source trees (`ipagate lint`, pre-commit): the checks that make sense before a build,
//! on the facts of `ipagate_formats::source`. Where a check is the source-side twin of a package
//! rule it carries the same code and name (ITMS-90704, ITMS-90717, icon-size-mismatch), so a
//! configuration that silences one silences both; [`lint_rules`] says which rules apply to sources.
//!
//! Build-setting references (`$(PRODUCT_BUNDLE_IDENTIFIER)`) are never judged as literal text.

use ipagate_formats::source::{
    IconSet, SetImage, SourceFacts, SourcePlist, SourcePlistKind, SourceValue,
};
use ipagate_formats::{Bundle, BundleKind, Facts, InfoPlistState, Layout, Tiers};

use crate::config::Config;
use crate::context::Context;
use crate::diagnostic::{Diagnostic, Location, Severity};

/// A rule that applies to source trees.
#[derive(Debug, Clone, Copy)]
pub struct LintRule {
    /// `ITMS-9xxxx` or `IPAGATE-NNNN`.
    pub code: &'static str,
    /// kebab-case name (shared with the package rule of the same check).
    pub name: &'static str,
    /// Default severity.
    pub severity: Severity,
    /// Also a package rule (`preflight`).
    pub also_package: bool,
    /// One line: what it checks.
    pub summary: &'static str,
}

static LINT_RULES: &[LintRule] = &[
    LintRule {
        code: "ITMS-90704",
        name: "icon-app-store-missing",
        severity: Severity::Error,
        also_package: true,
        summary: "an iOS icon set has no 1024×1024 App Store image (ios-marketing, or a single-size universal image)",
    },
    LintRule {
        code: "ITMS-90717",
        name: "icon-app-store-alpha",
        severity: Severity::Error,
        also_package: true,
        summary: "the 1024×1024 App Store image has an alpha channel or transparent pixels",
    },
    LintRule {
        code: "ITMS-90719",
        name: "icon-watch-app-store-missing",
        severity: Severity::Error,
        also_package: true,
        summary: "a watch icon set has no 1024×1024 watch-marketing image",
    },
    LintRule {
        code: "IPAGATE-1202",
        name: "icon-size-mismatch",
        severity: Severity::Warning,
        also_package: true,
        summary: "an image's pixels differ from the size × scale its Contents.json entry promises",
    },
    LintRule {
        code: "IPAGATE-1204",
        name: "icon-set-file-missing",
        severity: Severity::Error,
        also_package: false,
        summary: "Contents.json names a file that is missing, unreadable or outside the set",
    },
    LintRule {
        code: "IPAGATE-1205",
        name: "icon-set-unreadable",
        severity: Severity::Error,
        also_package: false,
        summary: "an icon set's Contents.json is not JSON or has no images",
    },
    LintRule {
        code: "IPAGATE-1206",
        name: "source-plist-invalid",
        severity: Severity::Error,
        also_package: false,
        summary: "an Info.plist, .entitlements or PrivacyInfo.xcprivacy is not a property-list dictionary",
    },
    LintRule {
        code: "IPAGATE-1207",
        name: "aps-environment-invalid",
        severity: Severity::Error,
        also_package: false,
        summary: "aps-environment is neither development nor production",
    },
];

/// Package rules that also judge a source `Info.plist` or `PrivacyInfo.xcprivacy`: the ones that
/// judge only the values a source file holds. Rules about keys Xcode writes at build time
/// (`MinimumOSVersion`, `CFBundleIconName`, versions set from build settings) or about files
/// the build produces stay package-only; values that are build-setting references never reach
/// these rules.
pub const SOURCE_TWINS: &[&str] = &[
    // Only where the source spells the bundle id out (it also reports a missing one, which in a
    // source file means "set by the build").
    "bundle-id-invalid",
    "build-version-invalid",
    "short-version-invalid",
    "supported-platforms-invalid",
    "ipad-multitasking-orientations",
    "ipad-multitasking-launch-storyboard",
    "bgtask-identifiers-missing",
    "privacy-manifest-invalid",
    "privacy-api-category-invalid",
    "privacy-api-reason-invalid",
    "privacy-tracking-domains-without-tracking",
];

/// The rules `lint` runs besides [`SOURCE_TWINS`].
pub fn lint_rules() -> &'static [LintRule] {
    LINT_RULES
}

struct Out<'c> {
    config: &'c Config,
    found: Vec<Diagnostic>,
}

impl Out<'_> {
    fn emit(&mut self, name: &str, location: Location, message: String, help: &str) {
        self.emit_as(name, None, location, message, help);
    }

    fn emit_as(
        &mut self,
        name: &str,
        severity: Option<Severity>,
        location: Location,
        message: String,
        help: &str,
    ) {
        let Some(rule) = LINT_RULES.iter().find(|r| r.name == name) else {
            return;
        };
        let Some(configured) = self.config.severity(rule.name, rule.severity) else {
            return;
        };
        let severity = match severity {
            Some(s) if !self.config.overrides.contains_key(rule.name) => s,
            _ => configured,
        };
        self.found.push(Diagnostic {
            code: rule.code,
            rule: rule.name,
            severity,
            message,
            help: help.to_string(),
            location,
        });
    }
}

/// A one-bundle package made of a source plist, for the package rules in [`SOURCE_TWINS`].
fn as_package(p: &SourcePlist) -> Option<Facts> {
    let folder = std::path::Path::new(&p.path)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let (kind, info, manifest) = match (&p.info, &p.manifest) {
        (Some(info), _) => {
            let kind = if info.raw.contains_key("NSExtension") {
                BundleKind::AppExtension
            } else {
                BundleKind::App
            };
            (kind, InfoPlistState::Parsed(Box::new(info.clone())), None)
        }
        (None, Some(m)) => (BundleKind::App, InfoPlistState::Missing, Some(m.clone())),
        (None, None) => return None,
    };
    Some(Facts {
        layout: Layout::AppDirectory,
        archive: Default::default(),
        bundles: vec![Bundle {
            path: folder,
            kind,
            parent: None,
            info,
            executable_exists: true,
            executable_size: None,
            launch_storyboard_exists: true,
            nested_bundles: Vec::new(),
            has_frameworks_dir: false,
            loose_dylibs: Vec::new(),
            icons: None,
            privacy_manifest: manifest,
            localized_info: Vec::new(),
            profile: None,
        }],
        binaries: Vec::new(),
        not_macho: Vec::new(),
        tiers: Tiers::BUNDLES,
    })
}

/// The package rules of [`SOURCE_TWINS`] on one source plist, with locations moved to the source
/// file and its lines.
fn twins(p: &SourcePlist, ctx: &Context, config: &Config) -> Vec<Diagnostic> {
    let Some(facts) = as_package(p) else {
        return Vec::new();
    };
    let as_packaged = facts.bundles[0].info_plist_path();
    let literal_id = matches!(p.bundle_id, Some(SourceValue::Literal(_)));
    let mut found = crate::check_where(&facts, ctx, config, |r| {
        SOURCE_TWINS.contains(&r.name) && (r.name != "bundle-id-invalid" || literal_id)
    });
    for d in &mut found {
        if d.location.path == as_packaged {
            d.location.path = p.path.clone();
        }
        if d.location.path == p.path {
            d.location.position = d.location.key.as_deref().and_then(|k| p.place(k));
        }
    }
    found
}

/// Runs the source rules; diagnostics sorted by location, code, message.
pub fn lint(facts: &SourceFacts, ctx: &Context, config: &Config) -> Vec<Diagnostic> {
    let mut out = Out {
        config,
        found: Vec::new(),
    };
    for set in &facts.icon_sets {
        icon_set(set, &mut out);
    }
    for p in &facts.plists {
        if let Some(problem) = &p.problem {
            out.emit(
                "source-plist-invalid",
                Location::entry(&p.path),
                format!("cannot read {}: {problem}", p.path),
                "fix the file so it is an XML or binary property list whose root is a dictionary",
            );
            continue;
        }
        out.found.extend(twins(p, ctx, config));
        if p.kind == SourcePlistKind::Entitlements
            && let Some(SourceValue::Literal(v)) = &p.aps_environment
            && v != "development"
            && v != "production"
        {
            out.emit(
                "aps-environment-invalid",
                Location::key(&p.path, "aps-environment").at(p.place("aps-environment")),
                format!("aps-environment is '{v}'; only 'development' and 'production' are valid"),
                "set aps-environment to 'development' (Xcode switches it to 'production' when exporting for distribution)",
            );
        }
    }
    let mut found = out.found;
    found.sort_by(|a, b| (&a.location, a.code, &a.message).cmp(&(&b.location, b.code, &b.message)));
    found
}

fn at(set: &IconSet, img: &SetImage) -> Location {
    Location::key(&set.contents, &img.pointer).at(set.place(&img.pointer))
}

/// The App Store image of a set: `ios-marketing`, or a single-size 1024 entry (universal, any
/// appearance) for that platform.
fn app_store<'a>(set: &'a IconSet, marketing: &str, platform: &str) -> Option<&'a SetImage> {
    set.images.iter().find(|i| {
        i.filename.is_some()
            && !i.appearance_variant
            && (i.idiom == marketing
                || (i.idiom == "universal"
                    && i.platform.as_deref() == Some(platform)
                    && i.size == Some(1024.0)))
    })
}

fn icon_set(set: &IconSet, out: &mut Out<'_>) {
    if let Some(problem) = &set.problem {
        out.emit(
            "icon-set-unreadable",
            Location::entry(&set.contents),
            format!("cannot read {}: {problem}", set.contents),
            "fix Contents.json (Xcode rewrites it when you edit the set in the asset catalog editor)",
        );
        return;
    }
    for img in &set.images {
        let Some(name) = &img.filename else { continue };
        if let Some(problem) = &img.problem {
            out.emit(
                "icon-set-file-missing",
                at(set, img),
                format!("the {} image '{name}' cannot be used: {problem}", img.idiom),
                "add the file to the .appiconset folder or clear the slot in Xcode",
            );
            continue;
        }
        if let (Some(promised), Some((w, h))) = (img.promised(), img.pixels)
            && (w != promised || h != promised)
        {
            out.emit(
                "icon-size-mismatch",
                at(set, img),
                format!(
                    "'{name}' is {w}×{h} pixels but its {} slot ({}pt @{}x) needs {promised}×{promised}",
                    img.idiom,
                    img.size.unwrap_or(0.0),
                    img.scale
                ),
                "export the image at size × scale pixels",
            );
        }
    }
    let ios = set.images.iter().any(|i| {
        matches!(i.idiom.as_str(), "iphone" | "ipad" | "ios-marketing")
            || i.platform.as_deref() == Some("ios")
    });
    let watch = set.images.iter().any(|i| {
        matches!(i.idiom.as_str(), "watch" | "watch-marketing")
            || i.platform.as_deref() == Some("watchos")
    });
    for (on, marketing, platform, rule, what) in [
        (ios, "ios-marketing", "ios", "icon-app-store-missing", "iOS"),
        (
            watch,
            "watch-marketing",
            "watchos",
            "icon-watch-app-store-missing",
            "watchOS",
        ),
    ] {
        if !on {
            continue;
        }
        match app_store(set, marketing, platform) {
            None => out.emit(
                rule,
                Location::entry(&set.contents),
                format!("the {what} icon set '{}' has no 1024×1024 App Store image", set.dir),
                "drop a 1024×1024 PNG without alpha into the App Store slot (or use a single-size set)",
            ),
            Some(img) if img.problem.is_none() && (img.alpha || img.transparent) => {
                let (severity, detail) = if img.transparent {
                    (None, "has transparent pixels")
                } else {
                    (Some(Severity::Warning), "has an alpha channel (every pixel is opaque)")
                };
                out.emit_as(
                    "icon-app-store-alpha",
                    severity,
                    at(set, img),
                    format!(
                        "the App Store image '{}' {detail}; it can't be transparent nor contain an alpha channel",
                        img.filename.as_deref().unwrap_or("?")
                    ),
                    "re-export the 1024×1024 image as RGB without alpha",
                );
            }
            Some(_) => {}
        }
    }
}
