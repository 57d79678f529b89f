//! The bundle tree: Info.plist and executable presence, where nested bundles may sit, package types, extension identity (itms-rules.md §2.1, §2.2).

use ipagate_formats::{BundleKind, Facts, InfoPlist};

use super::helpers::{
    is_app_like, is_versioned, on_watch_side, owning_app, parsed, plist_key, text_value,
};
use super::{Rule, Scope, Sink};
use crate::context::Context;
use crate::diagnostic::{Location, Severity};

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
    for b in super::macho::stray_binaries(facts) {
        sink.emit(
            Location::entry(b.path.clone()),
            format!("the binary file '{}' is not permitted: the app can't contain standalone executables or libraries other than a bundle's CFBundleExecutable", b.path),
            "remove the file from the Copy Bundle Resources phase, or package it as a framework embedded in Frameworks/",
        );
    }
}

fn check_appex_nested(facts: &Facts, _: &Context, sink: &mut Sink) {
    // Each nested bundle walks up its parent links to the extensions around it: linear in the
    // bundles (times the nesting depth), never every later bundle for every extension.
    let mut nested: std::collections::BTreeMap<usize, Vec<&str>> = Default::default();
    for n in &facts.bundles {
        if !matches!(
            n.kind,
            BundleKind::Framework
                | BundleKind::AppExtension
                | BundleKind::MisplacedBundle
                | BundleKind::WatchApp
                | BundleKind::AppClip
        ) {
            continue;
        }
        let mut up = n.parent;
        while let Some(p) = up {
            if facts.bundles[p].kind == BundleKind::AppExtension {
                nested.entry(p).or_default().push(n.path.as_str());
            }
            up = facts.bundles[p].parent;
        }
    }
    for (i, nested) in nested {
        let b = &facts.bundles[i];
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

pub(super) static RULES: &[Rule] = &[
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
        "ITMS-90171",
        "bundle-structure-invalid",
        Error,
        AppStore,
        check_bundle_structure,
        "a bundle in a place App Store Connect does not allow (e.g. a framework inside a resource bundle, an embedded .xctest)",
        "Checks the bundle tree: frameworks must sit in Frameworks/, extensions in PlugIns/ or Extensions/, watch apps in Watch/, app clips in AppClips/; test bundles (.xctest) must not be shipped; no Mach-O file may sit anywhere but as a bundle's CFBundleExecutable or a loose dylib directly in Frameworks/.\n\nApple rejects with \"Invalid Bundle Structure - The binary file 'X' is not permitted\".\n\nFix: correct the Copy Files / Embed phases of the target that copies the bundle."
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
];
