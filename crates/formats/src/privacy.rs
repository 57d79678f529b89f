//! Privacy manifests (`PrivacyInfo.xcprivacy`): a property list whose root dictionary holds four
//! keys (Apple, "Privacy manifest files"; `itms-rules.md` §2.9):
//!
//! ```text
//! NSPrivacyTracking            boolean
//! NSPrivacyTrackingDomains     array of strings
//! NSPrivacyCollectedDataTypes  array of dictionaries
//! NSPrivacyAccessedAPITypes    array of dictionaries:
//!     NSPrivacyAccessedAPIType         string  (NSPrivacyAccessedAPICategory<Category>)
//!     NSPrivacyAccessedAPITypeReasons  array of strings (reason codes, e.g. CA92.1)
//! ```
//!
//! A bundle's manifest lies at its top (`X.app/PrivacyInfo.xcprivacy`,
//! `Y.framework/PrivacyInfo.xcprivacy`, `Z.bundle/PrivacyInfo.xcprivacy`). The facts keep what the
//! file says and every structural problem found (wrong types, unknown keys), so a rule can report
//! them (ITMS-91056); whether a category or a reason is valid is a judgement made with data.

use plist::{Dictionary, Value};

use crate::info_plist::{parse_dictionary, type_name};

/// File name of a privacy manifest.
pub const FILE_NAME: &str = "PrivacyInfo.xcprivacy";

/// One `NSPrivacyAccessedAPITypes` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessedApi {
    /// `NSPrivacyAccessedAPIType` as written (`None` when missing or not a string).
    pub category: Option<String>,
    /// `NSPrivacyAccessedAPITypeReasons` (strings only).
    pub reasons: Vec<String>,
}

/// A parsed privacy manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrivacyManifest {
    /// `NSPrivacyTracking` (`None` when absent or not a boolean).
    pub tracking: Option<bool>,
    /// `NSPrivacyTrackingDomains` (strings only; an empty string counts as a domain).
    pub tracking_domains: Vec<String>,
    /// Number of `NSPrivacyCollectedDataTypes` entries.
    pub collected_data_types: usize,
    /// `NSPrivacyAccessedAPITypes`.
    pub accessed_apis: Vec<AccessedApi>,
    /// Structural problems: wrong types, unknown keys (what Apple reports as ITMS-91056).
    pub problems: Vec<String>,
}

/// A bundle's manifest: read, or why not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ManifestState {
    /// Parsed (possibly with problems).
    Parsed {
        /// Entry path.
        path: String,
        /// What it says.
        manifest: PrivacyManifest,
    },
    /// Present but not a property list (or not readable).
    Unreadable {
        /// Entry path.
        path: String,
        /// Why.
        problem: String,
    },
}

impl ManifestState {
    /// Entry path of the manifest.
    pub fn path(&self) -> &str {
        match self {
            ManifestState::Parsed { path, .. } | ManifestState::Unreadable { path, .. } => path,
        }
    }

    /// The manifest, if it parsed.
    pub fn manifest(&self) -> Option<&PrivacyManifest> {
        match self {
            ManifestState::Parsed { manifest, .. } => Some(manifest),
            ManifestState::Unreadable { .. } => None,
        }
    }
}

const KNOWN_KEYS: &[&str] = &[
    "NSPrivacyTracking",
    "NSPrivacyTrackingDomains",
    "NSPrivacyCollectedDataTypes",
    "NSPrivacyAccessedAPITypes",
];

/// Parses a manifest's bytes (XML or binary, with the same bounds as an Info.plist).
pub fn parse(bytes: &[u8]) -> Result<PrivacyManifest, String> {
    let (_, dict) = parse_dictionary(bytes).map_err(|e| e.0)?;
    Ok(from_dictionary(&dict))
}

fn strings(value: &Value, key: &str, problems: &mut Vec<String>) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::String(s) => Some(s.clone()),
                other => {
                    problems.push(format!("{key}[{i}] is {}, not a string", type_name(other)));
                    None
                }
            })
            .collect(),
        other => {
            problems.push(format!("{key} is {}, not an array", type_name(other)));
            Vec::new()
        }
    }
}

