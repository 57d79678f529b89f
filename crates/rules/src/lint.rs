//! Rules for source trees (`ipagate lint`, pre-commit): the checks that make sense before a build,
//! on the facts of `ipagate_formats::source`. Where a check is the source-side twin of a package
//! rule it carries the same code and name (ITMS-90704, ITMS-90717, icon-size-mismatch), so a
//! configuration that silences one silences both; [`lint_rules`] says which rules apply to sources.
//!
//! Build-setting references (`$(PRODUCT_BUNDLE_IDENTIFIER)`) are never judged as literal text.

use ipagate_formats::source::{
    IconSet, SetImage, SourceFacts, SourcePlist, SourcePlistKind, SourceTarget, SourceValue,
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
    LintRule {
        code: "IPAGATE-1208",
        name: "entitlement-key-unknown",
        severity: Severity::Error,
        also_package: false,
        summary: "an .entitlements file has a key not known to be valid on iOS (App Store Connect: ITMS-90045); an unlisted com.apple.developer. or com.apple.security. key is a warning",
    },
    LintRule {
        code: "ITMS-90022",
        name: "icon-iphone-missing",
        severity: Severity::Error,
        also_package: true,
        summary: "the app icon set of a target built for iPhone (TARGETED_DEVICE_FAMILY has 1) has no 60pt @2x (120×120) image",
    },
    LintRule {
        code: "ITMS-90023",
        name: "icon-ipad-missing",
        severity: Severity::Error,
        also_package: true,
        summary: "the app icon set of a target built for iPad (TARGETED_DEVICE_FAMILY has 2) lacks the 76pt @2x (152×152) or 83.5pt @2x (167×167) image",
    },
];

pub use crate::entitlements::{EntitlementKey, entitlement_key, ios_entitlements};

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

/// A lint rule by code (`IPAGATE-1208`, `1208`) or name.
pub fn find(key: &str) -> Option<&'static LintRule> {
    let key = key.trim();
    LINT_RULES.iter().find(|r| {
        r.name == key
            || r.code.eq_ignore_ascii_case(key)
            || r.code
                .split_once('-')
                .is_some_and(|(_, number)| number == key)
    })
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
        seals: Vec::new(),
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
        icon_idioms(set, &facts.targets, &mut out);
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
        if p.kind == SourcePlistKind::Entitlements {
            entitlement_keys(p, &mut out);
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

fn entitlement_keys(p: &SourcePlist, out: &mut Out<'_>) {
    for key in &p.keys {
        let (severity, why, help) = match entitlement_key(key) {
            EntitlementKey::Known => continue,
            EntitlementKey::UnlistedCapability => (
                Some(Severity::Warning),
                "is not on ipagate's list of iOS capabilities (the list may lag behind Apple's)",
                "check the key's spelling against the capability in Xcode's Signing & Capabilities tab; if Apple added it recently, ignore this warning",
            ),
            EntitlementKey::MacOnly => (
                Some(Severity::Warning),
                "is a macOS sandbox entitlement, valid in a Mac Catalyst build but not on iOS",
                "keep it only in the Mac Catalyst build's entitlements (CODE_SIGN_ENTITLEMENTS[sdk=macosx*])",
            ),
            EntitlementKey::Unknown => (
                None,
                "is not known to be valid on iOS; App Store Connect rejects unsupported keys (ITMS-90045)",
                "remove the key, or check its spelling against the capability in Xcode's Signing & Capabilities tab",
            ),
        };
        out.emit_as(
            "entitlement-key-unknown",
            severity,
            Location::key(&p.path, key).at(p.place(key)),
            format!("the entitlement key '{key}' {why}"),
            help,
        );
    }
}

/// What a device family needs in an app icon set (itms-rules.md §5.1, as ITMS-90022/90023 judge
/// the package).
struct IdiomNeed {
    /// `TARGETED_DEVICE_FAMILY` number.
    family: u64,
    /// Worded for a message.
    device: &'static str,
    /// The lint twin reporting a missing size.
    rule: &'static str,
    /// `Contents.json` idiom of its slots (a `universal` image also counts).
    idiom: &'static str,
    /// Pixel sizes required, with the slot that holds each.
    sizes: &'static [(u32, &'static str)],
}

const IDIOM_NEEDS: &[IdiomNeed] = &[
    IdiomNeed {
        family: 1,
        device: "iPhone",
        rule: "icon-iphone-missing",
        idiom: "iphone",
        sizes: &[(120, "60pt @2x")],
    },
    IdiomNeed {
        family: 2,
        device: "iPad",
        rule: "icon-ipad-missing",
        idiom: "ipad",
        sizes: &[(152, "76pt @2x"), (167, "83.5pt @2x")],
    },
];

