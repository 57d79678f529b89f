//! `ipagate build-number apply|show` on Xcode and Flutter project trees generated here: what Xcode resolves for
//! each shipping target (base configuration xcconfigs, `#include` chains, `$(VAR)` indirections), what is
//! refused, and the loud failures (issue 8).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{ipagate, ipagate_within};

// ---- a pbxproj generator ----

/// Where a configuration's base xcconfig is.
#[derive(Clone, Copy)]
pub(crate) enum Base<'a> {
    None,
    /// A file reference in a group whose `path` is the folder (`Config/Base.xcconfig` → group `Config`).
    Group(&'a str),
    /// Xcode 16: a synchronised root group (its folder) and a path relative to it.
    Synced(&'a str, &'a str),
}

pub(crate) struct T<'a> {
    pub name: &'a str,
    pub product: &'a str,
    pub settings: &'a [(&'a str, &'a str)],
    pub base: Base<'a>,
    pub script: Option<&'a str>,
}

pub(crate) fn t<'a>(name: &'a str, product: &'a str, settings: &'a [(&'a str, &'a str)]) -> T<'a> {
    T {
        name,
        product,
        settings,
        base: Base::None,
        script: None,
    }
}

fn token(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./".contains(&b))
    {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A project.pbxproj the way Xcode writes one: objects by id, Debug and Release everywhere.
pub(crate) fn pbxproj(
    project_settings: &[(&str, &str)],
    project_base: Base<'_>,
    targets: &[T<'_>],
) -> String {
    let mut objects: Vec<(String, String)> = Vec::new();
    let mut next = 0u32;
    let mut id = || {
        next += 1;
        format!("AA{next:022X}")
    };
    let main_group = id();
    let mut main_children = Vec::new();
    let mut base_ref = |base: Base<'_>,
                        objects: &mut Vec<(String, String)>,
                        id: &mut dyn FnMut() -> String|
     -> String {
        match base {
            Base::None => String::new(),
            Base::Group(path) => {
                let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
                let file_id = id();
                objects.push((
                    file_id.clone(),
                    format!(
                        "isa = PBXFileReference; lastKnownFileType = text.xcconfig; path = {}; sourceTree = \"<group>\";",
                        token(file)
                    ),
                ));
                if dir.is_empty() {
                    main_children.push(file_id.clone());
                } else {
                    let group = id();
                    objects.push((
                        group.clone(),
                        format!(
                            "isa = PBXGroup; children = ({file_id}, ); path = {}; sourceTree = \"<group>\";",
                            token(dir)
                        ),
                    ));
                    main_children.push(group);
                }
                format!("baseConfigurationReference = {file_id} /* {file} */; ")
            }
            Base::Synced(folder, rel) => {
                let group = id();
                objects.push((
                    group.clone(),
                    format!(
                        "isa = PBXFileSystemSynchronizedRootGroup; path = {}; sourceTree = \"<group>\";",
                        token(folder)
                    ),
                ));
                main_children.push(group.clone());
                format!(
                    "baseConfigurationReferenceAnchor = {group}; baseConfigurationReferenceRelativePath = {}; ",
                    token(rel)
                )
            }
        }
    };
    let settings_text = |settings: &[(&str, &str)]| -> String {
        settings
            .iter()
            .map(|(k, v)| format!("\t\t\t\t{} = {};\n", token(k), token(v)))
            .collect()
    };
    let mut config_list = |settings: &[(&str, &str)],
                           base: Base<'_>,
                           objects: &mut Vec<(String, String)>,
                           id: &mut dyn FnMut() -> String|
     -> String {
        let base = base_ref(base, objects, id);
        let mut ids = Vec::new();
        for name in ["Debug", "Release"] {
            let config = id();
            objects.push((
                config.clone(),
                format!(
                    "isa = XCBuildConfiguration; {base}buildSettings = {{\n{}\t\t\t}}; name = {name};",
                    settings_text(settings)
                ),
            ));
            ids.push(config);
        }
        let list = id();
        objects.push((
            list.clone(),
            format!(
                "isa = XCConfigurationList; buildConfigurations = ({}, ); defaultConfigurationIsVisible = 0; defaultConfigurationName = Release;",
                ids.join(", ")
            ),
        ));
        list
    };
    let project_list = config_list(project_settings, project_base, &mut objects, &mut id);
    let mut target_ids = Vec::new();
    for target in targets {
        let list = config_list(target.settings, target.base, &mut objects, &mut id);
        let mut phases = Vec::new();
        if let Some(script) = target.script {
            let phase = id();
            objects.push((
                phase.clone(),
                format!(
                    "isa = PBXShellScriptBuildPhase; name = \"Set Build Number\"; shellScript = {};",
                    token(script)
                ),
            ));
            phases.push(phase);
        }
        let target_id = id();
        objects.push((
            target_id.clone(),
            format!(
                "isa = PBXNativeTarget; buildConfigurationList = {list}; buildPhases = ({}); name = {}; productName = {}; productType = \"com.apple.product-type.{}\";",
                phases.iter().map(|p| format!("{p}, ")).collect::<String>(),
                token(target.name),
                token(target.name),
                target.product
            ),
        ));
        target_ids.push(target_id);
    }
    objects.push((
        main_group.clone(),
        format!(
            "isa = PBXGroup; children = ({}); sourceTree = \"<group>\";",
            main_children
                .iter()
                .map(|c| format!("{c}, "))
                .collect::<String>()
        ),
    ));
    let root = id();
    objects.push((
        root.clone(),
        format!(
            "isa = PBXProject; buildConfigurationList = {project_list}; compatibilityVersion = \"Xcode 14.0\"; mainGroup = {main_group}; projectDirPath = \"\"; projectRoot = \"\"; targets = ({});",
            target_ids
                .iter()
                .map(|t| format!("{t}, "))
                .collect::<String>()
        ),
    ));
    objects.sort();
    let mut out = String::from(
        "// !$*UTF8*$!\n{\n\tarchiveVersion = 1;\n\tclasses = {\n\t};\n\tobjectVersion = 56;\n\tobjects = {\n",
    );
    for (id, body) in objects {
        out.push_str(&format!("\t\t{id} /* object */ = {{{body}}};\n"));
    }
    out.push_str(&format!(
        "\t}};\n\trootObject = {root} /* Project object */;\n}}\n"
    ));
    out
}

// ---- helpers ----

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn plist(build: &str, version: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n\
         \t<key>CFBundleShortVersionString</key>\n\t<string>{version}</string>\n\
         \t<key>CFBundleVersion</key>\n\t<string>{build}</string>\n</dict>\n</plist>\n"
    )
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

/// The files whose bytes differ.
fn changed(before: &BTreeMap<PathBuf, Vec<u8>>, dir: &Path) -> Vec<String> {
    snapshot(dir)
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(*b))
        .map(|(p, _)| p.display().to_string())
        .collect()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let project = dir.display().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--project", project.as_str()]);
    ipagate_within(&all, std::time::Duration::from_secs(60))
}

fn apply(dir: &Path, number: &str, extra: &[&str]) -> Output {
    let mut args = vec!["build-number", "apply", number];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

const APP: &str = "application";

// ---- the two high-severity cases of issue 8 ----

/// Regression (issue 8): INFOPLIST_FILE set only in the target's base configuration xcconfig, through
/// `$(TARGET_NAME)`, was not found: "nothing to change", exit 0.
#[test]
fn build_number_infoplist_file_from_the_base_configuration_xcconfig() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("Shop.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[("SDKROOT", "iphoneos")],
            Base::None,
            &[T {
                base: Base::Group("Configurations/Application.xcconfig"),
                ..t("Shop", APP, &[("PRODUCT_NAME", "$(TARGET_NAME)")])
            }],
        ),
    );
    write(
        &dir.join("Configurations/Application.xcconfig"),
        "// Application settings\r\nINFOPLIST_FILE = $(TARGET_NAME)/$(TARGET_NAME)-Info.plist\r\n",
    );
    write(&dir.join("Shop/Shop-Info.plist"), &plist("41", "2.0"));
    let before = snapshot(dir);
    let out = apply(dir, "42", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed Shop/Shop-Info.plist: CFBundleVersion 41 -> 42\n"
    );
    assert_eq!(changed(&before, dir), ["Shop/Shop-Info.plist"]);
    assert_eq!(read(dir, "Shop/Shop-Info.plist"), plist("42", "2.0"));
    let again = apply(dir, "42", &[]);
    assert_eq!(
        stdout(&again),
        "nothing to change: every chosen target already has build number 42 (Shop)\n"
    );
}

/// Regression (issue 8): `CURRENT_PROJECT_VERSION = $(BUILD_NUMBER)` with `BUILD_NUMBER = 12` in an included
/// xcconfig got a "left alone" note, then "nothing to change", exit 0. The definition is what changes.
#[test]
fn build_number_indirection_is_followed_to_its_definition() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[("CURRENT_PROJECT_VERSION", "$(BUILD_NUMBER)")],
            Base::Group("Config/Project.xcconfig"),
            &[t(
                "App",
                APP,
                &[
                    ("INFOPLIST_FILE", "App/Info.plist"),
                    ("CURRENT_PROJECT_VERSION", "$(inherited)"),
                ],
            )],
        ),
    );
    write(
        &dir.join("Config/Project.xcconfig"),
        "#include \"Shared/Version.xcconfig\"\nOTHER = 1\n",
    );
    let version =
        "// CI bumps this\nBUILD_NUMBER = 12 // keep\nBUILD_NUMBER[sdk=iphonesimulator*] = 12\n";
    write(&dir.join("Config/Shared/Version.xcconfig"), version);
    write(
        &dir.join("App/Info.plist"),
        &plist("$(CURRENT_PROJECT_VERSION)", "1.0"),
    );
    let before = snapshot(dir);
    let out = apply(dir, "13", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed Config/Shared/Version.xcconfig: BUILD_NUMBER 12 -> 13\n"
    );
    assert_eq!(changed(&before, dir), ["Config/Shared/Version.xcconfig"]);
    assert_eq!(
        read(dir, "Config/Shared/Version.xcconfig"),
        version.replacen("= 12 //", "= 13 //", 1),
        "the device SDK's definition only; comments kept"
    );
    // show says where it comes from.
    let out = run(dir, &["build-number", "show"]);
    assert_eq!(
        stdout(&out),
        "App.xcodeproj: App [application] Debug: version 1.0 (App/Info.plist), build 13 \
         (Config/Shared/Version.xcconfig:2 via CURRENT_PROJECT_VERSION -> BUILD_NUMBER)\n\
         App.xcodeproj: App [application] Release: version 1.0 (App/Info.plist), build 13 \
         (Config/Shared/Version.xcconfig:2 via CURRENT_PROJECT_VERSION -> BUILD_NUMBER)\n"
    );
}

