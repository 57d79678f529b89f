//! Dated data the rules judge with: required-reason API categories and their reasons, the
//! symbols that reveal them, Apple's third-party SDK list (`privacy.toml`), SDK minimums by date,
//! when each privacy rule became an error, and refused toolchain builds (`deadlines.toml`).
//!
//! Both files are embedded at build time (`crates/rules/data/`) and can be replaced by newer
//! copies without a new release (`--data DIR`: a file present in DIR replaces the embedded one).
//! Each carries a `version` and a `last_verified` date, which `ipagate rules` shows and every
//! report records.
//!
//! How a date and a configuration combine: a rule whose requirement is not yet in force on
//! `--as-of` reports a warning that names the date, and an error from that date on; a severity set
//! for the rule in `ipagate.toml` wins over both (the user's explicit choice), and `off` turns it
//! off whatever the date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// The files as written (the tests check the build-time conversion against them).
#[cfg(test)]
const PRIVACY: &str = include_str!("../data/privacy.toml");
#[cfg(test)]
const DEADLINES: &str = include_str!("../data/deadlines.toml");
/// The same files converted to JSON at build time (`build.rs`): what the binary parses.
const PRIVACY_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/privacy.json"));
const DEADLINES_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/deadlines.json"));

/// Largest data file read from `--data DIR`.
const MAX_DATA_FILE: u64 = 4 << 20;

/// `privacy.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyData {
    /// Data version (a date).
    pub version: String,
    /// When the data was last checked against its sources.
    pub last_verified: NaiveDate,
    /// Where it comes from.
    pub sources: Vec<String>,
    /// Category name (without `NSPrivacyAccessedAPICategory`) → valid reason codes.
    pub categories: BTreeMap<String, Vec<String>>,
    /// Reasons only a third-party SDK may declare.
    pub sdk_only_reasons: Vec<String>,
    /// Category → symbols, selectors and classes that reveal it in a binary.
    pub symbols: BTreeMap<String, Vec<String>>,
    /// Apple's list of SDKs that must ship a privacy manifest.
    pub third_party_sdks: SdkList,
    /// ITMS-90683: what makes an Info.plist purpose string necessary.
    pub purpose_string: Vec<PurposeTrigger>,
    /// ITMS-90078: what reveals code that registers with the Apple Push Notification service
    /// (absent from data files older than this field: no triggers).
    #[serde(default)]
    pub push: PushTriggers,
}

/// Code that registers for remote notifications.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PushTriggers {
    /// Selectors whose use reveals it.
    #[serde(default)]
    pub selectors: Vec<String>,
    /// Objective-C classes whose import reveals it.
    #[serde(default)]
    pub classes: Vec<String>,
}

/// One purpose-string trigger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeTrigger {
    /// The `NS…UsageDescription` key.
    pub key: String,
    /// Keys that also satisfy it.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// Objective-C classes whose import triggers it.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Selectors whose use triggers it.
    #[serde(default)]
    pub selectors: Vec<String>,
    /// Entitlements that trigger it.
    #[serde(default)]
    pub entitlements: Vec<String>,
}

/// Apple's third-party SDK list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SdkList {
    /// Whether the list's length was checked against Apple's page.
    pub count_verified: bool,
    /// Names as frameworks, SPM products or pods.
    pub names: Vec<String>,
    /// Listed SDK → Objective-C classes only it defines: its marks in a binary that links it
    /// statically (Swift SDKs are recognised by their module name instead).
    #[serde(default)]
    pub static_classes: BTreeMap<String, Vec<String>>,
}

/// `deadlines.toml`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Data version (a date).
    pub version: String,
    /// When the data was last checked against its sources.
    pub last_verified: NaiveDate,
    /// Where it comes from.
    pub sources: Vec<String>,
    /// ITMS-90725: SDK minimums by platform and date.
    pub sdk_minimum: Vec<SdkMinimum>,
    /// When a rule's findings become errors.
    pub enforcement: Vec<Enforcement>,
    /// ITMS-90534: toolchain builds App Store Connect refused.
    pub beta_toolchain: Vec<BetaToolchain>,
}

