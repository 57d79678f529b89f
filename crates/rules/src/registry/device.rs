//! What the Info.plist promises the device: capabilities, platforms, iPad multitasking, launch screen, icon name, background tasks, export compliance (itms-rules.md §2.4, §2.5).

use ipagate_formats::{Bundle, BundleKind, Facts, InfoPlist};

use super::helpers::{is_versioned, os_version, parsed, plist_key, text_value, version_lt};
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::Severity;

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

/// `MinimumOSVersion` 11.0 or later only runs on arm64 devices, so the binary can only be arm64.
fn arm64_only(info: &InfoPlist) -> bool {
    text_value(&info.minimum_os)
        .and_then(os_version)
        .is_some_and(|v| !version_lt(&v, &[11, 0]))
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

fn check_arm64_capability(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(info) = app.info() else { return };
    let Some(caps) = &info.required_capabilities else {
        return;
    };
    // The binary decides when it was read; the Info.plist's MinimumOSVersion otherwise.
    let binary_says = super::macho::app_is_arm64_only(facts);
    if binary_says == Some(false) || (binary_says.is_none() && !arm64_only(info)) {
        return;
    }
    let min = text_value(&info.minimum_os).unwrap_or_default();
    let loc = plist_key(app, "UIRequiredDeviceCapabilities");
    if binary_says == Some(true) && !caps.required.iter().any(|c| c == "arm64") {
        sink.emit_as(
            Severity::Error,
            loc,
            format!("the app's binary contains only the arm64 slice but UIRequiredDeviceCapabilities does not list 'arm64' (MinimumOSVersion {min})"),
            "add 'arm64' to UIRequiredDeviceCapabilities",
        );
        return;
    }
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
            "add 'arm64' to UIRequiredDeviceCapabilities",
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
            // The catalog may already hold the set: then only the build setting is missing.
            let sets = b
                .icons
                .as_ref()
                .and_then(|i| i.catalog.as_ref())
                .map(|c| c.icon_facets.join(", "))
                .filter(|s| !s.is_empty());
            let help = match sets {
                Some(sets) => format!("Assets.car already holds the icon set(s) {sets}: set 'Primary App Icon Set Name' (ASSETCATALOG_COMPILER_APPICON_NAME) to one of them; actool then writes CFBundleIconName"),
                None => "add an AppIcon set to an asset catalog and set 'Primary App Icon Set Name' (ASSETCATALOG_COMPILER_APPICON_NAME); actool then writes CFBundleIconName".to_string(),
            };
            sink.emit(
                plist_key(b, "CFBundleIcons.CFBundlePrimaryIcon.CFBundleIconName"),
                format!("'{}' has no CFBundleIconName; apps built with the iOS 11 SDK or later must provide their icon in an asset catalog", b.path),
                help,
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

pub(super) static RULES: &[Rule] = &[
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
        "From the Info.plist: a MinimumOSVersion of 11.0 or later means the binary can only contain arm64, yet UIRequiredDeviceCapabilities does not list 'arm64' (an info), or forbids it with 'arm64: false' (an error: no device could install the app).\n\nApple rejects with \"Apps that only contain the arm64 slice must also have 'arm64' in the list of UIRequiredDeviceCapabilities\". The Info.plist alone cannot decide the first case: Xcode 9-11 templates listed only 'armv7' for arm64-only apps and App Store Connect accepted them, so it stays an info unless the app's executable was read: then a binary with only arm64 slices makes it an error, and one with 32-bit slices clears it.\n\nFix: list 'arm64'."
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
];
