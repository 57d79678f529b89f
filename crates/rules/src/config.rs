//! `ipagate.toml`: per-rule severity overrides and `deny-warnings`. Parsing only (the caller reads
//! the file); unknown keys and unknown rules are errors, so a typo never silently disables nothing.
//!
//! ```toml
//! deny-warnings = true
//!
//! [rules]
//! ITMS-90473 = "error"          # by code
//! archive-macosx-junk = "off"   # or by rule name
//! ```

use std::collections::BTreeMap;

use crate::diagnostic::Severity;

/// What a configuration may set a rule to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The rule does not run.
    Off,
    /// Report as error.
    Error,
    /// Report as warning.
    Warning,
    /// Report as info.
    Info,
}

/// Parsed `ipagate.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Treat warnings as failing the gate.
    pub deny_warnings: bool,
    /// Overrides keyed by rule name (codes are resolved to names when parsing).
    pub overrides: BTreeMap<&'static str, Level>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    deny_warnings: bool,
    #[serde(default)]
    rules: BTreeMap<String, Level>,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML, or an unknown key / value.
    #[error("{0}")]
    Syntax(String),
    /// `[rules]` sets one rule twice (by code and by name).
    #[error("rule {name} is set twice in [rules] (as {first:?} and {second:?})")]
    Conflict {
        /// The rule's name.
        name: &'static str,
        /// The first key that set it.
        first: String,
        /// The second.
        second: String,
    },
    /// `[rules]` names a rule that does not exist.
    #[error("unknown rule {0:?} in [rules] (see `ipagate rules`)")]
    UnknownRule(String),
}

impl Config {
    /// Parses the text of an `ipagate.toml`.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.message().to_string()))?;
        let mut overrides = BTreeMap::new();
        let mut keys: BTreeMap<&'static str, String> = BTreeMap::new();
        for (key, level) in raw.rules {
            // Package rules, and the rules only `lint` runs (a lint twin shares its package rule's name).
            let name = crate::registry::find(&key)
                .map(|r| r.name)
                .or_else(|| crate::lint::find(&key).map(|r| r.name))
                .ok_or_else(|| ConfigError::UnknownRule(key.clone()))?;
            if let Some(first) = keys.insert(name, key.clone()) {
                return Err(ConfigError::Conflict {
                    name,
                    first,
                    second: key,
                });
            }
            overrides.insert(name, level);
        }
        Ok(Config {
            deny_warnings: raw.deny_warnings,
            overrides,
        })
    }

    /// The severity a rule reports at, or `None` when it is off.
    pub fn severity(&self, rule: &str, default: Severity) -> Option<Severity> {
        match self.overrides.get(rule) {
            None => Some(default),
            Some(Level::Off) => None,
            Some(Level::Error) => Some(Severity::Error),
            Some(Level::Warning) => Some(Severity::Warning),
            Some(Level::Info) => Some(Severity::Info),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_resolve_to_rule_names() {
        let c = Config::from_toml(
            "deny-warnings = true\n[rules]\n90473 = \"error\"\narchive-ds-store = \"off\"\n",
        )
        .unwrap();
        assert!(c.deny_warnings);
        assert_eq!(
            c.severity("extension-version-mismatch", Severity::Warning),
            Some(Severity::Error)
        );
        assert_eq!(c.severity("archive-ds-store", Severity::Warning), None);
        assert_eq!(
            c.severity("executable-missing", Severity::Error),
            Some(Severity::Error)
        );
    }

    #[test]
    fn unknown_keys_values_and_rules_are_errors() {
        assert!(matches!(
            Config::from_toml("deny_warnings = true"),
            Err(ConfigError::Syntax(_))
        ));
        assert!(matches!(
            Config::from_toml("[rules]\nITMS-90060 = \"loud\""),
            Err(ConfigError::Syntax(_))
        ));
        let err = Config::from_toml("[rules]\nno-such-rule = \"off\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown rule \"no-such-rule\" in [rules] (see `ipagate rules`)"
        );
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        let err = Config::from_toml("[rules]\n90060 = \"off\"\nshort-version-invalid = \"error\"")
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Conflict {
                    name: "short-version-invalid",
                    ..
                }
            ),
            "{err}"
        );
    }
}
