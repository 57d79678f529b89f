//! Which value a target's `CFBundleVersion` (and `CFBundleShortVersionString`) has for a configuration, and which
//! file and line define it (`shared/reference/xcode-build-settings.md` §1, §2, §5): the target's resolved
//! `INFOPLIST_FILE`, that plist's key (a literal, or `$(VAR)` followed through the build settings), or with
//! `GENERATE_INFOPLIST_FILE = YES` and no key in the file, `CURRENT_PROJECT_VERSION` / `MARKETING_VERSION`.

use std::path::{Path, PathBuf};

use crate::files::Files;
use crate::pbxproj::{BaseConfig, Configuration, Project, Target, normalize};
use crate::settings::{Context, Def, Origin, Stack, TraceError, single_reference};
use crate::xcconfig;

/// What a target is, for choosing which ones get the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Its product goes to App Store Connect with the app: app, extension, watch app, App Clip, iMessage app.
    Shipping,
    /// A unit or UI test bundle.
    Test,
    /// A framework, library, bundle, aggregate or tool.
    Other,
}

/// The kind of a `productType`.
pub fn target_kind(product_type: &str) -> TargetKind {
    let short = product_type
        .strip_prefix("com.apple.product-type.")
        .unwrap_or(product_type);
    if short.starts_with("bundle.unit-test") || short.starts_with("bundle.ui-testing") {
        TargetKind::Test
    } else if short.starts_with("application")
        || short.starts_with("app-extension")
        || short.starts_with("extensionkit-extension")
        || short.starts_with("watchkit")
        || short.starts_with("tv-app-extension")
    {
        TargetKind::Shipping
    } else {
        TargetKind::Other
    }
}

/// A version key and the build setting Xcode generates it from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionKey {
    /// The Info.plist key.
    pub plist: &'static str,
    /// The build setting.
    pub setting: &'static str,
    /// Flutter's build setting for it.
    pub flutter: &'static str,
}

/// `CFBundleVersion`.
pub const BUILD: VersionKey = VersionKey {
    plist: "CFBundleVersion",
    setting: "CURRENT_PROJECT_VERSION",
    flutter: "FLUTTER_BUILD_NUMBER",
};
/// `CFBundleShortVersionString`.
pub const MARKETING: VersionKey = VersionKey {
    plist: "CFBundleShortVersionString",
    setting: "MARKETING_VERSION",
    flutter: "FLUTTER_BUILD_NAME",
};

/// The place a value is defined: where a new value must be written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Site {
    /// The Info.plist's own key.
    Plist {
        /// The plist (absolute).
        file: PathBuf,
    },
    /// A build setting assignment.
    Setting {
        /// The pbxproj or xcconfig (absolute).
        file: PathBuf,
        /// The setting's name.
        key: String,
        /// The value's byte span.
        start: usize,
        /// End of the span.
        end: usize,
        /// Whether the file is a pbxproj (quoting rules differ).
        pbxproj: bool,
    },
    /// Flutter's `FLUTTER_BUILD_NUMBER`, which `flutter build` writes into `ios/Flutter/Generated.xcconfig` from
    /// `pubspec.yaml`; the file does not exist yet.
    FlutterPending,
}

/// A resolved value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The literal value (empty for [`Site::FlutterPending`]).
    pub value: String,
    /// Where it is defined.
    pub site: Site,
    /// Where, worded for people: `Config/Base.xcconfig:3`, `App.xcodeproj (target App, Release)`.
    pub defined_in: String,
    /// Build settings followed (`CURRENT_PROJECT_VERSION → BUILD_NUMBER`); empty for a literal in the plist.
    pub via: Vec<String>,
    /// The Info.plist the target uses, when it has one.
    pub info_plist: Option<PathBuf>,
}

/// The settings of one target and configuration, and files they name that do not exist.
pub struct Resolver<'a> {
    files: &'a Files,
    sdk: String,
    stack: Stack,
    missing: Vec<PathBuf>,
    srcroot: &'a Path,
    flutter: bool,
}

/// What an App Store build of the target uses: `SDKROOT`'s platform, defaulting to iOS.
fn sdk_name(sdkroot: &str) -> String {
    let name: String = sdkroot
        .rsplit('/')
        .next()
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_lowercase();
    match name.as_str() {
        "" | "auto" => "iphoneos".to_owned(),
        _ => name,
    }
}

