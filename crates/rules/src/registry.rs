//! Every rule: its code, name, default severity, where it applies, its explanation, and its check.
//! Conditions follow `itms-rules.md` (§1, §2.1, §2.2, §2.4, §2.5, §2.7, §2.10); Apple's message
//! texts are paraphrased with the actual values.

use ipagate_formats::{Bundle, BundleKind, Facts, InfoPlist, Layout, Text};

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
#[derive(Debug)]
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
    RULES
}

/// A rule by code (`ITMS-90056`, case-insensitive, `90056` also accepted) or name.
pub fn find(key: &str) -> Option<&'static Rule> {
    let key = key.trim();
    RULES.iter().find(|r| {
        r.name == key
            || r.code.eq_ignore_ascii_case(key)
            || r.code.strip_prefix("ITMS-").is_some_and(|n| n == key)
            || r.code.strip_prefix("IPAGATE-").is_some_and(|n| n == key)
            || (r.code.starts_with("ITMS-") && format!("ITMS-{key}").eq_ignore_ascii_case(r.code))
    })
}

// ---------------------------------------------------------------------------------------------
// Helpers

pub(crate) use ipagate_formats::info_plist::is_valid_bundle_version as is_valid_version;

/// Dotted numeric components of an OS version (`"14.3"` → `[14, 3]`); `None` if not numeric.
fn os_version(s: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = s.trim().split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 4)
}

fn version_lt(a: &[u64], b: &[u64]) -> bool {
    let n = a.len().max(b.len());
    let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    for i in 0..n {
        if get(a, i) != get(b, i) {
            return get(a, i) < get(b, i);
        }
    }
    false
}

fn is_app_like(kind: BundleKind) -> bool {
    matches!(
        kind,
        BundleKind::App | BundleKind::AppExtension | BundleKind::WatchApp | BundleKind::AppClip
    )
}

/// Bundles that carry identity and versions: apps, extensions, watch apps, clips, frameworks.
fn is_versioned(kind: BundleKind) -> bool {
    is_app_like(kind) || kind == BundleKind::Framework
}

fn parsed(facts: &Facts) -> impl Iterator<Item = (usize, &Bundle, &InfoPlist)> {
    facts
        .bundles
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.info().map(|info| (i, b, info)))
}

fn plist_key(bundle: &Bundle, key: &str) -> Location {
    Location::key(bundle.info_plist_path(), key)
}

/// The bundle is on the watchOS side (a watch app or anything inside one).
fn on_watch_side(facts: &Facts, index: usize) -> bool {
    let mut cur = Some(index);
    while let Some(i) = cur {
        if facts.bundles[i].kind == BundleKind::WatchApp {
            return true;
        }
        cur = facts.bundles[i].parent;
    }
    false
}

/// Nearest enclosing app-like bundle that can own extensions (app, watch app, app clip).
fn owning_app(facts: &Facts, index: usize) -> Option<&Bundle> {
    let mut cur = facts.bundles[index].parent;
    while let Some(i) = cur {
        let b = &facts.bundles[i];
        if matches!(
            b.kind,
            BundleKind::App | BundleKind::WatchApp | BundleKind::AppClip
        ) {
            return Some(b);
        }
        cur = b.parent;
    }
    None
}

fn text_value(t: &Option<Text>) -> Option<&str> {
    t.as_ref().and_then(Text::as_str)
}

fn sdk_major(info: &InfoPlist) -> Option<u64> {
    let from_name = info.dt_sdk_name.as_deref().and_then(|s| {
        let digits = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        digits.split('.').next().and_then(|m| m.parse().ok())
    });
    from_name.or_else(|| {
        info.dt_platform_version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok())
    })
}

const IPAD: u64 = 2;

// ---------------------------------------------------------------------------------------------
// Checks

fn check_info_plist(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in facts.bundles.iter().skip(1) {
        let needs = is_versioned(b.kind) || b.kind == BundleKind::MisplacedBundle;
        match &b.info {
            ipagate_formats::InfoPlistState::Missing if needs => sink.emit(
                Location::entry(b.info_plist_path()),
                format!("the Info.plist file for {} is missing", b.path),
                "every .app, .appex and .framework needs an Info.plist at its top level; check the target's INFOPLIST_FILE and that the bundle was copied whole",
            ),
            ipagate_formats::InfoPlistState::Unreadable(problem) => sink.emit(
                Location::entry(b.info_plist_path()),
                format!("the Info.plist file for {} could not be read: {problem}", b.path),
                "write a valid XML or binary property list (plutil -lint) whose root is a dictionary",
            ),
            _ => {}
        }
    }
}

fn check_executable_present(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if !is_app_like(b.kind) {
            continue;
        }
        match text_value(&info.executable).filter(|s| !s.is_empty()) {
            None => sink.emit(
                plist_key(b, "CFBundleExecutable"),
                format!("the bundle at '{}' does not declare a bundle executable (CFBundleExecutable)", b.path),
                "set CFBundleExecutable to $(EXECUTABLE_NAME) in the target's Info.plist",
            ),
            Some(name) if !b.executable_exists => sink.emit(
                Location::entry(format!("{}/{name}", b.path)),
                format!("the bundle at '{}' does not contain its bundle executable '{name}'", b.path),
                "make sure the target builds its executable into the bundle and that CFBundleExecutable names it exactly (case matters)",
            ),
            Some(_) => {}
        }
    }
}

fn check_unexpected_executable(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if is_app_like(b.kind) {
            continue;
        }
        if let Some(name) = text_value(&info.executable).filter(|s| !s.is_empty())
            && !b.executable_exists
        {
            sink.emit(
                plist_key(b, "CFBundleExecutable"),
                format!("the bundle at '{}' declares CFBundleExecutable '{name}' but does not contain it", b.path),
                "if this bundle intentionally has no executable, remove the CFBundleExecutable key from its Info.plist and set CFBundlePackageType to BNDL",
            );
        }
    }
}

fn check_bundle_structure(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.bundles {
        match b.kind {
            BundleKind::MisplacedBundle => sink.emit(
                Location::entry(b.path.clone()),
                format!("the bundle '{}' is not in a place App Store Connect allows for its type", b.path),
                "frameworks belong in <App>.app/Frameworks/, extensions in PlugIns/ or Extensions/, watch apps in Watch/, app clips in AppClips/; fix the Copy Files / Embed build phases",
            ),
            BundleKind::TestBundle => sink.emit(
                Location::entry(b.path.clone()),
                format!("the test bundle '{}' is embedded in the app", b.path),
                "remove the .xctest bundle from the app target's Embed/Copy phases; test bundles are not shipped",
            ),
            _ => {}
        }
    }
}

fn check_appex_nested(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, b) in facts.bundles.iter().enumerate() {
        if b.kind != BundleKind::AppExtension {
            continue;
        }
        let prefix = format!("{}/", b.path);
        let nested: Vec<&str> = facts.bundles[i + 1..]
            .iter()
            .filter(|n| n.path.starts_with(&prefix))
            .filter(|n| {
                matches!(
                    n.kind,
                    BundleKind::Framework
                        | BundleKind::AppExtension
                        | BundleKind::MisplacedBundle
                        | BundleKind::WatchApp
                        | BundleKind::AppClip
                )
            })
            .map(|n| n.path.as_str())
            .collect();
        if let Some(first) = nested.first() {
            sink.emit(
                Location::entry((*first).to_string()),
                format!("the bundle at '{}' contains disallowed nested bundles: {}", b.path, nested.join(", ")),
                "extensions must not embed frameworks or other bundles: embed frameworks in the containing app only and set 'Embed' to 'Do Not Embed' for the extension target",
            );
        }
    }
}

fn check_appex_frameworks(facts: &Facts, _: &Context, sink: &mut Sink) {
    for b in &facts.bundles {
        if b.kind == BundleKind::AppExtension && b.has_frameworks_dir {
            sink.emit(
                Location::entry(format!("{}/Frameworks", b.path)),
                format!("the bundle at '{}' contains disallowed file 'Frameworks'", b.path),
                "remove the Frameworks folder from the extension (common with CocoaPods 'use_frameworks!' scripts); the app's Frameworks folder serves its extensions",
            );
        }
    }
}

