//! `ipagate lint` on source trees generated in code: a clean Xcode-style tree passes; each lint
//! rule trips on one broken tree and says where (source path + JSON pointer or plist key).

use std::path::Path;

use ipagate_fixtures::png::{PngKind, png};
use serde_json::{Value, json};

use crate::support::ipagate;

/// A tree as Xcode lays it out: an all-sizes icon set, an Info.plist with build-setting
/// references, entitlements and a privacy manifest.
fn clean_tree(root: &Path) {
    let set = root.join("App/Assets.xcassets/AppIcon.appiconset");
    std::fs::create_dir_all(&set).unwrap();
    let mut images = Vec::new();
    for (idiom, size, scale) in [
        ("iphone", "60x60", "2x"),
        ("iphone", "60x60", "3x"),
        ("ipad", "76x76", "2x"),
        ("ipad", "83.5x83.5", "2x"),
        ("ios-marketing", "1024x1024", "1x"),
    ] {
        let pt: f64 = size.split('x').next().unwrap().parse().unwrap();
        let px = (pt * scale.trim_end_matches('x').parse::<f64>().unwrap()).round() as u32;
        let file = format!("{idiom}-{px}.png");
        let kind = if idiom == "ios-marketing" {
            PngKind::Rgb
        } else {
            PngKind::Rgba
        };
        std::fs::write(set.join(&file), png(kind, px, px, true)).unwrap();
        images.push(json!({"filename": file, "idiom": idiom, "scale": scale, "size": size}));
    }
    write_json(
        &set.join("Contents.json"),
        &json!({"images": images, "info": {"author": "xcode", "version": 1}}),
    );
    std::fs::write(
        root.join("App/Info.plist"),
        plist_xml(&[
            ("CFBundleIdentifier", "$(PRODUCT_BUNDLE_IDENTIFIER)"),
            ("CFBundleShortVersionString", "$(MARKETING_VERSION)"),
        ]),
    )
    .unwrap();
    std::fs::write(
        root.join("App/App.entitlements"),
        plist_xml(&[("aps-environment", "development")]),
    )
    .unwrap();
    std::fs::write(root.join("App/PrivacyInfo.xcprivacy"), plist_xml(&[])).unwrap();
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn plist_xml(pairs: &[(&str, &str)]) -> String {
    let body: String = pairs
        .iter()
        .map(|(k, v)| format!("  <key>{k}</key>\n  <string>{v}</string>\n"))
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n{body}</dict>\n</plist>\n"
    )
}

