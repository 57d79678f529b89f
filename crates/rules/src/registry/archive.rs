//! The archive itself: hand-zipped layouts, junk, hostile names, links and entries that cannot be unpacked (IPAGATE-2xxx).

use ipagate_formats::{Facts, Layout};

use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

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

pub(super) static RULES: &[Rule] = &[
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