fn check_bundle_id_chars(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        let loc = plist_key(b, "CFBundleIdentifier");
        match &info.bundle_id {
            None | Some(Text::Str(_))
                if text_value(&info.bundle_id).is_none_or(str::is_empty)
                    && is_versioned(b.kind) =>
            {
                sink.emit(
                    loc,
                    format!("the bundle at '{}' has no CFBundleIdentifier", b.path),
                    "set CFBundleIdentifier to $(PRODUCT_BUNDLE_IDENTIFIER)",
                );
            }
            Some(Text::WrongType(w)) => sink.emit(
                loc,
                format!(
                    "CFBundleIdentifier of '{}' is {}, not a string",
                    b.path, w.wrong_type
                ),
                "CFBundleIdentifier must be a string",
            ),
            Some(Text::Str(id)) => {
                let mut bad: Vec<char> = id
                    .chars()
                    .filter(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
                    .collect();
                bad.sort_unstable();
                bad.dedup();
                let only_underscores = !bad.is_empty() && bad.iter().all(|c| *c == '_');
                if !bad.is_empty() || id.ends_with('.') || id.starts_with('.') || id.contains("..")
                {
                    let message = if bad.is_empty() {
                        format!(
                            "the CFBundleIdentifier '{id}' of '{}' has an empty component or ends with a dot",
                            b.path
                        )
                    } else {
                        let shown: String = bad
                            .iter()
                            .map(|c| format!("{c:?}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!(
                            "the CFBundleIdentifier '{id}' of '{}' contains disallowed characters: {shown}",
                            b.path
                        )
                    };
                    let help = "use only A-Z, a-z, 0-9, hyphens and periods, not ending with a period (replace '_' by '-')";
                    if only_underscores && b.kind == BundleKind::App && !id.ends_with('.') {
                        // App Store Connect accepts '_' in the app's own id (bazelbuild/rules_apple#2411)
                        // but still rejects it in nested bundles.
                        sink.emit_as(Severity::Warning, loc, message, help);
                    } else {
                        sink.emit(loc, message, help);
                    }
                }
            }
            None => {}
        }
    }
}

fn check_bundle_id_collision(facts: &Facts, _: &Context, sink: &mut Sink) {
    let mut by_id: std::collections::BTreeMap<&str, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, _, info) in parsed(facts) {
        if let Some(id) = info.bundle_id_str().filter(|s| !s.is_empty()) {
            by_id.entry(id).or_default().push(i);
        }
    }
    for (id, idx) in by_id {
        if idx.len() < 2 {
            continue;
        }
        // The same framework in the iOS app and in the watch app is 90806's business.
        let all_frameworks = idx
            .iter()
            .all(|&i| facts.bundles[i].kind == BundleKind::Framework);
        let watch = idx.iter().filter(|&&i| on_watch_side(facts, i)).count();
        if all_frameworks && watch > 0 && watch < idx.len() && watch == 1 && idx.len() == 2 {
            continue;
        }
        let paths: Vec<&str> = idx
            .iter()
            .map(|&i| facts.bundles[i].path.as_str())
            .collect();
        let second = &facts.bundles[idx[1]];
        sink.emit(
            plist_key(second, "CFBundleIdentifier"),
            format!("there is more than one bundle with the CFBundleIdentifier value '{id}' under the application: {}", paths.join(", ")),
            "give every bundle its own identifier; a framework embedded twice (e.g. in the app and in an extension) must be embedded once, in the app",
        );
    }
}

fn check_watch_framework_collision(facts: &Facts, _: &Context, sink: &mut Sink) {
    let mut by_id: std::collections::BTreeMap<&str, (Vec<usize>, Vec<usize>)> =
        std::collections::BTreeMap::new();
    for (i, b, info) in parsed(facts) {
        if b.kind != BundleKind::Framework {
            continue;
        }
        if let Some(id) = info.bundle_id_str().filter(|s| !s.is_empty()) {
            let slot = by_id.entry(id).or_default();
            if on_watch_side(facts, i) {
                slot.1.push(i)
            } else {
                slot.0.push(i)
            }
        }
    }
    for (id, (ios, watch)) in by_id {
        if let (Some(&a), Some(&w)) = (ios.first(), watch.first()) {
            sink.emit(
                plist_key(&facts.bundles[w], "CFBundleIdentifier"),
                format!(
                    "the framework identifier '{id}' is used in both the iOS app ({}) and the watch app ({})",
                    facts.bundles[a].path, facts.bundles[w].path
                ),
                "give the watchOS build of the framework its own bundle identifier (e.g. a '.watchos' suffix via a separate target or PRODUCT_BUNDLE_IDENTIFIER per SDK)",
            );
        }
    }
}

fn check_extension_prefix(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, b, info) in parsed(facts) {
        if b.kind != BundleKind::AppExtension {
            continue;
        }
        let (Some(id), Some(owner)) = (info.bundle_id_str(), owning_app(facts, i)) else {
            continue;
        };
        let Some(parent_id) = owner.info().and_then(InfoPlist::bundle_id_str) else {
            continue;
        };
        let ok = id
            .strip_prefix(parent_id)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'));
        if !ok {
            sink.emit(
                plist_key(b, "CFBundleIdentifier"),
                format!(
                    "the bundle identifier '{id}' of the extension '{}' should start with the application's bundle identifier '{parent_id}' and not contain more than one period after it",
                    b.path
                ),
                format!("name the extension '{parent_id}.<Name>' (exactly one more component)"),
            );
        }
    }
}

fn check_supported_platforms(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        let Some(platforms) = &info.supported_platforms else {
            continue;
        };
        let sim = platforms
            .iter()
            .any(|p| p.to_ascii_lowercase().contains("simulator"));
        if sim || (platforms.len() > 1 && is_versioned(b.kind)) {
            sink.emit(
                plist_key(b, "CFBundleSupportedPlatforms"),
                format!("the key CFBundleSupportedPlatforms in '{}' contains an invalid value '[{}]'", b.info_plist_path(), platforms.join(", ")),
                "ship device builds only: CFBundleSupportedPlatforms must be a single-element array such as [\"iPhoneOS\"]; rebuild vendored frameworks/bundles without simulator slices (use XCFrameworks)",
            );
        }
    }
}

fn check_simulator_build(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if let Some(p) = info.dt_platform_name.as_deref()
            && p.ends_with("simulator")
            && is_versioned(b.kind)
        {
            sink.emit(
                plist_key(b, "DTPlatformName"),
                format!("'{}' was built for the simulator (DTPlatformName '{p}')", b.path),
                "archive for a generic device ('Any iOS Device (arm64)'), not a simulator destination",
            );
        }
    }
}

fn version_key_check(
    facts: &Facts,
    sink: &mut Sink,
    key: &str,
    get: fn(&InfoPlist) -> &Option<Text>,
    missing: bool,
) {
    for (_, b, info) in parsed(facts) {
        if !is_versioned(b.kind) {
            continue;
        }
        let value = get(info);
        let loc = plist_key(b, key);
        match value {
            None | Some(Text::Str(_)) if missing && text_value(value).is_none_or(|s| s.is_empty()) => sink.emit(
                loc,
                format!("the bundle {} is missing the required key {key}", b.path),
                format!("set {key} in the target's Info.plist (frameworks too: vendors' frameworks sometimes ship without it)"),
            ),
            Some(Text::Str(s)) if !missing && !s.is_empty() && !is_valid_version(s) => sink.emit(
                loc,
                format!("the value for key {key} '{s}' in '{}' must be a period-separated list of at most three non-negative integers", b.info_plist_path()),
                "use 1 to 3 dot-separated integers such as 1.2.3; put suffixes like -beta in the build number of a separate scheme, not here",
            ),
            Some(Text::WrongType(w)) if !missing => sink.emit(
                loc,
                format!("the value for key {key} in '{}' is {}, not a string", b.info_plist_path(), w.wrong_type),
                "write the version as a string",
            ),
            _ => {}
        }
    }
}

