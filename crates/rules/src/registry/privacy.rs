//! Privacy manifests, listed SDKs and toolchain deadlines (itms-rules.md §2.3, §2.9, §3, §4),
//! judged with the dated data of [`crate::data`]. A requirement not yet in force on `--as-of`
//! is a warning naming its date; from that date on it is the rule's severity (unless the rule is
//! configured, which wins).

use ipagate_formats::privacy::ManifestState;
use ipagate_formats::{Bundle, BundleKind, Facts};

use super::helpers::version_lt;
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

/// Emits at the rule's severity from its enforcement date on, as a warning naming the date before.
fn emit_dated(
    sink: &mut Sink,
    ctx: &Context,
    code: &str,
    location: Location,
    message: String,
    help: &str,
) {
    match ctx.data.enforced_from(code) {
        Some(date) if ctx.as_of < date => sink.emit_as(
            Severity::Warning,
            location,
            format!("{message} (App Store Connect enforces this from {date})"),
            help,
        ),
        _ => sink.emit(location, message, help),
    }
}

/// A value from the archive for a message: printable, at most 60 characters.
fn shown(value: &str) -> String {
    let clean = ipagate_formats::sanitize::for_terminal(value);
    match clean.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &clean[..cut]),
        None => clean,
    }
}

fn manifests(facts: &Facts) -> impl Iterator<Item = (&Bundle, &ManifestState)> {
    facts
        .bundles
        .iter()
        .filter_map(|b| b.privacy_manifest.as_ref().map(|m| (b, m)))
}

fn check_manifest_invalid(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (_, state) in manifests(facts) {
        let problem = match state {
            ManifestState::Unreadable { problem, .. } => problem.clone(),
            ManifestState::Parsed { manifest, .. } if !manifest.problems.is_empty() => {
                let shown: Vec<&str> = manifest
                    .problems
                    .iter()
                    .take(3)
                    .map(String::as_str)
                    .collect();
                let more = manifest.problems.len().saturating_sub(3);
                format!(
                    "{}{}",
                    shown.join("; "),
                    if more > 0 {
                        format!(" (and {more} more)")
                    } else {
                        String::new()
                    }
                )
            }
            ManifestState::Parsed { .. } => continue,
        };
        emit_dated(
            sink,
            ctx,
            "ITMS-91056",
            Location::entry(state.path()),
            format!(
                "the privacy manifest {} is invalid: {problem}",
                state.path()
            ),
            "write PrivacyInfo.xcprivacy as a property list with only NSPrivacyTracking (boolean), NSPrivacyTrackingDomains (strings), NSPrivacyCollectedDataTypes and NSPrivacyAccessedAPITypes (dictionaries); Xcode's App Privacy file template does",
        );
    }
}

fn check_api_category(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (_, state) in manifests(facts) {
        let Some(m) = state.manifest() else { continue };
        for (i, api) in m.accessed_apis.iter().enumerate() {
            let valid = api
                .category
                .as_deref()
                .is_some_and(|c| ctx.data.reasons_of(c).is_some());
            if !valid {
                let known: Vec<String> = ctx
                    .data
                    .privacy
                    .categories
                    .keys()
                    .map(|k| format!("NSPrivacyAccessedAPICategory{k}"))
                    .collect();
                emit_dated(
                    sink,
                    ctx,
                    "ITMS-91054",
                    Location::key(
                        state.path(),
                        format!("NSPrivacyAccessedAPITypes[{i}].NSPrivacyAccessedAPIType"),
                    ),
                    format!(
                        "{} declares the API category {}, which is not one Apple defines",
                        state.path(),
                        api.category
                            .as_deref()
                            .map_or("(none)".to_string(), |c| format!("{:?}", shown(c))),
                    ),
                    &format!("use one of: {}", known.join(", ")),
                );
            }
        }
    }
}