/// A shipping target whose number cannot be set from the files: non-zero exit naming target, configuration and
/// why; nothing written, even for the targets that could be.
#[test]
fn build_number_unresolvable_targets_fail_loudly_and_write_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[
                t(
                    "App",
                    APP,
                    &[
                        ("INFOPLIST_FILE", "App/Info.plist"),
                        ("CURRENT_PROJECT_VERSION", "5"),
                    ],
                ),
                t(
                    "Widget",
                    "app-extension",
                    &[
                        ("GENERATE_INFOPLIST_FILE", "YES"),
                        ("CURRENT_PROJECT_VERSION", "$(CI_BUILD_NUMBER)"),
                    ],
                ),
                T {
                    script: Some(
                        "/usr/libexec/PlistBuddy -c \"Set :CFBundleVersion $BUILD\" \"$INFOPLIST_PATH\"\n",
                    ),
                    ..t(
                        "Clip",
                        "application.on-demand-install-capable",
                        &[("INFOPLIST_FILE", "App/Info.plist")],
                    )
                },
            ],
        ),
    );
    write(&dir.join("App/Info.plist"), &plist("5", "1.0"));
    let before = snapshot(dir);
    let out = apply(dir, "6", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ipagate: error: nothing written: the build number of 4 target configurations cannot be set: "),
        "{err}"
    );
    for expected in [
        "target Widget (Debug) in App.xcodeproj: $(CI_BUILD_NUMBER) is set nowhere in the project or its xcconfig \
         files — a value from the xcodebuild command line, the environment or a script cannot be changed here",
        "target Widget (Release) in App.xcodeproj:",
        "target Clip (Debug) in App.xcodeproj: its build phase \"Set Build Number\" sets CFBundleVersion while \
         building, so the files do not decide it",
        "target Clip (Release)",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert_eq!(snapshot(dir), before, "nothing written");
    // The JSON error document on stdout, for a CI step that parses it.
    let out = apply(dir, "6", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["error"]["kind"], "unresolved_build_number");
    assert_eq!(
        doc["error"]["message"].as_str().unwrap(),
        err.trim_end().strip_prefix("ipagate: error: ").unwrap()
    );
    // Choosing only the app works.
    let out = apply(dir, "6", &["--target", "App"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed App/Info.plist: CFBundleVersion 5 -> 6\n",
        "the plist's literal is what ships; the unused setting stays"
    );
}

/// A plain `#include` of a file that is not there is named in the failure (`#include?` stays silent).
#[test]
fn build_number_missing_include_is_named_in_the_failure() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::Group("Config/Project.xcconfig"),
            &[t("App", APP, &[("GENERATE_INFOPLIST_FILE", "YES")])],
        ),
    );
    write(
        &dir.join("Config/Project.xcconfig"),
        "#include? \"Local.xcconfig\"\n#include \"Version.xcconfig\"\nCURRENT_PROJECT_VERSION = $(BUILD_NUMBER)\n",
    );
    let out = apply(dir, "2", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "target App (Debug) in App.xcodeproj: $(BUILD_NUMBER) is set nowhere in the project or its xcconfig files \
             (Config/Version.xcconfig missing)"
        ),
        "{}",
        stderr(&out)
    );
}