fn check_missing_build_version(facts: &Facts, _: &Context, sink: &mut Sink) {
    version_key_check(facts, sink, "CFBundleVersion", |i| &i.build_version, true);
}
fn check_missing_short_version(facts: &Facts, _: &Context, sink: &mut Sink) {
    version_key_check(
        facts,
        sink,
        "CFBundleShortVersionString",
        |i| &i.short_version,
        true,
    );
}
fn check_invalid_build_version(facts: &Facts, _: &Context, sink: &mut Sink) {
    version_key_check(facts, sink, "CFBundleVersion", |i| &i.build_version, false);
}
fn check_invalid_short_version(facts: &Facts, _: &Context, sink: &mut Sink) {
    version_key_check(
        facts,
        sink,
        "CFBundleShortVersionString",
        |i| &i.short_version,
        false,
    );
}

fn check_min_os_missing(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if is_versioned(b.kind) && info.minimum_os.is_none() {
            sink.emit(
                plist_key(b, "MinimumOSVersion"),
                format!("a value for the key 'MinimumOSVersion' in bundle {} is required", b.path),
                "set MinimumOSVersion (Xcode writes it from IPHONEOS_DEPLOYMENT_TARGET; vendored frameworks must carry it too)",
            );
        }
    }
}

fn check_min_os_empty(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if is_versioned(b.kind)
            && matches!(&info.minimum_os, Some(Text::Str(s)) if s.trim().is_empty())
        {
            sink.emit(
                plist_key(b, "MinimumOSVersion"),
                format!("MinimumOSVersion in '{}' is ''", b.path),
                "set the deployment target (IPHONEOS_DEPLOYMENT_TARGET) so Xcode writes a MinimumOSVersion",
            );
        }
    }
}

/// Lowest `MinimumOSVersion` App Store Connect accepts for iOS bundles (Apple's message: "The
/// minimum value is 8.0"). Watch-side bundles carry watchOS versions and are not judged here.
const IOS_MINIMUM: [u64; 2] = [8, 0];

/// Whether a bundle is built for iOS/iPadOS (not tvOS, watchOS or visionOS, whose
/// MinimumOSVersion counts from other numbers). Unknown platforms count as iOS.
fn is_ios(info: &InfoPlist) -> bool {
    let by_dt = info
        .dt_platform_name
        .as_deref()
        .map(|p| p.starts_with("iphone"));
    let by_list = info
        .supported_platforms
        .as_ref()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.iter()
                .any(|p| p.to_ascii_lowercase().starts_with("iphone"))
        });
    by_dt.or(by_list).unwrap_or(true)
}

fn check_min_os_low(facts: &Facts, _: &Context, sink: &mut Sink) {
    // Apple's floor of 8.0 is for apps that only support 64-bit devices (90530's wording); an
    // app whose Info.plist requires armv7 declares 32-bit support and is judged by its SDK instead.
    let declares_32_bit = facts
        .app()
        .info()
        .and_then(|i| i.required_capabilities.as_ref())
        .is_some_and(|c| c.required.iter().any(|r| r == "armv7" || r == "armv6"));
    if declares_32_bit {
        return;
    }
    for (i, b, info) in parsed(facts) {
        if !is_versioned(b.kind) || on_watch_side(facts, i) || !is_ios(info) {
            continue;
        }
        let Some(Text::Str(value)) = &info.minimum_os else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        match os_version(value) {
            Some(v) if version_lt(&v, &IOS_MINIMUM) => sink.emit(
                plist_key(b, "MinimumOSVersion"),
                format!("the value for the key 'MinimumOSVersion' in bundle {} is invalid: '{value}'; the minimum value is 8.0", b.path),
                "raise the deployment target to at least 8.0 (current Xcode needs 12.0 or later anyway)",
            ),
            None => sink.emit(
                plist_key(b, "MinimumOSVersion"),
                format!("the value for the key 'MinimumOSVersion' in bundle {} is not a version: '{value}'", b.path),
                "MinimumOSVersion must be a dotted version such as 15.0",
            ),
            Some(_) => {}
        }
    }
}

fn check_appex_version_match(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, b, info) in parsed(facts) {
        if b.kind != BundleKind::AppExtension {
            continue;
        }
        let Some(owner) = owning_app(facts, i) else {
            continue;
        };
        let Some(owner_info) = owner.info() else {
            continue;
        };
        for (key, mine, theirs) in [
            (
                "CFBundleShortVersionString",
                &info.short_version,
                &owner_info.short_version,
            ),
            (
                "CFBundleVersion",
                &info.build_version,
                &owner_info.build_version,
            ),
        ] {
            if let (Some(a), Some(p)) = (text_value(mine), text_value(theirs))
                && a != p
            {
                sink.emit(
                    plist_key(b, key),
                    format!("the {key} value '{a}' of extension '{}' does not match the {key} value '{p}' of its containing application '{}'", b.path, owner.path),
                    format!("set the extension's {key} from the same build setting as the app's (e.g. $(MARKETING_VERSION) / $(CURRENT_PROJECT_VERSION))"),
                );
            }
        }
    }
}

fn check_bgtask(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        let processing = info
            .background_modes
            .as_ref()
            .is_some_and(|m| m.iter().any(|v| v == "processing"));
        let ids_empty = info.bg_task_identifiers.as_ref().is_none_or(Vec::is_empty);
        if processing && ids_empty {
            sink.emit(
                plist_key(b, "BGTaskSchedulerPermittedIdentifiers"),
                format!("the Info.plist of '{}' has 'processing' in UIBackgroundModes but no BGTaskSchedulerPermittedIdentifiers", b.path),
                "list the task identifiers you register with BGTaskScheduler under BGTaskSchedulerPermittedIdentifiers, or remove 'processing' from UIBackgroundModes",
            );
        }
    }
}

/// `MinimumOSVersion` 11.0 or later only runs on arm64 devices, so the binary can only be arm64.
fn arm64_only(info: &InfoPlist) -> bool {
    text_value(&info.minimum_os)
        .and_then(os_version)
        .is_some_and(|v| !version_lt(&v, &[11, 0]))
}

fn check_arm64_capability(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(info) = app.info() else { return };
    let Some(caps) = &info.required_capabilities else {
        return;
    };
    if !arm64_only(info) {
        return;
    }
    let min = text_value(&info.minimum_os).unwrap_or_default();
    let loc = plist_key(app, "UIRequiredDeviceCapabilities");
    if caps.forbidden.iter().any(|c| c == "arm64") {
        // No device runs MinimumOSVersion >= 11 without arm64: nobody could install the app.
        sink.emit_as(
            Severity::Error,
            loc,
            format!("UIRequiredDeviceCapabilities forbids 'arm64' (false) but MinimumOSVersion {min} only runs on arm64 devices"),
            "remove the 'arm64: false' entry (or set it to true)",
        );
    } else if !caps.required.iter().any(|c| c == "arm64") {
        sink.emit(
            loc,
            format!("MinimumOSVersion {min} means the app can only contain arm64 code, but UIRequiredDeviceCapabilities does not list 'arm64'"),
            "add 'arm64' to UIRequiredDeviceCapabilities (Mach-O slices are checked once the Mach-O reader lands)",
        );
    }
}

fn check_capabilities_narrowed(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(info) = app.info() else { return };
    let Some(caps) = &info.required_capabilities else {
        return;
    };
    if arm64_only(info) && caps.required.iter().any(|c| c == "armv7") {
        sink.emit(
            plist_key(app, "UIRequiredDeviceCapabilities"),
            format!(
                "UIRequiredDeviceCapabilities requires 'armv7' in an app whose MinimumOSVersion {} only runs on arm64; if an earlier version did not require it, App Store Connect rejects the narrowing",
                text_value(&info.minimum_os).unwrap_or_default()
            ),
            "replace 'armv7' by 'arm64'; updates may only keep or relax their capability requirements",
        );
    }
}

/// iPad multitasking (and with it 90474/90475) exists from the iOS 9 SDK on; an unknown SDK is
/// judged as a current one.
fn supports_ipad_multitasking(info: &InfoPlist) -> bool {
    info.device_family
        .as_ref()
        .is_some_and(|f| f.contains(&IPAD))
        && info.requires_full_screen != Some(true)
        && sdk_major(info).is_none_or(|m| m >= 9)
}

fn main_apps(facts: &Facts) -> impl Iterator<Item = (&Bundle, &InfoPlist)> {
    facts
        .bundles
        .iter()
        .filter(|b| matches!(b.kind, BundleKind::App | BundleKind::AppClip))
        .filter_map(|b| b.info().map(|i| (b, i)))
}