fn check_api_reason(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (bundle, state) in manifests(facts) {
        let Some(m) = state.manifest() else { continue };
        for (i, api) in m.accessed_apis.iter().enumerate() {
            let Some((category, valid)) = api
                .category
                .as_deref()
                .and_then(|c| ctx.data.reasons_of(c).map(|v| (c, v)))
            else {
                continue; // ITMS-91054's finding
            };
            let location = Location::key(
                state.path(),
                format!("NSPrivacyAccessedAPITypes[{i}].NSPrivacyAccessedAPITypeReasons"),
            );
            let help = format!(
                "the reasons Apple accepts for {category} are {}",
                valid.join(", ")
            );
            if api.reasons.is_empty() {
                emit_dated(
                    sink,
                    ctx,
                    "ITMS-91055",
                    location,
                    format!("{} declares {category} without a reason", state.path()),
                    &help,
                );
                continue;
            }
            for reason in &api.reasons {
                if !valid.contains(reason) {
                    emit_dated(
                        sink,
                        ctx,
                        "ITMS-91055",
                        location.clone(),
                        format!(
                            "{} gives the reason {:?} for {category}, which is not one of its reasons",
                            state.path(),
                            shown(reason)
                        ),
                        &help,
                    );
                } else if bundle.kind == BundleKind::App
                    && ctx.data.privacy.sdk_only_reasons.contains(reason)
                {
                    sink.emit_as(
                        Severity::Warning,
                        location.clone(),
                        format!("{} gives the reason {reason} for {category}, which only a third-party SDK may give, in the app's own manifest", state.path()),
                        "declare the app's own reason for this API; SDK-only reasons belong in the SDK's manifest",
                    );
                }
            }
        }
    }
}

fn tracking_problem(state: &ManifestState) -> Option<String> {
    let m = state.manifest()?;
    (m.tracking != Some(true) && !m.tracking_domains.is_empty()).then(|| {
        format!(
            "{} lists {} tracking domain(s) but NSPrivacyTracking is {}",
            state.path(),
            m.tracking_domains.len(),
            match m.tracking {
                Some(_) => "false",
                None => "not set",
            }
        )
    })
}

const TRACKING_HELP: &str = "set NSPrivacyTracking to true when the app or SDK tracks, or empty NSPrivacyTrackingDomains (an array holding an empty string is not empty)";

fn check_tracking(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (bundle, state) in manifests(facts) {
        if bundle.kind == BundleKind::ResourceBundle {
            continue; // ITMS-91107
        }
        if let Some(message) = tracking_problem(state) {
            emit_dated(
                sink,
                ctx,
                "ITMS-91064",
                Location::key(state.path(), "NSPrivacyTrackingDomains"),
                message,
                TRACKING_HELP,
            );
        }
    }
}

fn check_tracking_elsewhere(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for (bundle, state) in manifests(facts) {
        if bundle.kind != BundleKind::ResourceBundle {
            continue;
        }
        if let Some(message) = tracking_problem(state) {
            emit_dated(
                sink,
                ctx,
                "ITMS-91107",
                Location::key(state.path(), "NSPrivacyTrackingDomains"),
                message,
                TRACKING_HELP,
            );
        }
    }
}

/// The listed SDK a resource bundle belongs to, by its name: `Alamofire_Alamofire.bundle`
/// (SwiftPM: package_target), `FirebaseCore_Privacy.bundle` (CocoaPods), `url_launcher_ios_privacy.bundle`
/// (Flutter plugins), or the SDK's own name.
fn listed_sdk_of_bundle<'a>(bundle_name: &str, listed: &'a [String]) -> Option<&'a str> {
    let name = bundle_name.strip_suffix(".bundle")?;
    let mut candidates = vec![name];
    for suffix in ["_Privacy", "_privacy"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            candidates.push(stem);
        }
    }
    for (i, _) in name.match_indices('_') {
        candidates.push(&name[..i]);
        candidates.push(&name[i + 1..]);
    }
    candidates
        .into_iter()
        .find_map(|c| listed.iter().find(|l| *l == c).map(String::as_str))
}

fn list_note(ctx: &Context) -> String {
    format!(
        "{} in the data of {}",
        if ctx.data.privacy.third_party_sdks.count_verified {
            "list verified"
        } else {
            "list length unverified"
        },
        ctx.data.privacy.version
    )
}

/// Whether `index` lies inside a framework (its resources are judged with the framework).
fn inside_framework(facts: &Facts, index: usize) -> bool {
    let mut at = facts.bundles[index].parent;
    while let Some(i) = at {
        if facts.bundles[i].kind == BundleKind::Framework {
            return true;
        }
        at = facts.bundles[i].parent;
    }
    false
}