/// Levels: the target's own setting shadows the project's, so only the target's changes; the project's base
/// xcconfig is reached when nothing above sets the value; an xcconfig's later line wins over an earlier one.
#[test]
fn build_number_levels_shadow_as_in_xcode() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let project = pbxproj(
        &[
            ("CURRENT_PROJECT_VERSION", "3"),
            ("MARKETING_VERSION", "1.0"),
        ],
        Base::None,
        &[
            t(
                "App",
                APP,
                &[
                    ("GENERATE_INFOPLIST_FILE", "YES"),
                    ("CURRENT_PROJECT_VERSION", "7"),
                ],
            ),
            T {
                base: Base::Synced("Watch", "Config/Watch.xcconfig"),
                ..t(
                    "Watch",
                    "application.watchapp2",
                    &[("GENERATE_INFOPLIST_FILE", "YES"), ("SDKROOT", "watchos")],
                )
            },
        ],
    );
    write(&dir.join("App.xcodeproj/project.pbxproj"), &project);
    write(
        &dir.join("Watch/Config/Watch.xcconfig"),
        "CURRENT_PROJECT_VERSION = 1\nCURRENT_PROJECT_VERSION = 7\nCURRENT_PROJECT_VERSION[sdk=watchos*] = 7\n",
    );
    let before = snapshot(dir);
    let out = apply(dir, "8", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed App.xcodeproj/project.pbxproj: CURRENT_PROJECT_VERSION 7 -> 8 (2 places)\n\
         changed Watch/Config/Watch.xcconfig: CURRENT_PROJECT_VERSION 7 -> 8\n"
    );
    assert_eq!(
        read(dir, "App.xcodeproj/project.pbxproj"),
        project.replace(
            "CURRENT_PROJECT_VERSION = 7;",
            "CURRENT_PROJECT_VERSION = 8;"
        ),
        "the project level (3) is shadowed and stays"
    );
    assert_eq!(
        read(dir, "Watch/Config/Watch.xcconfig"),
        "CURRENT_PROJECT_VERSION = 1\nCURRENT_PROJECT_VERSION = 7\nCURRENT_PROJECT_VERSION[sdk=watchos*] = 8\n"
    );
    assert_eq!(changed(&before, dir).len(), 2);
}