fn check_ipad_orientations(facts: &Facts, _: &Context, sink: &mut Sink) {
    const ALL: [&str; 4] = [
        "UIInterfaceOrientationPortrait",
        "UIInterfaceOrientationPortraitUpsideDown",
        "UIInterfaceOrientationLandscapeLeft",
        "UIInterfaceOrientationLandscapeRight",
    ];
    for (b, info) in main_apps(facts) {
        if !supports_ipad_multitasking(info) {
            continue;
        }
        let (key, list) = match (&info.orientations_ipad, &info.orientations) {
            (Some(l), _) => ("UISupportedInterfaceOrientations~ipad", l.clone()),
            (None, Some(l)) => ("UISupportedInterfaceOrientations", l.clone()),
            (None, None) => ("UISupportedInterfaceOrientations", Vec::new()),
        };
        let missing: Vec<&str> = ALL
            .iter()
            .copied()
            .filter(|o| !list.iter().any(|v| v == o))
            .collect();
        if !missing.is_empty() {
            sink.emit(
                plist_key(b, key),
                format!("'{}' supports iPad multitasking but {key} lacks {}", b.path, missing.join(", ")),
                "support all four orientations on iPad, or opt out of multitasking with UIRequiresFullScreen = YES",
            );
        }
    }
}

fn check_ipad_launch_storyboard(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info) in main_apps(facts) {
        if supports_ipad_multitasking(info)
            && info.launch_storyboard.is_none()
            && !info.has_launch_screen_dict
        {
            sink.emit(
                plist_key(b, "UILaunchStoryboardName"),
                format!("'{}' supports iPad multitasking but provides no launch storyboard (UILaunchStoryboardName)", b.path),
                "add a launch screen storyboard (UILaunchStoryboardName), or set UIRequiresFullScreen = YES",
            );
        }
    }
}

fn check_launch_screen(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info) in main_apps(facts) {
        if let Some(name) = &info.launch_storyboard {
            if !b.launch_storyboard_exists {
                sink.emit(
                    plist_key(b, "UILaunchStoryboardName"),
                    format!("UILaunchStoryboardName names '{name}' but '{}/{name}.storyboardc' is not in the bundle", b.path),
                    "add the storyboard to the app target's Copy Bundle Resources phase, or fix the name",
                );
            }
        } else if !info.has_launch_screen_dict
            // The April 2020 requirement came with the iOS 13 SDK; an unknown SDK counts as current.
            && sdk_major(info).is_none_or(|m| m >= 13)
            // An iPad app that multitasks is already reported by ITMS-90475 for the same key.
            && !supports_ipad_multitasking(info)
        {
            sink.emit(
                plist_key(b, "UILaunchStoryboardName"),
                format!("'{}' provides no launch screen: neither UILaunchStoryboardName nor UILaunchScreen is set", b.path),
                "since April 2020 every iPhone and iPad app must use a launch storyboard (or, from iOS 14, the UILaunchScreen dictionary)",
            );
        }
    }
}

fn check_icon_name(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (b, info) in main_apps(facts) {
        // Required from the iOS 11 SDK on; an unknown SDK is judged as a current one.
        let modern = sdk_major(info).is_none_or(|m| m >= 11);
        if modern && info.icon_name.is_none() {
            sink.emit(
                plist_key(b, "CFBundleIcons.CFBundlePrimaryIcon.CFBundleIconName"),
                format!("'{}' has no CFBundleIconName; apps built with the iOS 11 SDK or later must provide their icon in an asset catalog", b.path),
                "add an AppIcon set to an asset catalog and set 'Primary App Icon Set Name' (ASSETCATALOG_COMPILER_APPICON_NAME); actool then writes CFBundleIconName",
            );
        }
    }
}

fn uses_swift_dylibs(facts: &Facts) -> Option<&str> {
    facts
        .app()
        .loose_dylibs
        .iter()
        .find(|d| d.starts_with("libswift"))
        .map(String::as_str)
}

fn check_swift_support_missing(facts: &Facts, _: &Context, sink: &mut Sink) {
    if !matches!(facts.layout, Layout::Ipa | Layout::NestedPayload) {
        return; // folders and xcarchives keep SwiftSupport elsewhere
    }
    if let Some(dylib) = uses_swift_dylibs(facts)
        && facts.archive.swift_support.is_none()
    {
        sink.emit(
            Location::entry("SwiftSupport"),
            format!("the app embeds Swift runtime libraries ({}/Frameworks/{dylib}) but the archive has no SwiftSupport folder", facts.app().path),
            "export the .ipa with Xcode (xcodebuild -exportArchive), which adds SwiftSupport/; do not zip the Payload folder by hand",
        );
    }
}

fn check_swift_support_empty(facts: &Facts, _: &Context, sink: &mut Sink) {
    let Some(files) = &facts.archive.swift_support else {
        return;
    };
    let iphoneos = files
        .iter()
        .filter(|f| f.starts_with("SwiftSupport/iphoneos/"))
        .count();
    // Empty altogether, or an iphoneos folder with nothing in it. A watch-only
    // SwiftSupport/watchos/ is a valid export and says nothing about iphoneos.
    let (path, message) = if files.is_empty() {
        ("SwiftSupport", "the SwiftSupport folder is empty")
    } else if facts.archive.swift_support_iphoneos && iphoneos == 0 {
        (
            "SwiftSupport/iphoneos",
            "the SwiftSupport/iphoneos folder is empty",
        )
    } else {
        return;
    };
    sink.emit(
        Location::entry(path),
        message.to_string(),
        "let xcodebuild -exportArchive build the .ipa, or remove the empty SwiftSupport folder if the app embeds no Swift runtime",
    );
}

fn app_id(facts: &Facts) -> Option<&str> {
    facts.app().info().and_then(InfoPlist::bundle_id_str)
}

fn check_watch_companion(facts: &Facts, _: &Context, sink: &mut Sink) {
    let Some(app_id) = app_id(facts) else { return };
    for (_, b, info) in parsed(facts) {
        if b.kind != BundleKind::WatchApp {
            continue;
        }
        match info.wk_companion_app_bundle_id.as_deref() {
            Some(c) if c == app_id => {}
            Some(c) => sink.emit(
                plist_key(b, "WKCompanionAppBundleIdentifier"),
                format!("WKCompanionAppBundleIdentifier '{c}' of the watch app '{}' is not the iOS app's identifier '{app_id}'", b.path),
                format!("set WKCompanionAppBundleIdentifier to '{app_id}'"),
            ),
            None => sink.emit(
                plist_key(b, "WKCompanionAppBundleIdentifier"),
                format!("the watch app '{}' has no WKCompanionAppBundleIdentifier (expected '{app_id}')", b.path),
                format!("set WKCompanionAppBundleIdentifier to '{app_id}'"),
            ),
        }
    }
}

fn check_watch_prefix(facts: &Facts, _: &Context, sink: &mut Sink) {
    let Some(app_id) = app_id(facts) else { return };
    for (_, b, info) in parsed(facts) {
        if b.kind != BundleKind::WatchApp {
            continue;
        }
        if let Some(id) = info.bundle_id_str()
            && !id
                .strip_prefix(app_id)
                .is_some_and(|r| r.starts_with('.') && r.len() > 1)
        {
            sink.emit(
                plist_key(b, "CFBundleIdentifier"),
                format!("the bundle identifier '{id}' of the WatchKit app '{}' must have the companion app's identifier '{app_id}' followed by '.' as a prefix", b.path),
                format!("name the watch app '{app_id}.watchkitapp'"),
            );
        }
    }
}

fn check_watch_extension_app_id(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (i, b, info) in parsed(facts) {
        if b.kind != BundleKind::AppExtension || !on_watch_side(facts, i) {
            continue;
        }
        let (Some(expected), Some(owner)) = (
            owning_app(facts, i)
                .and_then(|o| o.info())
                .and_then(InfoPlist::bundle_id_str),
            owning_app(facts, i),
        ) else {
            continue;
        };
        if let Some(wk) = &info.wk_app_bundle_id
            && wk != expected
        {
            sink.emit(
                plist_key(b, "NSExtension.NSExtensionAttributes.WKAppBundleIdentifier"),
                format!("WKAppBundleIdentifier '{wk}' of the watch extension '{}' is not the watch app's identifier '{expected}' ({})", b.path, owner.path),
                format!("set WKAppBundleIdentifier to '{expected}'"),
            );
        }
    }
}