/// The sizes an icon set must hold for the device families of the targets whose app icon it is
/// (`TARGETED_DEVICE_FAMILY`), the source twin of ITMS-90022 / ITMS-90023. Skipped when no known
/// target uses the set (families unknown), and for a single-size set (Xcode derives every size
/// from its 1024 image).
fn icon_idioms(set: &IconSet, targets: &[SourceTarget], out: &mut Out<'_>) {
    if set.problem.is_some() {
        return;
    }
    let users: Vec<&SourceTarget> = targets.iter().filter(|t| t.uses(set)).collect();
    if users.is_empty() {
        return;
    }
    let single_size = set.images.iter().any(|i| {
        i.filename.is_some()
            && !i.appearance_variant
            && i.idiom == "universal"
            && i.platform.as_deref() == Some("ios")
            && i.size == Some(1024.0)
    });
    if single_size {
        return;
    }
    let name = std::path::Path::new(&set.dir)
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or("?");
    for need in IDIOM_NEEDS {
        let (family, device, rule, idiom, sizes) =
            (need.family, need.device, need.rule, need.idiom, need.sizes);
        let Some(target) = users.iter().find(|t| t.families.contains(&family)) else {
            continue;
        };
        for &(px, slot) in sizes {
            let present = set.images.iter().any(|i| {
                i.filename.is_some()
                    && !i.appearance_variant
                    && (i.idiom == idiom || i.idiom == "universal")
                    && i.promised() == Some(px)
            });
            if present {
                continue;
            }
            let families: Vec<String> = target.families.iter().map(u64::to_string).collect();
            let from = match &target.families_from {
                Some(place) => {
                    format!("TARGETED_DEVICE_FAMILY = {} in {place}", families.join(","))
                }
                None => "TARGETED_DEVICE_FAMILY is not set: Xcode builds for iPhone".to_string(),
            };
            out.emit(
                rule,
                Location::key(&set.contents, "/images").at(set.place("/images")),
                format!(
                    "the icon set '{name}' has no {device} {slot} ({px}×{px}) image, required because target '{}' builds for {device} ({from})",
                    target.name
                ),
                &format!(
                    "fill the {device} {slot} slot of '{name}' with a {px}×{px} PNG, or make it a single-size set (Xcode 14+: one 1024×1024 image)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipagate_formats::source::SetImage;

    fn ctx() -> Context {
        Context {
            distribution: crate::Distribution::AppStore,
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
            data: std::sync::Arc::new(crate::data::Data::embedded().expect("data")),
        }
    }

    #[test]
    fn the_entitlement_list_is_data_and_classifies_keys() {
        let keys = ios_entitlements();
        assert!(keys.len() > 50, "{}", keys.len());
        // Comments and blank lines are not keys.
        assert!(keys.iter().all(|k| !k.contains('#') && !k.contains(' ')));
        for known in [
            "application-identifier",
            "aps-environment",
            "keychain-access-groups",
            "com.apple.security.application-groups",
            "get-task-allow",
            "beta-reports-active",
            "com.apple.developer.team-identifier",
            "com.apple.developer.associated-domains",
        ] {
            assert_eq!(entitlement_key(known), EntitlementKey::Known, "{known}");
        }
        assert_eq!(
            entitlement_key("com.apple.developer.something-new"),
            EntitlementKey::UnlistedCapability
        );
        assert_eq!(
            entitlement_key("com.apple.security.app-sandbox"),
            EntitlementKey::MacOnly
        );
        // Apple's example of ITMS-90045.
        assert_eq!(
            entitlement_key("com.apple.keystore.device"),
            EntitlementKey::Unknown
        );
        assert_eq!(entitlement_key("Aps-Environment"), EntitlementKey::Unknown);
    }

    fn entitlements(keys: &[&str]) -> SourceFacts {
        let plist = SourcePlist {
            path: "App/App.entitlements".into(),
            kind: SourcePlistKind::Entitlements,
            problem: None,
            aps_environment: None,
            bundle_id: None,
            keys: keys.iter().map(|k| k.to_string()).collect(),
            info: None,
            manifest: None,
            places: Vec::new(),
        };
        SourceFacts {
            plists: vec![plist],
            ..Default::default()
        }
    }

    #[test]
    fn unknown_entitlement_keys_are_reported_known_ones_not() {
        let config = Config::default();
        let clean = entitlements(&["application-identifier", "aps-environment"]);
        assert!(lint(&clean, &ctx(), &config).is_empty());
        let found = lint(
            &entitlements(&["com.apple.keystore.device", "com.apple.developer.new-thing"]),
            &ctx(),
            &config,
        );
        let got: Vec<(&str, Severity, Option<&str>)> = found
            .iter()
            .map(|d| (d.rule, d.severity, d.location.key.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "entitlement-key-unknown",
                    Severity::Warning,
                    Some("com.apple.developer.new-thing")
                ),
                (
                    "entitlement-key-unknown",
                    Severity::Error,
                    Some("com.apple.keystore.device")
                ),
            ]
        );
        // Off in the configuration: silent.
        let off =
            Config::from_toml("[rules]\nentitlement-key-unknown = \"off\"\n").expect("config");
        assert!(lint(&entitlements(&["com.apple.keystore.device"]), &ctx(), &off).is_empty());
    }

    fn image(idiom: &str, size: f64, scale: f64) -> SetImage {
        SetImage {
            pointer: String::new(),
            filename: Some(format!("{idiom}-{size}@{scale}.png")),
            idiom: idiom.into(),
            platform: None,
            size: Some(size),
            scale,
            appearance_variant: false,
            pixels: Some(((size * scale) as u32, (size * scale) as u32)),
            alpha: false,
            transparent: false,
            problem: None,
        }
    }

    /// An icon set folder on disk (the target matching reads its real path) with `images`, and
    /// a target whose app icon it is, built for `families`.
    fn set_and_target(
        dir: &std::path::Path,
        images: Vec<SetImage>,
        families: &[u64],
    ) -> SourceFacts {
        let set_dir = dir.join("Assets.xcassets/AppIcon.appiconset");
        std::fs::create_dir_all(&set_dir).expect("mkdir");
        let set = IconSet {
            dir: set_dir.display().to_string(),
            contents: set_dir.join("Contents.json").display().to_string(),
            problem: None,
            images,
            places: Vec::new(),
        };
        let target = SourceTarget {
            project: "App.xcodeproj/project.pbxproj".into(),
            srcroot: std::fs::canonicalize(dir).expect("canonical"),
            name: "App".into(),
            app_icon: "AppIcon".into(),
            families: families.to_vec(),
            families_from: Some("App.xcodeproj (target App, Release)".into()),
        };
        SourceFacts {
            icon_sets: vec![set],
            targets: vec![target],
            ..Default::default()
        }
    }

    fn idiom_rules(facts: &SourceFacts) -> Vec<(&'static str, String)> {
        lint(facts, &ctx(), &Config::default())
            .into_iter()
            .filter(|d| d.rule == "icon-iphone-missing" || d.rule == "icon-ipad-missing")
            .map(|d| (d.code, d.message))
            .collect()
    }

    #[test]
    fn required_idioms_follow_the_targets_families() {
        let dir = tempfile::tempdir().expect("tempdir");
        let iphone_only = || {
            vec![
                image("iphone", 60.0, 2.0),
                image("iphone", 60.0, 3.0),
                image("ios-marketing", 1024.0, 1.0),
            ]
        };
        // An iPhone set for an iPhone target: nothing missing.
        assert!(idiom_rules(&set_and_target(dir.path(), iphone_only(), &[1])).is_empty());
        // The same set for an iPhone + iPad target: both iPad sizes missing, each named.
        let found = idiom_rules(&set_and_target(dir.path(), iphone_only(), &[1, 2]));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(code, _)| *code == "ITMS-90023"));
        assert!(found[0].1.contains("76pt @2x (152×152)"), "{found:?}");
        assert!(found[1].1.contains("83.5pt @2x (167×167)"), "{found:?}");
        assert!(
            found[0].1.contains("target 'App' builds for iPad"),
            "{found:?}"
        );
        // An iPad-only target does not need the iPhone size.
        let ipad = vec![image("ipad", 76.0, 2.0), image("ipad", 83.5, 2.0)];
        assert!(idiom_rules(&set_and_target(dir.path(), ipad.clone(), &[2])).is_empty());
        let found = idiom_rules(&set_and_target(dir.path(), ipad, &[1, 2]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "ITMS-90022");
        // A single-size set satisfies every family.
        let mut single = image("universal", 1024.0, 1.0);
        single.platform = Some("ios".into());
        assert!(idiom_rules(&set_and_target(dir.path(), vec![single], &[1, 2])).is_empty());
        // No target uses the set (other icon name): families unknown, nothing required.
        let mut facts = set_and_target(dir.path(), Vec::new(), &[1, 2]);
        facts.targets[0].app_icon = "OtherIcon".into();
        assert!(idiom_rules(&facts).is_empty());
    }
}
