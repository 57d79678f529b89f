//! The SwiftSupport folder of an .ipa (itms-rules.md §2.10).

use ipagate_formats::{Facts, Layout};

use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

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

/// Per architecture, the `LC_UUID` of each slice of the binary at `path`, if it was read.
fn uuids<'a>(facts: &'a Facts, path: &str) -> Option<Vec<(&'a str, Option<&'a str>)>> {
    let at = facts
        .binaries
        .binary_search_by(|b| b.path.as_str().cmp(path))
        .ok()
        .or_else(|| facts.binaries.iter().position(|b| b.path == path))?;
    Some(
        facts.binaries[at]
            .slices
            .iter()
            .map(|s| (s.macho.arch.as_str(), s.macho.uuid.as_deref()))
            .collect(),
    )
}

fn check_swift_support_mismatch(facts: &Facts, _: &Context, sink: &mut Sink) {
    let app = &facts.app().path;
    for support in &facts.binaries {
        let Some(name) = support.path.strip_prefix("SwiftSupport/iphoneos/") else {
            continue;
        };
        if name.contains('/') || !name.ends_with(".dylib") {
            continue;
        }
        let copy = format!("{app}/Frameworks/{name}");
        let Some(ours) = uuids(facts, &copy) else {
            continue; // not embedded by the app: nothing to compare
        };
        let theirs: Vec<(&str, Option<&str>)> = support
            .slices
            .iter()
            .map(|s| (s.macho.arch.as_str(), s.macho.uuid.as_deref()))
            .collect();
        let mut differences = Vec::new();
        for (arch, uuid) in &ours {
            match theirs.iter().find(|(a, _)| a == arch) {
                None => differences.push(format!("{arch} is missing from the SwiftSupport copy")),
                Some((_, other)) => {
                    if let (Some(a), Some(b)) = (uuid, other)
                        && a != b
                    {
                        differences.push(format!(
                            "{arch} LC_UUID {a} in the app, {b} in SwiftSupport"
                        ));
                    }
                }
            }
        }
        if !differences.is_empty() {
            sink.emit(
                Location::entry(&copy),
                format!(
                    "the files {} don't match {copy}: {}",
                    support.path,
                    differences.join("; ")
                ),
                "the app's Swift runtime was changed after the export (stripped, re-linked or replaced): let xcodebuild -exportArchive produce both copies, and do not post-process Frameworks/libswift*.dylib",
            );
        }
    }
}

pub(super) static RULES: &[Rule] = &[
    rule!(
        binaries;
        "ITMS-90428",
        "swift-support-mismatch",
        Error,
        AppStore,
        check_swift_support_mismatch,
        "SwiftSupport/iphoneos/libswift*.dylib differs from the app's Frameworks copy (per-architecture LC_UUID)",
        "Checks, for each Swift runtime library in SwiftSupport/iphoneos/ that the app also embeds in Frameworks/, that every architecture of the app's copy is present in the SwiftSupport copy with the same LC_UUID.\n\nApple rejects the build with \"Invalid Swift Support - The files libswiftX.dylib don't match /Payload/X.app/Frameworks/libswiftX.dylib\" when the app's copy was post-processed.\n\nFix: export with xcodebuild -exportArchive and do not strip, thin or replace Frameworks/libswift*.dylib afterwards."
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
];
