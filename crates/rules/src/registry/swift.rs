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

pub(super) static RULES: &[Rule] = &[
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
