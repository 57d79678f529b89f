//! The watch app and its companion iOS app (itms-rules.md §2.7).

use ipagate_formats::{BundleKind, Facts, InfoPlist};

use super::helpers::{on_watch_side, owning_app, parsed, plist_key};
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::Severity;

fn app_id(facts: &Facts) -> Option<&str> {
    facts.app().info().and_then(InfoPlist::bundle_id_str)
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

pub(super) static RULES: &[Rule] = &[
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
];