/// One SDK minimum.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SdkMinimum {
    /// `DTPlatformName` (`iphoneos`).
    pub platform: String,
    /// Minimum SDK version.
    pub sdk: String,
    /// The Xcode that brings it.
    pub xcode: String,
    /// From this date on.
    pub effective: NaiveDate,
    /// Where the date was seen.
    pub source: String,
}

/// When a rule's findings become errors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Enforcement {
    /// `ITMS-9xxxx`.
    pub code: String,
    /// From this date on.
    pub effective: NaiveDate,
    /// Where the date was seen.
    pub source: String,
}

/// A refused toolchain build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BetaToolchain {
    /// `DTXcodeBuild`.
    pub xcode_build: String,
    /// What it is.
    pub note: String,
    /// Where the refusal was seen.
    pub source: String,
}

/// Where a data file came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "from", content = "path")]
pub enum DataOrigin {
    /// Built into the binary.
    Embedded,
    /// Read from `--data DIR`.
    File(PathBuf),
}

/// All the data a check run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// `privacy.toml`.
    pub privacy: PrivacyData,
    /// `deadlines.toml`.
    pub deadlines: Deadlines,
    /// Where `privacy.toml` came from.
    pub privacy_origin: DataOrigin,
    /// Where `deadlines.toml` came from.
    pub deadlines_origin: DataOrigin,
}