/// Bytes are kept exactly: CRLF line ends, a quoted `[sdk=iphoneos*]` key in the pbxproj (the simulator's
/// variant stays), comments, and the files' modes.
#[test]
fn build_number_edits_keep_crlf_conditions_and_modes() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let project = pbxproj(
        &[],
        Base::None,
        &[T {
            base: Base::Group("App/App.xcconfig"),
            ..t(
                "App",
                APP,
                &[
                    ("GENERATE_INFOPLIST_FILE", "YES"),
                    ("CURRENT_PROJECT_VERSION", "$(APP_BUILD)"),
                    ("APP_BUILD[sdk=iphoneos*]", "9"),
                    ("APP_BUILD[sdk=iphonesimulator*]", "1"),
                ],
            )
        }],
    )
    .replace('\n', "\r\n");
    write(&dir.join("App.xcodeproj/project.pbxproj"), &project);
    let xcconfig = "// settings\r\nAPP_BUILD = 3 // unused: the pbxproj's conditional wins\r\n";
    write(&dir.join("App/App.xcconfig"), xcconfig);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("App.xcodeproj/project.pbxproj"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
    }
    let out = apply(dir, "10", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed App.xcodeproj/project.pbxproj: APP_BUILD 9 -> 10 (2 places)\n"
    );
    assert_eq!(
        read(dir, "App.xcodeproj/project.pbxproj"),
        project.replace(
            "\"APP_BUILD[sdk=iphoneos*]\" = 9;",
            "\"APP_BUILD[sdk=iphoneos*]\" = 10;"
        )
    );
    assert_eq!(read(dir, "App/App.xcconfig"), xcconfig);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("App.xcodeproj/project.pbxproj"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}