fn check_package_type(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        let Some(expected) = b.kind.expected_package_type() else {
            continue;
        };
        let actual = text_value(&info.package_type);
        let strict = is_app_like(b.kind);
        match actual {
            Some(a) if a == expected => {}
            // Xcode writes "$(PRODUCT_BUNDLE_PACKAGE_TYPE)" resolved; vendors' resource bundles often omit the key.
            None if !strict => {}
            None => sink.emit_as(
                Severity::Warning,
                plist_key(b, "CFBundlePackageType"),
                format!(
                    "the {} at '{}' has no CFBundlePackageType (expected '{expected}')",
                    b.kind.as_str(),
                    b.path
                ),
                format!("set CFBundlePackageType to '{expected}' ($(PRODUCT_BUNDLE_PACKAGE_TYPE))"),
            ),
            Some(a) => {
                let message = format!(
                    "the {} at '{}' has CFBundlePackageType '{a}', expected '{expected}'",
                    b.kind.as_str(),
                    b.path
                );
                let help =
                    format!("set CFBundlePackageType to '{expected}' for this kind of bundle");
                if strict {
                    sink.emit(plist_key(b, "CFBundlePackageType"), message, help);
                } else {
                    sink.emit_as(
                        Severity::Warning,
                        plist_key(b, "CFBundlePackageType"),
                        message,
                        help,
                    );
                }
            }
        }
    }
}

fn check_extension_point(facts: &Facts, _: &Context, sink: &mut Sink) {
    for (_, b, info) in parsed(facts) {
        if b.kind != BundleKind::AppExtension {
            continue;
        }
        if info.extension_point.is_none() {
            sink.emit(
                plist_key(b, "NSExtension.NSExtensionPointIdentifier"),
                format!("the extension '{}' has no NSExtension.NSExtensionPointIdentifier", b.path),
                "an app extension's Info.plist needs an NSExtension dictionary with NSExtensionPointIdentifier (and NSExtensionPrincipalClass or NSExtensionMainStoryboard)",
            );
        }
    }
}

fn check_encryption_declaration(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = facts.app();
    if let Some(info) = app.info()
        && info.uses_non_exempt_encryption.is_none()
    {
        sink.emit(
            plist_key(app, "ITSAppUsesNonExemptEncryption"),
            format!("'{}' does not declare ITSAppUsesNonExemptEncryption; TestFlight will hold every build until export compliance is answered by hand", app.path),
            "add ITSAppUsesNonExemptEncryption = NO (if the app only uses exempt encryption such as HTTPS) or YES with the export compliance documents",
        );
    }
}

fn check_macosx_junk(facts: &Facts, _: &Context, sink: &mut Sink) {
    if facts.archive.macosx_junk > 0 {
        sink.emit(
            Location::entry("__MACOSX"),
            format!("the archive contains {} __MACOSX/ entries (Finder's AppleDouble metadata)", facts.archive.macosx_junk),
            "export with xcodebuild -exportArchive, or zip with `ditto -c -k --keepParent` / `zip -X`, not Finder's Compress",
        );
    }
}

fn check_ds_store(facts: &Facts, _: &Context, sink: &mut Sink) {
    if let Some(first) = facts.archive.ds_store.first() {
        sink.emit(
            Location::entry(first.clone()),
            format!("the app contains {} .DS_Store file(s), e.g. {first}", facts.archive.ds_store.len()),
            "remove .DS_Store files from the resources copied into the app (they also change the code signature's sealed resources)",
        );
    }
}

fn check_unsafe_names(facts: &Facts, _: &Context, sink: &mut Sink) {
    for s in &facts.archive.suspicious_names {
        sink.emit(
            Location::entry(s.name.clone()),
            format!(
                "the archive entry name '{}' is unsafe ({})",
                s.name,
                s.problem.replace('-', " ")
            ),
            "rebuild the archive with relative, forward-slash names inside Payload/ only",
        );
    }
    for name in &facts.archive.stats.duplicate_names {
        sink.emit(
            Location::entry(name.clone()),
            format!("the archive lists the entry '{name}' more than once (ipagate, like most zip readers, reads the last copy)"),
            "rebuild the archive; duplicate names make readers disagree on which copy is the real one",
        );
    }
}

fn check_unpackable(facts: &Facts, _: &Context, sink: &mut Sink) {
    for e in &facts.archive.unpackable {
        sink.emit(
            Location::entry(e.path.clone()),
            format!("the archive entry '{}' is {}", e.path, e.problem),
            "App Store Connect unpacks .ipa files with stored and deflate entries only, unencrypted; export with xcodebuild -exportArchive",
        );
    }
}

fn check_symlinks(facts: &Facts, _: &Context, sink: &mut Sink) {
    for link in &facts.archive.symlinks {
        let target = link.target.as_deref().unwrap_or("(unreadable)");
        let message = format!("'{}' is a symbolic link to '{target}'", link.path);
        let help = "iOS bundles contain no symbolic links; copy the real file (a link that leaves the app is how archives attack the tools that unpack them)";
        if link.escapes {
            sink.emit(
                Location::entry(link.path.clone()),
                format!("{message}, outside the app"),
                help,
            );
        } else {
            sink.emit_as(
                Severity::Warning,
                Location::entry(link.path.clone()),
                message,
                help,
            );
        }
    }
}

fn check_layout(facts: &Facts, _: &Context, sink: &mut Sink) {
    let message = match facts.layout {
        Layout::NestedPayload => {
            "Payload/ is not at the root of the archive (it sits inside an extra folder)"
        }
        _ => return,
    };
    sink.emit(
        Location::entry(facts.app().path.clone()),
        message.to_string(),
        "App Store Connect takes an .ipa whose root holds Payload/<Name>.app; export with xcodebuild -exportArchive",
    );
}

fn check_multiple_apps(facts: &Facts, _: &Context, sink: &mut Sink) {
    if !facts.archive.extra_apps.is_empty() {
        sink.emit(
            Location::entry("Payload"),
            format!(
                "Payload/ holds more than one app: {} and {}",
                facts.app().path,
                facts.archive.extra_apps.join(", ")
            ),
            "an .ipa carries exactly one Payload/<Name>.app",
        );
    }
}

fn check_top_level(facts: &Facts, _: &Context, sink: &mut Sink) {
    const KNOWN: [&str; 5] = [
        "SwiftSupport",
        "Symbols",
        "BCSymbolMaps",
        "__MACOSX",
        "MessagesApplicationExtensionSupport",
    ];
    let extra: Vec<&str> = facts
        .archive
        .top_level
        .iter()
        .map(String::as_str)
        .filter(|t| !KNOWN.contains(t) && !t.starts_with("WatchKitSupport"))
        .collect();
    if facts.layout == Layout::Ipa && !extra.is_empty() {
        sink.emit(
            Location::entry(extra[0].to_string()),
            format!("the archive has entries outside Payload/: {}", extra.join(", ")),
            "an .ipa holds Payload/ and, optionally, SwiftSupport/, Symbols/ and BCSymbolMaps/; remove anything else",
        );
    }
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
            check: $check,
        }
    };
}