/// Listed SDKs a binary contains statically: Swift modules of the classes it defines, and the
/// Objective-C classes only a listed SDK defines. SDK → the names that revealed it.
fn static_sdks<'a>(
    binary: &'a ipagate_formats::binaries::Binary,
    ctx: &'a Context,
) -> std::collections::BTreeMap<&'a str, Vec<String>> {
    let sdks = &ctx.data.privacy.third_party_sdks;
    let mut found: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for slice in &binary.slices {
        let Some(Ok(symbols)) = &slice.symbols else {
            continue;
        };
        for module in symbols.swift_modules() {
            if let Some(sdk) = sdks.names.iter().find(|n| *n == module) {
                let shown = format!("Swift module {module}");
                let names = found.entry(sdk.as_str()).or_default();
                if !names.contains(&shown) {
                    names.push(shown);
                }
            }
        }
        for (sdk, classes) in &sdks.static_classes {
            for class in classes {
                if symbols.classnames.binary_search(class).is_ok() {
                    let shown = format!("class {class}");
                    let names = found.entry(sdk.as_str()).or_default();
                    if !names.contains(&shown) {
                        names.push(shown);
                    }
                }
            }
        }
    }
    found
}

fn check_listed_sdk(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let listed = &ctx.data.privacy.third_party_sdks.names;
    for (i, b) in facts.bundles.iter().enumerate() {
        match b.kind {
            BundleKind::Framework => {
                let name = b.name().trim_end_matches(".framework");
                if !listed.iter().any(|l| l == name) {
                    continue;
                }
                // The framework's own manifest, or one in a resource bundle it carries.
                let covered = b.privacy_manifest.is_some()
                    || facts.bundles.iter().any(|n| {
                        n.parent == Some(i)
                            && n.kind == BundleKind::ResourceBundle
                            && n.privacy_manifest.is_some()
                    });
                if !covered {
                    emit_dated(
                        sink,
                        ctx,
                        "ITMS-91061",
                        Location::entry(&b.path),
                        format!(
                            "{name}.framework is on Apple's list of SDKs that must ship a privacy manifest, and has none ({})",
                            list_note(ctx)
                        ),
                        &format!(
                            "update {name} to a release that ships PrivacyInfo.xcprivacy (most listed SDKs do since 2024)"
                        ),
                    );
                }
            }
            // A listed SDK linked statically brings its resource bundle: one without a
            // manifest is an SDK release from before the requirement.
            BundleKind::ResourceBundle if !inside_framework(facts, i) => {
                let Some(sdk) = listed_sdk_of_bundle(b.name(), listed) else {
                    continue;
                };
                if b.privacy_manifest.is_none() {
                    emit_dated(
                        sink,
                        ctx,
                        "ITMS-91061",
                        Location::entry(&b.path),
                        format!(
                            "{} is the resource bundle of {sdk}, which is on Apple's list of SDKs that must ship a privacy manifest, and it has none ({})",
                            b.name(),
                            list_note(ctx)
                        ),
                        &format!(
                            "update {sdk} to a release that ships PrivacyInfo.xcprivacy in its resource bundle"
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    // Statically linked copies: the binary's own classes reveal the SDK; its manifest must
    // come in a resource bundle named after it, shipped with the binary's app or extension.
    for binary in &facts.binaries {
        let Some(bundle) = binary.bundle else {
            continue;
        };
        if facts.bundles[bundle].kind == BundleKind::Framework
            && listed
                .iter()
                .any(|l| facts.bundles[bundle].name().trim_end_matches(".framework") == l)
        {
            continue; // the framework case above
        }
        for (sdk, revealed) in static_sdks(binary, ctx) {
            if facts.bundles.iter().any(|b| {
                b.kind == BundleKind::Framework && b.name().trim_end_matches(".framework") == sdk
            }) {
                continue; // linked dynamically as well: judged as a framework
            }
            let bundle_of_sdk = facts.bundles.iter().enumerate().find(|(i, b)| {
                b.kind == BundleKind::ResourceBundle
                    && !inside_framework(facts, *i)
                    && listed_sdk_of_bundle(b.name(), listed) == Some(sdk)
            });
            match bundle_of_sdk {
                // With a manifest: covered; without: reported above.
                Some(_) => {}
                None => sink.emit_as(
                    Severity::Warning,
                    Location::entry(&binary.path),
                    format!(
                        "{} contains the listed SDK {sdk} statically ({}), and no resource bundle named after {sdk} ships its privacy manifest (heuristic: the binary's own class names; {})",
                        binary.path,
                        revealed.join(", "),
                        list_note(ctx)
                    ),
                    format!(
                        "update {sdk} to a release that ships PrivacyInfo.xcprivacy (SwiftPM and CocoaPods put it in a resource bundle such as {sdk}_Privacy.bundle), or check that its declarations are in the app's manifest"
                    ),
                ),
            }
        }
    }
}

/// ITMS-90078: code that registers with APNs, in an app or extension whose signature has no
/// aps-environment entitlement. Judged per app or extension: its main executable's
/// entitlements, and the push triggers of every binary it ships (frameworks included).
fn check_push_entitlement(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    use std::collections::BTreeMap;
    let push = &ctx.data.privacy.push;
    let mut owners: BTreeMap<usize, (String, &str)> = BTreeMap::new();
    for binary in &facts.binaries {
        let Some(owner) = binary.bundle.and_then(|b| purpose_owner(facts, b)) else {
            continue;
        };
        let trigger = binary.slices.iter().find_map(|slice| {
            let Some(Ok(symbols)) = &slice.symbols else {
                return None;
            };
            push.selectors
                .iter()
                .find(|x| symbols.selectors.binary_search(x).is_ok())
                .map(|x| format!("the selector {x}"))
                .or_else(|| {
                    symbols
                        .classes()
                        .find(|c| push.classes.iter().any(|x| x == c))
                        .map(|c| format!("the class {c}"))
                })
        });
        if let Some(trigger) = trigger {
            owners
                .entry(owner)
                .or_insert((trigger, binary.path.as_str()));
        }
    }
    for (owner, (trigger, binary)) in owners {
        let Some(main) = facts.binaries.iter().find(|b| {
            b.bundle == Some(owner)
                && b.role == ipagate_formats::binaries::BinaryRole::MainExecutable
        }) else {
            continue;
        };
        // Unsigned or unreadable signatures are the signing rules' findings.
        let Some(slice) = main.slices.iter().find(|s| s.signature().is_some()) else {
            continue;
        };
        let has = matches!(&slice.entitlements, Some(Ok(e)) if e.contains_key("aps-environment"));
        if has {
            continue;
        }
        sink.emit(
            Location::entry(&main.path),
            format!(
                "{binary} references {trigger} (registration with the Apple Push Notification service), but the signature of {} has no aps-environment entitlement (heuristic: Apple's detection is private)",
                main.path
            ),
            "enable the Push Notifications capability for the target and sign with a profile that includes it; if the code is an SDK's and the app does not use push, the warning can be ignored",
        );
    }
}

/// `iphoneos26.0` → `[26, 0]`; `DTPlatformVersion` (`26.0`) as a fallback.
fn sdk_version(info: &ipagate_formats::InfoPlist) -> Option<(String, Vec<u64>)> {
    let parse = |s: &str| -> Option<Vec<u64>> {
        let v: Option<Vec<u64>> = s.split('.').map(|p| p.parse().ok()).collect();
        v.filter(|v| !v.is_empty())
    };
    if let Some(name) = &info.dt_sdk_name {
        let digits = name.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        if let Some(v) = parse(digits) {
            return Some((name.clone(), v));
        }
    }
    let version = info.dt_platform_version.as_ref()?;
    parse(version).map(|v| (version.clone(), v))
}

fn check_sdk_too_old(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(info) = app.info() else { return };
    let Some(platform) = info.dt_platform_name.as_deref() else {
        return;
    };
    let Some((shown, sdk)) = sdk_version(info) else {
        return;
    };
    let (current, next) = ctx.data.sdk_minimum(platform, ctx.as_of);
    let need = |m: &crate::data::SdkMinimum| -> Vec<u64> {
        m.sdk.split('.').filter_map(|p| p.parse().ok()).collect()
    };
    let location = Location::key(app.info_plist_path(), "DTSDKName");
    if let Some(m) = current
        && version_lt(&sdk, &need(m))
    {
        sink.emit(
            location,
            format!("the app was built with the {shown} SDK; since {} App Store Connect requires the {platform} {} SDK or later (Xcode {})", m.effective, m.sdk, m.xcode),
            format!("build with Xcode {} or later", m.xcode),
        );
    } else if let Some(m) = next
        && version_lt(&sdk, &need(m))
    {
        sink.emit_as(
            Severity::Warning,
            location,
            format!("the app was built with the {shown} SDK; from {} App Store Connect requires the {platform} {} SDK or later (Xcode {})", m.effective, m.sdk, m.xcode),
            format!("move to Xcode {} before {}", m.xcode, m.effective),
        );
    }
}

fn check_beta_toolchain(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let app = facts.app();
    let Some(info) = app.info() else { return };
    let Some(build) = info.dt_xcode_build.as_deref() else {
        return;
    };
    if let Some(beta) = ctx
        .data
        .deadlines
        .beta_toolchain
        .iter()
        .find(|b| b.xcode_build == build)
    {
        sink.emit(
            Location::key(app.info_plist_path(), "DTXcodeBuild"),
            format!(
                "the app was built with Xcode build {build} ({}), which App Store Connect refused",
                beta.note
            ),
            "build with a released (non-beta) Xcode",
        );
    }
}

/// The required-reason categories a binary's imports and selectors reveal, each with the names
/// that revealed it (sorted, deduplicated).
pub(crate) fn categories_used(
    binary: &ipagate_formats::binaries::Binary,
    data: &crate::data::Data,
) -> Vec<(String, Vec<String>)> {
    let mut found: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> =
        Default::default();
    for slice in &binary.slices {
        let Some(Ok(symbols)) = &slice.symbols else {
            continue;
        };
        for (category, names) in &data.privacy.symbols {
            for name in names {
                let imported = symbols.imports.iter().any(|s| {
                    // `stat$INODE64`-style variants count as the function.
                    let base = if s.starts_with("OBJC_") {
                        s.as_str()
                    } else {
                        s.split('$').next().unwrap_or(s)
                    };
                    base == name || s.strip_prefix("OBJC_CLASS_$_") == Some(name)
                });
                let selector = symbols.selectors.binary_search(name).is_ok();
                if imported || selector {
                    found
                        .entry(category.as_str())
                        .or_default()
                        .insert(name.clone());
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(c, names)| (c.to_string(), names.into_iter().collect()))
        .collect()
}

/// The manifests that cover a binary: its bundle's, and those of the resource bundles that
/// bundle ships (statically linked SDKs carry their manifest in a resource bundle).
pub(crate) fn covering_manifests(facts: &Facts, bundle: usize) -> Vec<&ManifestState> {
    let mut out: Vec<&ManifestState> = facts.bundles[bundle].privacy_manifest.iter().collect();
    out.extend(
        facts
            .bundles
            .iter()
            .filter(|b| b.parent == Some(bundle) && b.kind == BundleKind::ResourceBundle)
            .filter_map(|b| b.privacy_manifest.as_ref()),
    );
    out
}

fn check_api_undeclared(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    for binary in &facts.binaries {
        let Some(bundle) = binary.bundle else {
            continue;
        };
        let used = categories_used(binary, &ctx.data);
        if used.is_empty() {
            continue;
        }
        let manifests = covering_manifests(facts, bundle);
        for (category, names) in used {
            let value = format!("NSPrivacyAccessedAPICategory{category}");
            let valid = ctx.data.reasons_of(&value).unwrap_or_default();
            let declared = manifests.iter().filter_map(|m| m.manifest()).any(|m| {
                m.accessed_apis.iter().any(|api| {
                    api.category.as_deref() == Some(value.as_str())
                        && api.reasons.iter().any(|r| valid.contains(r))
                })
            });
            if declared {
                continue;
            }
            let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
            let where_ = match manifests.first() {
                Some(m) => format!("{} does not declare it with a valid reason", m.path()),
                None => format!(
                    "{} ships no PrivacyInfo.xcprivacy",
                    facts.bundles[bundle].path
                ),
            };
            emit_dated(
                sink,
                ctx,
                "ITMS-91053",
                Location::entry(&binary.path),
                format!(
                    "{} uses {value} ({}{}); {where_}",
                    binary.path,
                    shown.join(", "),
                    if names.len() > 3 {
                        format!(" and {} more", names.len() - 3)
                    } else {
                        String::new()
                    },
                ),
                &format!(
                    "add {value} to NSPrivacyAccessedAPITypes in {}/PrivacyInfo.xcprivacy with the reason that applies ({})",
                    facts.bundles[bundle].path,
                    valid.join(", ")
                ),
            );
        }
    }
}

/// The nearest bundle at or above `index` that has its own Info.plist purpose strings (an app,
/// extension, watch app or App Clip): a framework's code is judged against its app's keys.
fn purpose_owner(facts: &Facts, mut index: usize) -> Option<usize> {
    loop {
        if matches!(
            facts.bundles[index].kind,
            BundleKind::App | BundleKind::AppExtension | BundleKind::WatchApp | BundleKind::AppClip
        ) {
            return Some(index);
        }
        index = facts.bundles[index].parent?;
    }
}

fn check_purpose_strings(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    use std::collections::BTreeMap;
    // owner bundle -> key -> (trigger, binary)
    let mut needed: BTreeMap<usize, BTreeMap<&str, (String, &str)>> = BTreeMap::new();
    for binary in &facts.binaries {
        let Some(owner) = binary.bundle.and_then(|b| purpose_owner(facts, b)) else {
            continue;
        };
        for slice in &binary.slices {
            let symbols = match &slice.symbols {
                Some(Ok(s)) => Some(s),
                _ => None,
            };
            let entitlements = match &slice.entitlements {
                Some(Ok(d)) => Some(d),
                _ => None,
            };
            for t in &ctx.data.privacy.purpose_string {
                let trigger = symbols
                    .and_then(|s| {
                        s.classes()
                            .find(|c| t.classes.iter().any(|x| x == c))
                            .map(|c| format!("the class {c}"))
                            .or_else(|| {
                                t.selectors
                                    .iter()
                                    .find(|x| s.selectors.binary_search(x).is_ok())
                                    .map(|x| format!("the selector {x}"))
                            })
                    })
                    .or_else(|| {
                        entitlements.and_then(|e| {
                            t.entitlements
                                .iter()
                                .find(|x| e.contains_key(x.as_str()))
                                .map(|x| format!("the entitlement {x}"))
                        })
                    });
                if let Some(trigger) = trigger {
                    needed
                        .entry(owner)
                        .or_default()
                        .entry(t.key.as_str())
                        .or_insert((trigger, binary.path.as_str()));
                }
            }
        }
    }
    for (owner, keys) in needed {
        let bundle = &facts.bundles[owner];
        let Some(info) = bundle.info() else { continue };
        for (key, (trigger, binary)) in keys {
            let Some(t) = ctx
                .data
                .privacy
                .purpose_string
                .iter()
                .find(|t| t.key == key)
            else {
                continue;
            };
            let has = |k: &str| {
                info.raw
                    .get(k)
                    .and_then(|v| v.as_string())
                    .is_some_and(|s| !s.trim().is_empty())
            };
            let keys: Vec<&str> = std::iter::once(key)
                .chain(t.alternatives.iter().map(String::as_str))
                .collect();
            let localized_has = |l: &ipagate_formats::LocalizedInfo| {
                l.strings.as_ref().is_ok_and(|m| {
                    keys.iter()
                        .any(|k| m.get(*k).is_some_and(|v| !v.trim().is_empty()))
                })
            };
            let localized_in: Vec<&str> = bundle
                .localized_info
                .iter()
                .filter(|l| localized_has(l))
                .map(|l| l.locale.as_str())
                .collect();
            if !keys.iter().any(|k| has(k)) {
                let only_localized = if localized_in.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; it is only in the InfoPlist.strings of {} (Apple requires it in the Info.plist as well)",
                        localized_in.join(", ")
                    )
                };
                sink.emit(
                    Location::key(bundle.info_plist_path(), key),
                    format!("{binary} references {trigger}, but {} has no {key}{only_localized} (heuristic: Apple's detection is private)", bundle.info_plist_path()),
                    format!("add {key} to the Info.plist with a sentence that says why the app needs the access (and to every InfoPlist.strings the app localises)"),
                );
                continue;
            }
            // Localised in some folders: Apple wants it "across each of your app's localization
            // folders". Not localised at all: the Info.plist's value serves every locale.
            if localized_in.is_empty() {
                continue;
            }
            let missing: Vec<&str> = bundle
                .localized_info
                .iter()
                .filter(|l| l.strings.is_ok() && !localized_has(l))
                .map(|l| l.locale.as_str())
                .collect();
            if !missing.is_empty() {
                sink.emit(
                    Location::key(bundle.info_plist_path(), key),
                    format!(
                        "{binary} references {trigger}; {key} is localised for {} but missing or empty in the InfoPlist.strings of {} (heuristic: Apple's detection is private)",
                        localized_in.join(", "),
                        missing.join(", ")
                    ),
                    format!("add {key} to {}.lproj/InfoPlist.strings, or remove it from every InfoPlist.strings so the Info.plist's sentence serves all languages", missing[0]),
                );
            }
        }
    }
}

fn check_listed_binary_sdk(facts: &Facts, ctx: &Context, sink: &mut Sink) {
    let listed = &ctx.data.privacy.third_party_sdks.names;
    for b in &facts.bundles {
        if b.kind != BundleKind::Framework {
            continue;
        }
        let name = b.name().trim_end_matches(".framework");
        if listed.iter().any(|l| l == name) {
            sink.emit(
                Location::entry(&b.path),
                format!("{name}.framework is on Apple's list of SDKs that must be signed by their authors when added as a binary (XCFramework) dependency; the IPA cannot show that signature (frameworks are re-signed on export)"),
                format!("if {name} comes as a prebuilt XCFramework, use a release its authors signed (Xcode shows the signature in the XCFramework's inspector); built from source (SwiftPM, CocoaPods source pods) it needs none"),
            );
        }
    }
}

#[rustfmt::skip]
pub(super) static RULES: &[Rule] = &[
    rule!("ITMS-91065", "listed-sdk-signature-unknown", Warning, AppStore, check_listed_binary_sdk,
        "a framework on Apple's third-party SDK list: its XCFramework signature cannot be checked in an IPA",
        "Reports every embedded framework on Apple's list of commonly used third-party SDKs (privacy.toml). Apple requires those added as binary dependencies to be signed by their authors; the signature lives on the XCFramework and is gone from the exported IPA (frameworks are re-signed), so offline this can only be a reminder.\n\nApple blocks the build with ITMS-91065 \"Missing signature\".\n\nFix: use a signed XCFramework release of the SDK, or build it from source."),
    rule!(symbols; "ITMS-90078", "push-entitlement-missing", Warning, AppStore, check_push_entitlement,
        "code registers for remote notifications but the app's signature has no aps-environment entitlement (heuristic)",
        "Checks every binary an app or extension ships (frameworks included) for the push triggers in privacy.toml (push: registerForRemoteNotifications, registerForRemoteNotificationTypes:, PKPushRegistry) and, when one is found, the entitlements signed into that app's or extension's main executable for aps-environment. Unsigned executables are left to the signing rules. A heuristic: Apple's detection is private, and SDKs that carry push code the app never calls draw the same e-mail.\n\nApple e-mails ITMS-90078 \"Missing Push Notification Entitlement\" (a warning; the build is not rejected).\n\nFix: enable the Push Notifications capability, or ignore the warning if the app does not use push."),
    rule!(symbols; "ITMS-90683", "purpose-string-missing", Warning, AppStore, check_purpose_strings,
        "a binary references a protected API but the Info.plist has no purpose string for it (heuristic)",
        "Checks each binary's Objective-C class imports, selectors and entitlements against the purpose-string triggers (privacy.toml, purpose_string: AVCaptureSession → NSCameraUsageDescription, CLLocationManager authorization selectors → NSLocationWhenInUseUsageDescription, CNContactStore → NSContactsUsageDescription, ...), judged against the Info.plist of the app, extension, watch app or App Clip the code ships in (a framework's code against its app's). A heuristic: Apple's detection is private; SDKs that link a framework without using it draw Apple's e-mail too. Localisations: a key found only in some <locale>.lproj/InfoPlist.strings still needs the Info.plist entry, and a key localised in some folders must be in every folder's InfoPlist.strings (Apple's \"across each of your app's localization folders\").\n\nApple e-mails ITMS-90683 \"Missing purpose string in Info.plist\" and may block review.\n\nFix: add the key with a sentence that explains the access."),
    rule!(symbols; "ITMS-91053", "privacy-api-undeclared", Error, AppStore, check_api_undeclared,
        "a binary uses a required-reason API its privacy manifest does not declare",
        "Scans every Mach-O slice's imported symbols and Objective-C selectors for the required-reason APIs (privacy.toml, symbols: stat, mach_absolute_time, NSUserDefaults, systemUptime, ...) and checks that the manifest covering the binary (its bundle's, or a resource bundle's shipped with it) declares each category found with at least one valid reason. The message names the binary, the category and the symbols.\n\nApple blocks the build with ITMS-91053 \"Missing API declaration\" since 1 May 2024.\n\nFix: declare the category in the bundle's PrivacyInfo.xcprivacy with the reason that applies."),
    rule!("ITMS-90534", "beta-toolchain", Warning, AppStore, check_beta_toolchain,
        "built with an Xcode build App Store Connect refused (beta or superseded seed)",
        "Checks the app's DTXcodeBuild against the known refused toolchain builds in the data (deadlines.toml, beta_toolchain).\n\nApple rejects with ITMS-90534 \"Invalid Toolchain\". Only builds seen refused are listed: an unlisted build is not known to be fine, and a lowercase suffix is not a reliable beta marker.\n\nFix: build with a released Xcode."),
    rule!("ITMS-90725", "sdk-too-old", Error, AppStore, check_sdk_too_old,
        "built with an SDK older than App Store Connect requires on --as-of",
        "Checks the app's DTSDKName (or DTPlatformVersion) against the SDK minimum in force on --as-of for its DTPlatformName (deadlines.toml, sdk_minimum); a minimum announced for a later date draws a warning. Only iphoneos dates are in the data: other platforms are not checked.\n\nApple rejects with ITMS-90725 \"SDK version issue\" (since 28 April 2026: the iOS 26 SDK, Xcode 26).\n\nFix: build with the required Xcode."),
    rule!("ITMS-91054", "privacy-api-category-invalid", Error, AppStore, check_api_category,
        "a privacy manifest declares an API category Apple does not define",
        "Checks each NSPrivacyAccessedAPIType in every PrivacyInfo.xcprivacy against the five categories (privacy.toml).\n\nApple blocks the build with ITMS-91054 \"Invalid API category declaration\" (e.g. \"FileTimestamp\" without the NSPrivacyAccessedAPICategory prefix).\n\nFix: use the full category value, e.g. NSPrivacyAccessedAPICategoryFileTimestamp."),
    rule!("ITMS-91055", "privacy-api-reason-invalid", Error, AppStore, check_api_reason,
        "a privacy manifest gives no reason, or a reason that does not belong to the category",
        "Checks that each declared category has at least one reason and that every reason is valid for that category (privacy.toml); an SDK-only reason (C56D.1) in the app's own manifest is a warning.\n\nApple blocks the build with ITMS-91055 \"Invalid API reason declaration\".\n\nFix: use the reason codes Apple lists for the category."),
    rule!("ITMS-91056", "privacy-manifest-invalid", Error, AppStore, check_manifest_invalid,
        "a PrivacyInfo.xcprivacy is not a valid privacy manifest",
        "Checks that every PrivacyInfo.xcprivacy (app, extensions, frameworks, resource bundles) is a property list with the four known keys of the right types, and nothing else.\n\nApple blocks the build with ITMS-91056 \"Invalid privacy manifest\"; enforced for all manifests from 12 November 2024.\n\nFix: recreate the file from Xcode's App Privacy template."),
    rule!(symbols; "ITMS-91061", "listed-sdk-without-manifest", Error, AppStore, check_listed_sdk,
        "a framework on Apple's third-party SDK list ships no privacy manifest",
        "Checks every embedded framework whose name is on Apple's list of commonly used third-party SDKs (privacy.toml; the list's length is not verified against Apple's page) for a PrivacyInfo.xcprivacy of its own or in a resource bundle it carries; every resource bundle named after a listed SDK (Alamofire_Alamofire.bundle, FirebaseCore_Privacy.bundle, url_launcher_ios_privacy.bundle) for its manifest; and every binary for statically linked listed SDKs, recognised by the classes it defines (Swift module names in mangled class names, Objective-C classes only that SDK defines: privacy.toml, static_classes), which need a resource bundle named after the SDK carrying its manifest. The static case is a heuristic and reported as a warning.\n\nApple blocks the build with ITMS-91061 \"Missing privacy manifest\" since 12 November 2024.\n\nFix: update the SDK to a release that ships its manifest."),
    rule!("ITMS-91064", "privacy-tracking-domains-without-tracking", Error, AppStore, check_tracking,
        "a privacy manifest lists tracking domains but does not declare tracking",
        "Checks the manifests of apps, extensions and frameworks: NSPrivacyTracking must be true when NSPrivacyTrackingDomains is not empty (an array holding an empty string counts as not empty).\n\nApple blocks the build with ITMS-91064 \"Invalid tracking information\".\n\nFix: set NSPrivacyTracking to true, or remove the domains."),
    rule!("ITMS-91107", "privacy-tracking-domains-without-tracking-elsewhere", Error, AppStore, check_tracking_elsewhere,
        "a resource bundle's privacy manifest lists tracking domains but does not declare tracking",
        "The same check as ITMS-91064 for manifests in other locations (resource bundles such as SDK_Privacy.bundle).\n\nApple reports ITMS-91107 for these from 12 November 2024.\n\nFix: set NSPrivacyTracking to true, or remove the domains."),
];