/// Test targets: left alone by default with one note; `--all-targets` and `--target` choose them.
#[test]
fn build_number_test_targets_are_left_alone_unless_chosen() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let project = pbxproj(
        &[],
        Base::None,
        &[
            t("App", APP, &[("INFOPLIST_FILE", "App/Info.plist")]),
            t(
                "AppTests",
                "bundle.unit-test",
                &[("INFOPLIST_FILE", "AppTests/Info.plist")],
            ),
            t(
                "AppUITests",
                "bundle.ui-testing",
                &[("INFOPLIST_FILE", "AppUITests/Info.plist")],
            ),
        ],
    );
    write(&dir.join("App.xcodeproj/project.pbxproj"), &project);
    for p in ["App", "AppTests", "AppUITests"] {
        write(&dir.join(p).join("Info.plist"), &plist("1", "1.0"));
    }
    let out = apply(dir, "2", &["--dry-run"]);
    assert_eq!(
        stdout(&out),
        "would change App/Info.plist: CFBundleVersion 1 -> 2\n\
         note: App.xcodeproj: test targets left alone: AppTests, AppUITests (--all-targets or --target NAME to include them)\n"
    );
    let out = apply(dir, "2", &["--dry-run", "--all-targets"]);
    assert_eq!(stdout(&out).lines().count(), 3, "{}", stdout(&out));
    let out = apply(
        dir,
        "2",
        &["--dry-run", "--target", "App", "--target", "AppTests"],
    );
    assert_eq!(
        stdout(&out),
        "would change App/Info.plist: CFBundleVersion 1 -> 2\n\
         would change AppTests/Info.plist: CFBundleVersion 1 -> 2\n\
         note: App.xcodeproj: test targets left alone: AppUITests (--all-targets or --target NAME to include them)\n"
    );
    let out = apply(dir, "2", &["--target", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "ipagate: error: no target named \"Nope\"; targets: App, AppTests, AppUITests\n"
    );
}

// ---- numbers ----

#[test]
fn build_number_leading_zeros_lower_numbers_and_bad_numbers_are_refused_first() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[t("App", APP, &[("INFOPLIST_FILE", "App/Info.plist")])],
        ),
    );
    write(&dir.join("App/Info.plist"), &plist("4321", "1.0"));
    let before = snapshot(dir);
    let refused = |number: &str, extra: &[&str], expected: &str| {
        let out = apply(dir, number, extra);
        assert_eq!(out.status.code(), Some(2), "{number}");
        assert_eq!(stderr(&out), format!("ipagate: error: {expected}\n"));
        assert_eq!(snapshot(dir), before, "nothing written for {number}");
    };
    refused(
        "01",
        &[],
        "will not write build number 01: a leading zero: App Store Connect compares build numbers numerically, so \
         it would collide with 1",
    );
    refused(
        "0",
        &[],
        "will not write build number 0: it is lower than the current 4321 (App/Info.plist); App Store Connect needs \
         a higher one (pass --allow-lower to go back anyway)",
    );
    refused(
        "1.2.3.4",
        &[],
        "will not write build number 1.2.3.4: App Store Connect accepts at most three period-separated integers as \
         CFBundleVersion (e.g. 42 or 1.2.3)",
    );
    let out = apply(dir, "7", &["--allow-lower"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed App/Info.plist: CFBundleVersion 4321 -> 7\n"
    );
}

#[test]
fn build_number_next_refuses_an_invalid_marketing_version() {
    let out = ipagate(&[
        "build-number",
        "next",
        "--bundle-id",
        "com.example.demo",
        "--version",
        "1.2.3.4",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "ipagate: error: invalid --version \"1.2.3.4\": App Store Connect accepts at most three period-separated \
         integers as a marketing version (ITMS-90060), e.g. 1.2.3\n"
    );
}

// ---- Flutter ----

fn flutter_project(dir: &Path, generated: Option<&str>) {
    write(
        &dir.join("pubspec.yaml"),
        "name: demo\nversion: 1.0.0+1 # bumped by CI\n",
    );
    write(
        &dir.join("ios/Runner.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[T {
                base: Base::Group("Flutter/Release.xcconfig"),
                ..t(
                    "Runner",
                    APP,
                    &[
                        ("INFOPLIST_FILE", "Runner/Info.plist"),
                        ("CURRENT_PROJECT_VERSION", "$(FLUTTER_BUILD_NUMBER)"),
                    ],
                )
            }],
        ),
    );
    write(
        &dir.join("ios/Flutter/Release.xcconfig"),
        "#include? \"Pods/Target Support Files/Pods-Runner/Pods-Runner.release.xcconfig\"\n#include \"Generated.xcconfig\"\n",
    );
    write(
        &dir.join("ios/Runner/Info.plist"),
        &plist("$(FLUTTER_BUILD_NUMBER)", "$(FLUTTER_BUILD_NAME)"),
    );
    if let Some(generated) = generated {
        write(&dir.join("ios/Flutter/Generated.xcconfig"), generated);
    }
}

