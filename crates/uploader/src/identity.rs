//! What an IPA says it is: bundle id, marketing version, build number and platform (from its app's Info.plist).

use std::path::Path;

use ipagate_asc::resources::Platform;
use ipagate_formats::{InfoPlistState, Limits, Package, Tiers};

/// The app's identity, as the build upload declares it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// `CFBundleIdentifier`.
    pub bundle_id: String,
    /// `CFBundleShortVersionString`.
    pub version: String,
    /// `CFBundleVersion`.
    pub build_number: String,
    /// From `DTPlatformName`, else `CFBundleSupportedPlatforms`.
    pub platform: Platform,
}

/// Why the identity cannot be read (bad input: the CLI exits 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The package cannot be opened as an IPA.
    #[error("cannot read {path} as an IPA: {source}")]
    Open {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: ipagate_formats::OpenError,
    },
    /// The app's Info.plist is missing or unreadable.
    #[error("the app's Info.plist in {path} cannot be read: {why}")]
    InfoPlist {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A required key is missing or not a string.
    #[error("the app's Info.plist has no usable {key} (a string is required)")]
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// `CFBundleVersion` / `CFBundleShortVersionString` is not what App Store Connect accepts.
    #[error(
        "{key} {value:?} is not a valid App Store build/version number (at most three period-separated \
         integers, ITMS-90060/90061)"
    )]
    InvalidNumber {
        /// The key.
        key: &'static str,
        /// Its value (printable, bounded).
        value: String,
    },
    /// The platform cannot be mapped to IOS, TV_OS, VISION_OS or MAC_OS.
    #[error(
        "cannot tell the upload platform: DTPlatformName {dt:?}, CFBundleSupportedPlatforms {supported:?} \
         (expected iphoneos, appletvos, xros or macosx)"
    )]
    Platform {
        /// `DTPlatformName`.
        dt: Option<String>,
        /// `CFBundleSupportedPlatforms`.
        supported: Vec<String>,
    },
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Maps `DTPlatformName` (or a `CFBundleSupportedPlatforms` entry) to the upload platform; simulators and
/// watchOS-only packages have none.
pub fn platform_of(name: &str) -> Option<Platform> {
    match name.to_ascii_lowercase().as_str() {
        "iphoneos" => Some(Platform::Ios),
        "appletvos" => Some(Platform::TvOs),
        "xros" | "visionos" => Some(Platform::VisionOs),
        "macosx" | "macos" => Some(Platform::MacOs),
        _ => None,
    }
}

/// Reads the identity of the IPA at `path` (the app bundle's Info.plist only; nothing else is inflated).
pub fn read_identity(path: &Path) -> Result<Identity, IdentityError> {
    let shown = path.display().to_string();
    let package =
        Package::open(path, &Limits::default()).map_err(|source| IdentityError::Open {
            path: shown.clone(),
            source,
        })?;
    let facts = ipagate_formats::inspect_with(&package, Tiers::BUNDLES).map_err(|source| {
        IdentityError::Open {
            path: shown.clone(),
            source,
        }
    })?;
    identity_of(&shown, &facts)
}

/// The identity of already-read facts (`shown` names the input in errors): what `publish` uses after the gate
/// read the same facts from the handle it checked.
pub fn identity_of(shown: &str, facts: &ipagate_formats::Facts) -> Result<Identity, IdentityError> {
    let shown = shown.to_owned();
    let info = match &facts.app().info {
        InfoPlistState::Parsed(info) => info,
        InfoPlistState::Missing => {
            return Err(IdentityError::InfoPlist {
                path: shown,
                why: "there is none".into(),
            });
        }
        InfoPlistState::Unreadable(why) => {
            return Err(IdentityError::InfoPlist {
                path: shown,
                why: why.clone(),
            });
        }
    };
    let text = |key: &'static str, value: &Option<ipagate_formats::Text>| {
        value
            .as_ref()
            .and_then(|t| t.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or(IdentityError::MissingKey { key })
    };
    let bundle_id = text("CFBundleIdentifier", &info.bundle_id)?;
    let version = text("CFBundleShortVersionString", &info.short_version)?;
    let build_number = text("CFBundleVersion", &info.build_version)?;
    for (key, value) in [
        ("CFBundleShortVersionString", &version),
        ("CFBundleVersion", &build_number),
    ] {
        if !ipagate_formats::info_plist::is_valid_bundle_version(value) {
            return Err(IdentityError::InvalidNumber {
                key,
                value: printable(value),
            });
        }
    }
    let supported = info.supported_platforms.clone().unwrap_or_default();
    let platform = match &info.dt_platform_name {
        Some(dt) => platform_of(dt),
        None => supported.iter().find_map(|p| match p.as_str() {
            "iPhoneOS" => Some(Platform::Ios),
            "AppleTVOS" => Some(Platform::TvOs),
            "XROS" => Some(Platform::VisionOs),
            "MacOSX" => Some(Platform::MacOs),
            _ => None,
        }),
    };
    let platform = platform.ok_or_else(|| IdentityError::Platform {
        dt: info.dt_platform_name.as_deref().map(printable),
        supported: supported.iter().map(|s| printable(s)).collect(),
    })?;
    Ok(Identity {
        bundle_id,
        version,
        build_number,
        platform,
    })
}