fn lint(args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["lint", "--format", "json"];
    all.extend_from_slice(args);
    let out = ipagate(&all);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn rules(doc: &Value) -> Vec<(String, String, String)> {
    doc["diagnostics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["rule"].as_str().unwrap_or("").to_string(),
                        d["severity"].as_str().unwrap_or("").to_string(),
                        d["location"]["key"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_clean_tree_passes_and_build_settings_are_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["diagnostics"], json!([]));
    assert_eq!(
        doc["checked"],
        json!({"icon_sets": 1, "plists": 3, "app_targets": 0})
    );
    // The report records the date it judged for (injectable, as for preflight) and the data.
    let (_, doc) = lint(&["--as-of", "2026-11-25", dir.path().to_str().unwrap()]);
    assert_eq!(doc["as_of"], "2026-11-25", "{doc}");
    assert_eq!(
        doc["data"]["privacy"]["origin"]["from"], "embedded",
        "{doc}"
    );
    let out = ipagate(&[
        "lint",
        "--as-of",
        "2026-11-25",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("lint passed: 1 icon set(s), 3 property list(s), 0 app target(s); 0 error(s), 0 warning(s) (as of 2026-11-25, privacy data "),
        "{text}"
    );
    let out = ipagate(&[
        "lint",
        "--as-of",
        "25/11/2026",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn each_lint_rule_trips_on_one_broken_tree() {
    type Break = fn(&Path);
    let set = |root: &Path| root.join("App/Assets.xcassets/AppIcon.appiconset");
    let cases: &[(&str, &str, Break)] = &[
        ("icon-app-store-missing", "error", |r| {
            std::fs::remove_file(
                r.join("App/Assets.xcassets/AppIcon.appiconset/ios-marketing-1024.png"),
            )
            .unwrap();
            let p = r.join("App/Assets.xcassets/AppIcon.appiconset/Contents.json");
            let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            v["images"][4].as_object_mut().unwrap().remove("filename");
            write_json(&p, &v);
        }),
        ("icon-app-store-alpha", "error", |r| {
            std::fs::write(
                r.join("App/Assets.xcassets/AppIcon.appiconset/ios-marketing-1024.png"),
                png(PngKind::Rgba, 1024, 1024, false),
            )
            .unwrap();
        }),
        ("icon-size-mismatch", "warning", |r| {
            std::fs::write(
                r.join("App/Assets.xcassets/AppIcon.appiconset/ipad-167.png"),
                png(PngKind::Rgba, 166, 166, true),
            )
            .unwrap();
        }),
        ("icon-set-file-missing", "error", |r| {
            std::fs::remove_file(r.join("App/Assets.xcassets/AppIcon.appiconset/iphone-120.png"))
                .unwrap();
        }),
        ("icon-set-unreadable", "error", |r| {
            std::fs::write(
                r.join("App/Assets.xcassets/AppIcon.appiconset/Contents.json"),
                "{ not json",
            )
            .unwrap();
        }),
        ("source-plist-invalid", "error", |r| {
            std::fs::write(r.join("App/PrivacyInfo.xcprivacy"), "<html>").unwrap();
        }),
        ("aps-environment-invalid", "error", |r| {
            std::fs::write(
                r.join("App/App.entitlements"),
                plist_xml(&[("aps-environment", "staging")]),
            )
            .unwrap();
        }),
        ("entitlement-key-unknown", "error", |r| {
            std::fs::write(
                r.join("App/App.entitlements"),
                plist_xml(&[
                    ("aps-environment", "development"),
                    ("com.apple.keystore.device", "yes"),
                ]),
            )
            .unwrap();
        }),
    ];
    for (rule, severity, breaks) in cases {
        let dir = tempfile::tempdir().unwrap();
        clean_tree(dir.path());
        breaks(dir.path());
        let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
        let got = rules(&doc);
        assert!(
            got.iter().any(|(r, s, _)| r == rule && s == severity),
            "{rule}: {got:?}"
        );
        assert_eq!(got.len(), 1, "{rule} alone: {got:?}");
        assert_eq!(
            code,
            Some(if *severity == "error" { 1 } else { 0 }),
            "{rule}"
        );
    }
    // The location of an image finding is Contents.json plus a JSON pointer.
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    std::fs::remove_file(set(dir.path()).join("iphone-120.png")).unwrap();
    let (_, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!(rules(&doc)[0].2, "/images/0");
}

#[test]
fn a_staged_png_checks_its_whole_set_and_a_missing_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let set = dir.path().join("App/Assets.xcassets/AppIcon.appiconset");
    std::fs::write(
        set.join("ios-marketing-1024.png"),
        png(PngKind::Rgba, 1024, 1024, false),
    )
    .unwrap();
    let (code, doc) = lint(&[set.join("iphone-120.png").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(rules(&doc)[0].0, "icon-app-store-alpha");
    let out = ipagate(&["lint", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

/// An Xcode 14+ single-size set: one universal 1024 image for iOS (plus dark and tinted
/// variants), no ios-marketing entry; it passes, and loses its App Store image when the Any
/// variant goes.
#[test]
fn single_size_sets_are_understood() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("AppIcon.appiconset");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("icon.png"), png(PngKind::Rgb, 1024, 1024, true)).unwrap();
    std::fs::write(set.join("dark.png"), png(PngKind::Rgba, 1024, 1024, false)).unwrap();
    let any = json!({"filename": "icon.png", "idiom": "universal", "platform": "ios", "size": "1024x1024"});
    let dark = json!({"appearances": [{"appearance": "luminosity", "value": "dark"}], "filename": "dark.png", "idiom": "universal", "platform": "ios", "size": "1024x1024"});
    write_json(&set.join("Contents.json"), &json!({"images": [any, dark]}));
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
    write_json(&set.join("Contents.json"), &json!({"images": [dark]}));
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(rules(&doc)[0].0, "icon-app-store-missing");
}

/// The package rules that judge only what a source file holds run on source Info.plists and
/// privacy manifests too, with the same codes, at the line and column of the key; values that
/// are build-setting references never reach them.
#[test]
fn package_rules_judge_literal_source_values_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let info = dir.path().join("App/Info.plist");
    std::fs::write(
        &info,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\
         \t<key>CFBundleIdentifier</key>\n\t<string>$(PRODUCT_BUNDLE_IDENTIFIER)</string>\n\
         \t<key>CFBundleVersion</key>\n\t<string>$(CURRENT_PROJECT_VERSION)</string>\n\
         \t<key>CFBundleShortVersionString</key>\n\t<string>1.0 beta</string>\n\
         \t<key>UIBackgroundModes</key>\n\t<array>\n\t\t<string>processing</string>\n\t</array>\n\
         </dict>\n</plist>\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("App/PrivacyInfo.xcprivacy"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\
         \t<key>NSPrivacyAccessedAPITypes</key>\n\t<array>\n\t\t<dict>\n\
         \t\t\t<key>NSPrivacyAccessedAPIType</key>\n\t\t\t<string>NSPrivacyAccessedAPICategoryTeleport</string>\n\
         \t\t\t<key>NSPrivacyAccessedAPITypeReasons</key>\n\t\t\t<array><string>CA92.1</string></array>\n\
         \t\t</dict>\n\t</array>\n</dict>\n</plist>\n",
    )
    .unwrap();
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{doc}");
    let found = rules(&doc);
    let mut names: Vec<&str> = found.iter().map(|(r, _, _)| r.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "bgtask-identifiers-missing",
            "privacy-api-category-invalid",
            "short-version-invalid",
        ],
        "{doc}"
    );
    let diag = |rule: &str| {
        doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["rule"] == rule)
            .unwrap()
            .clone()
    };
    let short = diag("short-version-invalid");
    assert_eq!(short["code"], "ITMS-90060");
    assert_eq!(short["location"]["path"], info.to_str().unwrap());
    assert_eq!(
        short["location"]["position"],
        json!({"line": 8, "column": 2})
    );
    assert_eq!(
        diag("bgtask-identifiers-missing")["location"]["path"],
        info.to_str().unwrap()
    );
    // A key inside an array's dictionary has its line too.
    assert_eq!(
        diag("privacy-api-category-invalid")["location"]["position"],
        json!({"line": 7, "column": 4})
    );
    // A literal bundle id is judged; a missing one is the build's business.
    let mut text = std::fs::read_to_string(&info).unwrap();
    text = text.replace("$(PRODUCT_BUNDLE_IDENTIFIER)", "com.example.my_app");
    std::fs::write(&info, text).unwrap();
    let (_, doc) = lint(&[info.to_str().unwrap()]);
    assert!(
        rules(&doc)
            .iter()
            .any(|(r, _, k)| r == "bundle-id-invalid" && k == "CFBundleIdentifier"),
        "{doc}"
    );
    // Human output points at file:line:column, as compilers do.
    let out = ipagate(&["lint", "--color", "never", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "{}:8:2: CFBundleShortVersionString",
            info.display()
        )),
        "{text}"
    );
    // The same values as build settings: nothing to judge.
    clean_tree(dir.path());
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
}

/// An icon-set finding carries the line and column of its entry in Contents.json; a binary plist
/// (no lines) carries none.
#[test]
fn icon_set_findings_point_at_their_contents_json_line() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let set = dir.path().join("App/Assets.xcassets/AppIcon.appiconset");
    std::fs::remove_file(set.join("iphone-180.png")).unwrap();
    let (_, doc) = lint(&[dir.path().to_str().unwrap()]);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["location"]["key"], "/images/1", "{doc}");
    let text = std::fs::read_to_string(set.join("Contents.json")).unwrap();
    let line = d["location"]["position"]["line"].as_u64().unwrap() as usize;
    let column = d["location"]["position"]["column"].as_u64().unwrap() as usize;
    // Pretty-printed JSON: the second image object starts on that line, at that column.
    let at = text.lines().nth(line - 1).unwrap();
    assert_eq!(&at[column - 1..column], "{", "{at}");
    assert!(
        text.lines()
            .skip(line)
            .take(5)
            .any(|l| l.contains("iphone-180.png")),
        "{text}"
    );

    let mut bin = Vec::new();
    plist::Value::Dictionary(
        [("aps-environment".to_string(), plist::Value::from("staging"))]
            .into_iter()
            .collect(),
    )
    .to_writer_binary(&mut bin)
    .unwrap();
    std::fs::write(dir.path().join("App/App.entitlements"), bin).unwrap();
    let (_, doc) = lint(&[dir.path().join("App/App.entitlements").to_str().unwrap()]);
    let d = &doc["diagnostics"][0];
    assert_eq!(d["rule"], "aps-environment-invalid", "{doc}");
    assert!(d["location"].get("position").is_none(), "{doc}");
}

/// Entitlement keys are checked against the iOS allow-list (`crates/rules/data/ios-entitlements.txt`):
/// an unknown key is an error (App Store Connect's ITMS-90045), an unlisted `com.apple.developer.`
/// capability or a macOS sandbox key a warning, each at its key's line and column; known keys
/// pass.
#[test]
fn entitlement_keys_are_checked_against_the_ios_list_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    let ent = dir.path().join("App/App.entitlements");
    std::fs::write(
        &ent,
        plist_xml(&[
            ("application-identifier", "ABCDE12345.com.example.app"),
            ("aps-environment", "development"),
            (
                "com.apple.developer.associated-domains",
                "applinks:example.com",
            ),
            ("com.apple.security.application-groups", "group.com.example"),
            (
                "com.apple.developer.icloud-container-environment",
                "Production",
            ),
            (
                "keychain-access-groups",
                "$(AppIdentifierPrefix)com.example.app",
            ),
        ]),
    )
    .unwrap();
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");

    std::fs::write(
        &ent,
        plist_xml(&[
            ("aps-environment", "development"),
            ("com.apple.keystore.device", "yes"),
            ("com.apple.developer.brand-new-capability", "yes"),
            ("com.apple.security.app-sandbox", "yes"),
        ]),
    )
    .unwrap();
    let (code, doc) = lint(&[ent.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{doc}");
    let got = rules(&doc);
    assert_eq!(
        got,
        [
            (
                "entitlement-key-unknown".to_string(),
                "warning".to_string(),
                "com.apple.developer.brand-new-capability".to_string()
            ),
            (
                "entitlement-key-unknown".to_string(),
                "error".to_string(),
                "com.apple.keystore.device".to_string()
            ),
            (
                "entitlement-key-unknown".to_string(),
                "warning".to_string(),
                "com.apple.security.app-sandbox".to_string()
            ),
        ],
        "{doc}"
    );
    let unknown = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["location"]["key"] == "com.apple.keystore.device")
        .unwrap();
    assert_eq!(unknown["code"], "IPAGATE-1208");
    assert!(
        unknown["message"].as_str().unwrap().contains("ITMS-90045"),
        "{unknown}"
    );
    // plist_xml writes each key on its own line after `<dict>` (line 3), two lines per pair.
    assert_eq!(
        unknown["location"]["position"],
        json!({"line": 6, "column": 3})
    );
    let out = ipagate(&["lint", "--color", "never", ent.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}:6:3: com.apple.keystore.device", ent.display())),
        "{text}"
    );
    // The rule can be configured like any other (by name or code).
    let config = dir.path().join("ipagate.toml");
    std::fs::write(&config, "[rules]\nIPAGATE-1208 = \"off\"\n").unwrap();
    let (code, doc) = lint(&["--config", config.to_str().unwrap(), ent.to_str().unwrap()]);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
}

/// Writes `App.xcodeproj` at the tree's root: one iOS app target `App` whose app icon is
/// `AppIcon`, built for `families` (`None`: the setting left out), plus a macOS app target using
/// the same set (never judged for iPhone/iPad sizes).
fn xcode_project(root: &Path, families: Option<&str>) {
    use crate::build_number_projects::{Base, pbxproj, t};
    let mut settings = vec![("ASSETCATALOG_COMPILER_APPICON_NAME", "AppIcon")];
    if let Some(f) = families {
        settings.push(("TARGETED_DEVICE_FAMILY", f));
    }
    let mac = [
        ("ASSETCATALOG_COMPILER_APPICON_NAME", "AppIcon"),
        ("SDKROOT", "macosx"),
    ];
    let text = pbxproj(
        &[("SDKROOT", "iphoneos")],
        Base::None,
        &[
            t("App", "application", &settings),
            t("MacApp", "application", &mac),
        ],
    );
    std::fs::create_dir_all(root.join("App.xcodeproj")).unwrap();
    std::fs::write(root.join("App.xcodeproj/project.pbxproj"), text).unwrap();
}

/// Drops the Contents.json entries of the clean set whose file is `file` (the slot is gone, not
/// just its file).
fn drop_slot(root: &Path, file: &str) {
    let p = root.join("App/Assets.xcassets/AppIcon.appiconset/Contents.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["images"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["filename"] != file);
    write_json(&p, &v);
}

/// The sizes an icon set must hold follow the device families of the targets whose app icon it
/// is (TARGETED_DEVICE_FAMILY in the project, resolved like build numbers are): iPad sizes only
/// for a target built for iPad, the iPhone size only for one built for iPhone (also when the
/// setting is left out, Xcode's default); nothing is required when no project says.
#[test]
fn icon_idioms_follow_the_targets_device_families() {
    let run = |families: Option<&str>, dropped: &[&str], project: bool| -> (Option<i32>, Value) {
        let dir = tempfile::tempdir().unwrap();
        clean_tree(dir.path());
        if project {
            xcode_project(dir.path(), families);
        }
        for f in dropped {
            drop_slot(dir.path(), f);
        }
        // Staged files only (as pre-commit passes them): the project is found above the set.
        let contents = dir
            .path()
            .join("App/Assets.xcassets/AppIcon.appiconset/Contents.json");
        lint(&[contents.to_str().unwrap()])
    };
    // The clean set has every size: passes for iPhone and iPad.
    let (code, doc) = run(Some("1,2"), &[], true);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
    assert_eq!(doc["checked"]["app_targets"], 1, "{doc}");

    // No iPad Pro slot: an error for an iPad target...
    let (code, doc) = run(Some("1,2"), &["ipad-167.png"], true);
    assert_eq!(code, Some(1), "{doc}");
    let d = &doc["diagnostics"][0];
    assert_eq!(
        (d["code"].as_str(), d["rule"].as_str()),
        (Some("ITMS-90023"), Some("icon-ipad-missing")),
        "{doc}"
    );
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains("83.5pt @2x (167×167)")
            && message.contains("target 'App' builds for iPad")
            && message.contains("TARGETED_DEVICE_FAMILY = 1,2 in App.xcodeproj (target App, "),
        "{message}"
    );
    assert_eq!(d["location"]["key"], "/images", "{doc}");
    assert_eq!(
        d["location"]["position"],
        json!({"line": 2, "column": 13}),
        "{doc}"
    );
    assert_eq!(doc["diagnostics"].as_array().unwrap().len(), 1, "{doc}");
    // ...and nothing for an iPhone-only one.
    let (code, doc) = run(Some("1"), &["ipad-152.png", "ipad-167.png"], true);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");

    // No 120×120 iPhone slot: an error for iPhone (explicit or by default), nothing for iPad only.
    for families in [Some("1"), Some("1,2"), None] {
        let (code, doc) = run(families, &["iphone-120.png"], true);
        assert_eq!(code, Some(1), "{families:?}: {doc}");
        let rules: Vec<&str> = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["icon-iphone-missing"], "{families:?}: {doc}");
    }
    let (_, doc) = run(None, &["iphone-120.png"], true);
    assert!(
        doc["diagnostics"][0]["message"]
            .as_str()
            .unwrap()
            .contains("TARGETED_DEVICE_FAMILY is not set: Xcode builds for iPhone"),
        "{doc}"
    );
    let (code, doc) = run(Some("2"), &["iphone-120.png", "iphone-180.png"], true);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");

    // Only the project staged (its TARGETED_DEVICE_FAMILY changed): its tree's icon sets are
    // checked, its plists are not.
    let dir = tempfile::tempdir().unwrap();
    clean_tree(dir.path());
    xcode_project(dir.path(), Some("1,2"));
    drop_slot(dir.path(), "ipad-167.png");
    let pbxproj = dir.path().join("App.xcodeproj/project.pbxproj");
    let (code, doc) = lint(&[pbxproj.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(
        doc["checked"],
        json!({"icon_sets": 1, "plists": 0, "app_targets": 1})
    );
    assert_eq!(doc["diagnostics"][0]["rule"], "icon-ipad-missing", "{doc}");

    // No project: families unknown, no size is required.
    let (code, doc) = run(None, &["iphone-120.png", "ipad-167.png"], false);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
    assert_eq!(doc["checked"]["app_targets"], 0, "{doc}");
}

/// A single-size set (Xcode 14+) holds every size the families need: Xcode derives them from the
/// 1024 image.
#[test]
fn a_single_size_set_satisfies_every_family() {
    let dir = tempfile::tempdir().unwrap();
    xcode_project(dir.path(), Some("1,2"));
    let set = dir.path().join("App/Assets.xcassets/AppIcon.appiconset");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("icon.png"), png(PngKind::Rgb, 1024, 1024, true)).unwrap();
    let any = json!({"filename": "icon.png", "idiom": "universal", "platform": "ios", "size": "1024x1024"});
    write_json(&set.join("Contents.json"), &json!({"images": [any]}));
    let (code, doc) = lint(&[dir.path().to_str().unwrap()]);
    assert_eq!((code, &doc["diagnostics"]), (Some(0), &json!([])), "{doc}");
    assert_eq!(doc["checked"]["app_targets"], 1, "{doc}");
}

#[test]
fn the_rule_list_and_explain_cover_the_lint_only_rules() {
    let out = crate::support::ipagate(&["rules", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rules = doc["rules"].as_array().expect("rules");
    let lint_only: Vec<&str> = rules
        .iter()
        .filter(|r| r["scope"] == "source")
        .map(|r| r["code"].as_str().unwrap_or_default())
        .collect();
    assert!(lint_only.contains(&"IPAGATE-1208"), "{lint_only:?}");
    // A rule that `preflight` also runs is listed once, with its package scope.
    assert_eq!(
        rules
            .iter()
            .filter(|r| r["rule"] == "icon-app-store-alpha")
            .count(),
        1
    );
    let out = crate::support::ipagate(&["explain", "entitlement-key-unknown"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applies to: source trees"));
}