#[test]
fn build_number_flutter_pubspec_generated_xcconfig_and_android_limit() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    flutter_project(dir, None);
    let out = apply(dir, "4321", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed pubspec.yaml: version 1.0.0+1 -> 1.0.0+4321\n\
         note: ios/Flutter/Generated.xcconfig: not present: `flutter build ios` writes FLUTTER_BUILD_NUMBER from pubspec.yaml\n"
    );
    assert_eq!(
        read(dir, "pubspec.yaml"),
        "name: demo\nversion: 1.0.0+4321 # bumped by CI\n"
    );
    // A committed Generated.xcconfig is updated too.
    let generated = "// This is a generated file; do not edit or check into version control.\nFLUTTER_ROOT=/opt/flutter\nFLUTTER_BUILD_NAME=1.0.0\nFLUTTER_BUILD_NUMBER=4321\n";
    write(&dir.join("ios/Flutter/Generated.xcconfig"), generated);
    let out = apply(dir, "4322", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed ios/Flutter/Generated.xcconfig: FLUTTER_BUILD_NUMBER 4321 -> 4322\n\
         changed pubspec.yaml: version 1.0.0+4321 -> 1.0.0+4322\n"
    );
    assert_eq!(
        read(dir, "ios/Flutter/Generated.xcconfig"),
        generated.replace("=4321", "=4322")
    );
    // show: the pubspec's numbers through FLUTTER_BUILD_NAME / FLUTTER_BUILD_NUMBER.
    let out = run(dir, &["build-number", "show", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        v["targets"][1],
        json!({"project": "ios/Runner.xcodeproj", "target": "Runner", "product_type": "application",
               "configuration": "Release",
               "marketing_version": {"value": "1.0.0", "defined_in": "ios/Flutter/Generated.xcconfig:3",
                                     "via": ["FLUTTER_BUILD_NAME"], "problem": null},
               "build_number": {"value": "4322", "defined_in": "ios/Flutter/Generated.xcconfig:4",
                                "via": ["FLUTTER_BUILD_NUMBER"], "problem": null}})
    );
    // Android's versionCode limit, with the whole number in the message and no file named.
    let before = snapshot(dir);
    for (number, reason) in [
        (
            "2100000001",
            "pubspec.yaml's build number is also Android's versionCode, which Google Play caps at 2100000000 (pass \
             --allow-over-android-max if this app never ships to Android)",
        ),
        (
            "1.2",
            "pubspec.yaml's `version: x.y.z+N` needs a whole number N (it is also Android's versionCode)",
        ),
        (
            "1.2.3.4",
            "App Store Connect accepts at most three period-separated integers as CFBundleVersion (e.g. 42 or 1.2.3)",
        ),
    ] {
        let out = apply(dir, number, &[]);
        assert_eq!(
            stderr(&out),
            format!("ipagate: error: will not write build number {number}: {reason}\n")
        );
    }
    let out = apply(dir, "18446744073709551615", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(dir), before, "nothing written");
    let out = apply(dir, "2100000001", &["--allow-over-android-max"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The pubspec alone (no `ios/`): the whole line change is shown.
#[test]
fn build_number_flutter_without_ios_project() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(&dir.join("pubspec.yaml"), "name: demo\nversion: 1.0.0+1\n");
    let out = apply(dir, "2", &[]);
    assert_eq!(
        stdout(&out),
        "changed pubspec.yaml: version 1.0.0+1 -> 1.0.0+2\n"
    );
}

// ---- dependencies ----

/// SwiftPM checkouts (as `xcodebuild -clonedSourcePackagesDirPath` lays them out) and `.swiftpm` are someone
/// else's code: never read as the app's project, never changed.
#[test]
fn build_number_swiftpm_checkouts_are_skipped() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[t("App", APP, &[("INFOPLIST_FILE", "App/Info.plist")])],
        ),
    );
    write(&dir.join("App/Info.plist"), &plist("1", "1.0"));
    let vendored = pbxproj(
        &[],
        Base::None,
        &[t("Lib", APP, &[("INFOPLIST_FILE", "Info.plist")])],
    );
    for pkg in [
        "SourcePackages/checkouts/swift-log",
        "Packages/Local/.swiftpm/xcode",
    ] {
        write(
            &dir.join(pkg).join("Lib.xcodeproj/project.pbxproj"),
            &vendored,
        );
        write(&dir.join(pkg).join("Info.plist"), &plist("9", "9.0"));
    }
    write(&dir.join("SourcePackages/workspace-state.json"), "{}");
    let before = snapshot(dir);
    let out = apply(dir, "2", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(changed(&before, dir), ["App/Info.plist"]);
}

/// A value defined in a CocoaPods file is the pod tool's, not ours to edit.
#[test]
fn build_number_defined_in_pods_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[T {
                base: Base::Group("Pods/Target Support Files/Pods-App/Pods-App.release.xcconfig"),
                ..t("App", APP, &[("GENERATE_INFOPLIST_FILE", "YES")])
            }],
        ),
    );
    write(
        &dir.join("Pods/Target Support Files/Pods-App/Pods-App.release.xcconfig"),
        "CURRENT_PROJECT_VERSION = 3\n",
    );
    let out = apply(dir, "4", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "target App (Debug) in App.xcodeproj: it is defined in Pods/Target Support Files/Pods-App/Pods-App.release.xcconfig, \
             inside Pods/, which its package manager or build regenerates"
        ),
        "{}",
        stderr(&out)
    );
}