static RULES: &[Rule] = &[
    rule!(
        "ITMS-90036",
        "info-plist-missing",
        Error,
        All,
        check_info_plist,
        "an .app, .appex or .framework has no readable Info.plist",
        "Checks every nested bundle folder (.app, .appex, .framework, and any folder holding an Info.plist) for an Info.plist that parses as an XML or binary property list with a dictionary at its root.\n\nApp Store Connect answers \"This bundle is invalid - The Info.plist file for /Payload/X.app/... is missing or could not be read\" and rejects the upload; the device would refuse to install it too.\n\nFix: make sure the target's INFOPLIST_FILE is set and the bundle is copied whole; `plutil -lint` the file."
    ),
    rule!(
        "ITMS-90049",
        "bundle-id-invalid",
        Error,
        AppStore,
        check_bundle_id_chars,
        "CFBundleIdentifier missing, or with characters other than A-Z a-z 0-9 . -",
        "Checks that every bundle's CFBundleIdentifier is present and contains only alphanumerics, hyphens and periods, without empty components or a trailing period.\n\nApple rejects with \"The CFBundleIdentifier 'X' in the bundle contains disallowed characters\". App Store Connect has accepted '_' in the main app's identifier (reported as a warning here) but rejects it in frameworks and extensions.\n\nFix: rename PRODUCT_BUNDLE_IDENTIFIER, e.g. replace '_' by '-'."
    ),
    rule!(
        "ITMS-90056",
        "build-version-missing",
        Error,
        All,
        check_missing_build_version,
        "CFBundleVersion absent or empty in an app, extension or framework",
        "Checks CFBundleVersion in the app, its extensions, watch app, app clip and every embedded framework. An empty string counts as missing.\n\nApple rejects with \"The Info.plist file is missing the required key: CFBundleVersion\" - often for a vendor's framework.\n\nFix: set CFBundleVersion ($(CURRENT_PROJECT_VERSION)); ask the vendor for a framework whose Info.plist carries it."
    ),
    rule!(
        "ITMS-90057",
        "short-version-missing",
        Error,
        AppStore,
        check_missing_short_version,
        "CFBundleShortVersionString absent or empty in an app, extension or framework",
        "Checks CFBundleShortVersionString in the app, its extensions, watch app, app clip and every embedded framework. An empty string counts as missing.\n\nApple rejects with \"The Info.plist file is missing the required key: CFBundleShortVersionString\".\n\nFix: set CFBundleShortVersionString ($(MARKETING_VERSION))."
    ),
    rule!(
        "ITMS-90058",
        "build-version-invalid",
        Error,
        AppStore,
        check_invalid_build_version,
        "CFBundleVersion is not 1-3 period-separated integers",
        "Checks CFBundleVersion against ^[0-9]+(\\.[0-9]+){0,2}$ in every versioned bundle.\n\nApple rejects with \"The value for key CFBundleVersion [X] in the Info.plist file must be a period-separated list of at most three non-negative integers\": no letters, no suffixes, no fourth component.\n\nFix: use e.g. 42 or 1.2.42; `ipagate build-number next --apply` writes the next free one."
    ),
    rule!(
        "ITMS-90060",
        "short-version-invalid",
        Error,
        AppStore,
        check_invalid_short_version,
        "CFBundleShortVersionString is not 1-3 period-separated integers",
        "Checks CFBundleShortVersionString against ^[0-9]+(\\.[0-9]+){0,2}$ in every versioned bundle, frameworks included.\n\nApple rejects 4 components (7.1.2.1), -beta, +build, spaces: \"must be a period-separated list of at most three non-negative integers\".\n\nFix: use a plain marketing version such as 1.2.3; if a vendor framework carries a bad one, ask the vendor or patch its Info.plist before signing."
    ),
    rule!(
        "ITMS-90109",
        "capabilities-narrowed",
        Warning,
        AppStore,
        check_capabilities_narrowed,
        "UIRequiredDeviceCapabilities requires armv7 in an arm64-only app (heuristic)",
        "A heuristic from the Info.plist alone: 'armv7' in UIRequiredDeviceCapabilities of an app whose MinimumOSVersion (11.0 or later) only runs on arm64. App Store Connect compares capabilities with the previous version, which only it knows; a requirement added since then is rejected with \"The key UIRequiredDeviceCapabilities in the Info.plist may not contain values that would prevent this application from running on devices that were supported by previous versions\".\n\nFix: replace 'armv7' by 'arm64'; updates may only keep or relax their requirements."
    ),
    rule!(
        "ITMS-90171",
        "bundle-structure-invalid",
        Error,
        AppStore,
        check_bundle_structure,
        "a bundle in a place App Store Connect does not allow (e.g. a framework inside a resource bundle, an embedded .xctest)",
        "Checks the bundle tree: frameworks must sit in Frameworks/, extensions in PlugIns/ or Extensions/, watch apps in Watch/, app clips in AppClips/; test bundles (.xctest) must not be shipped. (Standalone Mach-O files are detected once the Mach-O reader lands.)\n\nApple rejects with \"Invalid Bundle Structure - The binary file 'X' is not permitted\".\n\nFix: correct the Copy Files / Embed phases of the target that copies the bundle."
    ),
    rule!(
        "ITMS-90205",
        "extension-nested-bundles",
        Error,
        AppStore,
        check_appex_nested,
        "an app extension contains frameworks or other bundles",
        "Checks that no .appex contains a nested .framework, .app or .appex.\n\nApple rejects with \"The bundle at 'X.app/PlugIns/Y.appex' contains disallowed nested bundles\".\n\nFix: embed frameworks in the containing app only (set the extension's frameworks to 'Do Not Embed')."
    ),
    rule!(
        "ITMS-90206",
        "extension-frameworks-folder",
        Error,
        AppStore,
        check_appex_frameworks,
        "an app extension contains a Frameworks folder",
        "Checks that no .appex contains a Frameworks entry.\n\nApple rejects with \"The bundle at 'X.app/PlugIns/Y.appex' contains disallowed file 'Frameworks'\" - usually left by a CocoaPods or Carthage copy script.\n\nFix: remove the folder from the extension; the app's Frameworks serve its extensions."
    ),
    rule!(
        "ITMS-90207",
        "executable-missing",
        Error,
        All,
        check_executable_present,
        "an app, extension, watch app or app clip lacks its CFBundleExecutable file",
        "Checks that each .app and .appex declares CFBundleExecutable and that the file it names exists in the bundle.\n\nApple rejects with \"Invalid Bundle - The bundle at 'X.app' does not contain a bundle executable\".\n\nFix: make sure the target builds its executable and CFBundleExecutable names it exactly."
    ),
    rule!(
        "ITMS-90360",
        "minimum-os-missing",
        Error,
        AppStore,
        check_min_os_missing,
        "MinimumOSVersion absent in an app, extension or framework",
        "Checks that every versioned bundle (frameworks included) declares MinimumOSVersion.\n\nApple rejects with \"A value for the key 'MinimumOSVersion' in bundle X is required\".\n\nFix: Xcode writes it from the deployment target; for a vendored framework ask the vendor or add the key."
    ),
    rule!(
        "ITMS-90362",
        "minimum-os-too-low",
        Error,
        AppStore,
        check_min_os_low,
        "MinimumOSVersion below 8.0 or not a version",
        "Checks that MinimumOSVersion of every iOS-side bundle parses as a version and is at least 8.0 (watchOS, tvOS and visionOS bundles carry their own versions and are skipped). The 8.0 floor is Apple's for apps that only support 64-bit devices; an app whose UIRequiredDeviceCapabilities requires armv7 declares 32-bit support and is not judged here.\n\nApple rejects with \"The value for the key 'MinimumOSVersion' in bundle X is invalid. The minimum value is 8.0\".\n\nFix: raise the deployment target."
    ),
    rule!(
        "ITMS-90424",
        "swift-support-empty",
        Error,
        AppStore,
        check_swift_support_empty,
        "SwiftSupport/ (or SwiftSupport/iphoneos/) exists but is empty",
        "Checks that a SwiftSupport folder, when present, is not empty, and that SwiftSupport/iphoneos/, when present, holds libraries. (A watch-only SwiftSupport/watchos/ is a valid export.)\n\nApple's processing e-mail says \"Invalid Swift Support - The SwiftSupport folder is empty\" and the build cannot be used.\n\nFix: let xcodebuild -exportArchive produce the .ipa."
    ),
    rule!(
        "ITMS-90426",
        "swift-support-missing",
        Error,
        AppStore,
        check_swift_support_missing,
        "the app embeds libswift*.dylib but the .ipa has no SwiftSupport/",
        "Checks that an .ipa whose app embeds Swift runtime dylibs (Frameworks/libswift*.dylib) also carries the top-level SwiftSupport folder. Not checked for .app folders and .xcarchives, which keep it elsewhere.\n\nApple's processing e-mail says \"Invalid Swift Support - The SwiftSupport folder is missing\".\n\nFix: export with xcodebuild -exportArchive instead of zipping Payload/ by hand."
    ),
    rule!(
        "ITMS-90473",
        "extension-version-mismatch",
        Warning,
        AppStore,
        check_appex_version_match,
        "an extension's versions differ from its containing app's",
        "Checks that each extension's CFBundleShortVersionString and CFBundleVersion equal those of the app (or watch app) that contains it.\n\nApple sends a warning e-mail: \"CFBundleShortVersionString Mismatch. The CFBundleShortVersionString value 'A' of extension 'X' does not match ... of its containing iOS application\".\n\nFix: drive both targets from the same MARKETING_VERSION and CURRENT_PROJECT_VERSION."
    ),
    rule!(
        "ITMS-90474",
        "ipad-multitasking-orientations",
        Error,
        AppStore,
        check_ipad_orientations,
        "an iPad app that supports multitasking does not list all four orientations",
        "When UIDeviceFamily contains 2 (iPad), UIRequiresFullScreen is not true and the build uses the iOS 9 SDK or later (when multitasking arrived; an unknown SDK counts as current), checks that UISupportedInterfaceOrientations~ipad (else UISupportedInterfaceOrientations) lists Portrait, PortraitUpsideDown, LandscapeLeft and LandscapeRight.\n\nApple rejects: \"Invalid bundle. The ... orientations were provided ... but you need to include all of ...\".\n\nFix: support all four orientations on iPad, or set UIRequiresFullScreen = YES."
    ),
    rule!(
        "ITMS-90475",
        "ipad-multitasking-launch-storyboard",
        Error,
        AppStore,
        check_ipad_launch_storyboard,
        "an iPad app that supports multitasking has no launch storyboard",
        "When UIDeviceFamily contains 2, UIRequiresFullScreen is not true and the build uses the iOS 9 SDK or later, checks that UILaunchStoryboardName (or the UILaunchScreen dictionary) is set.\n\nApple rejects: iPad multitasking requires a launch storyboard.\n\nFix: add a launch screen storyboard, or opt out of multitasking with UIRequiresFullScreen = YES."
    ),
    rule!(
        "ITMS-90502",
        "arm64-capability-missing",
        Info,
        AppStore,
        check_arm64_capability,
        "an arm64-only app (MinimumOSVersion >= 11) whose UIRequiredDeviceCapabilities lacks arm64",
        "From the Info.plist: a MinimumOSVersion of 11.0 or later means the binary can only contain arm64, yet UIRequiredDeviceCapabilities does not list 'arm64' (an info), or forbids it with 'arm64: false' (an error: no device could install the app).\n\nApple rejects with \"Apps that only contain the arm64 slice must also have 'arm64' in the list of UIRequiredDeviceCapabilities\". The Info.plist alone cannot decide the first case: Xcode 9-11 templates listed only 'armv7' for arm64-only apps and App Store Connect accepted them, so it stays an info until the Mach-O reader confirms the slices.\n\nFix: list 'arm64'."
    ),
    rule!(
        "ITMS-90542",
        "supported-platforms-invalid",
        Error,
        All,
        check_supported_platforms,
        "CFBundleSupportedPlatforms contains a simulator platform or more than one platform",
        "Checks CFBundleSupportedPlatforms of every bundle: it must not contain iPhoneSimulator (or any simulator) and, for apps, extensions and frameworks, must be a single-element array such as [\"iPhoneOS\"].\n\nApple rejects with \"Invalid CFBundleSupportedPlatforms value ... contains an invalid value '[iPhoneSimulator]'\" - typically a vendor framework or resource bundle built for the simulator.\n\nFix: use device builds (XCFrameworks) of every dependency."
    ),
    rule!(
        "ITMS-90530",
        "minimum-os-empty",
        Error,
        AppStore,
        check_min_os_empty,
        "MinimumOSVersion is an empty string",
        "Checks that MinimumOSVersion, when present, is not empty.\n\nApple rejects with \"Invalid MinimumOSVersion ... MinimumOSVersion in 'X' is ''\".\n\nFix: set the deployment target."
    ),
    rule!(
        "ITMS-90535",
        "unexpected-executable-key",
        Error,
        AppStore,
        check_unexpected_executable,
        "a framework or resource bundle declares CFBundleExecutable but has no such file",
        "Checks bundles other than apps and extensions (frameworks, resource bundles, stray folders with an Info.plist such as Base.lproj/) that declare CFBundleExecutable: the file must exist.\n\nApple rejects with \"Unexpected CFBundleExecutable Key. The bundle at 'Payload/X.app/Y.bundle' does not contain a bundle executable\".\n\nFix: remove CFBundleExecutable from the bundle's Info.plist and set CFBundlePackageType to BNDL (or remove a stray copied Info.plist)."
    ),
    rule!(
        "ITMS-90685",
        "bundle-id-collision",
        Error,
        All,
        check_bundle_id_collision,
        "two bundles in the app share one CFBundleIdentifier",
        "Checks that no CFBundleIdentifier is used by more than one bundle under the app (frameworks copied into an extension, a stray copy of the app's Info.plist).\n\nApple rejects with \"CFBundleIdentifier Collision. There is more than one bundle with the CFBundleIdentifier value 'X' under the iOS application 'Y.app'\".\n\nFix: embed each framework once, in the app; remove stray Info.plist copies."
    ),
    rule!(
        "ITMS-90713",
        "icon-name-missing",
        Error,
        AppStore,
        check_icon_name,
        "no CFBundleIconName (apps built with the iOS 11 SDK or later)",
        "Checks that the app (and app clip) declares CFBundleIconName at the top level or under CFBundleIcons.CFBundlePrimaryIcon, when built with the iOS 11 SDK or later (DTSDKName; an unknown SDK counts as current).\n\nApple rejects with \"Missing Info.plist value. A value for the Info.plist key 'CFBundleIconName' is missing in the bundle\".\n\nFix: put the app icon in an asset catalog and set the Primary App Icon Set Name; actool writes the key."
    ),
    rule!(
        "ITMS-90771",
        "bgtask-identifiers-missing",
        Error,
        AppStore,
        check_bgtask,
        "UIBackgroundModes has 'processing' but BGTaskSchedulerPermittedIdentifiers is missing or empty",
        "Checks every bundle whose UIBackgroundModes contains 'processing' for a non-empty BGTaskSchedulerPermittedIdentifiers.\n\nApple rejects with \"The Info.plist key 'BGTaskSchedulerPermittedIdentifiers' must contain a list of identifiers ... when 'UIBackgroundModes' has a value of 'processing'\".\n\nFix: list the identifiers you register, or drop the background mode."
    ),
    rule!(
        "ITMS-90806",
        "watch-framework-id-collision",
        Warning,
        AppStore,
        check_watch_framework_collision,
        "the same framework identifier is used in the iOS app and in the watch app",
        "Checks that a framework embedded in both the iOS app and the watch app does not use one CFBundleIdentifier for both builds.\n\nApple e-mails \"CFBundleIdentifier collision - Each bundle must have a unique bundle identifier\" (whether it blocks the build is unclear, hence a warning).\n\nFix: give the watchOS build of the framework its own identifier."
    ),
    rule!(
        "IPAGATE-1001",
        "extension-bundle-id-prefix",
        Error,
        All,
        check_extension_prefix,
        "an extension's identifier is not <app id>.<one component>",
        "Checks that each app extension's CFBundleIdentifier starts with its containing app's identifier followed by exactly one more component.\n\nApp Store Connect rejects with \"Bad bundle identifier ... should start with the application's bundle identifier and not contain more than one period after the application's bundle ID\"; installd refuses it too (AppexBundleIDNotPrefixed). Apple has no ITMS code for it, hence an ipagate code.\n\nFix: name the extension <app id>.<Name>."
    ),
    rule!(
        "IPAGATE-1002",
        "extension-point-missing",
        Error,
        All,
        check_extension_point,
        "an app extension has no NSExtension.NSExtensionPointIdentifier",
        "Checks that every .appex declares NSExtension with an NSExtensionPointIdentifier.\n\nWithout it the extension cannot be installed (installd 0xe80000b1) and App Store Connect refuses the bundle.\n\nFix: restore the NSExtension dictionary from the extension template."
    ),
    rule!(
        "IPAGATE-1003",
        "package-type-mismatch",
        Error,
        All,
        check_package_type,
        "CFBundlePackageType does not match the bundle kind (APPL, XPC!, FMWK, BNDL)",
        "Checks CFBundlePackageType against the kind of bundle: APPL for apps, watch apps and app clips, XPC! for extensions, FMWK for frameworks, BNDL for resource bundles. A mismatch in an app or extension is an error; a missing key, or a mismatch in a framework or resource bundle, a warning.\n\nApple documents the values; installd and App Store Connect rely on them to classify bundles (see ITMS-90535's advice to use BNDL).\n\nFix: set PRODUCT_BUNDLE_PACKAGE_TYPE / CFBundlePackageType."
    ),
    rule!(
        "IPAGATE-1004",
        "launch-screen-missing",
        Error,
        AppStore,
        check_launch_screen,
        "no launch storyboard (UILaunchStoryboardName) or UILaunchScreen, or the named storyboard is absent",
        "Checks that the app provides a launch screen: UILaunchStoryboardName naming a <name>.storyboardc that exists in the bundle (or a localized .lproj copy), or the UILaunchScreen dictionary (iOS 14+).\n\nSince April 2020 Apple requires every iPhone and iPad app built with the iOS 13 SDK or later to use a launch storyboard; apps without one are rejected at review or upload. Older SDKs are not judged by this rule (an unknown SDK counts as current), and an iPad app that multitasks is left to ITMS-90475.\n\nFix: add a LaunchScreen.storyboard to the app target and set 'Launch Screen File'."
    ),
    rule!(
        "IPAGATE-1005",
        "encryption-declaration-missing",
        Warning,
        AppStore,
        check_encryption_declaration,
        "ITSAppUsesNonExemptEncryption is not set",
        "Checks that the app declares ITSAppUsesNonExemptEncryption.\n\nWithout it, every build uploaded to App Store Connect waits in 'Missing Compliance' until someone answers the export compliance question by hand; TestFlight testers get nothing until then.\n\nFix: add ITSAppUsesNonExemptEncryption = NO when the app only uses exempt encryption (HTTPS, the OS's crypto), else YES with your compliance documents."
    ),
    rule!(
        "IPAGATE-1006",
        "simulator-build",
        Error,
        All,
        check_simulator_build,
        "a bundle was built for the simulator (DTPlatformName ends in 'simulator')",
        "Checks DTPlatformName of every app, extension and framework: a simulator platform means the build cannot run on devices.\n\nApp Store Connect rejects such builds (ITMS-90542 for the platforms key, ITMS-90087 for the slices).\n\nFix: archive for 'Any iOS Device (arm64)'."
    ),
    rule!(
        "IPAGATE-1101",
        "watch-companion-mismatch",
        Error,
        All,
        check_watch_companion,
        "a watch app's WKCompanionAppBundleIdentifier is not the iOS app's identifier",
        "Checks that each Watch/*.app declares WKCompanionAppBundleIdentifier equal to the containing iOS app's CFBundleIdentifier.\n\ninstalld refuses it (InvalidCompanionAppBundleIdentifier) and App Store Connect rejects the bundle.\n\nFix: set WKCompanionAppBundleIdentifier to the iOS app's identifier."
    ),
    rule!(
        "IPAGATE-1102",
        "watch-bundle-id-prefix",
        Error,
        All,
        check_watch_prefix,
        "a watch app's identifier does not start with <app id>.",
        "Checks that each Watch/*.app identifier starts with the iOS app's identifier followed by '.'.\n\nApple: \"The bundle identifier of a WatchKit app must have a prefix consisting of the companion app's bundle identifier, followed by a '.'\".\n\nFix: name it <app id>.watchkitapp."
    ),
    rule!(
        "IPAGATE-1103",
        "watch-extension-app-id",
        Error,
        All,
        check_watch_extension_app_id,
        "a watch extension's WKAppBundleIdentifier is not its watch app's identifier",
        "Checks that an extension inside a watch app declares WKAppBundleIdentifier (under NSExtension.NSExtensionAttributes) equal to the watch app's CFBundleIdentifier.\n\nThe watch app will not launch its extension otherwise, and App Store Connect rejects the mismatch.\n\nFix: set WKAppBundleIdentifier to the watch app's identifier."
    ),
    rule!(
        "IPAGATE-2001",
        "archive-macosx-junk",
        Warning,
        All,
        check_macosx_junk,
        "the archive contains __MACOSX/ entries",
        "Checks for Finder's AppleDouble folder __MACOSX/ in the archive.\n\nIt shows the .ipa was zipped by hand rather than exported; the junk travels with the upload and can confuse tools.\n\nFix: export with xcodebuild -exportArchive."
    ),
    rule!(
        "IPAGATE-2002",
        "archive-ds-store",
        Warning,
        All,
        check_ds_store,
        "the app contains .DS_Store files",
        "Checks for .DS_Store files inside the app.\n\nThey are Finder metadata copied with resources; they bloat the app and become sealed resources of the signature.\n\nFix: remove them from the resource folders copied into the app."
    ),
    rule!(
        "IPAGATE-2003",
        "archive-unsafe-name",
        Error,
        All,
        check_unsafe_names,
        "entry names with '..', absolute paths, backslashes, control characters, or duplicates",
        "Checks every entry name of the archive: no parent references, absolute paths, backslashes, control characters, over-long or over-deep names, and no name listed twice.\n\nSuch names are how archives attack the tools that unpack them (path traversal); no Xcode export contains them.\n\nFix: rebuild the archive from the build products."
    ),
    rule!(
        "IPAGATE-2004",
        "archive-layout",
        Error,
        AppStore,
        check_layout,
        "Payload/ is not at the root of the archive (it sits inside an extra top folder)",
        "Checks that an .ipa has Payload/<Name>.app at its root. A Payload/ inside an extra folder (a hand-zipped archive) can still be read and checked, but App Store Connect will not take it. A zipped .app (no Payload/ at all) is an accepted input form, like an .app folder or an .xcarchive, and is not reported.\n\nFix: export with xcodebuild -exportArchive, or zip the Payload folder itself."
    ),
    rule!(
        "IPAGATE-2005",
        "archive-multiple-apps",
        Error,
        All,
        check_multiple_apps,
        "Payload/ holds more than one .app",
        "Checks that Payload/ contains exactly one .app (the one checked is the first, by name, with an Info.plist).\n\nApp Store Connect expects exactly one app per .ipa.\n\nFix: export one app per .ipa."
    ),
    rule!(
        "IPAGATE-2006",
        "archive-unexpected-top-level",
        Warning,
        All,
        check_top_level,
        "entries outside Payload/ other than SwiftSupport/, Symbols/, BCSymbolMaps/",
        "Checks the top level of the .ipa for anything besides Payload/ and the folders Xcode adds (SwiftSupport/, Symbols/, BCSymbolMaps/, MessagesApplicationExtensionSupport/, WatchKitSupport*/).\n\nExtra files suggest a hand-made archive and are uploaded for nothing.\n\nFix: export with xcodebuild -exportArchive."
    ),
    rule!(
        "IPAGATE-2007",
        "archive-symlink",
        Error,
        All,
        check_symlinks,
        "symbolic links in the package (an error when the target leaves the app)",
        "Checks every entry for symbolic links. Xcode's iOS exports contain none; a link whose target is absolute or climbs out of the app is an error (the classic path-traversal attack on unzipping tools), any other link a warning. ipagate never follows a link: a linked Info.plist or executable counts as missing.\n\nFix: replace the link by the file it points to, or rebuild the archive with xcodebuild -exportArchive."
    ),
    rule!(
        "IPAGATE-2008",
        "archive-unpackable-entry",
        Error,
        All,
        check_unpackable,
        "entries that are encrypted or compressed with a method other than stored/deflate",
        "Checks every entry's compression method and encryption flag. Xcode writes stored and deflate entries only; an encrypted entry, or one compressed with LZMA, bzip2, zstd and the like, cannot be unpacked by App Store Connect or by the device, even though the rest of the archive reads fine. ipagate never inflates such entries, so the checks that need them cannot run either.\n\nFix: export with xcodebuild -exportArchive, or zip with plain deflate (zip -X, ditto -c -k)."
    ),
];

#[cfg(test)]
mod tests {
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
        // Bare numbers name the project's own codes too (issue 8: `explain 2002`); Apple's are five digits
        // starting with 9, ours four, so they never collide.
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
