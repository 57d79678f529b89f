//! Any build setting of every target of one Xcode project, resolved per configuration the way the bumper
//! resolves version settings ([`crate::resolve::Resolver`]): for callers that need what a target builds for
//! (`ipagate lint` reads `TARGETED_DEVICE_FAMILY` and `ASSETCATALOG_COMPILER_APPICON_NAME` to know which icon
//! sizes an icon set must hold). Reading only.

use std::path::Path;

use crate::files::Files;
use crate::pbxproj;
use crate::resolve::Resolver;

/// One setting's resolved value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SettingValue {
    /// The setting's name.
    pub key: String,
    /// The value, expanded and trimmed (empty when set nowhere, as in Xcode).
    pub value: String,
    /// Where it is defined (`Config/Base.xcconfig:3`, `App.xcodeproj (target App, Release)`); `None` when set
    /// nowhere or only by Xcode itself.
    pub defined_in: Option<String>,
}

/// One target × configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetSettings {
    /// The target's name.
    pub target: String,
    /// Its `productType` (`com.apple.product-type.application`, …).
    pub product_type: String,
    /// The configuration (`Debug`, `Release`, …).
    pub configuration: String,
    /// The SDK an App Store build uses (`iphoneos`, `watchos`, `macosx`, …); empty when `problem` is set.
    pub sdk: String,
    /// The asked settings, in the asked order (empty when `problem` is set).
    pub values: Vec<SettingValue>,
    /// Why this target and configuration cannot be resolved (a base xcconfig that cannot be located, a
    /// reference cycle).
    pub problem: Option<String>,
}

impl TargetSettings {
    /// The value of `key`, when it was asked for and resolved.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.values.iter().find(|v| v.key == key)
    }
}

/// Resolves `keys` for every target and configuration of the project whose `project.pbxproj` is `pbxproj`.
/// The error says why the file is not a readable project.
pub fn target_settings(pbxproj: &Path, keys: &[&str]) -> Result<Vec<TargetSettings>, String> {
    // Absolute, as `$(SRCROOT)` is for Xcode.
    let pbxproj = &std::fs::canonicalize(pbxproj)
        .map_err(|e| format!("cannot read {}: {e}", pbxproj.display()))?;
    let xcodeproj = pbxproj.parent().unwrap_or(pbxproj);
    let srcroot = xcodeproj.parent().unwrap_or(xcodeproj);
    let files = Files::new(srcroot);
    let bytes = files
        .get(pbxproj)?
        .ok_or_else(|| format!("{} does not exist", pbxproj.display()))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8", pbxproj.display()))?;
    let project = pbxproj::read_project(text, xcodeproj).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for target in &project.targets {
        for config in &target.configurations {
            let mut row = TargetSettings {
                target: target.name.clone(),
                product_type: target.product_type.clone(),
                configuration: config.name.clone(),
                sdk: String::new(),
                values: Vec::new(),
                problem: None,
            };
            let resolved = Resolver::new(&files, &project, pbxproj, target, config, false)
                .and_then(|r| {
                    let values = keys
                        .iter()
                        .map(|&key| {
                            Ok(SettingValue {
                                key: key.to_owned(),
                                value: r.setting(key)?,
                                defined_in: r.defined_in(key),
                            })
                        })
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok((r.sdk().to_owned(), values))
                });
            match resolved {
                Ok((sdk, values)) => {
                    row.sdk = sdk;
                    row.values = values;
                }
                Err(problem) => row.problem = Some(problem),
            }
            out.push(row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small project: an iOS app for iPhone and iPad (the family set on the target, the icon on the project),
    /// a macOS app, each with Debug and Release.
    fn project() -> String {
        "// !$*UTF8*$!\n{ objects = {\n\
         P = { isa = PBXProject; buildConfigurationList = PL; targets = (A, M); };\n\
         PL = { isa = XCConfigurationList; buildConfigurations = (PD, PR); };\n\
         PD = { isa = XCBuildConfiguration; name = Debug; buildSettings = { ASSETCATALOG_COMPILER_APPICON_NAME = AppIcon; SDKROOT = iphoneos; }; };\n\
         PR = { isa = XCBuildConfiguration; name = Release; buildSettings = { ASSETCATALOG_COMPILER_APPICON_NAME = AppIcon; SDKROOT = iphoneos; }; };\n\
         A = { isa = PBXNativeTarget; name = App; productType = \"com.apple.product-type.application\"; buildConfigurationList = AL; };\n\
         AL = { isa = XCConfigurationList; buildConfigurations = (AD, AR); };\n\
         AD = { isa = XCBuildConfiguration; name = Debug; buildSettings = { TARGETED_DEVICE_FAMILY = \"1,2\"; }; };\n\
         AR = { isa = XCBuildConfiguration; name = Release; buildSettings = { FAMILIES = \"1,2\"; TARGETED_DEVICE_FAMILY = \"$(FAMILIES)\"; }; };\n\
         M = { isa = PBXNativeTarget; name = Mac; productType = \"com.apple.product-type.application\"; buildConfigurationList = ML; };\n\
         ML = { isa = XCConfigurationList; buildConfigurations = (MR); };\n\
         MR = { isa = XCBuildConfiguration; name = Release; buildSettings = { SDKROOT = macosx; }; };\n\
         }; rootObject = P; }\n"
            .to_owned()
    }

    #[test]
    fn every_target_and_configuration_with_the_asked_settings() {
        let dir = tempfile::tempdir().unwrap();
        let pbxproj = dir.path().join("App.xcodeproj/project.pbxproj");
        std::fs::create_dir_all(pbxproj.parent().unwrap()).unwrap();
        std::fs::write(&pbxproj, project()).unwrap();
        let rows = target_settings(
            &pbxproj,
            &[
                "TARGETED_DEVICE_FAMILY",
                "ASSETCATALOG_COMPILER_APPICON_NAME",
            ],
        )
        .unwrap();
        let got: Vec<(&str, &str, &str, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r.target.as_str(),
                    r.configuration.as_str(),
                    r.sdk.as_str(),
                    r.get("TARGETED_DEVICE_FAMILY").unwrap().value.as_str(),
                    r.get("ASSETCATALOG_COMPILER_APPICON_NAME")
                        .unwrap()
                        .value
                        .as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("App", "Debug", "iphoneos", "1,2", "AppIcon"),
                // Followed through a reference.
                ("App", "Release", "iphoneos", "1,2", "AppIcon"),
                // The family set nowhere: empty, as in Xcode; the icon name from the project level.
                ("Mac", "Release", "macosx", "", "AppIcon"),
            ]
        );
        let family = rows[0].get("TARGETED_DEVICE_FAMILY").unwrap();
        assert_eq!(
            family.defined_in.as_deref(),
            Some("App.xcodeproj (target App, Debug)")
        );
        assert_eq!(
            rows[2].get("TARGETED_DEVICE_FAMILY").unwrap().defined_in,
            None
        );
        assert!(rows.iter().all(|r| r.problem.is_none()));
    }

    #[test]
    fn a_file_that_is_not_a_project_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let pbxproj = dir.path().join("App.xcodeproj/project.pbxproj");
        std::fs::create_dir_all(pbxproj.parent().unwrap()).unwrap();
        std::fs::write(&pbxproj, "{ not a project").unwrap();
        assert!(target_settings(&pbxproj, &["SDKROOT"]).is_err());
        assert!(target_settings(&dir.path().join("nope/project.pbxproj"), &["SDKROOT"]).is_err());
    }
}