/// The defining place must be the project's own file: not outside `--project`, not through a symbolic link.
#[test]
fn build_number_outside_the_project_or_through_a_symlink_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ios");
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[],
            Base::None,
            &[t("App", APP, &[("INFOPLIST_FILE", "../Shared/Info.plist")])],
        ),
    );
    write(&root.path().join("Shared/Info.plist"), &plist("1", "1.0"));
    let before = snapshot(root.path());
    let out = apply(&dir, "2", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "Shared/Info.plist, outside the project directory (pass a --project that contains it)"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(root.path()), before);
    // From the parent it works.
    let out = apply(root.path(), "2", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "changed Shared/Info.plist: CFBundleVersion 1 -> 2\n"
    );
    #[cfg(unix)]
    {
        let linked = root.path().join("linked");
        write(
            &linked.join("App.xcodeproj/project.pbxproj"),
            &pbxproj(
                &[],
                Base::None,
                &[t("App", APP, &[("INFOPLIST_FILE", "Info.plist")])],
            ),
        );
        std::os::unix::fs::symlink(
            root.path().join("Shared/Info.plist"),
            linked.join("Info.plist"),
        )
        .unwrap();
        let out = apply(&linked, "3", &[]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("it is defined in Info.plist, a symbolic link"),
            "{}",
            stderr(&out)
        );
        assert_eq!(read(root.path(), "Shared/Info.plist"), plist("2", "1.0"));
    }
}

// ---- hostile input ----

#[test]
fn build_number_hostile_xcconfigs_are_bounded_errors() {
    let root = tempfile::tempdir().unwrap();
    type Setup = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        (
            "cycle",
            Box::new(|d: &Path| {
                write(&d.join("Config/A.xcconfig"), "#include \"B.xcconfig\"\n");
                write(&d.join("Config/B.xcconfig"), "#include \"./A.xcconfig\"\n");
            }),
            "#include cycle: Config/A.xcconfig -> Config/B.xcconfig -> Config/A.xcconfig",
        ),
        (
            "depth",
            Box::new(|d: &Path| {
                for i in 0..200 {
                    write(
                        &d.join(format!(
                            "Config/{}.xcconfig",
                            if i == 0 {
                                "A".to_owned()
                            } else {
                                i.to_string()
                            }
                        )),
                        &format!("#include \"{}.xcconfig\"\n", i + 1),
                    );
                }
            }),
            "#include chain deeper than 32 files at Config/32.xcconfig",
        ),
        (
            "not utf-8",
            Box::new(|d: &Path| {
                std::fs::create_dir_all(d.join("Config")).unwrap();
                std::fs::write(
                    d.join("Config/A.xcconfig"),
                    b"CURRENT_PROJECT_VERSION = \xff\xfe\n",
                )
                .unwrap();
            }),
            "Config/A.xcconfig is not UTF-8",
        ),
        (
            "reference cycle",
            Box::new(|d: &Path| {
                write(
                    &d.join("Config/A.xcconfig"),
                    "CURRENT_PROJECT_VERSION = $(A)\nA = $(B)\nB = $(A)\n",
                );
            }),
            "the build settings refer to each other in a cycle",
        ),
        (
            "exponential references",
            Box::new(|d: &Path| {
                let mut text = String::from("INFOPLIST_FILE = $(V0)\n");
                for i in 0..40 {
                    text.push_str(&format!("V{i} = $(V{})$(V{})\n", i + 1, i + 1));
                }
                write(&d.join("Config/A.xcconfig"), &text);
            }),
            "more than 10000 build setting references expanded for one value",
        ),
    ];
    for (name, setup, expected) in cases {
        let dir = root.path().join(name.replace(' ', "-"));
        write(
            &dir.join("App.xcodeproj/project.pbxproj"),
            &pbxproj(
                &[],
                Base::None,
                &[T {
                    base: Base::Group("Config/A.xcconfig"),
                    ..t("App", APP, &[("GENERATE_INFOPLIST_FILE", "YES")])
                }],
            ),
        );
        setup(&dir);
        let before = snapshot(&dir);
        let out = apply(&dir, "2", &[]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stdout(&out));
        assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
        assert_eq!(snapshot(&dir), before, "{name}: nothing written");
    }
    // A pbxproj that is not one, nested absurdly deep, or huge.
    let dir = root.path().join("bad-pbxproj");
    write(
        &dir.join("App.xcodeproj/project.pbxproj"),
        &format!("{{ objects = {}", "(".repeat(100_000)),
    );
    let out = apply(&dir, "2", &[]);
    assert_eq!(
        stderr(&out),
        "ipagate: error: App.xcodeproj/project.pbxproj: not a project.pbxproj: nesting deeper than 64 levels at byte 76\n"
    );
    let big = std::fs::File::create(dir.join("App.xcodeproj/project.pbxproj")).unwrap();
    big.set_len(33 << 20).unwrap();
    let out = apply(&dir, "2", &[]);
    assert_eq!(
        stderr(&out),
        "ipagate: error: App.xcodeproj/project.pbxproj: App.xcodeproj/project.pbxproj is larger than 33554432 bytes\n"
    );
}

