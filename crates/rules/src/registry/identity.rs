//! Identifiers and versions in the Info.plist: CFBundleIdentifier characters, CFBundleVersion / CFBundleShortVersionString, MinimumOSVersion (itms-rules.md §2.1, §2.4).

use ipagate_formats::{BundleKind, Facts, InfoPlist, Text};

use super::helpers::{
    is_valid_version, is_versioned, on_watch_side, os_version, owning_app, parsed, plist_key,
    text_value, version_lt,
};
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::Severity;

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

pub(super) static RULES: &[Rule] = &[
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
        "ITMS-90473",
        "extension-version-mismatch",
        Warning,
        AppStore,
        check_appex_version_match,
        "an extension's versions differ from its containing app's",
        "Checks that each extension's CFBundleShortVersionString and CFBundleVersion equal those of the app (or watch app) that contains it.\n\nApple sends a warning e-mail: \"CFBundleShortVersionString Mismatch. The CFBundleShortVersionString value 'A' of extension 'X' does not match ... of its containing iOS application\".\n\nFix: drive both targets from the same MARKETING_VERSION and CURRENT_PROJECT_VERSION."
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
];