/// A data file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the data file {}: {problem}", path.display())]
pub struct DataError {
    /// The file (`<embedded>/…` for built-in data).
    pub path: PathBuf,
    /// What is wrong.
    pub problem: String,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, DataError> {
    toml::from_str(text).map_err(|e| DataError {
        path: path.to_path_buf(),
        problem: e.message().to_string(),
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, DataError> {
    serde_json::from_str(text).map_err(|e| DataError {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}

fn read_small(path: &Path) -> Result<Option<String>, DataError> {
    use std::io::Read;
    let err = |problem: String| DataError {
        path: path.to_path_buf(),
        problem,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_DATA_FILE + 1).read_to_string(&mut text))
        .map_err(|e| err(e.to_string()))?;
    if text.len() as u64 > MAX_DATA_FILE {
        return Err(err(format!("larger than {MAX_DATA_FILE} bytes")));
    }
    Ok(Some(text))
}

impl Data {
    /// The data built into this binary.
    pub fn embedded() -> Result<Data, DataError> {
        Ok(Data {
            privacy: parse_json(PRIVACY_JSON, Path::new("<embedded>/privacy.toml"))?,
            deadlines: parse_json(DEADLINES_JSON, Path::new("<embedded>/deadlines.toml"))?,
            privacy_origin: DataOrigin::Embedded,
            deadlines_origin: DataOrigin::Embedded,
        })
    }

    /// The embedded data, with each file that `dir` holds (`privacy.toml`, `deadlines.toml`)
    /// in its place. A `dir` that holds neither is an error (a mistyped path must not pass
    /// silently with the built-in data).
    pub fn with_dir(dir: &Path) -> Result<Data, DataError> {
        let mut data = Data::embedded()?;
        let privacy = dir.join("privacy.toml");
        let deadlines = dir.join("deadlines.toml");
        let mut found = false;
        if let Some(text) = read_small(&privacy)? {
            data.privacy = parse(&text, &privacy)?;
            data.privacy_origin = DataOrigin::File(privacy);
            found = true;
        }
        if let Some(text) = read_small(&deadlines)? {
            data.deadlines = parse(&text, &deadlines)?;
            data.deadlines_origin = DataOrigin::File(deadlines);
            found = true;
        }
        if !found {
            return Err(DataError {
                path: dir.to_path_buf(),
                problem: "holds neither privacy.toml nor deadlines.toml".into(),
            });
        }
        Ok(data)
    }

    /// The valid reasons of a category value (`NSPrivacyAccessedAPICategory<Name>`).
    pub fn reasons_of(&self, category_value: &str) -> Option<&[String]> {
        let name = category_value.strip_prefix("NSPrivacyAccessedAPICategory")?;
        self.privacy.categories.get(name).map(Vec::as_slice)
    }

    /// When `code` becomes an error, if the data says.
    pub fn enforced_from(&self, code: &str) -> Option<NaiveDate> {
        self.deadlines
            .enforcement
            .iter()
            .find(|e| e.code == code)
            .map(|e| e.effective)
    }

    /// The SDK minimum in force for `platform` on `as_of` (the latest one already effective),
    /// and the next one announced, if any.
    pub fn sdk_minimum(
        &self,
        platform: &str,
        as_of: NaiveDate,
    ) -> (Option<&SdkMinimum>, Option<&SdkMinimum>) {
        let mut rows: Vec<&SdkMinimum> = self
            .deadlines
            .sdk_minimum
            .iter()
            .filter(|m| m.platform == platform)
            .collect();
        rows.sort_by_key(|m| m.effective);
        let current = rows.iter().rev().find(|m| m.effective <= as_of).copied();
        let next = rows.iter().find(|m| m.effective > as_of).copied();
        (current, next)
    }

    /// One line naming the data's versions, for reports.
    pub fn describe(&self) -> String {
        format!(
            "privacy data {} (verified {}), deadlines {} (verified {})",
            self.privacy.version,
            self.privacy.last_verified,
            self.deadlines.version,
            self.deadlines.last_verified
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_time_json_is_the_toml_as_written() {
        let privacy: PrivacyData = parse(PRIVACY, Path::new("privacy.toml")).unwrap();
        let deadlines: Deadlines = parse(DEADLINES, Path::new("deadlines.toml")).unwrap();
        let data = Data::embedded().unwrap();
        assert_eq!(data.privacy, privacy);
        assert_eq!(data.deadlines, deadlines);
    }

    #[test]
    fn the_embedded_data_parses_and_is_consistent() {
        let data = Data::embedded().unwrap();
        assert_eq!(data.privacy.categories.len(), 5);
        let reasons: usize = data.privacy.categories.values().map(Vec::len).sum();
        assert_eq!(reasons, 17, "itms-rules.md §3.1 lists 17 reason codes");
        for category in data.privacy.symbols.keys() {
            assert!(data.privacy.categories.contains_key(category), "{category}");
        }
        assert!(data.privacy.third_party_sdks.names.len() >= 86);
        assert!(!data.privacy.third_party_sdks.count_verified);
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (now, next) = data.sdk_minimum("iphoneos", day("2026-11-25"));
        assert_eq!((now.map(|m| m.sdk.as_str()), next), (Some("26.0"), None));
        let (before, next) = data.sdk_minimum("iphoneos", day("2026-04-27"));
        assert_eq!(before.map(|m| m.sdk.as_str()), Some("18.0"));
        assert_eq!(next.map(|m| m.sdk.as_str()), Some("26.0"));
        assert_eq!(data.enforced_from("ITMS-91053"), Some(day("2024-05-01")));
    }

    #[test]
    fn a_data_dir_replaces_only_what_it_holds_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("ipagate-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Data::with_dir(&dir).is_err(), "an empty dir is an error");
        let newer = DEADLINES.replace("version = \"2026-12-03\"", "version = \"2027-01-01\"");
        std::fs::write(dir.join("deadlines.toml"), newer).unwrap();
        let data = Data::with_dir(&dir).unwrap();
        assert_eq!(data.deadlines.version, "2027-01-01");
        assert_eq!(data.privacy_origin, DataOrigin::Embedded);
        std::fs::write(dir.join("privacy.toml"), "version = 1").unwrap();
        let err = Data::with_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("privacy.toml"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