fn from_dictionary(dict: &Dictionary) -> PrivacyManifest {
    let mut m = PrivacyManifest::default();
    for (key, value) in dict {
        match key.as_str() {
            "NSPrivacyTracking" => match value {
                Value::Boolean(b) => m.tracking = Some(*b),
                other => m.problems.push(format!(
                    "NSPrivacyTracking is {}, not a boolean",
                    type_name(other)
                )),
            },
            "NSPrivacyTrackingDomains" => {
                m.tracking_domains = strings(value, key, &mut m.problems);
            }
            "NSPrivacyCollectedDataTypes" => match value {
                Value::Array(items) => m.collected_data_types = items.len(),
                other => m.problems.push(format!(
                    "NSPrivacyCollectedDataTypes is {}, not an array",
                    type_name(other)
                )),
            },
            "NSPrivacyAccessedAPITypes" => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let Value::Dictionary(d) = item else {
                            m.problems.push(format!(
                                "NSPrivacyAccessedAPITypes[{i}] is {}, not a dictionary",
                                type_name(item)
                            ));
                            continue;
                        };
                        let category = match d.get("NSPrivacyAccessedAPIType") {
                            Some(Value::String(s)) => Some(s.clone()),
                            Some(other) => {
                                m.problems.push(format!(
                                    "NSPrivacyAccessedAPITypes[{i}].NSPrivacyAccessedAPIType is {}, not a string",
                                    type_name(other)
                                ));
                                None
                            }
                            None => None,
                        };
                        let reasons = d
                            .get("NSPrivacyAccessedAPITypeReasons")
                            .map(|v| {
                                strings(
                                    v,
                                    &format!(
                                        "NSPrivacyAccessedAPITypes[{i}].NSPrivacyAccessedAPITypeReasons"
                                    ),
                                    &mut m.problems,
                                )
                            })
                            .unwrap_or_default();
                        for k in d.keys() {
                            if k != "NSPrivacyAccessedAPIType"
                                && k != "NSPrivacyAccessedAPITypeReasons"
                            {
                                m.problems.push(format!(
                                    "NSPrivacyAccessedAPITypes[{i}] has an unknown key {}",
                                    crate::sanitize::for_terminal(k)
                                ));
                            }
                        }
                        m.accessed_apis.push(AccessedApi { category, reasons });
                    }
                }
                other => m.problems.push(format!(
                    "NSPrivacyAccessedAPITypes is {}, not an array",
                    type_name(other)
                )),
            },
            other if !KNOWN_KEYS.contains(&other) => m.problems.push(format!(
                "unknown key {}",
                crate::sanitize::for_terminal(other)
            )),
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>NSPrivacyTracking</key><false/>
<key>NSPrivacyTrackingDomains</key><array/>
<key>NSPrivacyCollectedDataTypes</key><array/>
<key>NSPrivacyAccessedAPITypes</key><array><dict>
<key>NSPrivacyAccessedAPIType</key><string>NSPrivacyAccessedAPICategoryUserDefaults</string>
<key>NSPrivacyAccessedAPITypeReasons</key><array><string>CA92.1</string></array>
</dict></array></dict></plist>"#;

    #[test]
    fn a_valid_manifest_reads_without_problems() {
        let m = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(m.tracking, Some(false));
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(
            m.accessed_apis,
            [AccessedApi {
                category: Some("NSPrivacyAccessedAPICategoryUserDefaults".into()),
                reasons: vec!["CA92.1".into()],
            }]
        );
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_problems_not_errors() {
        let xml = r#"<?xml version="1.0"?><plist version="1.0"><dict>
<key>NSPrivacyTracking</key><string>NO</string>
<key>NSPrivacyTrackingDomains</key><array><string></string><integer>3</integer></array>
<key>NSPrivacyAccessedAPITypes</key><array><string>oops</string><dict><key>Extra</key><true/></dict></array>
<key>NSPrivacyColectedDataTypes</key><array/></dict></plist>"#;
        let m = parse(xml.as_bytes()).unwrap();
        assert_eq!(m.tracking, None);
        assert_eq!(m.tracking_domains, [""]);
        assert_eq!(m.problems.len(), 5, "{:#?}", m.problems);
        assert!(
            m.problems
                .iter()
                .any(|p| p.contains("unknown key NSPrivacyColectedDataTypes"))
        );
        assert!(parse(b"not a plist").is_err());
    }
}