impl<'a> Resolver<'a> {
    /// The resolver for `target` (or the project alone, with `None`) and `configuration`. `flutter` says a
    /// `pubspec.yaml` sits above the project, so `FLUTTER_BUILD_NUMBER` comes from it.
    pub fn new(
        files: &'a Files,
        project: &'a Project,
        pbxproj: &Path,
        target: &Target,
        configuration: &Configuration,
        flutter: bool,
    ) -> Result<Resolver<'a>, String> {
        let mut missing = Vec::new();
        let project_config = project
            .configurations
            .iter()
            .find(|c| c.name == configuration.name);
        let mut levels_for = |sdk: &str| -> Result<Vec<Vec<Def>>, String> {
            let mut levels = vec![builtins(project, target, configuration, sdk)];
            if let Some(config) = project_config {
                levels.push(base_level(files, &config.base, &mut missing)?);
                levels.push(pbxproj_level(pbxproj, "project", config));
            }
            levels.push(base_level(files, &configuration.base, &mut missing)?);
            levels.push(pbxproj_level(
                pbxproj,
                &format!("target {}", target.name),
                configuration,
            ));
            Ok(levels)
        };
        let context = |sdk: &str| Context {
            sdk: sdk.to_owned(),
            configuration: configuration.name.clone(),
        };
        let mut stack = Stack::new(levels_for("iphoneos")?, &context("iphoneos"));
        let sdk = sdk_name(&stack.value("SDKROOT")?.0);
        if sdk != "iphoneos" {
            stack = Stack::new(levels_for(&sdk)?, &context(&sdk));
        }
        missing.sort();
        missing.dedup();
        Ok(Resolver {
            files,
            sdk,
            stack,
            missing,
            srcroot: &project.srcroot,
            flutter,
        })
    }

    /// The SDK an App Store build of the target uses (`iphoneos`, `watchos`, `macosx`, …).
    pub fn sdk(&self) -> &str {
        &self.sdk
    }

    /// The value of any build setting, expanded and trimmed; empty when it is set nowhere (as in Xcode).
    pub fn setting(&self, key: &str) -> Result<String, String> {
        Ok(self.stack.value(key)?.0.trim().to_owned())
    }

    /// Where the assignment that gives `key` its value is, worded for people (`Config/Base.xcconfig:3`,
    /// `App.xcodeproj (target App, Release)`); `None` when it is set nowhere or only by Xcode.
    pub fn defined_in(&self, key: &str) -> Option<String> {
        match &self.stack.get(key)?.origin {
            Origin::Xcconfig { file, line, .. } => {
                Some(format!("{}:{line}", self.files.display(file)))
            }
            Origin::Pbxproj {
                file,
                owner,
                configuration,
                ..
            } => Some(format!(
                "{} ({owner}, {configuration})",
                self.files.display(file.parent().unwrap_or(file))
            )),
            Origin::Builtin => None,
        }
    }

    /// The target's Info.plist, when it names one.
    fn info_plist(&self) -> Result<Option<PathBuf>, String> {
        let (value, undefined) = self.stack.value("INFOPLIST_FILE")?;
        let value = value.trim();
        if value.is_empty() {
            return if undefined.is_empty() {
                Ok(None)
            } else {
                Err(format!(
                    "INFOPLIST_FILE is empty because {} {} set nowhere{}",
                    undefined
                        .iter()
                        .map(|n| format!("$({n})"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if undefined.len() == 1 { "is" } else { "are" },
                    self.missing_note()
                ))
            };
        }
        Ok(Some(normalize(&self.srcroot.join(value))))
    }

    fn missing_note(&self) -> String {
        if self.missing.is_empty() {
            String::new()
        } else {
            format!(
                " ({} missing)",
                self.missing
                    .iter()
                    .map(|p| self.files.display(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }

    /// The value of `key` and where it is defined.
    pub fn find(&self, key: VersionKey) -> Result<Found, String> {
        let generate = self
            .stack
            .value("GENERATE_INFOPLIST_FILE")?
            .0
            .trim()
            .eq_ignore_ascii_case("YES");
        let plist = self.info_plist()?;
        let Some(path) = plist else {
            return if generate {
                self.trace(key, key.setting, None)
            } else {
                Err(format!(
                    "no INFOPLIST_FILE and GENERATE_INFOPLIST_FILE is not YES: the product has no {}",
                    key.plist
                ))
            };
        };
        let shown = self.files.display(&path);
        let bytes = self
            .files
            .get(&path)?
            .ok_or_else(|| format!("INFOPLIST_FILE names {shown}, which does not exist"))?;
        let (_, dict) = ipagate_formats::info_plist::parse_dictionary(&bytes)
            .map_err(|e| format!("{shown}: {e}"))?;
        match dict.get(key.plist) {
            Some(plist::Value::String(text)) => {
                let text = text.trim();
                if let Some(name) = single_reference(text) {
                    self.trace(key, name, Some(path))
                } else if text.contains("$(") || text.contains("${") {
                    Err(format!(
                        "{} in {shown} is {text:?}, which combines build settings: make it one $(VAR) or a literal",
                        key.plist
                    ))
                } else {
                    Ok(Found {
                        value: text.to_owned(),
                        site: Site::Plist { file: path.clone() },
                        defined_in: shown,
                        via: Vec::new(),
                        info_plist: Some(path),
                    })
                }
            }
            Some(other) => Err(format!(
                "{} in {shown} is {}, not a string",
                key.plist,
                ipagate_formats::info_plist::type_name(other)
            )),
            None if generate => self.trace(key, key.setting, Some(path)),
            None => Err(format!(
                "{shown} has no {} and GENERATE_INFOPLIST_FILE is not YES",
                key.plist
            )),
        }
    }

    fn trace(
        &self,
        key: VersionKey,
        setting: &str,
        info_plist: Option<PathBuf>,
    ) -> Result<Found, String> {
        match self.stack.trace(setting) {
            Ok(traced) => {
                let (site, defined_in) = match &traced.def.origin {
                    Origin::Xcconfig { file, line, span } => (
                        Site::Setting {
                            file: file.clone(),
                            key: traced.def.key.clone(),
                            start: span.start,
                            end: span.end,
                            pbxproj: false,
                        },
                        format!("{}:{line}", self.files.display(file)),
                    ),
                    Origin::Pbxproj {
                        file,
                        owner,
                        configuration,
                        span,
                    } => {
                        let defined_in = format!(
                            "{} ({owner}, {configuration})",
                            self.files.display(file.parent().unwrap_or(file))
                        );
                        let Some(span) = span else {
                            return Err(format!(
                                "{} is a list in {defined_in}, not a value ipagate can change",
                                traced.def.key
                            ));
                        };
                        (
                            Site::Setting {
                                file: file.clone(),
                                key: traced.def.key.clone(),
                                start: span.start,
                                end: span.end,
                                pbxproj: true,
                            },
                            defined_in,
                        )
                    }
                    Origin::Builtin => {
                        return Err(format!(
                            "{} comes from Xcode's own {}",
                            setting, traced.def.key
                        ));
                    }
                };
                Ok(Found {
                    value: traced.value,
                    site,
                    defined_in,
                    via: traced.via,
                    info_plist,
                })
            }
            Err(TraceError::Undefined { name }) if name == key.flutter && self.flutter => {
                Ok(Found {
                    value: String::new(),
                    site: Site::FlutterPending,
                    defined_in: "pubspec.yaml (through flutter build)".to_owned(),
                    via: vec![name],
                    info_plist,
                })
            }
            Err(TraceError::Undefined { name }) => Err(format!(
                "$({name}) is set nowhere in the project or its xcconfig files{} — a value from the xcodebuild \
                 command line, the environment or a script cannot be changed here",
                self.missing_note()
            )),
            Err(TraceError::Composite { key, value, .. }) => Err(format!(
                "{key} = {value} combines build settings: make it one $(VAR) or a literal"
            )),
            Err(TraceError::Cycle { key }) => Err(format!(
                "the build settings refer to each other in a cycle through {key}"
            )),
        }
    }
}

fn builtins(
    project: &Project,
    target: &Target,
    configuration: &Configuration,
    sdk: &str,
) -> Vec<Def> {
    let srcroot = project.srcroot.display().to_string();
    let def = |key: &str, value: &str| Def {
        key: key.to_owned(),
        value: value.to_owned(),
        conditions: Vec::new(),
        origin: Origin::Builtin,
    };
    vec![
        def("TARGET_NAME", &target.name),
        def("TARGETNAME", &target.name),
        def("PRODUCT_NAME", "$(TARGET_NAME)"),
        def("PROJECT_NAME", &project.name),
        def("PROJECT", &project.name),
        def("SRCROOT", &srcroot),
        def("PROJECT_DIR", &srcroot),
        def("SOURCE_ROOT", &srcroot),
        def(
            "PROJECT_FILE_PATH",
            &format!("{srcroot}/{}.xcodeproj", project.name),
        ),
        def("CONFIGURATION", &configuration.name),
        def("SDKROOT", sdk),
        def("PLATFORM_NAME", sdk),
        def("EFFECTIVE_PLATFORM_NAME", &format!("-{sdk}")),
        def("ARCHS", "arm64"),
        def("CURRENT_ARCH", "arm64"),
        def("ACTION", "install"),
        def("DEVELOPMENT_LANGUAGE", "en"),
    ]
}

fn base_level(
    files: &Files,
    base: &BaseConfig,
    missing: &mut Vec<PathBuf>,
) -> Result<Vec<Def>, String> {
    match base {
        BaseConfig::None => Ok(Vec::new()),
        BaseConfig::Unlocatable(why) => Err(format!("cannot locate the base configuration: {why}")),
        BaseConfig::File(path) => {
            if files.get(path)?.is_none() {
                // e.g. CocoaPods' files before `pod install`: Xcode would stop; the rest can still be resolved.
                missing.push(path.clone());
                return Ok(Vec::new());
            }
            let loaded = xcconfig::load(files, path)?;
            missing.extend(loaded.missing);
            Ok(loaded
                .assignments
                .into_iter()
                .map(|a| Def {
                    key: a.key,
                    value: a.value,
                    conditions: a.conditions,
                    origin: Origin::Xcconfig {
                        file: a.file,
                        line: a.line,
                        span: a.span,
                    },
                })
                .collect())
        }
    }
}

fn pbxproj_level(pbxproj: &Path, owner: &str, configuration: &Configuration) -> Vec<Def> {
    configuration
        .settings
        .iter()
        .map(|s| Def {
            key: s.key.clone(),
            value: s.value.clone(),
            conditions: s.conditions.clone(),
            origin: Origin::Pbxproj {
                file: pbxproj.to_owned(),
                owner: owner.to_owned(),
                configuration: configuration.name.clone(),
                span: s.span.clone(),
            },
        })
        .collect()
}