// ---- show ----

/// Golden of `show`: every shipping target × configuration with its marketing version and build number, where
/// each is defined, and what cannot be resolved.
#[test]
fn build_number_show_golden() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    write(
        &dir.join("Demo.xcodeproj/project.pbxproj"),
        &pbxproj(
            &[
                ("MARKETING_VERSION", "2.1"),
                ("CURRENT_PROJECT_VERSION", "40"),
            ],
            Base::Group("Config/Base.xcconfig"),
            &[
                t("Demo", APP, &[("INFOPLIST_FILE", "Demo/Info.plist")]),
                t(
                    "Share",
                    "app-extension",
                    &[
                        ("GENERATE_INFOPLIST_FILE", "YES"),
                        ("CURRENT_PROJECT_VERSION[config=Debug]", "$(NOPE)"),
                    ],
                ),
                t(
                    "DemoTests",
                    "bundle.unit-test",
                    &[("GENERATE_INFOPLIST_FILE", "YES")],
                ),
            ],
        ),
    );
    write(
        &dir.join("Config/Base.xcconfig"),
        "MARKETING_VERSION = 2.0\n",
    );
    write(
        &dir.join("Demo/Info.plist"),
        &plist("$(CURRENT_PROJECT_VERSION)", "$(MARKETING_VERSION)"),
    );
    let before = snapshot(dir);
    let out = run(dir, &["build-number", "show"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Demo.xcodeproj: Demo [application] Debug: version 2.1 (Demo.xcodeproj (project, Debug) via MARKETING_VERSION), \
         build 40 (Demo.xcodeproj (project, Debug) via CURRENT_PROJECT_VERSION)\n\
         Demo.xcodeproj: Demo [application] Release: version 2.1 (Demo.xcodeproj (project, Release) via MARKETING_VERSION), \
         build 40 (Demo.xcodeproj (project, Release) via CURRENT_PROJECT_VERSION)\n\
         Demo.xcodeproj: Share [app-extension] Debug: version 2.1 (Demo.xcodeproj (project, Debug) via MARKETING_VERSION), \
         build ? ($(NOPE) is set nowhere in the project or its xcconfig files — a value from the xcodebuild command \
         line, the environment or a script cannot be changed here)\n\
         Demo.xcodeproj: Share [app-extension] Release: version 2.1 (Demo.xcodeproj (project, Release) via MARKETING_VERSION), \
         build 40 (Demo.xcodeproj (project, Release) via CURRENT_PROJECT_VERSION)\n\
         note: Demo.xcodeproj: test targets left alone: DemoTests (--all-targets or --target NAME to include them)\n"
    );
    let out = run(
        dir,
        &[
            "build-number",
            "show",
            "--format",
            "json",
            "--target",
            "Share",
        ],
    );
    assert_eq!(
        stdout(&out),
        "{\"targets\":[{\"project\":\"Demo.xcodeproj\",\"target\":\"Share\",\"product_type\":\"app-extension\",\
         \"configuration\":\"Debug\",\"marketing_version\":{\"value\":\"2.1\",\"defined_in\":\"Demo.xcodeproj (project, Debug)\",\
         \"via\":[\"MARKETING_VERSION\"],\"problem\":null},\"build_number\":{\"value\":null,\"defined_in\":null,\"via\":[],\
         \"problem\":\"$(NOPE) is set nowhere in the project or its xcconfig files — a value from the xcodebuild command \
         line, the environment or a script cannot be changed here\"}},{\"project\":\"Demo.xcodeproj\",\"target\":\"Share\",\
         \"product_type\":\"app-extension\",\"configuration\":\"Release\",\"marketing_version\":{\"value\":\"2.1\",\
         \"defined_in\":\"Demo.xcodeproj (project, Release)\",\"via\":[\"MARKETING_VERSION\"],\"problem\":null},\
         \"build_number\":{\"value\":\"40\",\"defined_in\":\"Demo.xcodeproj (project, Release)\",\
         \"via\":[\"CURRENT_PROJECT_VERSION\"],\"problem\":null}}],\"pubspec_version\":null,\"notes\":[{\"path\":\
         \"Demo.xcodeproj\",\"message\":\"test targets left alone: DemoTests (--all-targets or --target NAME to include them)\"}]}\n"
    );
    assert_eq!(snapshot(dir), before, "show writes nothing");
}
